#!/usr/bin/env python3
"""Checks mop's export of a pruned LLaVA against transformers: the export's hf/ loads as LlavaForConditionalGeneration
and runs with an image; every vision-tower and projector tensor has the sha256 of the original's; the logits of a
prompt holding the image (and of a text-only prompt) equal, within 1e-4 relative, those of the original model with its
language model sliced in transformers as the export's structure.json says; and mop's greedy answer with the image
(`mop generate --image`) is transformers' greedy answer. Per-layer shapes (which transformers' LLaMA does not know) are
built as scripts/check-transformers.py builds them.

    scripts/make-llava-fixture.py --model-dir /tmp/llava-tiny     # the fixture's weights are not committed
    mop prune /tmp/llava-tiny --target 0.2 --out /tmp/llava-pruned --format safetensors ...
    scripts/check-llava-export.py /tmp/llava-tiny /tmp/llava-pruned
"""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys

import PIL.Image
import torch
import transformers

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("original", help="the LLaVA directory mop pruned")
parser.add_argument("export", help="mop's output directory (hf/ and structure.json inside)")
parser.add_argument("--image", default=os.path.join(root, "Tests", "SharedTests", "Fixtures", "families", "llava", "image.png"))
parser.add_argument("--prompt", default="USER: <image>\nWhat is in the picture? ASSISTANT:")
parser.add_argument("--mop", default=os.path.join(root, ".build", "release", "mop"))
parser.add_argument("--new-tokens", type=int, default=8)
parser.add_argument("--finetuned", action="store_true",
                    help="the export is fine-tuned (DIR/finetuned/): its weights are no slice of the original, so only "
                         "the vision bytes, the load and mop's greedy answer against transformers' are checked")
args = parser.parse_args()
hf = os.path.join(args.export, "hf")
VISION = ("vision_tower.", "model.vision_tower.", "multi_modal_projector.", "model.multi_modal_projector.")


def raw_tensors(path):
    """name -> (dtype, shape, sha256 of the bytes) of a safetensors file."""
    with open(path, "rb") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(length))
        data = f.read()
    return {name: (entry["dtype"], entry["shape"], hashlib.sha256(data[entry["data_offsets"][0]:entry["data_offsets"][1]]).hexdigest())
            for name, entry in header.items() if name != "__metadata__"}


def per_layer_shapes(model, state_prefix, state, head_dim):
    """Replaces each language-model layer's projections by ones of the shapes `state` holds (pruned layers differ)."""
    for i, layer in enumerate(model.model.language_model.layers):
        for module, kind, names in ((layer.self_attn, "self_attn", ("q_proj", "k_proj", "v_proj", "o_proj")),
                                    (layer.mlp, "mlp", ("gate_proj", "up_proj", "down_proj"))):
            for name in names:
                weight = state["%slayers.%d.%s.%s.weight" % (state_prefix, i, kind, name)]
                setattr(module, name, torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False))
        heads = state["%slayers.%d.self_attn.q_proj.weight" % (state_prefix, i)].shape[0] // head_dim
        kv_heads = state["%slayers.%d.self_attn.k_proj.weight" % (state_prefix, i)].shape[0] // head_dim
        layer.self_attn.num_key_value_groups = heads // kv_heads


def load_export(path):
    config = json.load(open(os.path.join(path, "config.json")))
    if not any(key.endswith("_per_layer") for key in config["text_config"]):
        return transformers.LlavaForConditionalGeneration.from_pretrained(path, dtype=torch.float32)
    from safetensors.torch import load_file
    model = transformers.LlavaForConditionalGeneration(transformers.LlavaConfig.from_pretrained(path)).float()
    stored = load_file(os.path.join(path, "model.safetensors"))
    # The names save_pretrained writes, as the module names them in memory.
    rename = [("language_model.model.", "model.language_model."), ("language_model.lm_head.", "lm_head."),
              ("vision_tower.vision_model.", "model.vision_tower."), ("vision_tower.", "model.vision_tower."),
              ("multi_modal_projector.", "model.multi_modal_projector.")]
    state = {}
    for name, tensor in stored.items():
        for old, new in rename:
            if name.startswith(old):
                name = new + name[len(old):]
                break
        state[name] = tensor
    per_layer_shapes(model, "model.language_model.", state, config["text_config"]["head_dim"])
    model.load_state_dict(state, strict=True)
    return model


def sliced(original, structure):
    """The original with its language model cut to the structure's heads, KV groups and neurons in transformers."""
    model = transformers.LlavaForConditionalGeneration.from_pretrained(original, dtype=torch.float32)
    head_dim = model.config.text_config.head_dim
    kept = {layer["index"]: layer for layer in structure["layers"]}
    units = lambda ids, size: torch.cat([torch.arange(u * size, (u + 1) * size) for u in ids])
    state = {}
    for name, tensor in model.state_dict().items():
        if name.startswith("model.language_model.layers."):
            index = int(name.split(".")[3])
            if index not in kept:
                continue
            layer = kept[index]
            name = name.replace("layers.%d." % index, "layers.%d." % sorted(kept).index(index), 1)
            if name.endswith("q_proj.weight"):
                tensor = tensor[units(layer["heads"], head_dim)]
            elif name.endswith(("k_proj.weight", "v_proj.weight")):
                tensor = tensor[units(layer["kv_heads"], head_dim)]
            elif name.endswith("o_proj.weight"):
                tensor = tensor[:, units(layer["heads"], head_dim)]
            elif name.endswith(("gate_proj.weight", "up_proj.weight")):
                tensor = tensor[layer["neurons"]]
            elif name.endswith("down_proj.weight"):
                tensor = tensor[:, layer["neurons"]]
        state[name] = tensor
    text = model.config.text_config
    pruned = transformers.LlavaForConditionalGeneration(transformers.LlavaConfig(**{
        **model.config.to_dict(), "text_config": {**text.to_dict(), "num_hidden_layers": len(kept)}})).float()
    per_layer_shapes(pruned, "model.language_model.", state, head_dim)
    pruned.load_state_dict(state, strict=True)
    return pruned.eval()


failures = []
before, after = raw_tensors(os.path.join(args.original, "model.safetensors")), raw_tensors(os.path.join(hf, "model.safetensors"))
vision = [name for name in before if name.startswith(VISION)]
different = [name for name in vision if after.get(name) != before[name]]
print("vision and projector tensors: %d, sha256 equal to the original's: %d" % (len(vision), len(vision) - len(different)))
if different or not vision:
    failures.append("vision tensors differ: %s" % different[:3])

model = load_export(hf).eval()
reference = None if args.finetuned else sliced(args.original, json.load(open(os.path.join(args.export, "structure.json"))))
processor = transformers.CLIPImageProcessorPil.from_pretrained(hf)
tokenizer = transformers.AutoTokenizer.from_pretrained(hf)
image_token = model.config.image_token_index
pixel_values = processor(images=PIL.Image.open(args.image), return_tensors="pt")["pixel_values"]
ids = tokenizer(args.prompt)["input_ids"]
expanded = [t for i in ids for t in ([i] * model.config.image_seq_length if i == image_token else [i])]
with torch.no_grad():
    for name, inputs in (("text-only", dict(input_ids=torch.tensor([[i for i in ids if i != image_token]]))),
                         ("with the image", dict(input_ids=torch.tensor([expanded]), pixel_values=pixel_values))):
        if reference is None:
            break
        logits, expected = model(**inputs).logits[0].double(), reference(**inputs).logits[0].double()
        error = ((logits - expected).abs().max() / expected.abs().max()).item()
        print("%s: logits of %s, relative error %.2e against the original sliced by structure.json" % (type(model).__name__, name, error))
        if error > 1e-4:
            failures.append(name)
    greedy = model.generate(input_ids=torch.tensor([expanded]), pixel_values=pixel_values, max_new_tokens=args.new_tokens,
                            do_sample=False)[0, len(expanded):].tolist()
run = subprocess.run([args.mop, "generate", hf, "--prompt", args.prompt, "--image", args.image, "--json",
                      "--max-new-tokens", str(args.new_tokens)], capture_output=True, text=True)
if run.returncode != 0:
    failures.append("mop generate failed: " + run.stderr.strip()[-300:])
else:
    answer = json.loads(run.stdout)
    same_prompt = answer["prompt_token_ids"] == expanded
    print("mop generate --image: prompt ids %s transformers', greedy tokens %s (mop %s, transformers %s)" % (
        "equal to" if same_prompt else "DIFFERENT from", "equal" if answer["tokens"] == greedy[:len(answer["tokens"])] else "DIFFERENT",
        answer["tokens"], greedy))
    if not same_prompt or answer["tokens"] != greedy[:len(answer["tokens"])]:
        failures.append("mop generate")
print("FAILED: " + "; ".join(failures) if failures else "all checks passed")
sys.exit(1 if failures else 0)
