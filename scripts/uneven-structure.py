#!/usr/bin/env python3
"""Makes a non-uniform structure.json from a uniform one, for the llama.cpp `deci` check: the first --full-layers
kept blocks get back all their heads, KV heads and neurons (read from the original model with `mop inspect`), the
rest stay as pruned. `mop apply ORIGINAL --structure OUT` then cuts the model.

    scripts/uneven-structure.py ORIGINAL.gguf runs/0.2_method_mop/structure.json runs/uneven.json --full-layers 10
"""
import argparse
import json
import os
import subprocess

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("original")
parser.add_argument("structure")
parser.add_argument("out")
parser.add_argument("--full-layers", type=int, default=10)
args = parser.parse_args()

shape = json.loads(subprocess.run([os.path.join(root, ".build", "release", "mop"), "inspect", args.original, "--json"],
                                  check=True, capture_output=True, text=True).stdout)
structure = json.load(open(args.structure))
for layer in structure["layers"][: args.full_layers]:
    index = layer["index"]
    layer["heads"] = list(range(shape["heads"][index]))
    layer["kv_heads"] = list(range(shape["kv_heads"][index]))
    layer["neurons"] = list(range(shape["intermediate"][index]))
structure["path"] = ""
with open(args.out, "w") as f:
    json.dump(structure, f)
