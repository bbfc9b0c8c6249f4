#!/usr/bin/env python3
"""Writes Tests/SharedTests/Fixtures/quant-blocks.json: hand-made blocks of every tensor type mop dequantizes, with
the floats gguf-py's `gguf.quants.dequantize` gives for them, so the Swift tests check bit for bit without Python.

The quant bytes are seeded random (every bit pattern of the packed layouts gets exercised); the f16 scales are set
to chosen finite values, positive and negative, one of them subnormal, so no NaN sneaks into a comparison.
Expected floats are stored as hex of their little-endian float32 bytes, which JSON numbers could not carry
exactly (-0.0, the last bit of a float printed in decimal).

    pip install gguf numpy && python3 scripts/make-quant-fixture.py [OUT.json] [--gguf FILE]

--gguf also writes a small GGUF with one [16, 4 blocks] tensor of each type (same recipe, more blocks), for
scripts/check-dequantize.py to cover the types no fetched model has (Q2_K, Q3_K, Q5_K, Q5_1).
"""
import argparse
import json
from importlib.metadata import version
import pathlib

import numpy as np
from gguf import GGMLQuantizationType as T, GGML_QUANT_SIZES, quants

# Byte offsets of the f16 scales inside one block, per type (ggml's block_* structs).
HALF_OFFSETS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
# Scales written into the blocks in turn: ordinary, negative, tiny (f16 subnormal 2^-20) and large.
SCALES = [0.0123, -0.5, 2.0 ** -20, 3.75, -0.0078125, 1.0]
BLOCKS = 3


def block_bytes(qtype, rng, blocks=BLOCKS):
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    if qtype in (T.F16, T.BF16):
        # Whole-number-ish and fractional values, including -0.0 and a subnormal.
        values = np.array([1.5, -2.25, -0.0, 6.1e-5, 65504.0, 3.0e-8, 0.1, -7.0], dtype=np.float32)
        if qtype == T.F16:
            return values.astype(np.float16).view(np.uint8)
        return (values.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8)
    data = rng.integers(0, 256, size=(blocks, type_size), dtype=np.uint8)
    k = 0
    for b in range(blocks):
        for offset in HALF_OFFSETS[qtype]:
            data[b, offset:offset + 2] = np.array([SCALES[k % len(SCALES)]], dtype=np.float16).view(np.uint8)
            k += 1
    return data.reshape(-1)


TYPES = [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]


def write_gguf(path, rng):
    from gguf import GGUFWriter
    writer = GGUFWriter(path, arch="synthetic")
    for qtype in TYPES[2:]:
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        rows = block_bytes(qtype, rng, blocks=16 * 4).reshape(16, 4 * type_size)
        writer.add_tensor(f"{qtype.name.lower()}.weight", rows, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"{path}: {len(TYPES) - 2} tensors")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default=pathlib.Path(__file__).resolve().parent.parent
                        / "Tests/SharedTests/Fixtures/quant-blocks.json")
    parser.add_argument("--gguf", help="also write a GGUF with a tensor of each quantized type")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    rng = np.random.default_rng(12)
    cases = []
    for qtype in TYPES:
        raw = block_bytes(qtype, rng)
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        count = raw.size // type_size * block_size
        values = quants.dequantize(raw, qtype).astype(np.float32, copy=False).reshape(-1)
        assert values.size == count and np.isfinite(values).all(), qtype.name
        cases.append({
            "type": qtype.name,
            "count": count,
            "bytes": raw.tobytes().hex(),
            "expected": values.astype("<f4").tobytes().hex(),
        })
    fixture = {"generator": "scripts/make-quant-fixture.py", "gguf": version("gguf"), "cases": cases}
    out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"{out}: {len(cases)} types, {out.stat().st_size} bytes")
    if args.gguf:
        write_gguf(args.gguf, rng)


if __name__ == "__main__":
    main()
