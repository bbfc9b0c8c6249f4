#!/usr/bin/env python3
"""Checks that transformers loads mop's export of a family fixture's pruned model and computes the logits the
fixture holds for it (transformers' own sliced model, scripts/make-family-fixture.py), within 1e-4 relative: the
config.json mop writes carries the family's keys, and the tensors their names and layout. With --gguf, the same for
the export's model.gguf read by transformers' GGUF loader, where it knows the family.

    scripts/make-family-fixture.py qwen3 --model-dir /tmp/q3-model   # the fixture's weights are not committed
    mop apply /tmp/q3-model --structure S.json --out /tmp/q3          # S: reference.json's pruned heads/neurons
    scripts/check-family-export.py qwen3 /tmp/q3
"""
import argparse
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("family")
parser.add_argument("export", help="mop's output directory (hf/ inside)")
args = parser.parse_args()

reference = json.load(open(os.path.join(root, "Tests", "SharedTests", "Fixtures", "families", args.family, "reference.json")))
model = AutoModelForCausalLM.from_pretrained(os.path.join(args.export, "hf"), dtype=torch.float32).eval()
with torch.no_grad():
    logits = model(torch.tensor([reference["tokens"]])).logits[0].double()
expected = torch.tensor(reference["pruned"]["logits"], dtype=torch.float64)
error = ((logits - expected).abs().max() / expected.abs().max()).item()
print("%s: %s loaded by transformers, logits relative error %.2e against the sliced model" % (args.family, type(model).__name__, error))
sys.exit(0 if error < 1e-4 else 1)
