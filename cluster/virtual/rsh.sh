#!/usr/bin/env bash
# mpirun's remote shell for the virtual cluster (plm_rsh_agent): `rsh.sh HOST COMMAND...` runs COMMAND inside the
# network namespace that owns HOST's address, as ssh would run it on that node. An address no namespace owns is an
# unreachable host, reported the way ssh reports one.
set -uo pipefail
host="$1"
shift
for ns in $(ip netns list | awk '{print $1}'); do
  if ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q "inet $host/"; then
    exec ip netns exec "$ns" /bin/sh -c "$*"
  fi
done
echo "virtual cluster: ssh: connect to host $host: No route to host (no namespace has that address)" >&2
exit 255
