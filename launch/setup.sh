#!/usr/bin/env bash
# Installs the Debian packages c2am needs (only the missing ones) and builds it.
# Usage: launch/setup.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(build-essential cmake ninja-build pkg-config libtorch-dev libopenmpi-dev openmpi-bin libhdf5-dev
      libtomlplusplus-dev libfmt-dev libgtest-dev libturbojpeg0-dev libpng-dev libcli11-dev
      nlohmann-json3-dev libxxhash-dev libopencv-imgproc-dev libbenchmark-dev
      python3-torch python3-torchvision python3-h5py python3-pil libopenblas0-openmp
      libprotobuf-dev protobuf-compiler python3-protobuf chromium clang libclang-rt-14-dev)
# The local SLURM of tests/slurm, without its recommends (a mail server, docs).
LEAN_PKGS=(slurmctld slurmd slurm-client munge)
missing() { for p; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done; }
mapfile -t missing < <(missing "${PKGS[@]}")
mapfile -t missing_lean < <(missing "${LEAN_PKGS[@]}")
if [ $((${#missing[@]} + ${#missing_lean[@]})) -gt 0 ]; then
  echo "setup: installing ${missing[*]} ${missing_lean[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  apt_install() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$@"; }
  $SUDO apt-get update -q
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  [ ${#missing_lean[@]} -eq 0 ] || apt_install --no-install-recommends "${missing_lean[@]}"
fi
BUILD=${1:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
