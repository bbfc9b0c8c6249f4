#!/usr/bin/env python3
"""Checks mop's GGUF export encodings byte for byte against gguf-py (`gguf.quants.quantize`) on a real model.

For each --export-type (default q8_0 and bf16) mop re-writes MODEL unpruned (`mop apply` of the identity structure,
`--format gguf`); every tensor of the export must hold exactly the bytes gguf-py's quantize gives for the source
tensor dequantized by gguf-py (which mop's dequantization equals bit for bit: scripts/check-dequantize.py), in the type
mop's rule picks: F32 for 1-D tensors, F16 for a matrix whose rows are not whole blocks, else the export type.
Exits 1 if any tensor differs, naming it and the first differing byte.

    pip install gguf numpy   # for this check only, never a dependency of mop
    scripts/check-quantize.py MODEL.gguf [--types q8_0,bf16] [--mop PATH]   (default: $MOP, else .build/release/mop)
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, quants

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("model", help="a GGUF file that mop writes back under its own architecture (llama, qwen2), so Q/K rows keep their order")
parser.add_argument("--types", default="q8_0,bf16", help="export types to check, comma-separated")
parser.add_argument("--mop", default=os.environ.get("MOP", os.path.join(root, ".build", "release", "mop")),
                    help="the mop binary (default: $MOP, else .build/release/mop)")
args = parser.parse_args()


def run(*command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"check-quantize: {' '.join(command)} failed: {done.stderr.strip()}")
    return done.stdout


def expected_type(tensor, export_type):
    """mop's rule (GGUFWriter.MatrixType.tensorType(shape:)): ne0 is the row length."""
    if len(tensor.shape) == 1:
        return GGMLQuantizationType.F32
    block = 32 if export_type == GGMLQuantizationType.Q8_0 else 1
    return export_type if int(tensor.shape[0]) % block == 0 else GGMLQuantizationType.F16


shape = json.loads(run(args.mop, "inspect", args.model, "--json"))
identity = {"version": 1, "original_layers": shape["layers"], "path": "",
            "layers": [{"index": i, "heads": list(range(shape["heads"][i])), "kv_heads": list(range(shape["kv_heads"][i])),
                        "neurons": list(range(shape["intermediate"][i]))} for i in range(shape["layers"])]}
source = GGUFReader(args.model)
source_tensors = {t.name: t for t in source.tensors}
failed = 0
with tempfile.TemporaryDirectory(prefix="mop-check-quantize-") as scratch:
    structure = os.path.join(scratch, "structure.json")
    with open(structure, "w") as f:
        json.dump(identity, f)
    for name in args.types.split(","):
        export_type = GGMLQuantizationType[name.upper()]
        out = os.path.join(scratch, name)
        run(args.mop, "apply", args.model, "--structure", structure, "--out", out, "--export-type", name, "--format", "gguf")
        export = GGUFReader(os.path.join(out, "model.gguf"))
        types = collections.Counter()
        differing = []
        for tensor in export.tensors:
            want = expected_type(tensor, export_type)
            types[tensor.tensor_type.name] += 1
            if tensor.tensor_type != want:
                differing.append(f"{tensor.name} is {tensor.tensor_type.name}, expected {want.name}")
                continue
            original = source_tensors[tensor.name]
            values = quants.dequantize(original.data, original.tensor_type).astype(np.float32, copy=False)
            theirs = np.ascontiguousarray(quants.quantize(values, want)).view(np.uint8).reshape(-1)
            ours = np.asarray(tensor.data).view(np.uint8).reshape(-1)
            if ours.size != theirs.size or not np.array_equal(ours, theirs):
                at = int(np.flatnonzero(ours[:theirs.size] != theirs[:ours.size])[0]) if ours.size == theirs.size else -1
                differing.append(f"{tensor.name} ({want.name}): {ours.size} bytes against {theirs.size}; first difference at byte {at}")
        summary = ", ".join(f"{n} {t}" for t, n in sorted(types.items()))
        for line in differing:
            print(f"check-quantize: {name}: {line}", file=sys.stderr)
        if differing:
            failed += 1
            print(f"check-quantize: {args.model} as {name}: {len(differing)} of {len(export.tensors)} tensors differ ({summary})")
        else:
            print(f"check-quantize: {args.model} as {name}: all {len(export.tensors)} tensors byte-equal to gguf-py ({summary})")
sys.exit(1 if failed else 0)
