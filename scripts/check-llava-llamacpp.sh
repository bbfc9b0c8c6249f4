#!/usr/bin/env bash
# llama.cpp's LLaVA pair (language-model GGUF + mmproj GGUF) against mop, on the tiny LLaVA of
# scripts/make-llava-fixture.py (issue 32). No real LLaVA weights are reachable here; this shows the files and the
# operations agree, on a random model whose answers are garbage.
#
#   1. llama.cpp's own converters make the pair from the transformers directory: convert_hf_to_gguf.py the language
#      model (f32), tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py the mmproj (f16, the default), from the
#      tower saved as a CLIPVisionModel and the projector saved as llava_surgery does. The legacy converter reads
#      transformers 4's module names, so it runs in a venv with transformers 4 (made once beside WORK_DIR).
#   2. mop prune of the converted pair at 20% with --mmproj copies the mmproj byte for byte.
#   3. mop apply of that structure to the directory with --format gguf writes model.gguf and its own mmproj.gguf:
#      every mmproj tensor has the converter's name, shape, type and bytes; and mop's GGUF of the dense language model
#      has convert_hf_to_gguf.py's tensors byte for byte. With GGUFMmprojTests (mop's pair of this model: text logits
#      within 1e-4 of transformers', image logits within 1e-3), the converted pair's logits are transformers'.
#   4. mop generate reads the pair (--mmproj) and the directory with a square image (which neither side resamples);
#      the prompt ids are printed (the converted tokenizer follows llama.cpp's rules, not transformers').
#   5. llama-mtmd-cli (built from the vendored sources) loads each pruned pair and answers; its text is printed beside
#      mop generate's on the same prompt and image. A second mmproj that states clip.vision.feature_layer (which
#      makes mtmd run the stored layers; on the converter's plain file it runs one fewer, its issue 25817) shows
#      whether the rest agrees.
#
# usage: scripts/check-llava-llamacpp.sh [WORK_DIR]   (default /tmp/mop-llava-llamacpp; MOP_LLAMACPP_DIR as for the
# other llama.cpp scripts; MOP_SKIP_MTMD=1 stops before step 5)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp/mop-llava-llamacpp}"
mop="$root/.build/release/mop"
source "$root/scripts/llamacpp-common.sh"
llamacpp_tool tokenize >/dev/null
src="${MOP_LLAMACPP_DIR:-$root/.build-llamacpp}/llama_cpp_python-0.3.36/vendor/llama.cpp"
rm -rf "$work" && mkdir -p "$work/pair" "$work/pair-fl"
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2

echo "== the tiny LLaVA (transformers) and the pair (llama.cpp's converters)"
python3 "$root/scripts/make-llava-fixture.py" --model-dir "$work/hf" >/dev/null
git -C "$root" diff --quiet -- Tests/SharedTests/Fixtures/families/llava ||
  { echo "make-llava-fixture.py changed the committed fixture" >&2; exit 1; }
python3 "$src/convert_hf_to_gguf.py" "$work/hf" --outtype f32 --outfile "$work/pair/model.gguf" >"$work/convert-lm.log" 2>&1
python3 - "$work" <<'EOF'
import json, os, sys
import numpy, PIL.Image, torch
from safetensors.torch import load_file, save_file
work = sys.argv[1]
config = json.load(open(work + "/hf/config.json"))
stored = load_file(work + "/hf/model.safetensors")
# The tower as a CLIPVisionModel directory under transformers 4's names (what the converter loads), and the projector
# as llava_surgery saves it: the tensors by name, torch.save'd.
tower = {"vision_model." + name[len("vision_tower."):]: t for name, t in stored.items() if name.startswith("vision_tower.")}
projector = {name: t for name, t in stored.items() if name.startswith("multi_modal_projector.")}
for folder, extra in (("vit", {}), ("vit-fl", {"vision_feature_layer": config["vision_feature_layer"]})):
    os.makedirs(work + "/" + folder, exist_ok=True)
    save_file(tower, work + "/" + folder + "/model.safetensors", metadata={"format": "pt"})
    json.dump({**config["vision_config"], "architectures": ["CLIPVisionModel"], **extra}, open(work + "/" + folder + "/config.json", "w"))
    torch.save(projector, work + "/" + folder + "/llava.projector")
# A square picture of the tower's size: llava-hf's processor and mtmd's letterbox both leave it as it is.
y, x = numpy.mgrid[0:32, 0:32]
picture = numpy.stack([(x * 8) % 256, numpy.where((x - 12) ** 2 + (y - 18) ** 2 < 60, 220, 40), ((x // 4 + y // 4) % 2) * 180 + 40], -1)
PIL.Image.fromarray(picture.astype(numpy.uint8), "RGB").save(work + "/square.png")
EOF
venv="$(dirname "$work")/mop-transformers4"
[ -x "$venv/bin/python" ] || { python3 -m venv --system-site-packages "$venv" && "$venv/bin/pip" install --quiet "transformers>=4.45,<5"; }
for variant in "vit pair" "vit-fl pair-fl"; do
  set -- $variant
  "$venv/bin/python" "$src/tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py" -m "$work/$1" --clip-model-is-vision \
    --llava-projector "$work/$1/llava.projector" --output-dir "$work/$2" >"$work/convert-$1.log" 2>&1
  mv "$work/$2/mmproj-model-f16.gguf" "$work/$2/mmproj.gguf"
done
cp "$work/pair/model.gguf" "$work/pair-fl/model.gguf"

echo "== mop prune of the pair (--mmproj); mop apply of its structure to the directory (--format gguf)"
prune=(--target 0.2 --seq-len 32 --calibration-samples 16 --threads 2 --format gguf --export-type f32
       --calibration "${MOP_SHARED_DATA:-$root/../shared/data}/instruct/alpaca.jsonl")
"$mop" prune "$work/pair/model.gguf" --mmproj "$work/pair/mmproj.gguf" "${prune[@]}" --out "$work/pruned-pair" >"$work/prune-pair.log" 2>&1
# mop writes a GGUF's tokenizer by SentencePiece piece scores, which the fixture's tokenizer.json (a merges list) has
# not: the directory's tensors and configs alone, so the export is the weights and the mmproj.
mkdir -p "$work/hf-weights"
for f in config.json model.safetensors preprocessor_config.json; do ln -sf "$work/hf/$f" "$work/hf-weights/$f"; done
"$mop" apply "$work/hf-weights" --structure "$work/pruned-pair/structure.json" --out "$work/applied-hf" --format gguf \
  --export-type f32 >"$work/apply-hf.log" 2>&1
python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))["text_config"]; json.dump({"version": 1, "original_layers": t["num_hidden_layers"], "path": "", "layers": [{"index": i, "heads": list(range(t["num_attention_heads"])), "kv_heads": list(range(t["num_key_value_heads"])), "neurons": list(range(t["intermediate_size"]))} for i in range(t["num_hidden_layers"])]}, open(sys.argv[2], "w"))' \
  "$work/hf/config.json" "$work/identity.json"
"$mop" apply "$work/hf-weights" --structure "$work/identity.json" --out "$work/dense-hf" --format gguf --export-type f32 \
  >"$work/apply-dense.log" 2>&1

prompt=$'USER: <image>\nWhat is in the picture? ASSISTANT:'
generate() { "$mop" generate "$@" --image "$work/square.png" --prompt "$prompt" --max-new-tokens 8 --threads 2 --json; }
generate "$work/hf" >"$work/hf.json"
generate "$work/pair/model.gguf" --mmproj "$work/pair/mmproj.gguf" >"$work/pair.json"

python3 - "$work" <<'EOF'
import hashlib, json, sys
import gguf
work = sys.argv[1]
failed = []
def check(ok, what):
    print(("ok     " if ok else "FAILED ") + what)
    if not ok:
        failed.append(what)
tensors = lambda path: {t.name: t for t in gguf.GGUFReader(path).tensors}
ours, theirs = tensors(work + "/applied-hf/mmproj.gguf"), tensors(work + "/pair/mmproj.gguf")
check(sorted(ours) == sorted(theirs), "mop's mmproj has the converter's %d tensor names" % len(theirs))
same = [n for n in theirs if n in ours and ours[n].tensor_type == theirs[n].tensor_type
        and list(ours[n].shape) == list(theirs[n].shape) and ours[n].data.tobytes() == theirs[n].data.tobytes()]
check(len(same) == len(theirs), "mop's mmproj: %d of %d tensors of the converter's type, shape and bytes" % (len(same), len(theirs)))
lm, converted = tensors(work + "/dense-hf/model.gguf"), tensors(work + "/pair/model.gguf")
same = [n for n in converted if n in lm and lm[n].tensor_type == converted[n].tensor_type
        and list(lm[n].shape) == list(converted[n].shape) and lm[n].data.tobytes() == converted[n].data.tobytes()]
check(len(same) == len(converted) == len(lm), "mop's GGUF of the dense language model: %d of %d tensors of convert_hf_to_gguf.py's "
      "name, type, shape and bytes (so the pair's logits are those GGUFMmprojTests holds to transformers')" % (len(same), len(converted)))
digest = lambda path: hashlib.sha256(open(path, "rb").read()).hexdigest()
check(digest(work + "/pruned-pair/mmproj.gguf") == digest(work + "/pair/mmproj.gguf"),
      "mop prune --mmproj: mmproj.gguf sha256 equal to the input's")
# Not a check: the converted GGUF's tokenizer follows llama.cpp's SentencePiece rules (BOS added, a space prefix
# after <image>), the directory's follows transformers'; the image's 16 rows are in both.
hf, pair = json.load(open(work + "/hf.json")), json.load(open(work + "/pair.json"))
print("prompt ids, directory: %s" % hf["prompt_token_ids"])
print("prompt ids, pair:      %s" % pair["prompt_token_ids"])
print("greedy tokens, directory %s, pair %s" % (hf["tokens"], pair["tokens"]))
if failed:
    sys.exit("%d checks failed" % len(failed))
EOF

# Building llama-mtmd-cli takes tens of minutes on 2 cores.
[ "${MOP_SKIP_MTMD:-0}" = 1 ] && { echo "== llama-mtmd-cli skipped (MOP_SKIP_MTMD=1)"; exit 0; }
echo "== llama-mtmd-cli on the pruned pairs"
cli=$(llamacpp_mtmd_cli)
mtmd() {
  "$cli" -m "$1" --mmproj "$2" --image "$work/square.png" -p "What is in the picture?" --chat-template vicuna \
    -n 8 --temp 0 --top-k 1 --seed 0 -t 2 -c 64 --no-warmup 2>"$work/mtmd.log"
}
for mmproj in "$work/pruned-pair/mmproj.gguf" "$work/pair-fl/mmproj.gguf"; do
  echo "-- $mmproj"
  if text=$(mtmd "$work/pruned-pair/model.gguf" "$mmproj"); then
    echo "llama-mtmd-cli: $(printf '%q' "$text")"
  else
    echo "llama-mtmd-cli failed:"; tail -5 "$work/mtmd.log"; exit 1
  fi
  grep -E "image embedding|encoded in|n_layer|ffn up/down" "$work/mtmd.log" | head -4 || true
  "$mop" generate "$work/pruned-pair/model.gguf" --mmproj "$mmproj" --image "$work/square.png" \
    --prompt $'USER: <image>What is in the picture?\nASSISTANT:' --max-new-tokens 8 --threads 2 --json |
    python3 -c 'import json, sys; r = json.load(sys.stdin); print("mop generate:   %r (ids %s)" % (r["text"], r["tokens"]))'
done
