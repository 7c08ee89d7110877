#!/usr/bin/env bash
# Installs, builds (warnings are errors), fetches the NUMA guests' kernel and
# runs every test (the NUMA ones inside 2- and 4-node qemu guests); then builds the
# core's tests again under AddressSanitizer+UndefinedBehaviorSanitizer and
# under ThreadSanitizer and runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
CA_CMAKE_FLAGS="-DCA_WERROR=ON ${CA_CMAKE_FLAGS:-}" bash scripts/build.sh
# the kernel of the NUMA guests (without it the numa_guest tests are skipped)
bash scripts/numa-guest-setup.sh build/numa-guest || echo "test.sh: no NUMA guest kernel: numa_guest_* will be skipped"
(cd build && ctest --output-on-failure -j 2 --timeout 900)

core_tests="test_api test_segment_range test_huge_reuse test_stress_core test_bad_input test_purge test_numa test_options test_stats test_signal test_remote test_runs"
for san in address,undefined thread; do
    dir="build-san-${san%%,*}"
    echo "== core tests under -fsanitize=$san =="
    cmake -S . -B "$dir" -DSANITIZER="$san" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCA_WERROR=ON > /dev/null
    # shellcheck disable=SC2086
    cmake --build "$dir" -j "$(nproc)" --target $core_tests test_region > /dev/null
    (cd "$dir" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 TSAN_OPTIONS=halt_on_error=1 \
        ctest --output-on-failure -j 2 --timeout 900 \
        -R "^(${core_tests// /|}|test_region)$")
done
