#!/usr/bin/env bash
# Image-text calibration against text-only calibration on the tiny LLaVA of scripts/make-llava-fixture.py (issue 32;
# docs/results/llava.md#image-text-calibration). No real LLaVA weights are reachable here, so this shows what the
# images change in the search on a random model, not what they do for a real one's visual answers.
#
#   1. Makes N images (seeded random shapes on random backgrounds, PNG and JPEG, of several sizes, so the processor
#      resizes and crops them) and two calibration files of the same N questions: LLaVA-Instruct rows
#      ({"image", "conversations"}) and the same questions as Alpaca rows without an image.
#   2. mop prune of the model at 20% (MoP) on each; prints the path, the dense calibration loss, each iteration's
#      candidate losses, and how many heads and neurons the two pruned models share.
#   3. scripts/check-llava-export.py on the image-calibrated export: transformers loads it as
#      LlavaForConditionalGeneration, every vision and projector tensor's sha256 equals the original's, its logits
#      equal the original sliced by structure.json, and mop generate --image answers as transformers does.
#
# usage: scripts/compare-llava-calibration.sh MODEL_DIR [WORK_DIR] [N]
#   MODEL_DIR: scripts/make-llava-fixture.py --model-dir MODEL_DIR; WORK_DIR default /tmp/mop-llava-calibration; N 16
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
model="$1"
work="${2:-/tmp/mop-llava-calibration}"
count="${3:-16}"
mop="$root/.build/release/mop"
rm -rf "$work" && mkdir -p "$work/images"

python3 - "$work" "$count" <<'EOF'
import json, random, sys
import PIL.Image, PIL.ImageDraw
work, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(0)
questions = ["What is in the picture?", "Describe the image.", "What colour is the largest shape?",
             "How many shapes are there?", "Where is the brightest part?", "Is the background dark or light?",
             "What stands out?", "Name the colours you see."]
with open(work + "/images.jsonl", "w") as rows, open(work + "/text.jsonl", "w") as text:
    for i in range(count):
        size = (rng.randint(24, 64), rng.randint(24, 64))
        image = PIL.Image.new("RGB", size, tuple(rng.randint(0, 255) for _ in range(3)))
        draw = PIL.ImageDraw.Draw(image)
        for _ in range(rng.randint(1, 4)):
            x0, y0 = rng.randint(0, size[0] - 8), rng.randint(0, size[1] - 8)
            box = (x0, y0, rng.randint(x0 + 4, size[0]), rng.randint(y0 + 4, size[1]))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=tuple(rng.randint(0, 255) for _ in range(3)))
        name = "images/%02d.%s" % (i, "png" if i % 2 == 0 else "jpg")
        image.save(work + "/" + name)
        question = questions[i % len(questions)]
        rows.write(json.dumps({"image": name, "conversations": [{"from": "human", "value": "<image>\n" + question}]}) + "\n")
        text.write(json.dumps({"instruction": question}) + "\n")
EOF

for kind in images text; do
  "$mop" prune "$model" --target 0.2 --calibration "$work/$kind.jsonl" --calibration-samples "$count" \
    --out "$work/$kind-pruned" --format safetensors --threads 2 --json > "$work/$kind.json"
done

python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
runs = {kind: json.load(open("%s/%s.json" % (work, kind))) for kind in ("images", "text")}
structures = {kind: json.load(open("%s/%s-pruned/structure.json" % (work, kind))) for kind in runs}
for kind, run in runs.items():
    calibration = run["calibration"]
    print("%-6s path %-4s removed %.2f%%  %d sequences, %d tokens, %s images; dense loss %.4f" % (
        kind, run["path"], 100 * run["compression"], calibration["sequences"], calibration["tokens"],
        calibration.get("images", 0), calibration["dense_loss"]))
    for it in run["iterations"]:
        print("       iteration %d: depth loss %s, width loss %s, took %s" % (
            it["iteration"], it.get("depth_loss"), it.get("width_loss"), it["branch"]))
def kept(structure):
    return {(layer["index"], kind, unit) for layer in structure["layers"] for kind in ("heads", "neurons") for unit in layer[kind]}
a, b = kept(structures["images"]), kept(structures["text"])
print("kept by both: %d heads and neurons; only with images %d, only with text %d" % (len(a & b), len(a - b), len(b - a)))
EOF

python3 "$root/scripts/check-llava-export.py" "$model" "$work/images-pruned" --image "$work/images/00.png"
