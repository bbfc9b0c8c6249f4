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
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
model="${1:-$(scripts/fetch-model.sh)}"
samples="${MOP_BENCH_SAMPLES:-128}"
seq_len="${MOP_BENCH_SEQ_LEN:-512}"
configs="${MOP_BENCH_CONFIGS:-1x1 1x2 2x1 2x1g2 vc2x1 vc3x1}"
iterations="${MOP_BENCH_ITERATIONS:-1}"
search="${MOP_BENCH_SEARCH:-}"
calibration="${MOP_BENCH_CALIBRATION:-$root/../shared/data/instruct/alpaca.jsonl}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mop="${MOP_BENCH_MOP:-$root/.build/release/mop}"
[ -x "$mop" ] || swift build -c release >&2
work="$(mktemp -d /tmp/mop-bench-scaling.XXXXXX)"
vc="bs$$"
vc_up=0
cleanup() {
  [ "$vc_up" = 1 ] && cluster/virtual/down.sh "$vc" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

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
    vc2x1|vc3x1)
      if [ "$vc_up" = 0 ]; then
        if ! ip netns add "${vc}p" 2>/dev/null; then
          echo "bench-scaling: skipping $config: network namespaces are not available here (needs root)" >&2
          continue
        fi
        ip netns del "${vc}p"
        cluster/virtual/up.sh "$vc" 10.78.$((RANDOM % 200 + 20))
        vc_up=1
      fi
      ranks="${config:2:1}"
      extra=""
      [ "$ranks" = 2 ] && extra="--broadcast-weights"
      cluster/virtual/mpirun.sh "$vc" -np "$ranks" --bind-to none --oversubscribe -x OPENBLAS_NUM_THREADS=1 \
        "$mop" $(prune_args "$config") --threads 1 $extra > "$work/$config.json" ;;
    *) echo "bench-scaling: unknown configuration $config" >&2; exit 2 ;;
  esac
done

python3 - "$work" $configs <<'PY'
import json, os, sys
work, configs = sys.argv[1], sys.argv[2:]
def load(c):
    return json.load(open(f"{work}/{c}.json"))
cores = {"1x1": 1, "1x2": 2, "2x1": 2, "2x1g2": 2, "vc2x1": 2, "vc3x1": 3}
where = {"1x1": "one process", "1x2": "one process", "2x1": "mpirun, one host", "2x1g2": "mpirun, one host, --groups 2",
         "vc2x1": "virtual cluster, TCP, --broadcast-weights", "vc3x1": "virtual cluster, TCP (3 ranks on 2 cores)"}
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
    ranks = c.removeprefix("vc").split("g")[0].replace("x", " x ")
    requests = " + ".join(str(g["requests"]) for g in d["per_group"])
    print(f"| {where[c]} | {ranks} | {iteration:.1f} | {scoring:.1f} | {comm:.2%} | {wait:.2%} | {search['bytes_broadcast']:,} | {weights} | {requests} | {eff} |")
with open("/proc/loadavg") as f:
    print(f"\nload average at the end: {' '.join(f.read().split()[:3])}")
PY
