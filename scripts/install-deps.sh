#!/usr/bin/env bash
# Installs what the build, the tests and the benchmarks need (Debian 12).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libnuma-dev numactl libcmocka-dev libjemalloc2
      libjemalloc-dev redis-tools redis-server git python3 python3-redis procps valgrind binutils)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
