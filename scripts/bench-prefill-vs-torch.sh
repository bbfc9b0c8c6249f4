#!/usr/bin/env bash
# Prefill throughput of mop (fp32 and stored weights) against PyTorch (transformers fp32, loaded from the same GGUF)
# on a 512-token WikiText-2 prefix with next-token loss, same threads. Rounds run the three in turn, so a change of
# load hits all of them; prints each round and the median ratios. Needs torch, transformers and gguf in python3
# (or $MOP_TORCH_PYTHON, e.g. a venv's python).
#   scripts/bench-prefill-vs-torch.sh [MODEL.gguf]   (ROUNDS=3 RUNS=3 THREADS=2 SEQ_LEN=512)
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
rounds="${ROUNDS:-3}" runs="${RUNS:-3}" threads="${THREADS:-2}" seq_len="${SEQ_LEN:-512}"
python="${MOP_TORCH_PYTHON:-python3}"
mop_rate() {
  OPENBLAS_NUM_THREADS=$threads "$MOP" bench-forward "$model" --seq-len "$seq_len" --text "$text" --threads "$threads" \
    --runs "$runs" --weights "$1" --json | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["tokens_per_second"])'
}
fp32=() stored=() torch=()
for round in $(seq 1 "$rounds"); do
  fp32+=("$(mop_rate fp32)")
  stored+=("$(mop_rate stored)")
  torch+=("$(OMP_NUM_THREADS=$threads "$python" scripts/bench-prefill-torch.py "$model" "$text" "$seq_len" "$threads" "$runs" 2>/dev/null |
            python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["tokens_per_second"])')")
  echo "round $round: mop fp32 ${fp32[-1]} tokens/s, mop stored ${stored[-1]}, PyTorch ${torch[-1]}"
done
python3 - "${fp32[*]}" "${stored[*]}" "${torch[*]}" <<'PY'
import statistics, sys
fp32, stored, torch = ([float(x) for x in arg.split()] for arg in sys.argv[1:])
print("median ratio mop fp32 / PyTorch: %.3f" % statistics.median(a / c for a, c in zip(fp32, torch)))
print("median ratio mop stored / mop fp32: %.3f" % statistics.median(b / a for a, b in zip(fp32, stored)))
PY
