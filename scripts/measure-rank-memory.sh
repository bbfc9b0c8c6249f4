#!/usr/bin/env bash
# Issue 29's memory must-show (docs/cluster.md#memory-per-rank): the peak memory (VmHWM) of every rank of
#   mpirun -np 2 mop prune MODEL --stages 2 --finetune --eval --format both --export-type q4_k_m ...
# phase by phase (load, search, export, finetune, finetune export, eval), each rank in its own cgroup v1 memory cgroup
# limited to $LIMIT (0.85) x the model file, after dropping the page cache so each rank is charged for the pages it
# reads: a rank that needs more is killed by the cgroup and the job fails, which the table says. Then the one-process
#   mop prune MODEL --finetune --eval --format both ...
# (no cgroup) against $ONE_LIMIT (1.5) x the file. Needs root (cgroups, /proc/sys/vm/drop_caches).
#   scripts/measure-rank-memory.sh MODEL [PRUNE OPTIONS...]
#   scripts/measure-rank-memory.sh models/SmolLM2-135M-Instruct.Q4_1.gguf --calibration-samples 16 --steps 2 --eval-limit 8
# The options go to both runs (default --target 0.2). $MOP: the binary (default .build/release/mop, built first);
# $RANKS (2, one per stage), $EXPORT_TYPE (q4_k_m), $STAGED=0 skips the staged run, $ONE=0 the one-process run,
# $KEEP=DIR keeps the outputs there (DIR/staged and DIR/one: compare them with scripts/compare-staged-run.py).
# A phase's peak is the VmHWM between its first stderr line and the next phase's (rank 0's lines; the peak is reset
# at each boundary, writing 5 to /proc/PID/clear_refs, and the last phase's is the process's own at exit).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ $# -ge 1 ] || { echo "usage: scripts/measure-rank-memory.sh MODEL [PRUNE OPTIONS...]" >&2; exit 2; }
model="$1"; shift
[ -e "$model" ] || { echo "measure-rank-memory: $model: no such file" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "measure-rank-memory: needs root (memory cgroups, drop_caches)" >&2; exit 2; }
cgroups=/sys/fs/cgroup/memory
[ -w "$cgroups" ] || { echo "measure-rank-memory: no writable cgroup v1 memory hierarchy at $cgroups" >&2; exit 2; }
[ -n "${MOP:-}" ] || { swift build -c release --product mop >&2; MOP="$root/.build/release/mop"; }
ranks="${RANKS:-2}"
file_bytes=$(du -bL "$model" | cut -f1)
limit=$(python3 -c "print(int($file_bytes * ${LIMIT:-0.85}))")
options=("$@")
printf '%s\n' "${options[@]}" | grep -qx -- '--target' || options=(--target 0.2 "${options[@]}")
work="${KEEP:-$(mktemp -d)}"
mkdir -p "$work"
base="mop-rank-$$"
cleanup() {
  for r in $(seq 0 $((ranks - 1))); do [ -d "$cgroups/$base-$r" ] && rmdir "$cgroups/$base-$r" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# Each rank joins its cgroup (children inherit it), records its pid, and runs mop under time(1) for the last phase's peak.
cat > "$work/rank.sh" <<'SH'
#!/usr/bin/env bash
r="${OMPI_COMM_WORLD_RANK:-0}"
[ -z "$CGROUP_BASE" ] || echo $$ > "/sys/fs/cgroup/memory/$CGROUP_BASE-$r/cgroup.procs"
echo $$ > "$WORK/rank-$r.pid"
exec /usr/bin/time -f %M -o "$WORK/rank-$r.final" "$@"
SH
chmod +x "$work/rank.sh"

# Runs the command (stderr to WORK/NAME.log), resetting every rank's peak at each phase boundary; prints the table.
sampler() {
  python3 - "$@" <<'PY'
import os, re, subprocess, sys, threading, time
work, name, ranks, file_bytes, limit, cgroup_base = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
command = sys.argv[7:]
phases = [("search", r"^prune: \d+ calibration sequences"), ("export", r"^prune: (importance matrix|writing the pruned model)"),
          ("finetune", r"^finetune: \d+ training"), ("finetune export", r"^finetune: writing"), ("eval", r"^eval: ")]
order = ["load"] + [p for p, _ in phases]
phase = ["load"]
peaks = {}  # (rank, phase) -> bytes
started = {"load": time.time()}  # phase -> wall clock at its first line
lock = threading.Lock()

def mop_pid(rank):
    try:
        wrapper = open(f"{work}/rank-{rank}.pid").read().strip()
        children = open(f"/proc/{wrapper}/task/{wrapper}/children").read().split()
        return children[0] if children else None
    except OSError:
        return None

def hwm(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"): return int(line.split()[1]) * 1024
    except OSError:
        return None

def boundary(new):
    with lock:
        for rank in range(ranks):
            pid = mop_pid(rank)
            peak = pid and hwm(pid)
            if peak:
                peaks[(rank, phase[0])] = max(peaks.get((rank, phase[0]), 0), peak)
                try: open(f"/proc/{pid}/clear_refs", "w").write("5")
                except OSError: pass
        phase[0] = new
        started[new] = time.time()

for rank in range(ranks):
    for suffix in ("pid", "final"):
        try: os.remove(f"{work}/rank-{rank}.{suffix}")
        except OSError: pass
env = dict(os.environ, WORK=work, CGROUP_BASE=cgroup_base)
start = time.time()
process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True, errors="replace")
log = open(f"{work}/{name}.log", "w")
for line in process.stderr:
    log.write(line); log.flush()
    # Phases only move forward: a later phase's line ends the current one.
    for new, pattern in phases:
        if order.index(new) > order.index(phase[0]) and re.search(pattern, line):
            boundary(new)
status = process.wait()
seconds = time.time() - start
for rank in range(ranks):
    try:
        final = int(open(f"{work}/rank-{rank}.final").read().split()[-1]) * 1024
        peaks[(rank, phase[0])] = max(peaks.get((rank, phase[0]), 0), final)
    except (OSError, ValueError, IndexError):
        pass
print(f"\n{name}: {' '.join(command[1:4])} ... exit status {status} ({'completed' if status == 0 else 'FAILED'}), {seconds:.0f} s")
print("| rank | " + " | ".join(order) + " | peak (MB) | peak / file | limit / file |")
print("|---:|" + "---:|" * (len(order) + 3))
for rank in range(ranks):
    cells = [f"{peaks[(rank, p)] / 1e6:.0f}" if (rank, p) in peaks else "-" for p in order]
    peak = max([peaks[k] for k in peaks if k[0] == rank] or [0])
    print(f"| {rank} | " + " | ".join(cells) + f" | {peak / 1e6:.0f} | {peak / file_bytes:.3f} | {limit:.2f} |")
ends = [started[p] for p in order if p in started][1:] + [start + seconds]
print("| seconds | " + " | ".join(f"{ends.pop(0) - started[p]:.0f}" if p in started else "-" for p in order) + " | | | |")
if cgroup_base:
    for rank in range(ranks):
        path = f"/sys/fs/cgroup/memory/{cgroup_base}-{rank}"
        read = lambda f: open(f"{path}/{f}").read().strip()
        oom = dict(l.split() for l in read("memory.oom_control").splitlines())
        print(f"rank {rank} cgroup: limit {int(read('memory.limit_in_bytes')) / 1e6:.0f} MB, charged peak {int(read('memory.max_usage_in_bytes')) / 1e6:.0f} MB, "
              f"limit hits {read('memory.failcnt')}, oom kills {oom.get('oom_kill', '?')}")
sys.exit(0 if status == 0 else 1)
PY
}

echo "model $model: $(python3 -c "print(f'{$file_bytes / 1e6:.0f}')") MB; per-rank limit ${LIMIT:-0.85} x file = $((limit / 1000000)) MB; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 0 $((ranks - 1))); do
  mkdir "$cgroups/$base-$r"
  echo "$limit" > "$cgroups/$base-$r/memory.limit_in_bytes"
  [ ! -e "$cgroups/$base-$r/memory.memsw.limit_in_bytes" ] || echo "$limit" > "$cgroups/$base-$r/memory.memsw.limit_in_bytes"
done
sync
echo 1 > /proc/sys/vm/drop_caches
mpirun_bin=$(command -v mpirun)
staged=0
[ "${STAGED:-1}" = 0 ] || sampler "$work" staged "$ranks" "$file_bytes" "${LIMIT:-0.85}" "$base" \
  "$mpirun_bin" --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1 -x WORK -x CGROUP_BASE -np "$ranks" \
  "$work/rank.sh" "$MOP" prune "$model" --stages "$ranks" --finetune --eval --format both \
  --export-type "${EXPORT_TYPE:-q4_k_m}" --out "$work/staged" "${options[@]}" || staged=$?
[ "$staged" = 0 ] || { echo "the staged job failed: $work/staged.log (last lines below)"; tail -5 "$work/staged.log"; }

one=0
if [ "${ONE:-1}" != 0 ]; then
  sync
  echo 1 > /proc/sys/vm/drop_caches
  sampler "$work" one-process 1 "$file_bytes" "${ONE_LIMIT:-1.5}" "" \
    "$work/rank.sh" "$MOP" prune "$model" --finetune --eval --format both --out "$work/one" "${options[@]}" || one=$?
  [ "$one" = 0 ] || { echo "the one-process job failed: $work/one-process.log (last lines below)"; tail -5 "$work/one-process.log"; }
fi
[ "$staged" = 0 ] && [ "$one" = 0 ]
