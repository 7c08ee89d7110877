#!/usr/bin/env bash
# Installs, builds (warnings are errors) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
CA_CMAKE_FLAGS="-DCA_WERROR=ON ${CA_CMAKE_FLAGS:-}" bash scripts/build.sh
cd build
ctest --output-on-failure -j 2 --timeout 900
