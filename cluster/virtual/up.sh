#!/usr/bin/env bash
# Creates a virtual cluster of 3 hosts on this machine: 3 Linux network namespaces, each with its own address on a
# bridge in the root namespace, so mpirun (run there through mpirun.sh) reaches them over TCP as it would real nodes.
#   cluster/virtual/up.sh [NAME] [SUBNET]      defaults: mopvc 10.77.0 -> hosts 10.77.0.1-3, this side 10.77.0.254
# Needs root (ip netns add). Writes DIR/hostfile and DIR/subnet (DIR = /tmp/mop-vc-NAME); down.sh NAME removes it all.
set -euo pipefail
name="${1:-mopvc}" subnet="${2:-10.77.0}"
hosts=3
[ ${#name} -le 8 ] || { echo "virtual cluster: name '$name' is longer than 8 characters (interface names are 15)" >&2; exit 2; }
dir="/tmp/mop-vc-$name"
if ip link show "${name}br" >/dev/null 2>&1; then
  echo "virtual cluster: ${name} already exists (cluster/virtual/down.sh $name removes it)" >&2
  exit 1
fi
# Whatever fails half-way is undone, so a failed start leaves nothing behind.
trap '"$(dirname "$0")/down.sh" "$name" >/dev/null 2>&1 || true' ERR
mkdir -p "$dir"
echo "$subnet" > "$dir/subnet"
ip link add "${name}br" type bridge
ip addr add "$subnet.254/24" dev "${name}br"
ip link set "${name}br" up
: > "$dir/hostfile"
for i in $(seq 1 $hosts); do
  ns="${name}$i"
  ip netns add "$ns"
  ip link add "${name}h$i" type veth peer name "${name}n$i"
  ip link set "${name}n$i" netns "$ns"
  ip -n "$ns" link set "${name}n$i" name eth0
  ip -n "$ns" addr add "$subnet.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ip link set "${name}h$i" master "${name}br"
  ip link set "${name}h$i" up
  echo "$subnet.$i slots=1" >> "$dir/hostfile"
done
echo "virtual cluster: $hosts hosts $subnet.1-$hosts up (hostfile $dir/hostfile)" >&2
