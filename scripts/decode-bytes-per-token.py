"""Bytes a decoded token reads from a GGUF model's weights: every matrix once (the blocks' and the output head's),
but of the token embedding only one row when the model has its own output matrix (a tied head reads it whole).
Prints one JSON line. Used by scripts/bench-decode-vs-llamacpp.sh for the physical bound of decoding.
    python3 decode-bytes-per-token.py MODEL.gguf
"""
import json, sys

from gguf import GGUFReader

reader = GGUFReader(sys.argv[1])
tensors = {t.name: t for t in reader.tensors}
matrices = [t for t in reader.tensors if len([d for d in t.shape if d > 1]) >= 2]
untied = "output.weight" in tensors
read = sum(int(t.n_bytes) for t in matrices if not (untied and t.name == "token_embd.weight"))
print(json.dumps({"bytes_per_token": read, "matrices": len(matrices), "tied_head": not untied}))
