#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [SEED]: fuzzes every parser mop has (the hidden `mop fuzz` subcommand, a seeded mutation
# loop) for SECONDS each (default 60), seeded from the real SmolLM2 GGUF and the shared data, and prints executions,
# crashes, timeouts and peak memory per parser, then the totals. Exits non-zero on any crash or timeout; the input
# that caused it is saved in the output folder (MOP_FUZZ_OUT, default .fuzz-out) as crash-PARSER / timeout-PARSER.
# MOP_BIN uses an existing mop binary instead of building one.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-60}"
seed="${2:-1}"
if [[ -z "${MOP_BIN:-}" ]]; then
    swift build -c release >&2 || exit 1
    MOP_BIN="$root/.build/release/mop"
fi
model="${MOP_SMOLLM2_GGUF:-$root/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
data="${MOP_SHARED_DATA:-$root/../shared/data}"
out="${MOP_FUZZ_OUT:-$root/.fuzz-out}"
mkdir -p "$out"
sources=()
[[ -f "$model" ]] && sources+=(--model "$model") || echo "fuzz: no model at $model; its seeds are left out" >&2
[[ -d "$data" ]] && sources+=(--data "$data") || echo "fuzz: no shared data at $data; its seeds are left out" >&2

total=0 crashes=0 timeouts=0 peak=0
for parser in gguf safetensors config tokenizer jsonl structure checkpoint hfside latency pairing; do
    line="$("$MOP_BIN" fuzz "$parser" --seconds "$seconds" --seed "$seed" "${sources[@]}" --out "$out" 2>"$out/$parser.log")"
    status=$?
    if [[ $status -eq 0 ]]; then
        echo "$line"
        runs="$(sed -E 's/^fuzz [a-z]+: ([0-9]+) executions.*/\1/' <<<"$line")"
        mb="$(sed -E 's/.*VmHWM\) ([0-9]+) MB.*/\1/' <<<"$line")"
        total=$((total + runs))
        ((mb > peak)) && peak=$mb
    elif [[ $status -eq 3 ]]; then
        timeouts=$((timeouts + 1))
        echo "fuzz $parser: TIMEOUT, input saved as $out/timeout-$parser"
    else
        crashes=$((crashes + 1))
        echo "fuzz $parser: CRASH (exit $status), input saved as $out/crash-$parser; $(tail -1 "$out/$parser.log")"
    fi
done
echo "fuzz total: $total executions, $crashes crashes, $timeouts timeouts, largest peak memory (VmHWM) $peak MB"
[[ $crashes -eq 0 && $timeouts -eq 0 ]]
