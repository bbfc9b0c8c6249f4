#!/usr/bin/env python3
"""Checks that Hugging Face transformers reads the chat template and special tokens of mop's HF export
(tokenizer_config.json, generation_config.json) and that its `apply_chat_template` gives the same prompt token ids as
`mop generate --chat` feeds the model. Exits 1 on any difference.

    pip install transformers jinja2   # for this check only (no torch needed), never a dependency of mop
    scripts/check-chat-template.py runs/demo/hf [--mop .build/release/mop] [--prompt "..."]
"""
import argparse
import json
import os
import subprocess
import sys

from transformers import AutoTokenizer, GenerationConfig

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("model", help="an HF directory written by mop (config.json, tokenizer.json, tokenizer_config.json)")
parser.add_argument("--mop", default=os.path.join(root, ".build", "release", "mop"))
# Digits, punctuation, a leading space and a non-ASCII word: the pre-tokenizer's corners.
parser.add_argument("--prompt", action="append",
                    help="a user message (repeatable); default: a few that exercise the pre-tokenizer")
args = parser.parse_args()
prompts = args.prompt or ["What is the capital of France?", "Add 1234 and 56789, then say   why.", " café naïve 日本"]

tokenizer = AutoTokenizer.from_pretrained(args.model)
generation = GenerationConfig.from_pretrained(args.model)
config = json.load(open(os.path.join(args.model, "tokenizer_config.json"), encoding="utf-8"))
failures = []
print("%s: %s, bos %r (%s), eos %r (%s), pad %r, unk %r; generation_config bos %s eos %s pad %s" % (
    args.model, type(tokenizer).__name__, tokenizer.bos_token, tokenizer.bos_token_id, tokenizer.eos_token,
    tokenizer.eos_token_id, tokenizer.pad_token, tokenizer.unk_token, generation.bos_token_id, generation.eos_token_id,
    generation.pad_token_id))
for key in ["bos_token", "eos_token", "pad_token", "unk_token"]:
    if config.get(key) != getattr(tokenizer, key):
        failures.append("%s: tokenizer_config.json says %r, transformers has %r" % (key, config.get(key), getattr(tokenizer, key)))
if tokenizer.eos_token_id != generation.eos_token_id:
    failures.append("eos: the tokenizer's id %s, generation_config.json's %s" % (tokenizer.eos_token_id, generation.eos_token_id))

for prompt in prompts:
    messages = [{"role": "user", "content": prompt}]
    theirs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(theirs, dict) or hasattr(theirs, "input_ids"):  # transformers 5 returns a BatchEncoding
        theirs = theirs["input_ids"]
    ours = json.loads(subprocess.run([args.mop, "generate", args.model, "--prompt", prompt, "--chat", "--json",
                                      "--max-new-tokens", "1"], check=True, capture_output=True, text=True).stdout)
    same = list(theirs) == ours["prompt_token_ids"]
    print("%s %r: %d ids from transformers, %d from mop" % ("same" if same else "DIFFERENT", prompt, len(theirs),
                                                            len(ours["prompt_token_ids"])))
    if not same:
        failures.append("prompt %r:\n  transformers %s\n  mop          %s" % (prompt, list(theirs), ours["prompt_token_ids"]))

for failure in failures:
    print(failure)
sys.exit(1 if failures else 0)
