#!/usr/bin/env bash
# Decode speed of mop against llama.cpp on the same GGUF file (default SmolLM2 Q4_1), by the latency protocol of
# `mop bench` (a 12-token prompt, 128 new tokens, greedy, batch 1). Rounds alternate mop and llama.cpp, each RUNS
# runs after one warm-up run, so a change of load hits both; prints each round, the median ratio with its min-max,
# the kernel ISA of each side, and the physical bound: the bytes a token reads (scripts/decode-bytes-per-token.py)
# over the memory read bandwidth measured with the same threads (scripts/memory-bandwidth.c) before and after.
#   scripts/bench-decode-vs-llamacpp.sh [MODEL.gguf]   (ROUNDS=3 RUNS=6 THREADS=2 WEIGHTS=stored)
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
source "$root/scripts/llamacpp-common.sh"
rounds="${ROUNDS:-3}" runs="${RUNS:-6}" threads="${THREADS:-2}" weights="${WEIGHTS:-stored}"
tool="$(llamacpp_tool decode_speed)"
bandwidth_tool="${MOP_LLAMACPP_DIR:-$root/.build-llamacpp}/memory-bandwidth"
[ -x "$bandwidth_tool" ] && [ "$bandwidth_tool" -nt "$root/scripts/memory-bandwidth.c" ] ||
  cc -O3 -march=native -pthread "$root/scripts/memory-bandwidth.c" -o "$bandwidth_tool"
bandwidth() { "$bandwidth_tool" "$threads" | python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["gb_per_second"])'; }
bytes=$(python3 "$root/scripts/decode-bytes-per-token.py" "$model" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_per_token"])')
echo "mop $("$MOP" inspect "$model" --json --weights "$weights" | python3 -c 'import json,sys; j=json.load(sys.stdin); print("weights %s, %.2f bytes/parameter, BLAS %s, kernels %s" % (j["weights"], j["bytes_per_parameter"], j["blas_kernel"], j.get("kernel_isa", "?")))')"
bandwidth_before=$(bandwidth)
ratios=() system=""
for round in $(seq 1 "$rounds"); do
  ours=$(OPENBLAS_NUM_THREADS=$threads "$MOP" bench "$model" --runs $((runs + 1)) --warmup 1 --prompt-tokens 12 \
           --new-tokens 128 --threads "$threads" --weights "$weights" --json 2>/dev/null |
         python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["decode_tokens_per_second"])')
  lines=$("$tool" "$model" 12 128 "$threads" $((runs + 1)) 2>/dev/null)
  theirs=$(echo "$lines" | python3 -c 'import json,sys; r=[json.loads(l) for l in sys.stdin if "decode_seconds" in l][1:]; print("%.2f" % (127 * len(r) / sum(x["decode_seconds"] for x in r)))')
  system=$(echo "$lines" | python3 -c 'import json,sys; print(next(json.loads(l)["system"] for l in sys.stdin if "system" in l))')
  ratio=$(python3 -c "print('%.3f' % ($ours / $theirs))")
  ratios+=("$ratio")
  echo "round $round: mop $ours tokens/s, llama.cpp $theirs tokens/s, ratio $ratio"
done
bandwidth_after=$(bandwidth)
echo "llama.cpp $system"
python3 - "$bytes" "$bandwidth_before" "$bandwidth_after" <<'PY'
import sys
bytes_per_token, before, after = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
best = max(before, after)
print("physical bound: %.1f MB read per token / %.2f GB/s read bandwidth (%.2f before, %.2f after the rounds) = %.1f tokens/s"
      % (bytes_per_token / 1e6, best, before, after, best * 1e9 / bytes_per_token))
PY
python3 "$root/scripts/ratio-summary.py" "decode mop / llama.cpp, median" "${ratios[@]}"
