#!/usr/bin/env bash
# Scaling of one MoP iteration (mop prune --max-iterations 1): the same run as 1 rank x 1 thread, 1 rank x 2 threads,
# 2 ranks x 1 thread (one group, and --groups 2: a group of one rank each, dealt the iteration's requests), and across
# the virtual cluster (cluster/virtual: namespaces, TCP only) with 2 ranks (weights broadcast, as nodes without a
# shared filesystem would get them) and 3 ranks. Prints a Markdown table: wall time of
# the iteration, its scoring phase (rank 0 inside the iteration's scoring requests: computing its shard, waiting for
# the other ranks, communicating), rank 0's shares of the iteration spent communicating and waiting, bytes
# broadcast, the requests each group answered (the dense pass included), and parallel efficiency of the scoring phase
# against 1 x 1: T(1 x 1) / (ranks x threads x T).
#   scripts/bench-scaling.sh [MODEL]        (default: SmolLM2 from scripts/fetch-model.sh)
# Environment: MOP_BENCH_SAMPLES (128 Alpaca prompts), MOP_BENCH_SEQ_LEN (512), MOP_BENCH_CONFIGS (which runs, default
# "1x1 1x2 2x1 2x1g2 vc2x1 vc3x1"), MOP_BENCH_CALIBRATION (../shared/data/instruct/alpaca.jsonl), MOP_BENCH_MOP (the
# mop binary, default .build/release/mop, built if absent), MOP_BENCH_ITERATIONS (1) and MOP_BENCH_SEARCH (extra
# search options, e.g. "--beam 2", whose batches of candidates give groups something to share). The vc runs need root.
# Efficiency means something only on an otherwise idle machine: the load average is printed with the table.
# Pipelined search (--stages, configurations s2x1 = 2 stages on mpirun -np 2, s2x2 = 2 stages x 2 replicas on 4 ranks,
# vcs2x1 and vcs3x1 = 2 and 3 stages on the virtual cluster; not in the default list): a second table of the bubble
# share, the bytes between stages per iteration, forward passes per iteration and each rank's weights and peak memory.
# Then pipeline stages of an evaluation (mop eval --ppl --stages S under mpirun -np S, 1 thread per rank): for each
# S in MOP_BENCH_STAGES (default "1 2 3"), over MOP_BENCH_TOKENS (8192) WikiText-2 tokens in windows of
# MOP_BENCH_SEQ_LEN: tokens/s, the bubble share, the bytes between stages per window and each rank's weights and peak
# memory. MOP_BENCH_CONFIGS="" runs the pipeline table alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
model="${1:-$(scripts/fetch-model.sh)}"
samples="${MOP_BENCH_SAMPLES:-128}"
seq_len="${MOP_BENCH_SEQ_LEN:-512}"
configs="${MOP_BENCH_CONFIGS-1x1 1x2 2x1 2x1g2 vc2x1 vc3x1}"
stages="${MOP_BENCH_STAGES-1 2 3}"
eval_tokens="${MOP_BENCH_TOKENS:-8192}"
text="$root/../shared/data/text/wikitext2-test.txt"
iterations="${MOP_BENCH_ITERATIONS:-1}"
search="${MOP_BENCH_SEARCH:-}"
calibration="${MOP_BENCH_CALIBRATION:-$root/../shared/data/instruct/alpaca.jsonl}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mop="${MOP_BENCH_MOP:-$root/.build/release/mop}"
[ -x "$mop" ] || swift build -c release >&2
source scripts/vc-common.sh mop-bench-scaling

prune_args() {
  echo prune "$model" --target 0.2 --max-iterations "$iterations" --out "$work/$1" --calibration "$calibration" \
    --calibration-samples "$samples" --seq-len "$seq_len" --json $search
}

for config in $configs; do
  echo "bench-scaling: $config (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  case "$config" in
    1x1) OPENBLAS_NUM_THREADS=1 "$mop" $(prune_args "$config") --threads 1 > "$work/$config.json" ;;
    1x2) OPENBLAS_NUM_THREADS=2 "$mop" $(prune_args "$config") --threads 2 > "$work/$config.json" ;;
    2x1|2x1g2)
      groups=1
      [[ "$config" == *g* ]] && groups="${config##*g}"
      mpirun -np 2 --bind-to none -x OPENBLAS_NUM_THREADS=1 "$mop" $(prune_args "$config") --threads 1 \
        --groups "$groups" > "$work/$config.json" ;;
    s2x1|s2x2)
      mpirun -np "$((2 * ${config:3:1}))" --bind-to none --oversubscribe -x OPENBLAS_NUM_THREADS=1 "$mop" $(prune_args "$config") \
        --threads 1 --stages 2 > "$work/$config.json" ;;
    vc2x1|vc3x1|vcs2x1|vcs3x1)
      if ! vc_up 78; then
        echo "bench-scaling: skipping $config: network namespaces are not available here (needs root)" >&2
        continue
      fi
      ranks="${config: -3:1}"
      extra=""
      [ "$config" = vc2x1 ] && extra="--broadcast-weights"
      [[ "$config" == vcs* ]] && extra="--stages $ranks"
      cluster/virtual/mpirun.sh "$vc" -np "$ranks" --bind-to none --oversubscribe -x OPENBLAS_NUM_THREADS=1 \
        "$mop" $(prune_args "$config") --threads 1 $extra > "$work/$config.json" ;;
    *) echo "bench-scaling: unknown configuration $config" >&2; exit 2 ;;
  esac
done

for count in $stages; do
  echo "bench-scaling: eval --stages $count (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  mpirun -np "$count" --bind-to none --oversubscribe -x OPENBLAS_NUM_THREADS=1 "$mop" eval "$model" --ppl "$text" \
    --seq-len "$seq_len" --max-tokens "$eval_tokens" --threads 1 --stages "$count" --json > "$work/stages$count.json"
done

hidden="$("$mop" inspect "$model" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["hidden"])')"
if [ -n "$configs" ]; then python3 - "$work" "$hidden" $configs <<'PY'
import json, os, sys
work, hidden, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def load(c):
    return json.load(open(f"{work}/{c}.json"))
cores = {"1x1": 1, "1x2": 2, "2x1": 2, "2x1g2": 2, "vc2x1": 2, "vc3x1": 3, "s2x1": 2, "s2x2": 4, "vcs2x1": 2, "vcs3x1": 3}
where = {"1x1": "one process", "1x2": "one process", "2x1": "mpirun, one host", "2x1g2": "mpirun, one host, --groups 2",
         "vc2x1": "virtual cluster, TCP, --broadcast-weights", "vc3x1": "virtual cluster, TCP (3 ranks on 2 cores)",
         "s2x1": "mpirun, one host, --stages 2", "s2x2": "mpirun, one host, --stages 2 x 2 replicas (4 ranks on 2 cores)",
         "vcs2x1": "virtual cluster, TCP, --stages 2", "vcs3x1": "virtual cluster, TCP, --stages 3 (3 ranks on 2 cores)"}
reports = {c: load(c) for c in configs if os.path.exists(f"{work}/{c}.json")}
base = None
if "1x1" in reports:
    r = reports["1x1"]
    s = r["distribution"]["search"]
    base = s["compute_seconds"] + s["wait_seconds"] + s["communication_seconds"]
print("| run | ranks x threads | iterations (s) | scoring phase (s) | communicating | waiting | request bytes broadcast per iteration | weights broadcast | requests per group | scoring efficiency vs 1 x 1 |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for c, r in reports.items():
    d = r["distribution"]
    iteration = sum(i["seconds"] for i in r["iterations"])
    search = d["search"]
    scoring = search["compute_seconds"] + search["wait_seconds"] + search["communication_seconds"]
    comm = search["communication_seconds"] / iteration
    wait = search["wait_seconds"] / iteration
    weights = f'{d["weight_bytes_broadcast"] / 1e6:.1f} MB in {d["weight_seconds"]:.2f} s' if d["weight_bytes_broadcast"] else "- (mapped)"
    eff = f"{base / (cores[c] * scoring):.2f}" if base else "-"
    ranks = c.removeprefix("vc").removeprefix("s").split("g")[0].replace("x", " x ")
    if c.removeprefix("vc").startswith("s"):
        ranks = str(int(ranks[0]) * int(ranks[-1])) + " x 1"
    requests = " + ".join(str(g["requests"]) for g in d["per_group"])
    print(f"| {where[c]} | {ranks} | {iteration:.1f} | {scoring:.1f} | {comm:.2%} | {wait:.2%} | {search['bytes_broadcast']:,} | {weights} | {requests} | {eff} |")
staged = {c: r for c, r in reports.items() if r["distribution"].get("pipeline")}
if staged:
    print("\n| pipelined run | stages x replicas | blocks per stage | bubble share | bytes between stages per iteration | forward passes per iteration | weights held per rank (MB) | peak resident per rank (MB) |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for c, r in staged.items():
        p = r["distribution"]["pipeline"]
        # Every forward pass sends each replica's shard [tokens, D] fp32 across every stage boundary once.
        per_pass = (p["stages"] - 1) * r["calibration"]["tokens"] * hidden * 4
        iterations = len(r["iterations"])
        per_iteration = (p["bytes_between_stages"] - per_pass) / iterations  # the dense baseline pass left out
        blocks = " / ".join(f"{b[0]}-{b[1] - 1}" for b in p["stage_blocks"])
        held = " / ".join(f"{b / 1e6:.0f}" for b in p["weights_held_bytes"])
        peaks = " / ".join(f'{x["peak_resident_bytes"] / 1e6:.0f}' for x in r["distribution"]["per_rank"])
        print(f'| {where[c]} | {p["stages"]} x {p["replicas"]} | {blocks} | {p["bubble_share"]:.2f} | {per_iteration / 1e6:.1f} MB | {per_iteration / per_pass:.1f} | {held} | {peaks} |')
with open("/proc/loadavg") as f:
    print(f"\nload average at the end: {' '.join(f.read().split()[:3])}")
PY

fi

if [ -n "$stages" ]; then python3 - "$work" $stages <<'PY'
import json, sys
work, stages = sys.argv[1], sys.argv[2:]
print("\n| stages x replicas | blocks per stage | tokens/s | perplexity | bubble share | bytes between stages per window | weights held per rank (MB) | peak resident per rank (MB) |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for count in stages:
    r = json.load(open(f"{work}/stages{count}.json"))
    p = r.get("pipeline")
    blocks = " / ".join(f"{b[0]}-{b[1] - 1}" for b in p["stage_blocks"]) if p else "all"
    bubble = f'{p["bubble_share"]:.2f}' if p else "-"
    per_window = f'{p["bytes_between_stages"] / r["windows"] / 1e6:.2f} MB' if p else "-"
    held = " / ".join(f"{b / 1e6:.0f}" for b in p["weights_held_bytes"]) if p else "-"
    peaks = " / ".join(f"{b / 1e6:.0f}" for b in r["peak_resident_bytes"])
    print(f'| {count} x 1 | {blocks} | {r["tokens_per_second"]:.0f} | {r["perplexity"]:.4f} | {bubble} | {per_window} | {held} | {peaks} |')
with open("/proc/loadavg") as f:
    print(f"\nload average at the end: {' '.join(f.read().split()[:3])}")
PY
fi
