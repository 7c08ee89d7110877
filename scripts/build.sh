#!/usr/bin/env bash
# Installs what is missing, configures and builds (Release) into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${CA_CMAKE_FLAGS:-} > /dev/null
cmake --build build -j "$(nproc)"
