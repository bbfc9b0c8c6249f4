#!/usr/bin/env bash
# Decode speed of mop against llama.cpp on the same GGUF file (default SmolLM2 Q4_1), by the latency protocol of
# `mop bench` (a 12-token prompt, 128 new tokens, greedy, batch 1). Rounds alternate mop and llama.cpp, each RUNS
# runs after one warm-up run, so a change of load hits both; prints each round and the median ratio.
#   scripts/bench-decode-vs-llamacpp.sh [MODEL.gguf]   (ROUNDS=3 RUNS=6 THREADS=2 WEIGHTS=stored)
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
source "$root/scripts/llamacpp-common.sh"
rounds="${ROUNDS:-3}" runs="${RUNS:-6}" threads="${THREADS:-2}" weights="${WEIGHTS:-stored}"
tool="$(llamacpp_tool decode_speed)"
echo "mop $("$MOP" inspect "$model" --json --weights "$weights" | python3 -c 'import json,sys; j=json.load(sys.stdin); print("weights %s, %.2f bytes/parameter, BLAS %s, kernels %s" % (j["weights"], j["bytes_per_parameter"], j["blas_kernel"], j.get("kernel_isa", "?")))')"
ratios=()
for round in $(seq 1 "$rounds"); do
  ours=$(OPENBLAS_NUM_THREADS=$threads "$MOP" bench "$model" --runs $((runs + 1)) --warmup 1 --prompt-tokens 12 \
           --new-tokens 128 --threads "$threads" --weights "$weights" --json 2>/dev/null |
         python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["decode_tokens_per_second"])')
  theirs=$("$tool" "$model" 12 128 "$threads" $((runs + 1)) 2>/dev/null |
           python3 -c 'import json,sys; r=[json.loads(l) for l in sys.stdin][1:]; print("%.2f" % (127 * len(r) / sum(x["decode_seconds"] for x in r)))')
  ratio=$(python3 -c "print('%.3f' % ($ours / $theirs))")
  ratios+=("$ratio")
  echo "round $round: mop $ours tokens/s, llama.cpp $theirs tokens/s, ratio $ratio"
done
python3 -c "import statistics,sys; print('median ratio mop / llama.cpp: %.3f' % statistics.median(map(float, sys.argv[1:])))" "${ratios[@]}"
