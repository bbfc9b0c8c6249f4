# Sourced by bench-scaling.sh and check-plan.sh (from the repository root): a scratch folder $work named after $1,
# and `vc_up OCTET`, which starts a virtual cluster $vc (cluster/virtual, on 10.OCTET.x) the first time it is called
# and fails where network namespaces are not available (they need root). Both are removed when the script exits.
work="$(mktemp -d "/tmp/$1.XXXXXX")"
vc="vc$(($$ % 100000))"
vc_running=0
vc_cleanup() {
  [ "$vc_running" = 1 ] && cluster/virtual/down.sh "$vc" >/dev/null 2>&1
  rm -rf "$work"
}
trap vc_cleanup EXIT
vc_up() {
  [ "$vc_running" = 1 ] && return 0
  ip netns add "${vc}p" 2>/dev/null || return 1
  ip netns del "${vc}p"
  cluster/virtual/up.sh "$vc" "10.$1.$((RANDOM % 200 + 20))" >&2
  vc_running=1
}
