#!/usr/bin/env bash
# Installs the system libraries mop links against (OpenMPI, OpenBLAS, libpng and libjpeg) and the tools its tests use (iproute2). Safe to run twice: installs only what is missing.
set -euo pipefail
# iproute2: `ip netns`, for the virtual cluster (cluster/virtual) the tests run mpirun across.
# libpng-dev, libjpeg-dev: decoding the images of vision-language models (Sources/CImage).
packages=(libopenmpi-dev openmpi-bin libopenblas-dev libpng-dev libjpeg-dev pkg-config iproute2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: system packages already installed (${packages[*]})" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
# Another apt may hold the lock for a while (unattended upgrades): wait for it rather than fail.
for attempt in 1 2 3 4 5 6; do
  if $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; then
    echo "setup: done" >&2
    exit 0
  fi
  echo "setup: apt-get failed (attempt $attempt), retrying in 10 s" >&2
  sleep 10
done
echo "setup: could not install ${missing[*]} with apt-get" >&2
exit 1
