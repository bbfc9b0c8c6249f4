#!/usr/bin/env bash
# Prefill / perplexity throughput on a GGUF file (default SmolLM2 Q4_1): mop (`mop bench-forward`, weights as stored,
# one 512-token window of WikiText-2 with next-token loss, best of RUNS), llama.cpp on the same file
# (scripts/llamacpp/window_ppl.cpp: logits for every position of each 512-token window and the same loss, best of
# RUNS + 1 windows) and PyTorch fp32 on the file's dequantized copy (scripts/bench-prefill-torch.py, best of RUNS;
# TORCH=0 leaves it out). Each round runs the sides in turn, so a change of load hits all; prints each round, the
# median ratios with their min-max and the kernel ISA of each side.
#   scripts/bench-prefill-vs-llamacpp.sh [MODEL.gguf]   (ROUNDS=3 RUNS=3 THREADS=2 SEQ_LEN=512 TORCH=1)
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
source "$root/scripts/llamacpp-common.sh"
rounds="${ROUNDS:-3}" runs="${RUNS:-3}" threads="${THREADS:-2}" seq_len="${SEQ_LEN:-512}" torch="${TORCH:-1}"
python="${MOP_TORCH_PYTHON:-python3}"
tool="$(llamacpp_tool window_ppl)"
echo "mop $("$MOP" inspect "$model" --json --weights stored | python3 -c 'import json,sys; j=json.load(sys.stdin); print("weights %s, BLAS %s, kernels %s" % (j["weights"], j["blas_kernel"], j.get("kernel_isa", "?")))')"
[ "$torch" = 0 ] || echo "PyTorch $("$python" -c 'import torch; print(torch.__version__, "CPU capability", torch.backends.cpu.get_cpu_capability())')"
versus_llama=() versus_torch=() system=""
for round in $(seq 1 "$rounds"); do
  ours=$(OPENBLAS_NUM_THREADS=$threads "$MOP" bench-forward "$model" --seq-len "$seq_len" --text "$text" --threads "$threads" \
           --runs "$runs" --weights stored --json 2>/dev/null | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["tokens_per_second"])')
  result=$("$tool" "$model" "$text" "$seq_len" $((seq_len * (runs + 1))) "$threads" 2>/dev/null)
  theirs=$(echo "$result" | python3 -c "import json,sys; print('%.1f' % ($seq_len / json.load(sys.stdin)['best_window_seconds']))")
  system=$(echo "$result" | python3 -c 'import json,sys; print(json.load(sys.stdin)["system"])')
  versus_llama+=("$(python3 -c "print('%.3f' % ($ours / $theirs))")")
  line="round $round: mop $ours tokens/s, llama.cpp $theirs"
  if [ "$torch" != 0 ]; then
    pytorch=$(OMP_NUM_THREADS=$threads "$python" "$root/scripts/bench-prefill-torch.py" "$model" "$text" "$seq_len" "$threads" "$runs" 2>/dev/null |
              python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["tokens_per_second"])')
    versus_torch+=("$(python3 -c "print('%.3f' % ($ours / $pytorch))")")
    line="$line, PyTorch $pytorch"
  fi
  echo "$line"
done
echo "llama.cpp $system"
python3 "$root/scripts/ratio-summary.py" "prefill mop / llama.cpp, median" "${versus_llama[@]}"
[ "$torch" = 0 ] || python3 "$root/scripts/ratio-summary.py" "prefill mop / PyTorch fp32, median" "${versus_torch[@]}"
