#!/usr/bin/env bash
# One MoP search iteration, mop against the papers' method in PyTorch (scripts/bench-search-torch.py: transformers
# fp32 on the GGUF's dequantized weights, one prompt per forward pass): the statistics (AMP heads and neurons, block
# influence), the depth and width candidates, their two calibration losses. Same model, same Alpaca prompts as mop
# tokenizes them (the AMP template, the first SAMPLES rows), same threads. mop runs `prune --max-iterations 1` in
# sample (the papers' scoring) with fp32 weights and the width step taken, so its structure.json shows the width
# candidate; its iteration time is the report's. Rounds run the two sides in turn; prints each round (seconds, the
# depth block, both losses on each side, the overlap of the removed neurons), the median ratio with its min-max and
# each side's kernels. Needs torch, transformers and gguf in python3 (or $MOP_TORCH_PYTHON).
#   scripts/bench-search-vs-torch.sh [MODEL.gguf]   (ROUNDS=3 SAMPLES=32 THREADS=2 SEQ_LEN=512 WEIGHTS=fp32)
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
rounds="${ROUNDS:-3}" samples="${SAMPLES:-32}" threads="${THREADS:-2}" seq_len="${SEQ_LEN:-512}" weights="${WEIGHTS:-fp32}"
python="${MOP_TORCH_PYTHON:-python3}"
calibration="${MOP_CALIBRATION:-$root/../shared/data/instruct/alpaca.jsonl}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The calibration sequences exactly as mop makes them (CalibrationSet: the template, BOS when the tokenizer adds
# one, at most SEQ_LEN tokens), so both sides see the same tokens.
python3 - "$MOP" "$model" "$calibration" "$samples" "$seq_len" > "$work/ids.json" <<'PY'
import json, subprocess, sys
mop, model, calibration, samples, seq_len = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
sequences = []
with open(calibration, encoding="utf-8") as rows:
    for line in rows:
        if len(sequences) == samples:
            break
        if not line.strip():
            continue
        row = json.loads(line)
        given = row.get("input") or ""
        prompt = (f"Instruction: {row['instruction']}\nInput: {given}\nResponse:" if given
                  else f"Instruction: {row['instruction']}\nResponse:")
        ids = json.loads(subprocess.run([mop, "tokenize", model, "--string", prompt, "--add-bos", "--json"],
                                        check=True, capture_output=True, text=True).stdout)["ids"]
        sequences.append(ids[:seq_len])
print(json.dumps(sequences))
PY

echo "mop $("$MOP" inspect "$model" --json --weights "$weights" | python3 -c 'import json,sys; j=json.load(sys.stdin); print("weights %s, BLAS %s, kernels %s" % (j["weights"], j["blas_kernel"], j.get("kernel_isa", "?")))')"
echo "PyTorch $("$python" -c 'import torch; print(torch.__version__, "CPU capability", torch.backends.cpu.get_cpu_capability())')"
ratios=()
for round in $(seq 1 "$rounds"); do
  out="$work/mop-$round"
  OPENBLAS_NUM_THREADS=$threads "$MOP" prune "$model" --target 0.2 --max-iterations 1 --calibration "$calibration" \
    --calibration-samples "$samples" --seq-len "$seq_len" --candidate-scoring in-sample --selection path --path G \
    --weights "$weights" --threads "$threads" --format safetensors --export-type f16 --out "$out" --json \
    > "$work/mop-$round.json" 2> "$work/mop-$round.log" || { cat "$work/mop-$round.log" >&2; exit 1; }
  OMP_NUM_THREADS=$threads "$python" "$root/scripts/bench-search-torch.py" "$model" "$work/ids.json" "$threads" \
    > "$work/torch-$round.json" 2> "$work/torch-$round.log" || { cat "$work/torch-$round.log" >&2; exit 1; }
  line=$(python3 - "$work/mop-$round.json" "$out/structure.json" "$work/torch-$round.json" <<'PY'
import json, sys
report, structure, torch = (json.load(open(path)) for path in sys.argv[1:])
step = report["iterations"][0]
if report["calibration"]["tokens"] != torch["tokens"]:
    sys.exit("the sides saw different calibration sets: mop %d tokens, PyTorch %d" % (report["calibration"]["tokens"], torch["tokens"]))
# Removed neurons of each side's width candidate: mop's structure.json keeps `neurons` of every layer (the width
# step was taken).
mop_removed = {(layer["index"], m) for layer in structure["layers"]
               for m in sorted(set(range(torch["intermediate"][layer["index"]])) - set(layer["neurons"]))}
torch_removed = {(index, m) for index, removed in enumerate(torch["removed_neurons"]) for m in removed}
common = len(mop_removed & torch_removed)
print("%.3f | mop %.2f s, PyTorch %.2f s (statistics %.2f, depth %.2f, width %.2f); block mop %d PyTorch %d; "
      "depth loss %.5f / %.5f, width loss %.5f / %.5f; removed neurons mop %d PyTorch %d, in common %d"
      % (torch["seconds"] / step["seconds"], step["seconds"], torch["seconds"],
         torch["statistics_seconds"], torch["depth_seconds"], torch["width_seconds"], step["depth_block"], torch["depth_block"],
         step["depth_loss"], torch["depth_loss"], step["width_loss"], torch["width_loss"], len(mop_removed), len(torch_removed), common))
PY
)
  ratios+=("${line%% *}")
  echo "round $round: ${line#*| }"
done
python3 "$root/scripts/ratio-summary.py" "one MoP iteration, PyTorch seconds / mop seconds, median" "${ratios[@]}"
echo "load: $(uptime)"
