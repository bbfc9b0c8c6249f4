"""One MoP iteration the papers' way in PyTorch (transformers, fp32, the GGUF's dequantized weights), for
scripts/bench-search-vs-torch.sh. Written from the papers' algorithm (AMP, arXiv 2504.21174; MoP, arXiv 2602.06127;
ShortGPT's block influence for the depth rule), one prompt per forward pass as the AMP and MoP code run them:

1. statistics, one pass over the prompts: forward hooks on every o_proj (AMP head score: the mean over tokens of the
   L1 norm of each head's projection through its o_proj columns), every down_proj (AMP neuron score: the mean over
   tokens of |input|) and every decoder layer (block influence: the sum over tokens of 1 - cos(input, output));
2. the depth candidate: the block of least influence, removed; the width candidate: AMP removing as many parameters
   as that block holds, every layer the same fraction of itself (docs/design.md#budget), cut out of the weights;
3. each candidate's calibration loss, one pass each (mean next-token NLL).

An untimed dense pass comes first, as mop's prune does before its first iteration. Prints one JSON line: the
iteration's seconds and each part's, the block and the losses, and the removed heads and neurons per layer.
    python3 bench-search-torch.py MODEL.gguf IDS.json THREADS
IDS.json holds the calibration sequences as mop tokenizes them (a list of lists of token ids).
"""
import json, os, sys, time

import torch
from transformers import AutoModelForCausalLM

model_path, ids_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
folder, name = os.path.dirname(os.path.abspath(model_path)), os.path.basename(model_path)
model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
config = model.config
sequences = [torch.tensor([ids], dtype=torch.long) for ids in json.load(open(ids_path))]
layers = model.model.layers
heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads


def calibration_loss():
    """Mean next-token NLL over every prompt's targets (positions 0..T-2)."""
    total, count = 0.0, 0
    for ids in sequences:
        targets = ids.shape[1] - 1
        if targets < 1:
            continue
        total += model(input_ids=ids, labels=ids, use_cache=False).loss.double().item() * targets
        count += targets
    return total / count


def statistics():
    """AMP head and neuron scores (means over prompts) and block influence, from one pass over the prompts."""
    head_sums = [torch.zeros(heads, dtype=torch.float64) for _ in layers]
    neuron_sums = [torch.zeros(layer.mlp.down_proj.in_features, dtype=torch.float64) for layer in layers]
    influence = torch.zeros(len(layers), dtype=torch.float64)

    def head_hook(index):
        def hook(module, inputs):
            z = inputs[0][0]  # [T, H*hd]
            per_head = torch.einsum("thd,hdo->tho", z.view(z.shape[0], heads, head_dim),
                                    module.weight.T.reshape(heads, head_dim, -1))
            head_sums[index] += per_head.abs().sum(dim=2).mean(dim=0).double()
        return hook

    def neuron_hook(index):
        def hook(module, inputs):
            neuron_sums[index] += inputs[0][0].abs().mean(dim=0).double()
        return hook

    def block_hook(index):
        def hook(module, args, kwargs, output):
            before = (args[0] if args else kwargs["hidden_states"])[0].double()
            after = (output[0] if isinstance(output, tuple) else output)[0].double()
            cosine = (before * after).sum(-1) / ((before * before).sum(-1) * (after * after).sum(-1)).sqrt()
            influence[index] += (1 - cosine).sum()
        return hook

    handles = []
    for index, layer in enumerate(layers):
        handles.append(layer.self_attn.o_proj.register_forward_pre_hook(head_hook(index)))
        handles.append(layer.mlp.down_proj.register_forward_pre_hook(neuron_hook(index)))
        handles.append(layer.register_forward_hook(block_hook(index), with_kwargs=True))
    for ids in sequences:
        model.model(input_ids=ids, use_cache=False)
    for handle in handles:
        handle.remove()
    return [s / len(sequences) for s in head_sums], [s / len(sequences) for s in neuron_sums], influence


def parameters(module):
    return sum(p.numel() for p in module.parameters())


def width_plan(budget, neuron_scores):
    """Neurons to remove per layer for a step of `budget` parameters: every layer the same fraction r of its sliced
    tensors (q, k, v, o, gate, up, down, biases with their rows), head units only once a layer's fractional account
    reaches a whole one. From the dense model every account starts at 0."""
    attention = lambda layer: sum(parameters(getattr(layer.self_attn, n)) for n in ("q_proj", "k_proj", "v_proj", "o_proj"))
    prunable = [attention(layer) + parameters(layer.mlp) for layer in layers]
    r = budget / sum(prunable)
    group = heads // kv_heads
    units = kv_heads if group == 1 else group
    if r * units + 1e-9 >= 1:
        sys.exit("bench-search-torch: this step would remove heads; only neuron steps are written here "
                 "(the first iteration of SmolLM2 and Qwen2.5-0.5B removes none)")
    per_neuron = 3 * config.hidden_size
    removed = []
    for index, share in enumerate(prunable):
        count = round(r * share / per_neuron)
        scores = neuron_scores[index].numpy()
        order = sorted(range(len(scores)), key=lambda m: (scores[m], m))
        removed.append(sorted(order[:count]))
    return removed


def scored_without_block(block):
    kept = torch.nn.ModuleList([layer for index, layer in enumerate(layers) if index != block])
    model.model.layers = kept
    try:
        return calibration_loss()
    finally:
        model.model.layers = layers


def scored_without_neurons(removed):
    """The width candidate cut out of the weights (gate and up rows, down columns), scored, then put back."""
    def cut(source, keep, rows):
        weight = source.weight[keep] if rows else source.weight[:, keep]
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=source.bias is not None)
        linear.weight = torch.nn.Parameter(weight.clone(), requires_grad=False)
        if source.bias is not None:
            linear.bias = torch.nn.Parameter((source.bias[keep] if rows else source.bias).clone(), requires_grad=False)
        return linear

    originals = []
    for layer, gone in zip(layers, removed):
        mlp = layer.mlp
        keep = torch.tensor(sorted(set(range(mlp.down_proj.in_features)) - set(gone)))
        for name, rows in (("gate_proj", True), ("up_proj", True), ("down_proj", False)):
            originals.append((mlp, name, getattr(mlp, name)))
            setattr(mlp, name, cut(getattr(mlp, name), keep, rows))
    try:
        return calibration_loss()
    finally:
        for mlp, name, linear in originals:
            setattr(mlp, name, linear)


with torch.inference_mode():
    dense = calibration_loss()
    start = time.perf_counter()
    head_scores, neuron_scores, influence = statistics()
    after_statistics = time.perf_counter()
    block = int(torch.argmin(influence))
    budget = parameters(layers[block])
    removed = width_plan(budget, neuron_scores)
    depth_loss = scored_without_block(block)
    after_depth = time.perf_counter()
    width_loss = scored_without_neurons(removed)
    end = time.perf_counter()

print(json.dumps({
    "seconds": end - start, "statistics_seconds": after_statistics - start, "depth_seconds": after_depth - after_statistics,
    "width_seconds": end - after_depth, "dense_loss": dense, "depth_block": block, "depth_loss": depth_loss,
    "width_loss": width_loss, "width_budget": budget, "removed_neurons": removed,
    "intermediate": [layer.mlp.down_proj.in_features for layer in layers],
    "sequences": len(sequences), "tokens": sum(ids.shape[1] for ids in sequences),
    "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": threads}))
