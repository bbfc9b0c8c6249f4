#!/usr/bin/env python3
"""Writes a tiny random LLaVA-1.5 (a CLIP vision tower, the 2-layer GELU projector, a LLaMA language model) made with
Hugging Face transformers, and what transformers computes with it, into Tests/SharedTests/Fixtures/families/llava/:
config.json, preprocessor_config.json and a tokenizer (tokenizer.json, tokenizer_config.json) as save_pretrained
writes them, image.png (a small test picture, not square,
so that the processor resizes and crops it), and reference.json with the tensors' names and shapes (transformers 5's
in-memory names), the stored names save_pretrained wrote for each, the token ids, the text-only logits, the
processor's pixel values for the image and the logits of a prompt holding it. No real LLaVA weights are reachable
here, so these are the ground truth mop's reading of the checkpoint is checked against.

The weights are not committed: as in make-family-fixture.py, element i of a tensor is SplitMix64's i-th draw seeded
by the FNV-1a hash of its in-memory name, uniform of deviation --init-std (matrices) or 0.3 around 1 (1-D tensors),
which the tests compute again to write model.safetensors at run time (LlavaFixtureTests). Weights drawn wider than
transformers' default make the logits spread over several nats, so a wrong operation cannot hide in the rounding.

    pip install torch transformers safetensors pillow && python3 scripts/make-llava-fixture.py
"""
import argparse
import io
import json
import os
import tempfile

import numpy
import PIL.Image
import sentencepiece
import torch
import transformers
from safetensors import safe_open

import fixture_values

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("--init-std", type=float, default=0.25)
parser.add_argument("--model-dir", help="also save the whole model and its processor config here, for mop and the checks")
parser.add_argument("--text", default=os.path.join(os.environ.get("MOP_SHARED_DATA", os.path.join(root, "..", "shared", "data")),
                                                    "text", "wikitext2-test.txt"),
                    help="English text the tokenizer is trained on")
args = parser.parse_args()
out = os.path.join(root, "Tests", "SharedTests", "Fixtures", "families", "llava")
os.makedirs(out, exist_ok=True)

# Vicuna's tokenizer in small: a SentencePiece BPE of 384 pieces with byte fallback (the 256 byte pieces, <unk>, <s>,
# </s> and 125 merges of ASCII text), `<image>` added after them as LLaVA-1.5 adds it after Vicuna's 32000, and the
# embedding padded to 400 rows as llava-hf pads 32001 to 32064.
with open(args.text, encoding="utf-8") as f:
    corpus = f.read()[:200000].encode("ascii", "ignore").decode()
with tempfile.TemporaryDirectory() as trained:
    model_bytes = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus.splitlines()), model_writer=model_bytes, vocab_size=384, model_type="bpe",
        byte_fallback=True, character_coverage=0.9995, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, split_digits=True,
        add_dummy_prefix=True, remove_extra_whitespaces=False, normalization_rule_name="identity", num_threads=1,
        minloglevel=2)
    with open(os.path.join(trained, "tokenizer.model"), "wb") as f:
        f.write(model_bytes.getvalue())
    tokenizer = transformers.LlamaTokenizer.from_pretrained(trained)
tokenizer.add_tokens([transformers.AddedToken("<image>", special=True, normalized=False)], special_tokens=True)
IMAGE_TOKEN = tokenizer.convert_tokens_to_ids("<image>")
assert IMAGE_TOKEN == 384, IMAGE_TOKEN

vision = transformers.CLIPVisionConfig(
    hidden_size=32, intermediate_size=40, num_hidden_layers=3, num_attention_heads=4, image_size=32, patch_size=8,
    hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=16)
text = transformers.LlamaConfig(
    vocab_size=400, hidden_size=48, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, head_dim=12, max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=False)
patches = (vision.image_size // vision.patch_size) ** 2
config = transformers.LlavaConfig(
    vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN, projector_hidden_act="gelu",
    vision_feature_layer=-2, vision_feature_select_strategy="default", image_seq_length=patches)
# LLaVA-1.5's processor: shortest edge to the tower's size (bicubic), centre crop, OpenAI CLIP's mean and deviation.
processor = transformers.CLIPImageProcessorPil(
    size={"shortest_edge": vision.image_size}, crop_size={"height": vision.image_size, "width": vision.image_size})

model = transformers.LlavaForConditionalGeneration(config).float().eval()
tensors = []
with torch.no_grad():
    for name, parameter in model.state_dict().items():
        values = fixture_values.values(name, parameter.numel(), parameter.dim() == 1, args.init_std)
        parameter.copy_(torch.from_numpy(values.reshape(tuple(parameter.shape))))
        tensors.append([name, list(parameter.shape)])

# A picture of 40 x 48 pixels (rows x columns), resized to 32 x 38 then cropped to 32 x 32: a disc, a ramp and a
# checkerboard, sharp edges that a wrong resampling kernel would blur differently (a ramp alone resamples to itself).
y, x = numpy.mgrid[0:40, 0:48]
disc = numpy.where((x - 20) ** 2 + (y - 17) ** 2 < 150, 230, 25)
checker = ((x // 3 + y // 3) % 2) * 200 + 30
picture = numpy.stack([disc, (y * 6) % 256, checker], axis=-1).astype(numpy.uint8)
image = PIL.Image.fromarray(picture, "RGB")
pixel_values = processor(images=image, return_tensors="pt")["pixel_values"]
# Pillow's resize of the picture to other sizes with both filters, the rows first or (the height shrinking more than
# twice the width) the columns first: the FNV-1a hash of the RGB bytes.
resizes = [[w, h, f, "%016x" % fixture_values.fnv1a_bytes(numpy.asarray(image.resize((w, h), resample=f)).tobytes())]
           for w, h in [(38, 32), (70, 21), (13, 60), (40, 10)] for f in (2, 3)]

generator = torch.Generator().manual_seed(7)
text_tokens = torch.randint(0, IMAGE_TOKEN, (1, 14), generator=generator)
before, after = torch.randint(0, IMAGE_TOKEN, (3,), generator=generator), torch.randint(0, IMAGE_TOKEN, (5,), generator=generator)
prompt = [1] + before.tolist() + [IMAGE_TOKEN] + after.tolist()
expanded = [1] + before.tolist() + [IMAGE_TOKEN] * patches + after.tolist()
with torch.no_grad():
    text_logits = model(input_ids=text_tokens).logits[0]
    image_logits = model(input_ids=torch.tensor([expanded]), pixel_values=pixel_values).logits[0]
for logits in (text_logits, image_logits):
    spread = (logits.max(dim=-1).values - logits.min(dim=-1).values).min().item()
    assert spread > 4, "logits differ by only %.2f nats; raise --init-std" % spread
# The image must matter: the logits after it differ from those of the same prompt with the image features zeroed.
with torch.no_grad():
    blank = model(input_ids=torch.tensor([expanded]), pixel_values=torch.zeros_like(pixel_values)).logits[0]
assert (image_logits[-1] - blank[-1]).abs().max().item() > 0.5, "the image barely changes the logits"

# The language model pruned as make-family-fixture.py prunes: in every layer the query heads of KV group 1 and the
# neurons of even index; the vision tower and projector as they are. Built by slicing the tensors into a config of
# the smaller shape, so its logits are those of a model transformers itself loads.
HEAD_DIM, heads, kv_heads = text.head_dim, [2, 3], [1]
neurons = list(range(0, text.intermediate_size, 2))
units = lambda kept, size: torch.cat([torch.arange(u * size, (u + 1) * size) for u in kept])
pruned_text = transformers.LlamaConfig(**{**text.to_dict(), "num_attention_heads": len(heads),
                                          "num_key_value_heads": len(kv_heads), "intermediate_size": len(neurons)})
pruned = transformers.LlavaForConditionalGeneration(transformers.LlavaConfig(**{**config.to_dict(), "text_config": pruned_text})).float().eval()
state = {}
for name, tensor in model.state_dict().items():
    if name.startswith("model.language_model.layers."):
        if name.endswith("q_proj.weight"):
            tensor = tensor[units(heads, HEAD_DIM)]
        elif name.endswith(("k_proj.weight", "v_proj.weight")):
            tensor = tensor[units(kv_heads, HEAD_DIM)]
        elif name.endswith("o_proj.weight"):
            tensor = tensor[:, units(heads, HEAD_DIM)]
        elif name.endswith(("gate_proj.weight", "up_proj.weight")):
            tensor = tensor[neurons]
        elif name.endswith("down_proj.weight"):
            tensor = tensor[:, neurons]
    state[name] = tensor.clone()
pruned.load_state_dict(state, strict=True)
with torch.no_grad():
    pruned_text_logits = pruned(input_ids=text_tokens).logits[0]
    pruned_image_logits = pruned(input_ids=torch.tensor([expanded]), pixel_values=pixel_values).logits[0]

with tempfile.TemporaryDirectory() as saved:
    model.save_pretrained(saved, safe_serialization=True)
    with safe_open(os.path.join(saved, "model.safetensors"), "pt") as f:
        stored = sorted(f.keys())
    with open(os.path.join(saved, "config.json")) as f:
        config_text = f.read()
with open(os.path.join(out, "config.json"), "w") as f:
    f.write(config_text)
processor.save_pretrained(out)
tokenizer.save_pretrained(out)
image.save(os.path.join(out, "image.png"), optimize=True)
if args.model_dir:
    model.save_pretrained(args.model_dir, safe_serialization=True)
    processor.save_pretrained(args.model_dir)
    tokenizer.save_pretrained(args.model_dir)

# Seven significant digits: float32's, and a JSON a third the size of Python's repr.
rows = lambda t: [[float("%.7g" % v) for v in row] for row in t.tolist()]
reference = {
    "made_by": "scripts/make-llava-fixture.py (transformers %s, torch %s)" % (transformers.__version__, torch.__version__),
    "init_std": args.init_std,
    "tensors": tensors,
    "saved_names": stored,
    "text": {"tokens": text_tokens[0].tolist(), "logits": rows(text_logits)},
    "image": {"prompt": prompt, "expanded": expanded, "pixel_values": [float(v) for v in pixel_values.flatten().tolist()],
              "logits": rows(image_logits)},
    "resizes": resizes,
    "pruned": {"heads": heads, "kv_heads": kv_heads, "neurons": neurons, "text_logits": rows(pruned_text_logits),
               "image_logits": rows(pruned_image_logits)},
}
with open(os.path.join(out, "reference.json"), "w") as f:
    json.dump(reference, f)
print("wrote %s (%d tensors, image.png %d bytes)" % (out, len(tensors), os.path.getsize(os.path.join(out, "image.png"))))
