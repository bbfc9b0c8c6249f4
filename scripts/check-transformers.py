#!/usr/bin/env python3
"""Checks that Hugging Face transformers loads a model mop reads or writes and agrees with mop's own perplexity: the
text's tokens (the model's own tokenizer, in transformers), cut into windows of --seq-len, each window scored on
positions 1..seq_len-1, ppl = exp(mean NLL) in float64, the docs/design.md#perplexity convention (BOS first where
the model's tokenizer adds one, as mop does). Exits 1 past
--tolerance (1%).

MODEL is an HF directory written by mop (config.json, model.safetensors or its shards and index, tokenizer.json), or a GGUF file, which
transformers dequantizes itself (`from_pretrained(dir, gguf_file=...)`, fp32). Pruned directories whose layers
differ (the `*_per_layer` arrays of config.json, which transformers does not know) are built at the largest layer
shape and each layer's projections then replaced by ones of its own shape before the weights are loaded.

    pip install torch transformers gguf accelerate   # for this check only, never a dependency of mop
    scripts/check-transformers.py runs/uniform/hf
    scripts/check-transformers.py models/Qwen2.5-Coder-0.5B-Instruct.gguf --tolerance 0.001
"""
import argparse
import json
import math
import os
import subprocess
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("model", help="an HF directory written by mop, or a GGUF file")
parser.add_argument("--text", default=os.path.join(root, "..", "shared", "data", "text", "wikitext2-test.txt"))
parser.add_argument("--seq-len", type=int, default=512)
parser.add_argument("--max-tokens", type=int, default=16384)
parser.add_argument("--tolerance", type=float, default=0.01, help="largest relative difference accepted")
parser.add_argument("--mop", default=os.path.join(root, ".build", "release", "mop"))
args = parser.parse_args()


def directory_config(path):
    """The config of an HF directory. Some configs (Gemma-3's) refuse a hidden size that the scalar head count does
    not divide; in a pruned directory that scalar only sizes projections load_directory replaces, so the config is
    built at the nearest count that divides it."""
    scalars = json.load(open(os.path.join(path, "config.json")))
    while scalars["hidden_size"] % scalars["num_attention_heads"]:
        scalars["num_attention_heads"] += 1
    return AutoConfig.for_model(scalars.pop("model_type"), **scalars)


def load_directory(path):
    """The model of an HF directory, per-layer shapes included."""
    config_json = json.load(open(os.path.join(path, "config.json")))
    per_layer = {key: config_json.get(key + "_per_layer") for key in
                 ("num_attention_heads", "num_key_value_heads", "intermediate_size")}
    if not any(per_layer.values()):
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    from safetensors.torch import load_file
    config = directory_config(path)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(os.path.join(path, "model.safetensors")) or not os.path.exists(index):
        state = load_file(os.path.join(path, "model.safetensors"))
    else:  # sharded (--split-max-size): every shard the index names
        state = {}
        for shard in sorted(set(json.load(open(index))["weight_map"].values())):
            state.update(load_file(os.path.join(path, shard)))
    hd = config_json["head_dim"]
    for i, layer in enumerate(model.model.layers):
        for module, names in ((layer.self_attn, ("q_proj", "k_proj", "v_proj", "o_proj")),
                              (layer.mlp, ("gate_proj", "up_proj", "down_proj"))):
            for name in names:
                prefix = "model.layers.%d.%s.%s." % (i, "self_attn" if module is layer.self_attn else "mlp", name)
                weight = state[prefix + "weight"]
                linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=prefix + "bias" in state)
                setattr(module, name, linear)
        heads = state["model.layers.%d.self_attn.q_proj.weight" % i].shape[0] // hd
        kv_heads = state["model.layers.%d.self_attn.k_proj.weight" % i].shape[0] // hd
        layer.self_attn.num_key_value_groups = heads // kv_heads
    if config.tie_word_embeddings and "lm_head.weight" not in state:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model.load_state_dict(state, strict=True)
    return model


if args.model.endswith(".gguf"):
    directory, name = os.path.split(os.path.abspath(args.model))
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
else:
    tokenizer = AutoTokenizer.from_pretrained(args.model, config=directory_config(args.model))
    model = load_directory(args.model)
model.eval()
ids = tokenizer(open(args.text, encoding="utf-8").read(), add_special_tokens=False)["input_ids"]
# mop starts the text with BOS where the model's tokenizer asks for one (Gemma), as `mop tokenize --add-bos` shows.
def mop_ids(*flags):
    return json.loads(subprocess.run([args.mop, "tokenize", args.model, "--string", "a", "--json", *flags],
                                     check=True, capture_output=True, text=True).stdout)["ids"]
with_bos = mop_ids("--add-bos")
if len(with_bos) == len(mop_ids()) + 1:
    ids = with_bos[:1] + ids
ids = ids[: args.max_tokens]
windows = len(ids) // args.seq_len
nll, scored = 0.0, 0
with torch.no_grad():
    for w in range(windows):
        window = torch.tensor([ids[w * args.seq_len:(w + 1) * args.seq_len]])
        logits = model(window).logits[0, :-1].double()
        nll += torch.nn.functional.cross_entropy(logits, window[0, 1:], reduction="sum").item()
        scored += args.seq_len - 1
theirs = math.exp(nll / scored)

ours = json.loads(subprocess.run([args.mop, "eval", args.model, "--ppl", args.text, "--seq-len", str(args.seq_len),
                                  "--max-tokens", str(args.max_tokens), "--json"],
                                 check=True, capture_output=True, text=True).stdout)
difference = abs(theirs - ours["perplexity"]) / ours["perplexity"]
print("| `%s` | transformers %s `%s` | %.4f | %.4f | %.4f%% | %d / %d |" % (
    args.model, __import__("transformers").__version__, type(model).__name__, theirs, ours["perplexity"],
    100 * difference, windows * args.seq_len, ours["tokens"]))
sys.exit(0 if difference <= args.tolerance and windows * args.seq_len == ours["tokens"] else 1)
