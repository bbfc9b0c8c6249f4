#!/usr/bin/env bash
# mop plan's predictions against runs measured on this machine (issue 15): for each check, `mop plan --json` for the
# cluster the run forms (one rank per node, 1 BLAS thread each, the run's own calibration tokens; a memory per node
# just below the whole model's forcing the stages), then the run itself, and a Markdown row of both. Times are one
# MoP iteration (`prune --max-iterations 1`, the report's iteration seconds) and one perplexity evaluation; memory is
# the ranks' peak resident memory. Three ranks on two cores get 2/3 of a core each: their predicted time is taken
# 3/2 times. Needs an otherwise idle machine; the virtual-cluster rows need root.
#   scripts/check-plan.sh [SMOLLM2_GGUF] [QWEN_1.5B_GGUF]   (defaults: scripts/fetch-model.sh smollm2 / qwen2.5-1.5b)
# Environment: MOP_CHECK_SAMPLES (128 SmolLM2 calibration prompts), MOP_CHECK_SAMPLES_LARGE (32 for the 1.5B model),
# MOP_CHECKS (which checks, default all: eval1 eval1t2 eval2r eval2s eval2sL mop1 mop1t2 mop2r mop2s mop2svc mop3svc
# mop2sL).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
small="${1:-$(scripts/fetch-model.sh smollm2)}"
large="${2:-$(scripts/fetch-model.sh qwen2.5-1.5b)}"
samples="${MOP_CHECK_SAMPLES:-128}"
samples_large="${MOP_CHECK_SAMPLES_LARGE:-32}"
text="$root/../shared/data/text/wikitext2-test.txt"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mop="$root/.build/release/mop"
[ -x "$mop" ] || swift build -c release >&2
source scripts/vc-common.sh mop-check-plan

# launch NAME RANKS STAGES WHERE THREADS mop-args...: runs mop as RANKS ranks of THREADS BLAS threads (WHERE: local or
# vc) into $work/NAME.json.
launch() {
  local name="$1" ranks="$2" stages="$3" where="$4" threads="$5"
  shift 5
  local extra=(--threads "$threads" --json)
  [ "$stages" -gt 1 ] && extra+=(--stages "$stages")
  echo "check-plan: $name (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  if [ "$where" = vc ]; then
    vc_up 79 || { echo "check-plan: network namespaces are not available here (needs root)" >&2; exit 1; }
    cluster/virtual/mpirun.sh "$vc" -np "$ranks" --bind-to none --oversubscribe -x OPENBLAS_NUM_THREADS="$threads" \
      "$mop" "$@" "${extra[@]}" > "$work/$name.json"
  elif [ "$ranks" = 1 ]; then
    OPENBLAS_NUM_THREADS="$threads" "$mop" "$@" "${extra[@]}" > "$work/$name.json"
  else
    mpirun -np "$ranks" --bind-to none --oversubscribe -x OPENBLAS_NUM_THREADS="$threads" "$mop" "$@" "${extra[@]}" \
      > "$work/$name.json"
  fi
}

# plan NAME MODEL NODES STAGES CORES CALIBRATION_TOKENS [SEQUENCE_TOKENS]: the prediction for that cluster into
# $work/NAME.plan.json.
plan() {
  local name="$1" model="$2" nodes="$3" stages="$4" cores="$5" tokens="$6" sequence="${7:-35}"
  local memory=1000
  if [ "$stages" -gt 1 ]; then
    memory="$("$mop" plan "$model" --nodes 1 --memory-per-node 1000 --cores-per-node 1 --core-gflops 1 --json 2>/dev/null |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["stages"][0]["resident_bytes"] / 1e9 - 1e-6)')"
  fi
  "$mop" plan "$model" --nodes "$nodes" --memory-per-node "$memory" --cores-per-node "$cores" --calibration-tokens "$tokens" \
    --calibration-sequence-tokens "$sequence" --perplexity-tokens "${PLAN_PPL_TOKENS:-8192}" --json > "$work/$name.plan.json" 2>/dev/null
}

# The calibration tokens of run NAME, and their mean per sequence.
tokens_of() { python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["calibration"]; print(c["tokens"], round(c["tokens"] / c["sequences"]))' "$work/$1.json"; }
prune_args() {
  echo prune "$1" --target 0.2 --max-iterations 1 --out "$work/$2" --calibration-samples "$3" --format gguf --export-type q8_0
}

# name -> ranks, stages, where, threads per rank, model (small or large), what (eval: 8,192 SmolLM2 tokens or 2,048
# of the 1.5B model; mop: one MoP iteration).
declare -A checks=(
  [eval1]="1 1 local 1 small eval" [eval1t2]="1 1 local 2 small eval" [eval2r]="2 1 local 1 small eval"
  [eval2s]="2 2 local 1 small eval" [eval2sL]="2 2 local 1 large eval"
  [mop1]="1 1 local 1 small mop" [mop1t2]="1 1 local 2 small mop" [mop2r]="2 1 local 1 small mop"
  [mop2s]="2 2 local 1 small mop" [mop2svc]="2 2 vc 1 small mop" [mop3svc]="3 3 vc 1 small mop"
  [mop2sL]="2 2 local 1 large mop"
)
for name in ${MOP_CHECKS:-eval1 eval1t2 eval2r eval2s eval2sL mop1 mop1t2 mop2r mop2s mop2svc mop3svc mop2sL}; do
  read -r ranks stages where threads which what <<< "${checks[$name]}"
  model="$small" prompts="$samples" text_tokens=8192
  [ "$which" = large ] && model="$large" prompts="$samples_large" text_tokens=2048
  if [ "$what" = eval ]; then
    launch "$name" "$ranks" "$stages" "$where" "$threads" eval "$model" --ppl "$text" --max-tokens "$text_tokens"
    PLAN_PPL_TOKENS="$text_tokens" plan "$name" "$model" "$ranks" "$stages" "$threads" 4532
  else
    launch "$name" "$ranks" "$stages" "$where" "$threads" $(prune_args "$model" "$name" "$prompts")
    plan "$name" "$model" "$ranks" "$stages" "$threads" $(tokens_of "$name")
  fi
done

python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
def load(name, suffix=""):
    return json.load(open(f"{work}/{name}{suffix}.json"))
rows = [
    ("eval 8,192 tokens, 1 rank", "eval1"), ("eval, 1 rank x 2 threads", "eval1t2"), ("eval, 2 ranks (replicas)", "eval2r"),
    ("eval, 2 stages", "eval2s"), ("eval 2,048 tokens, Qwen2.5-1.5B, 2 stages", "eval2sL"),
    ("MoP iteration, 1 rank", "mop1"), ("MoP iteration, 1 rank x 2 threads", "mop1t2"),
    ("MoP iteration, 2 ranks (replicas)", "mop2r"), ("MoP iteration, 2 stages", "mop2s"),
    ("MoP iteration, 2 stages, virtual cluster (TCP)", "mop2svc"),
    ("MoP iteration, 3 stages, virtual cluster (3 ranks on 2 cores)", "mop3svc"),
    ("MoP iteration, Qwen2.5-1.5B, 2 stages", "mop2sL"),
]
rows = [(label, name) for label, name in rows if os.path.exists(f"{work}/{name}.plan.json")]
print("| run | predicted | measured | difference | resident per rank, predicted (MB) | measured (MB) |")
print("|---|---:|---:|---:|---:|---:|")
for label, name in rows:
    run, plan = load(name), load(name, ".plan")
    if name.startswith("eval"):
        measured, predicted = run["seconds"], plan["perplexity_seconds"]
        peaks = run["peak_resident_bytes"]
    else:
        measured, predicted = run["iterations"][0]["seconds"], plan["iteration_seconds"]
        peaks = [r["peak_resident_bytes"] for r in run["distribution"]["per_rank"]]
        predicted *= max(1, len(peaks) / 2)  # ranks beyond the machine's 2 cores share them
    stages = plan["stages"]
    resident = " / ".join(f'{s["resident_bytes"] / 1e6:.0f}' for s in stages)
    per_stage = len(stages)
    measured_resident = " / ".join(f"{p / 1e6:.0f}" for p in peaks[:per_stage])
    print(f"| {label} | {predicted:.1f} s | {measured:.1f} s | {predicted / measured - 1:+.0%} | {resident} | {measured_resident} |")
with open("/proc/loadavg") as f:
    print(f"\nload average at the end: {' '.join(f.read().split()[:3])}")
PY
