"""Prefill throughput of PyTorch (transformers, fp32) on a GGUF model, as `mop bench-forward` measures mop's: one
forward pass over the first SEQ_LEN tokens of TEXT with next-token loss, best of RUNS. Prints one JSON line.
Used by scripts/bench-prefill-vs-torch.sh.
    python3 bench-prefill-torch.py MODEL.gguf TEXT SEQ_LEN THREADS RUNS
"""
import json, os, sys, time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

model_path, text_path, seq_len, threads, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
folder, name = os.path.dirname(os.path.abspath(model_path)), os.path.basename(model_path)
tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32).eval()
ids = tokenizer(open(text_path, encoding="utf-8").read()[:200_000], return_tensors="pt").input_ids[:, :seq_len]
best = float("inf")
with torch.inference_mode():
    for _ in range(runs + 1):  # the first run warms up
        start = time.perf_counter()
        model(ids, labels=ids)
        best = min(best, time.perf_counter() - start)
print(json.dumps({"tokens": int(ids.shape[1]), "threads": threads, "tokens_per_second": ids.shape[1] / best,
                  "torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available()}))
