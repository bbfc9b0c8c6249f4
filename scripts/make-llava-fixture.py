#!/usr/bin/env python3
"""Writes a tiny random LLaVA-1.5 (a CLIP vision tower, the 2-layer GELU projector, a LLaMA language model) made with
Hugging Face transformers, and what transformers computes with it, into Tests/SharedTests/Fixtures/families/llava/:
config.json and preprocessor_config.json as save_pretrained writes them, image.png (a small test picture, not square,
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
import json
import os
import tempfile

import numpy
import PIL.Image
import torch
import transformers
from safetensors import safe_open

import fixture_values

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("--init-std", type=float, default=0.25)
parser.add_argument("--model-dir", help="also save the whole model and its processor config here, for mop and the checks")
args = parser.parse_args()

IMAGE_TOKEN = 99
vision = transformers.CLIPVisionConfig(
    hidden_size=32, intermediate_size=40, num_hidden_layers=3, num_attention_heads=4, image_size=32, patch_size=8,
    hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=16)
text = transformers.LlamaConfig(
    vocab_size=100, hidden_size=48, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
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

out = os.path.join(root, "Tests", "SharedTests", "Fixtures", "families", "llava")
os.makedirs(out, exist_ok=True)
with tempfile.TemporaryDirectory() as saved:
    model.save_pretrained(saved, safe_serialization=True)
    with safe_open(os.path.join(saved, "model.safetensors"), "pt") as f:
        stored = sorted(f.keys())
    with open(os.path.join(saved, "config.json")) as f:
        config_text = f.read()
with open(os.path.join(out, "config.json"), "w") as f:
    f.write(config_text)
processor.save_pretrained(out)
image.save(os.path.join(out, "image.png"), optimize=True)
if args.model_dir:
    model.save_pretrained(args.model_dir, safe_serialization=True)
    processor.save_pretrained(args.model_dir)

rows = lambda t: [[float(v) for v in row] for row in t.tolist()]
reference = {
    "made_by": "scripts/make-llava-fixture.py (transformers %s, torch %s)" % (transformers.__version__, torch.__version__),
    "init_std": args.init_std,
    "tensors": tensors,
    "saved_names": stored,
    "text": {"tokens": text_tokens[0].tolist(), "logits": rows(text_logits)},
    "image": {"prompt": prompt, "expanded": expanded, "pixel_values": [float(v) for v in pixel_values.flatten().tolist()],
              "logits": rows(image_logits)},
}
with open(os.path.join(out, "reference.json"), "w") as f:
    json.dump(reference, f)
print("wrote %s (%d tensors, image.png %d bytes)" % (out, len(tensors), os.path.getsize(os.path.join(out, "image.png"))))
