#!/usr/bin/env bash
# mpirun's remote shell for the virtual cluster (plm_rsh_agent): `rsh.sh HOST COMMAND...` runs COMMAND inside the
# network namespace that owns HOST's address, as ssh would run it on that node. An address no namespace owns is an
# unreachable host, reported the way ssh reports one.
# The hosts share this machine's /tmp and hostname, so OpenMPI would put every daemon's session directory at the same
# path (/tmp/ompi.HOST.UID/jf.N) and the daemons would race to create it ("mkdir: File exists"); each host gets its own
# session directory base instead, as separate machines would have.
set -uo pipefail
host="$1"
shift
for ns in $(ip netns list | awk '{print $1}'); do
  if ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q "inet $host/"; then
    session="/tmp/mop-vc-session-$ns"
    mkdir -p "$session"
    exec ip netns exec "$ns" env OMPI_MCA_orte_tmpdir_base="$session" /bin/sh -c "$*"
  fi
done
echo "virtual cluster: ssh: connect to host $host: No route to host (no namespace has that address)" >&2
exit 255
