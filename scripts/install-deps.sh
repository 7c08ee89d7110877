#!/usr/bin/env bash
# Installs what the build, the tests and the benchmarks need (Debian 12).
set -euo pipefail
# python3-matplotlib serves Debian's /usr/bin/python3 (the charts); dpkg-dev
# gives cpack's DEB generator dpkg-shlibdeps (the package's dependencies);
# redis-server and python3-redis are kvserver's references in its tests.
pkgs=(build-essential cmake pkg-config libnuma-dev numactl libcmocka-dev libjemalloc2
      libjemalloc-dev redis-tools redis-server git python3 python3-matplotlib python3-redis
      procps valgrind binutils dpkg-dev)
# the NUMA guests (scripts/numa-guest.sh); their recommends (GUI, firmware) are not needed
guest_pkgs=(qemu-system-x86 busybox-static)
missing=() guest_missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for p in "${guest_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || guest_missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] || [ "${#guest_missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
fi
if [ "${#missing[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
if [ "${#guest_missing[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${guest_missing[@]}" || echo "install-deps: ${guest_missing[*]} not installed: the NUMA guest tests will be skipped" >&2
fi
