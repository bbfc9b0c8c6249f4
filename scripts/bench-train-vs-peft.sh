#!/usr/bin/env bash
# One LoRA recovery step of mop against PyTorch + PEFT (issue 31, comparison 2): r 8, alpha 16, dropout 0.05 on
# q, k, v, o, gate, up, down; AdamW; the first ROWS Alpaca rows as one batch at max length 512; fp32; THREADS threads;
# for each model (default SmolLM2 and Qwen2.5-Coder-0.5B). mop keeps the activations (--activation-memory keep) and
# recomputes them (recompute, the default); PyTorch + PEFT loads the GGUF's dequantized weights through transformers.
# First a check: with dropout off and PEFT started from mop's initial adapters, the losses of the first 3 steps must
# be equal within 1e-4 relative. Then ROUNDS rounds, each running the three sides in turn (the machine is shared):
# per round the ratio PEFT step seconds / mop step seconds (> 1: mop faster), and their median and min-max.
# Needs torch, transformers, gguf and peft in python3 (or $MOP_TORCH_PYTHON).
#   scripts/bench-train-vs-peft.sh [MODEL.gguf ...]   (ROUNDS=3 RUNS=3 THREADS=2 ROWS=4 MAX_LENGTH=512)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
rounds="${ROUNDS:-3}" runs="${RUNS:-3}" threads="${THREADS:-2}" rows="${ROWS:-4}" max_length="${MAX_LENGTH:-512}"
python="${MOP_TORCH_PYTHON:-python3}"
data="${MOP_TRAIN_DATA:-$root/../shared/data/instruct/alpaca.jsonl}"
[ -n "${MOP:-}" ] || { swift build -c release --product mop >&2; MOP="$root/.build/release/mop"; }
models=("$@")
[ ${#models[@]} -gt 0 ] || models=("${MOP_SMOLLM2_GGUF:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
                                   "${MOP_QWEN05_GGUF:-models/Qwen2.5-Coder-0.5B-Instruct.gguf}")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"
field() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); v=r[sys.argv[2]]; print(" ".join(map(str, v)) if isinstance(v, list) else v)' "$@"; }
mop_step() {  # dropout activation-memory runs output.json [extra options]
  "$MOP" bench-train "$model" --data "$data" --rows "$rows" --max-length "$max_length" --lora-dropout "$1" \
    --activation-memory "$2" --threads "$threads" --runs "$3" --json "${@:5}" > "$4"
}
peft_step() {  # dropout mop-output.json output.json
  # shellcheck disable=SC2046
  "$python" scripts/bench-train-peft.py "$model" "$work/batch.json" "$work/adapter" "$threads" "$1" \
    "$(field "$2" max_gradient_norm)" $(field "$2" learning_rates) > "$3" 2>"$work/peft.err" || { cat "$work/peft.err" >&2; exit 1; }
}
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for model in "${models[@]}"; do
  echo "== $(basename "$model"): $rows Alpaca rows, max length $max_length, $threads threads"
  mop_step 0 keep 2 "$work/mop-check.json" --save-adapters "$work/adapter" --save-batch "$work/batch.json"
  peft_step 0 "$work/mop-check.json" "$work/peft-check.json"
  python3 - "$work/mop-check.json" "$work/peft-check.json" <<'PY'
import json, sys
mop, peft = (json.load(open(p)) for p in sys.argv[1:3])
worst = max(abs(a - b) / abs(b) for a, b in zip(mop["losses"], peft["losses"]))
print("batch: %d tokens, %d targets (PEFT %d); PyTorch %s, PEFT %s, CPU capability %s" % (
    mop["tokens"], mop["targets"], peft["targets"], peft["torch"], peft["peft"], peft["cpu_capability"]))
print("losses without dropout, mop:  " + " ".join("%.7f" % x for x in mop["losses"]))
print("losses without dropout, PEFT: " + " ".join("%.7f" % x for x in peft["losses"]))
ok = worst <= 1e-4 and len(mop["losses"]) == len(peft["losses"]) and mop["targets"] == peft["targets"]
print("largest relative difference %.2e (limit 1e-4): %s" % (worst, "ok" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY
  keep=() recompute=()
  for round in $(seq 1 "$rounds"); do
    mop_step 0.05 keep "$runs" "$work/keep.json"
    mop_step 0.05 recompute "$runs" "$work/recompute.json"
    peft_step 0.05 "$work/keep.json" "$work/peft.json"
    k="$(field "$work/keep.json" step_seconds)" r="$(field "$work/recompute.json" step_seconds)" p="$(field "$work/peft.json" step_seconds)"
    keep+=("$(python3 -c "print($p / $k)")") recompute+=("$(python3 -c "print($p / $r)")")
    printf 'round %d: mop keep %.3f s (peak step memory %.0f MB), mop recompute %.3f s (%.0f MB), PEFT %.3f s; load %s\n' \
      "$round" "$k" "$(python3 -c "print($(field "$work/keep.json" peak_step_bytes) / 1e6)")" "$r" \
      "$(python3 -c "print($(field "$work/recompute.json" peak_step_bytes) / 1e6)")" "$p" "$(cut -d' ' -f1 /proc/loadavg)"
  done
  python3 scripts/ratio-summary.py "mop keep / PEFT (speed)" "${keep[@]}"
  python3 scripts/ratio-summary.py "mop recompute / PEFT (speed)" "${recompute[@]}"
done
