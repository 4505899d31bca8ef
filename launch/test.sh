#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (CTest).
# Usage: launch/test.sh [extra ctest arguments, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
launch/setup.sh build
cd build && ctest --output-on-failure --timeout 900 -j 2 "$@"
