#!/usr/bin/env bash
# Runs bench_malloc under glibc, jemalloc, this library (and mimalloc and
# tcmalloc when installed) side by side, interleaved, in one run; prints
# million ops/s (median of ROUNDS) and ratios against glibc and jemalloc.
#
# usage: bench/run_malloc_bench.sh [BUILD_DIR] [EXTRA_NAME=/path/lib.so ...]
set -euo pipefail
build=${1:-build}
shift || true
bin="$build/bench/bench_malloc"
lib="$(cd "$build" && pwd)/interpose/libconcordarena.so"
rounds=${ROUNDS:-5}
n=${N:-20000000}
[ -x "$bin" ] && [ -f "$lib" ] || { echo "build first: $bin, $lib" >&2; exit 1; }

names=(glibc jemalloc concordarena)
paths=("" /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 "$lib")
for extra in /usr/lib/x86_64-linux-gnu/libmimalloc.so.2:mimalloc \
             /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4:tcmalloc; do
    [ -f "${extra%%:*}" ] && { names+=("${extra##*:}"); paths+=("${extra%%:*}"); }
done
for kv in "$@"; do names+=("${kv%%=*}"); paths+=("${kv#*=}"); done

cases=("pairs 1 $n" "pairs 2 $n" "batch 1 $n" "batch 2 $n" "prodcons $((n / 4))")
declare -A results
for c in "${cases[@]}"; do
    for r in $(seq 1 "$rounds"); do
        for i in "${!names[@]}"; do
            if [ -n "${paths[$i]}" ]; then
                v=$(LD_PRELOAD="${paths[$i]}" "$bin" $c | awk '{print $3}')
            else
                v=$("$bin" $c | awk '{print $3}')
            fi
            results["$c|${names[$i]}"]+="$v "
        done
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-22s" "case (Mops/s)"
for nm in "${names[@]}"; do printf "%22s" "$nm"; done
printf "%16s%16s\n" "ours/glibc" "ours/jemalloc"
for c in "${cases[@]}"; do
    label=$(echo "$c" | awk '{print $1" x"$2}')
    [ "${c%% *}" = prodcons ] && label="prodcons (2 threads)"
    printf "%-22s" "$label"
    declare -A med=()
    for nm in "${names[@]}"; do
        med[$nm]=$(echo "${results["$c|$nm"]}" | median)
        printf "%22s" "${med[$nm]}"
    done
    awk -v o="${med[concordarena]}" -v g="${med[glibc]}" -v j="${med[jemalloc]}" \
        'BEGIN {printf "%15.2fx%15.2fx\n", o / g, o / j}'
done
echo "($rounds rounds, median; N=$n; $(nproc) CPUs; $(date -u +%Y-%m-%d))"
