#!/usr/bin/env python3
"""Writes a tiny random model of a family with Hugging Face transformers, and the logits transformers computes for it,
into Tests/SharedTests/Fixtures/families/FAMILY/: config.json as save_pretrained writes it, and reference.json with the
tensors' names and shapes, the token ids, the fp32 logits of the whole model and of a pruned one. No real weights of
these families are reachable, so these are the ground truth mop's family files are checked against. The weights are
not committed: every element is a function of its tensor's name and its index (fixture_values.py), which the tests
compute again to write the model at run time (FamilyFixtureTests).

The pruned model keeps, in every layer, the query heads of KV group 1 (and that group) and the neurons listed in
reference.json; it is built by slicing the tensors and loading them into a config of the smaller shape, so its
logits are those of a model transformers itself loads. Weights are drawn wider than transformers' default
(std --init-std) so that logits spread over several nats and a wrong operation cannot hide in the rounding.

    pip install torch transformers safetensors && python3 scripts/make-family-fixture.py qwen3
"""
import argparse
import json
import os

import torch
import transformers

import fixture_values

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("family", choices=["qwen3", "phi"])
parser.add_argument("--init-std", type=float, default=0.25)
parser.add_argument("--model-dir", help="also save the whole model (config.json, model.safetensors) here, for mop apply")
args = parser.parse_args()

# The family's tensor names are what transformers' own module names give; only the config differs per family.
FAMILIES = {
    "qwen3": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM, dict(
        vocab_size=96, hidden_size=48, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=1_000_000.0,
        tie_word_embeddings=False, attention_bias=False)),
    "phi": (transformers.PhiConfig, transformers.PhiForCausalLM, dict(
        vocab_size=96, hidden_size=48, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, layer_norm_eps=1e-5, rope_theta=10000.0,
        partial_rotary_factor=0.5, hidden_act="gelu_new", tie_word_embeddings=False)),
}
# The head dimension, and each pruned tensor's name suffixes by what a head or neuron owns (rows, or columns).
HEAD_DIM = {"qwen3": 16, "phi": 12}
QUERY_ROWS = ("q_proj.weight", "q_proj.bias")
KV_ROWS = ("k_proj.weight", "k_proj.bias", "v_proj.weight", "v_proj.bias")
QUERY_COLUMNS = ("o_proj.weight", "dense.weight")
NEURON_ROWS = ("gate_proj.weight", "up_proj.weight", "fc1.weight", "fc1.bias")
NEURON_COLUMNS = ("down_proj.weight", "fc2.weight")
config_class, model_class, shape = FAMILIES[args.family]
config = config_class(initializer_range=args.init_std, **shape)
model = model_class(config).float().eval()
tensors = []
with torch.no_grad():
    for name, parameter in model.state_dict().items():
        values = fixture_values.values(name, parameter.numel(), parameter.dim() == 1, args.init_std)
        parameter.copy_(torch.from_numpy(values.reshape(tuple(parameter.shape))))
        tensors.append([name, list(parameter.shape)])

tokens = torch.randint(0, shape["vocab_size"], (1, 14), generator=torch.Generator().manual_seed(7))
with torch.no_grad():
    logits = model(tokens).logits[0]
spread = (logits.max(dim=-1).values - logits.min(dim=-1).values).min().item()
assert spread > 4, "logits differ by only %.2f nats; raise --init-std" % spread

# The pruned model: query heads 2 and 3 (KV group 1), neurons of even index.
hd = HEAD_DIM[args.family]
heads, kv_heads = [2, 3], [1]
neurons = list(range(0, shape["intermediate_size"], 2))
rows = lambda units, size: torch.cat([torch.arange(u * size, (u + 1) * size) for u in units])
pruned_config = config_class(**{**shape, "num_attention_heads": len(heads), "num_key_value_heads": len(kv_heads),
                                 "intermediate_size": len(neurons), "head_dim": hd})
pruned = model_class(pruned_config).float().eval()
state = {}
for name, tensor in model.state_dict().items():
    if name.endswith(QUERY_ROWS):
        tensor = tensor[rows(heads, hd)]
    elif name.endswith(KV_ROWS):
        tensor = tensor[rows(kv_heads, hd)]
    elif name.endswith(QUERY_COLUMNS):
        tensor = tensor[:, rows(heads, hd)]
    elif name.endswith(NEURON_ROWS):
        tensor = tensor[neurons]
    elif name.endswith(NEURON_COLUMNS):
        tensor = tensor[:, neurons]
    state[name] = tensor.clone()
pruned.load_state_dict(state, strict=True)
with torch.no_grad():
    pruned_logits = pruned(tokens).logits[0]

out = os.path.join(root, "Tests", "SharedTests", "Fixtures", "families", args.family)
os.makedirs(out, exist_ok=True)
model.save_pretrained(out, safe_serialization=True)
for extra in ("generation_config.json", "model.safetensors"):
    if os.path.exists(os.path.join(out, extra)):
        os.remove(os.path.join(out, extra))
if args.model_dir:
    model.save_pretrained(args.model_dir, safe_serialization=True)
reference = {
    "made_by": "scripts/make-family-fixture.py %s (transformers %s, torch %s)" % (args.family, transformers.__version__,
                                                                                  torch.__version__),
    "init_std": args.init_std,
    "tensors": tensors,
    "tokens": tokens[0].tolist(),
    "logits": [[float(v) for v in row] for row in logits.tolist()],
    "pruned": {"heads": heads, "kv_heads": kv_heads, "neurons": neurons,
               "logits": [[float(v) for v in row] for row in pruned_logits.tolist()]},
}
with open(os.path.join(out, "reference.json"), "w") as f:
    json.dump(reference, f)
print("wrote %s (logit spread at least %.1f nats)" % (out, spread))
