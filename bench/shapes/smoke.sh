#!/usr/bin/env bash
# Runs every workload-shape program once at a tiny scale under glibc and under
# LIB; fails unless each exits 0, prints its line, and the two checksums agree.
#
# usage: bench/shapes/smoke.sh BIN_DIR LIB
set -euo pipefail
bin=${1:?usage: smoke.sh BIN_DIR LIB}
lib=${2:?usage: smoke.sh BIN_DIR LIB}
fail=0
for shape in large medium server server-sized xthread local heavy prodcons; do
    for threads in 1 2; do
        [ "$shape" = large ] && [ "$threads" = 2 ] && continue # 300 MiB a thread
        ref=$(env -u LD_PRELOAD "$bin/shape_$shape" 0.005 "$threads") || {
            echo "FAIL $shape x$threads under glibc (status $?)"; fail=1; continue; }
        out=$(LD_PRELOAD="$lib" "$bin/shape_$shape" 0.005 "$threads") || {
            echo "FAIL $shape x$threads under $lib (status $?)"; fail=1; continue; }
        sum_ref=$(grep -o 'checksum=[0-9a-f]*' <<<"$ref" || true)
        sum=$(grep -o 'checksum=[0-9a-f]*' <<<"$out" || true)
        if [ -z "$sum" ] || [ "$sum" != "$sum_ref" ]; then
            echo "FAIL $shape x$threads: '$out' against glibc's '$ref'"
            fail=1
        else
            echo "ok   $out"
        fi
    done
done
m=$("$bin/measure" --preload "$lib" "$bin/shape_local" 0.001 1)
grep -q '^measure wall_s=[0-9.]* cpu_s=[0-9.]* maxrss_kib=[1-9][0-9]* peak_kib=[1-9][0-9]* samples=[0-9]* minflt=[0-9]* others=[-0-9.]* status=0$' <<<"$m" || {
    echo "FAIL measure: '$m'"; fail=1; }
if m=$(MEASURE_SAMPLE_US=1ms "$bin/measure" true 2>&1) || ! grep -q 'MEASURE_SAMPLE_US=1ms' <<<"$m"; then
    echo "FAIL measure took MEASURE_SAMPLE_US=1ms: '$m'"; fail=1
fi
exit "$fail"
