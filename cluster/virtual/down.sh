#!/usr/bin/env bash
# Removes what up.sh NAME made: its namespaces (their veth pairs go with them), its bridge and DIR, and the session
# directories rsh.sh made for its hosts.
#   cluster/virtual/down.sh [NAME]
set -uo pipefail
name="${1:-mopvc}"
for i in 1 2 3; do
  ip netns pids "${name}$i" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "${name}$i" 2>/dev/null
  ip link del "${name}h$i" 2>/dev/null
  rm -rf "/tmp/mop-vc-session-${name}$i"
done
ip link del "${name}br" 2>/dev/null
rm -rf "/tmp/mop-vc-$name"
echo "virtual cluster: $name removed" >&2
exit 0
