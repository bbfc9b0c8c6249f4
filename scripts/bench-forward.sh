#!/usr/bin/env bash
# Prefill throughput of SmolLM2 at 512 tokens, and the forward pass's GFLOP/s over cblas_sgemm's on the same
# products (measured in the same process), for 1 and 2 BLAS threads. Prints a Markdown table.
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
echo "| threads | tokens/s | forward GFLOP/s | sgemm GFLOP/s (same products) | ratio |"
echo "|---:|---:|---:|---:|---:|"
for threads in 1 2; do
  OPENBLAS_NUM_THREADS=$threads "$MOP" bench-forward "$model" --seq-len 512 --text "$text" \
    --threads "$threads" --runs 5 --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print("| %d | %.0f | %.1f | %.1f | %.2f |" % (r["threads"], r["tokens_per_second"], r["forward_gflops"], r["sgemm_gflops"], r["ratio"]))'
done
