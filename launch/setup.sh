#!/usr/bin/env bash
# Installs the Debian packages c2am needs (only the missing ones) and builds it.
# Usage: launch/setup.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(build-essential cmake ninja-build pkg-config libtorch-dev libopenmpi-dev openmpi-bin libhdf5-dev
      libtomlplusplus-dev libfmt-dev libgtest-dev libturbojpeg0-dev libpng-dev libcli11-dev
      nlohmann-json3-dev libxxhash-dev libopencv-imgproc-dev libbenchmark-dev
      python3-torch python3-torchvision python3-h5py)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
BUILD=${1:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
