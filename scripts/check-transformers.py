#!/usr/bin/env python3
"""Checks that Hugging Face transformers loads mop's HF export (AutoModelForCausalLM + AutoTokenizer) and agrees
with mop's own perplexity: the text's tokens (the exported tokenizer's), cut into windows of --seq-len, each window
scored on positions 1..seq_len-1, ppl = exp(mean NLL) in float64, the SPEC 9 convention. Exits 1 past 1%.

    pip install torch transformers   # for this check only, never a dependency of mop
    scripts/check-transformers.py runs/uniform/hf
"""
import argparse
import json
import math
import os
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("model", help="an HF directory written by mop (config.json, model.safetensors, tokenizer.json)")
parser.add_argument("--text", default=os.path.join(root, "..", "shared", "data", "text", "wikitext2-test.txt"))
parser.add_argument("--seq-len", type=int, default=512)
parser.add_argument("--max-tokens", type=int, default=16384)
args = parser.parse_args()

tokenizer = AutoTokenizer.from_pretrained(args.model)
model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
model.eval()
ids = tokenizer(open(args.text, encoding="utf-8").read(), add_special_tokens=False)["input_ids"][: args.max_tokens]
windows = len(ids) // args.seq_len
nll, scored = 0.0, 0
with torch.no_grad():
    for w in range(windows):
        window = torch.tensor([ids[w * args.seq_len:(w + 1) * args.seq_len]])
        logits = model(window).logits[0, :-1].double()
        nll += torch.nn.functional.cross_entropy(logits, window[0, 1:], reduction="sum").item()
        scored += args.seq_len - 1
theirs = math.exp(nll / scored)

mop = os.path.join(root, ".build", "release", "mop")
ours = json.loads(subprocess.run([mop, "eval", args.model, "--ppl", args.text, "--seq-len", str(args.seq_len),
                                  "--max-tokens", str(args.max_tokens), "--json"],
                                 check=True, capture_output=True, text=True).stdout)
difference = abs(theirs - ours["perplexity"]) / ours["perplexity"]
print("| `%s` | %s | %.4f | %.4f | %.4f%% | %d / %d |" % (args.model, model.config.architectures[0], theirs,
      ours["perplexity"], 100 * difference, windows * args.seq_len, ours["tokens"]))
sys.exit(0 if difference <= 0.01 and windows * args.seq_len == ours["tokens"] else 1)
