# Sourced by prune-table.sh and results-table.sh: the repository root as the working directory, SmolLM2 ($model),
# the shared data ($data), the runs folder ($runs: $MOP_RUNS or runs/, git-ignored), $MOP (the binary; built and
# .build/release/mop unless given) and run_name.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
model="$(scripts/fetch-model.sh)"
data="${MOP_SHARED_DATA:-$root/../shared/data}"
runs="${MOP_RUNS:-$root/runs}"
[ -n "${MOP:-}" ] || { swift build -c release --product mop >&2; MOP="$root/.build/release/mop"; }

# The folder of a run below $runs: "0.2 --method mop" -> 0.2_method_mop.
run_name() { echo "$1" | tr -s ' -' '_' | sed 's/^_//;s/_$//'; }
