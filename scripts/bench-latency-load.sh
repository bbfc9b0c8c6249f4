#!/usr/bin/env bash
# Does a load change during `mop bench A --compare B` move the ratio? Runs the comparison twice: once as the machine
# is, once with CPU burners (one per core) started half way through (at half the first run's duration) and kept on
# to the end; prints both latency ratios (median of paired runs, min-max) and how far the second is from the first.
#   scripts/bench-latency-load.sh MODEL_A MODEL_B      # $MOP_BENCH_ARGS: extra `mop bench` options
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ "$#" -eq 2 ] || { echo "usage: scripts/bench-latency-load.sh MODEL_A MODEL_B" >&2; exit 2; }
[ -n "${MOP:-}" ] || { swift build -c release --product mop >&2; MOP="$root/.build/release/mop"; }
work="$(mktemp -d)"
burners=()
cleanup() { for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start=$(date +%s.%N)
# shellcheck disable=SC2086
"$MOP" bench "$1" --compare "$2" --json ${MOP_BENCH_ARGS:-} > "$work/steady.json"
half=$(python3 -c "import sys; print((float(sys.argv[2]) - float(sys.argv[1])) / 2)" "$start" "$(date +%s.%N)")

# shellcheck disable=SC2086
"$MOP" bench "$1" --compare "$2" --json ${MOP_BENCH_ARGS:-} > "$work/changing.json" &
bench=$!
sleep "$half"
for _ in $(seq "$(nproc)"); do python3 -c 'while True: pass' & burners+=($!); done
echo "bench-latency-load: $(nproc) CPU burners started after ${half%.*} s" >&2
wait "$bench"

python3 - "$work/steady.json" "$work/changing.json" <<'PY'
import json, sys
steady, changing = (json.load(open(path)) for path in sys.argv[1:])
def line(name, r):
    ratio = r["ratio"]
    return "| %s | %.3f | %.3f | %.3f (%.3f-%.3f) | %.3f |" % (
        name, r["model"]["latency_seconds"], r["compare"]["latency_seconds"], ratio["latency_seconds"],
        ratio["latency_seconds_min"], ratio["latency_seconds_max"],
        r["compare"]["latency_seconds"] / r["model"]["latency_seconds"])
print("| load | A latency mean (s) | B latency mean (s) | B / A, paired median (min-max) | ratio of means |")
print("|---|---:|---:|---:|---:|")
print(line("as is", steady))
print(line("burners from half way", changing))
a, b = steady["ratio"]["latency_seconds"], changing["ratio"]["latency_seconds"]
print()
print("paired-median ratio under the load change is %+.1f%% from the steady one" % (100 * (b / a - 1)))
PY
