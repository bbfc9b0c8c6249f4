#!/usr/bin/env bash
# Throughput of one LoRA training step of SmolLM2 at 512 tokens (forward, backward, LoRA gradients, AdamW), its
# GFLOP/s over cblas_sgemm's on the very products the step made (recorded, timed in the same process), and the peak
# memory the step adds to the loaded model, for 1 and 2 BLAS threads. Prints a Markdown table.
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
echo "| threads | tokens/s | step s | GFLOP/step | train GFLOP/s | sgemm GFLOP/s (same products) | ratio | peak step memory MB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for threads in 1 2; do
  OPENBLAS_NUM_THREADS=$threads "$MOP" bench-train "$model" --seq-len 512 --text "$text" \
    --threads "$threads" --runs 3 --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print("| %d | %.0f | %.2f | %.0f | %.1f | %.1f | %.2f | %.0f |" % (r["threads"], r["tokens_per_second"], r["step_seconds"], r["gflop_per_step"], r["step_gflops"], r["sgemm_gflops"], r["ratio"], r["peak_step_bytes"] / 1e6))'
done
