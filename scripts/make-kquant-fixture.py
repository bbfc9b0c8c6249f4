#!/usr/bin/env python3
"""Writes Tests/SharedTests/Fixtures/block-encoders.json: hand-made rows with the bytes ggml's own encoders give for
them (scripts/llamacpp/quantize_rows.cpp, built against the vendored llama.cpp as the other llama.cpp checks are),
for every block type mop encodes, without an importance (the reference encoders llama-quantize runs without an
imatrix) and with one (its imatrix encoders). The Swift tests (GGUFBlockEncoderTests) compare bytes without ggml.

The 32-block types are also checked here against gguf-py's numpy quantizers (`gguf.quants.quantize`), a second
reference for the encoders without importance; the script stops if the two references disagree.

Rows are 512 values (two 256-element super-blocks, sixteen 32-element blocks): ordinary weights and the edge cases
of the scale searches (all zero, one outlier, a negative maximum, all negative, constant, tiny, zero sub-blocks).
Floats are stored as hex of their little-endian float32 bytes, so every bit survives JSON.

    pip install gguf numpy && MOP_LLAMACPP_DIR=... python3 scripts/make-kquant-fixture.py [OUT.json]
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGMLQuantizationType as T, quants

root = pathlib.Path(__file__).resolve().parent.parent
TYPES = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q4_K", "q5_K", "q6_K"]
COLUMNS = 512


def rows():
    rng = np.random.default_rng(29)
    normal = lambda scale=0.02: rng.normal(0, scale, COLUMNS).astype(np.float32)
    outlier = normal(); outlier[77] = 8.0
    negative = normal(); negative[300] = -5.0; negative[10] = -0.9
    zero_sub_blocks = normal(); zero_sub_blocks[:64] = 0; zero_sub_blocks[256:288] = 0
    mixed_scales = normal() * np.repeat(np.float32([1e-4, 1e-2, 1, 10, 1e-3, 0.1, 3, 1e-5]), COLUMNS // 8)
    tiny = normal(1e-7); tiny[::3] = 0
    return {
        "weights": normal(),
        "all-zero": np.zeros(COLUMNS, np.float32),
        "outlier": outlier,
        "negative-maximum": negative,
        "all-negative": -np.abs(normal()) - 0.01,
        "all-positive": np.abs(normal()) + 0.003,
        "constant": np.full(COLUMNS, 0.5, np.float32),
        "mixed-scales": mixed_scales.astype(np.float32),
        "tiny": tiny,
        "zero-sub-blocks": zero_sub_blocks,
    }


def importance():
    rng = np.random.default_rng(7)
    values = np.exp(rng.normal(0, 1.5, COLUMNS)).astype(np.float32)
    values[5:9] = 0  # columns an imatrix never saw active
    return values


def ggml(tool, qtype, values, weights, scratch):
    rows_path = os.path.join(scratch, "rows.f32")
    values.astype("<f4").tofile(rows_path)
    command = [tool, qtype, str(COLUMNS), rows_path]
    if weights is not None:
        weights_path = os.path.join(scratch, "importance.f32")
        weights.astype("<f4").tofile(weights_path)
        command.append(weights_path)
    return subprocess.run(command, check=True, capture_output=True).stdout


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else str(root / "Tests/SharedTests/Fixtures/block-encoders.json")
    tool = subprocess.run(["bash", "-c", f'source "{root}/scripts/llamacpp-common.sh" && llamacpp_tool quantize_rows'],
                          check=True, capture_output=True, text=True).stdout.strip()
    weights = importance()
    cases = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, values in rows().items():
            encoded = {}
            for qtype in TYPES:
                plain = ggml(tool, qtype, values, None, scratch)
                if qtype in ("q4_0", "q4_1", "q5_0", "q5_1", "q8_0"):
                    theirs = np.ascontiguousarray(quants.quantize(values.reshape(1, -1), T[qtype.upper()])).tobytes()
                    if theirs != plain:
                        sys.exit(f"make-kquant-fixture: ggml and gguf-py disagree on {qtype} of row {name}")
                encoded[qtype] = {"plain": plain.hex(), "importance": ggml(tool, qtype, values, weights, scratch).hex()}
            cases.append({"name": name, "values": values.astype("<f4").tobytes().hex(), "encoded": encoded})
    fixture = {
        "generator": "scripts/make-kquant-fixture.py (ggml_quantize_chunk of llama-cpp-python 0.3.36's vendored llama.cpp)",
        "columns": COLUMNS,
        "importance": weights.astype("<f4").tobytes().hex(),
        "cases": cases,
    }
    pathlib.Path(out).write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"make-kquant-fixture: {len(cases)} rows x {len(TYPES)} types -> {out}")


main()
