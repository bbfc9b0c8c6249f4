#!/usr/bin/env python3
"""Checks mop's GGUF dequantization bit for bit against gguf-py (`gguf.quants.dequantize`) on every tensor of a file.

mop writes every tensor dequantized to fp32 (`mop dump-tensor MODEL --out -`, file order, before the loader's Q/K
un-permutation) into a pipe; this script reads it tensor by tensor and compares the float32 bit patterns with
gguf-py's. Exits 1 on the first file with any difference, naming the tensor, the first differing element and the count.

    pip install gguf numpy   # for this check only, never a dependency of mop
    scripts/check-dequantize.py MODEL.gguf [--mop PATH]   (default: $MOP, else .build/release/mop)
"""
import argparse
import collections
import os
import subprocess
import sys
import time

import numpy as np
from gguf import GGUFReader, quants

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("model", help="a GGUF file")
parser.add_argument("--mop", default=os.environ.get("MOP", os.path.join(root, ".build", "release", "mop")),
                    help="the mop binary (default: $MOP, else .build/release/mop)")
args = parser.parse_args()

reader = GGUFReader(args.model)
# mop's stderr holds one line (its throughput, or an error) written at the end, so reading it last cannot deadlock.
dump = subprocess.Popen([args.mop, "dump-tensor", args.model, "--out", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
types = collections.Counter()
mismatched = []
python_seconds = 0.0
for tensor in reader.tensors:
    count = int(tensor.n_elements)
    ours = np.frombuffer(dump.stdout.read(4 * count), dtype="<u4")
    if ours.size != count:
        dump.wait()
        sys.exit(f"check-dequantize: mop wrote {ours.size} of the {count} values of {tensor.name}; it stopped early: "
                 + dump.stderr.read().decode().strip())
    start = time.perf_counter()
    theirs = quants.dequantize(tensor.data, tensor.tensor_type).astype("<f4", copy=False).reshape(-1).view("<u4")
    python_seconds += time.perf_counter() - start
    types[tensor.tensor_type.name] += 1
    differ = np.flatnonzero(ours != theirs)
    if differ.size:
        i = int(differ[0])
        as_float = lambda bits: float(np.array([bits], dtype="<u4").view("<f4")[0])
        mismatched.append(tensor.name)
        print(f"check-dequantize: {tensor.name} ({tensor.tensor_type.name}, {count} values): {differ.size} differ; "
              f"first at {i}: mop {int(ours[i]):08x} ({as_float(ours[i])}), gguf-py {int(theirs[i]):08x} "
              f"({as_float(theirs[i])})", file=sys.stderr)
extra = dump.stdout.read(1)
report = dump.stderr.read().decode().strip()
if dump.wait() != 0:
    sys.exit(f"check-dequantize: mop dump-tensor failed with exit code {dump.returncode}: {report}")
if extra:
    sys.exit("check-dequantize: mop wrote more values than the file's tensors hold")

summary = ", ".join(f"{n} {name}" for name, n in sorted(types.items()))
total = len(reader.tensors)
if mismatched:
    sys.exit(f"check-dequantize: {args.model}: {len(mismatched)} of {total} tensors differ from gguf-py ({summary})")
print(f"check-dequantize: {args.model}: all {total} tensors bit-equal to gguf-py ({summary}); "
      f"gguf-py took {python_seconds:.1f} s\n{report}")
