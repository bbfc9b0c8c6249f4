#!/usr/bin/env bash
# mpirun across the virtual cluster NAME made by up.sh: daemons started through rsh.sh inside the namespaces, ranks
# talking over TCP only (no shared memory between "nodes"), on the cluster's subnet only. No plm_rsh_no_tree_spawn:
# with it the daemons daemonize, and a daemon that dies before reporting back leaves mpirun waiting forever; without
# it each stays a child of its rsh.sh, whose exit mpirun sees. More connection retries ride out a busy machine.
#   cluster/virtual/mpirun.sh NAME [mpirun options] PROGRAM [ARGS...]     (MOP_VC_HOSTFILE overrides the hostfile)
set -euo pipefail
name="$1"
shift
here="$(cd "$(dirname "$0")" && pwd)"
dir="/tmp/mop-vc-$name"
[ -f "$dir/subnet" ] || { echo "virtual cluster: $name is not up (cluster/virtual/up.sh $name)" >&2; exit 1; }
subnet="$(cat "$dir/subnet")"
exec mpirun --hostfile "${MOP_VC_HOSTFILE:-$dir/hostfile}" \
  --mca plm_rsh_agent "$here/rsh.sh" \
  --mca oob_tcp_peer_retries 10 \
  --mca btl tcp,self --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24" \
  "$@"
