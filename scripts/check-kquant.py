#!/usr/bin/env python3
"""Checks mop's quantized GGUF exports against llama.cpp's own quantizer, tensor by tensor (type and bytes).

For each MODEL: `mop prune --method amp --target 0.2` writes the pruned model in F32 (GGUF); then for each export
type `mop apply --exact-widths` re-cuts the pruned model in that type (the widths as pruned, as the F32 file has them), and llama.cpp's `llama_model_quantize` (what llama-quantize
runs; scripts/llamacpp/quantize.cpp, no importance matrix) quantizes mop's F32 export to the same type. Every tensor
of the two files must have the same ggml type and the same bytes. Prints a Markdown table; exits 1 if any differs.

    pip install gguf numpy   # for this check only, never a dependency of mop
    scripts/check-kquant.py MODEL.gguf... [--types q4_k_m,q5_k_m,q6_k,q8_0] [--target 0.2] [--mop PATH] [--keep DIR]
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from gguf import GGUFReader

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FTYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8, "q5_1": 9, "q4_k_s": 14, "q4_k_m": 15,
          "q5_k_s": 16, "q5_k_m": 17, "q6_k": 18, "bf16": 32}
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("models", nargs="+", help="GGUF models mop prunes")
parser.add_argument("--types", default="q4_k_m,q5_k_m,q6_k,q8_0", help="export types to check, comma-separated")
parser.add_argument("--target", default="0.2", help="the compression of the pruned model")
parser.add_argument("--mop", default=os.environ.get("MOP", os.path.join(root, ".build", "release", "mop")))
parser.add_argument("--keep", help="keep the exports in this directory (default: a temporary one)")
args = parser.parse_args()
data = os.environ.get("MOP_SHARED_DATA", os.path.join(root, "..", "shared", "data"))


def run(*command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"check-kquant: {' '.join(command)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def compare(ours_path, theirs_path):
    """(types counted, list of differences) between two GGUF files, tensor by tensor by name."""
    ours, theirs = GGUFReader(ours_path), GGUFReader(theirs_path)
    by_name = {t.name: t for t in theirs.tensors}
    types, differing = collections.Counter(), []
    if sorted(by_name) != sorted(t.name for t in ours.tensors):
        differing.append("the files hold different tensor names")
    for tensor in ours.tensors:
        other = by_name.get(tensor.name)
        if other is None:
            continue
        types[tensor.tensor_type.name] += 1
        if tensor.tensor_type != other.tensor_type:
            differing.append(f"{tensor.name}: {tensor.tensor_type.name}, llama.cpp {other.tensor_type.name}")
            continue
        a = np.asarray(tensor.data).view(np.uint8).reshape(-1)
        b = np.asarray(other.data).view(np.uint8).reshape(-1)
        if a.size != b.size or not np.array_equal(a, b):
            at = int(np.flatnonzero(a != b)[0]) if a.size == b.size else -1
            differing.append(f"{tensor.name} ({tensor.tensor_type.name}): first differing byte {at} of {a.size}")
    return types, differing


tool = run("bash", "-c", f'source "{root}/scripts/llamacpp-common.sh" && llamacpp_tool quantize').strip()
scratch = args.keep or tempfile.mkdtemp(prefix="mop-check-kquant-")
os.makedirs(scratch, exist_ok=True)
failed = 0
print("| model | export type | tensors | types | byte-equal to llama.cpp | mop s | llama.cpp s |")
print("|---|---|---:|---|---|---:|---:|")
for model in args.models:
    name = os.path.splitext(os.path.basename(model))[0]
    pruned = os.path.join(scratch, f"{name}-f32")
    if not os.path.exists(os.path.join(pruned, "model.gguf")):
        run(args.mop, "prune", model, "--method", "amp", "--target", args.target, "--out", pruned,
            "--calibration", os.path.join(data, "instruct", "alpaca.jsonl"), "--calibration-samples", "16",
            "--seq-len", "128", "--format", "gguf", "--export-type", "f32")
    structure, f32 = os.path.join(pruned, "structure.json"), os.path.join(pruned, "model.gguf")
    for export_type in args.types.split(","):
        out = os.path.join(scratch, f"{name}-{export_type}")
        reference = os.path.join(scratch, f"{name}-{export_type}-llamacpp.gguf")
        start = time.time()
        run(args.mop, "apply", model, "--structure", structure, "--out", out, "--export-type", export_type, "--format", "gguf",
            "--exact-widths")
        ours_seconds = time.time() - start
        start = time.time()
        run(tool, f32, reference, str(FTYPES[export_type]))
        theirs_seconds = time.time() - start
        types, differing = compare(os.path.join(out, "model.gguf"), reference)
        for line in differing[:20]:
            print(f"check-kquant: {name} {export_type}: {line}", file=sys.stderr)
        failed += bool(differing)
        summary = ", ".join(f"{n} {t}" for t, n in sorted(types.items(), key=lambda kv: -kv[1]))
        verdict = "yes" if not differing else f"**no: {len(differing)} differ**"
        print(f"| {name} | {export_type} | {sum(types.values())} | {summary} | {verdict} | {ours_seconds:.1f} | {theirs_seconds:.1f} |",
              flush=True)
        if not args.keep:
            os.remove(reference)
sys.exit(1 if failed else 0)
