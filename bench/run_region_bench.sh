#!/usr/bin/env bash
# Region allocation (kv_arena_alloc) against malloc: runs bench_region with
# glibc's malloc (as it comes, and with a warm heap) and again with
# LD_PRELOAD=jemalloc, and prints ns per allocation (best of REPS runs in a
# row in one process, after one untimed run, median beside it), the region's
# speedup against each, and its memory efficiency. With CALLGRIND=1 (and valgrind installed) it also counts
# instructions per allocation of each loop with callgrind (under glibc's
# malloc), a figure the noise of a shared machine does not move.
#
# usage: bench/run_region_bench.sh [BUILD_DIR] [N] [REPS]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
reps=${3:-7}
bin="$build/bench/bench_region"
jemalloc=${JEMALLOC:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
[ -x "$bin" ] || { echo "build first: $bin" >&2; exit 1; }

glibc_out=$("$bin" "$n" "$reps")
# glibc gives the top of its heap back after each run's frees (trim
# threshold 128 KiB), so every run faults its pages in again; this run keeps
# them, as jemalloc and the region do.
warm_out=$(GLIBC_TUNABLES=glibc.malloc.trim_threshold=4294967295 "$bin" "$n" "$reps")
if [ -f "$jemalloc" ]; then
    je_out=$(LD_PRELOAD="$jemalloc" "$bin" "$n" "$reps")
else
    echo "no $jemalloc: jemalloc column left out" >&2
    je_out=""
fi
get() { echo "$1" | awk -v k="$2" '$1 == k {print $2}'; }
row() { # label, output, key
    printf "%-46s %9s %9s\n" "$1" "$(get "$2" "${3}_ns")" "$(get "$2" "${3}_median_ns")"
}

region=$(get "$warm_out" region_ns)
call=$(get "$warm_out" region_call_ns)
glibc=$(get "$glibc_out" malloc_ns)
warm=$(get "$warm_out" malloc_ns)
jem=$(get "$je_out" malloc_ns)
echo "bench_region: $n allocations of 16..256 bytes (fixed seed), best of $reps runs in one process"
echo "(region figures from the warm-heap run; the speedups use the inline kv_arena_alloc)"
printf "%-46s %9s %9s\n" "ns/alloc" "best" "median"
row "region, kv_arena_create(0) defaults (inline)" "$warm_out" region
row "region, exported kv_arena_alloc (a call)" "$warm_out" region_call
row "region, detailed statistics off" "$warm_out" region_nostats
row "region, thread-safe mode (1 thread)" "$warm_out" region_threadsafe
row "region, packed (alignment 1)" "$warm_out" region_packed
row "region, each run right after a malloc run" "$warm_out" region_after_malloc
[ -n "$je_out" ] && row "region (same binary under jemalloc)" "$je_out" region
row "glibc malloc (default: trims, pages refault)" "$glibc_out" malloc
row "glibc malloc (trim off: warm heap)" "$warm_out" malloc
[ -n "$je_out" ] && row "jemalloc malloc" "$je_out" malloc
awk -v r="$region" -v c="$call" -v g="$glibc" -v w="$warm" -v j="${jem:-0}" 'BEGIN {
    printf "speedup vs glibc malloc (warm heap)            %9.2fx  (exported call: %.2fx)\n", w / r, w / c
    printf "speedup vs glibc malloc (default)              %9.2fx  (exported call: %.2fx)\n", g / r, g / c
    if (j > 0) printf "speedup vs jemalloc malloc                     %9.2fx  (exported call: %.2fx)\n", j / r, j / c }'
echo "memory efficiency (bytes requested / ...)       blocks held   bytes consumed"
printf "%-46s %10s%% %14s%%\n" "  sizes 16..256, kv_arena_alloc (8-aligned)" \
    "$(get "$warm_out" efficiency_pct)" "$(get "$warm_out" efficiency_consumed_pct)"
printf "%-46s %10s%% %14s%%\n" "  sizes 16..256 step 8, kv_arena_alloc" \
    "$(get "$warm_out" efficiency_mult8_pct)" "$(get "$warm_out" efficiency_mult8_consumed_pct)"
printf "%-46s %10s%% %14s%%\n" "  sizes 16..256, packed (alignment 1)" \
    "$(get "$warm_out" efficiency_packed_pct)" "$(get "$warm_out" efficiency_packed_consumed_pct)"

if [ "${CALLGRIND:-0}" = 1 ]; then
    if ! command -v valgrind > /dev/null; then
        echo "CALLGRIND=1: valgrind is not installed" >&2
        exit 0
    fi
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" count "$n" > /dev/null 2>&1
    # Two passes of n allocations per loop (bench_region count).
    echo "instructions per allocation (callgrind, inclusive of the loop and of every call)"
    callgrind_annotate --inclusive=yes "$out" 2> /dev/null | tr -d ',' | awk -v n="$n" '
        /:loop_region_inline / { printf "  %-44s %8.2f\n", "region, inline kv_arena_alloc", $1 / 2 / n }
        /:loop_region_call /   { printf "  %-44s %8.2f\n", "region, exported kv_arena_alloc", $1 / 2 / n }
        /:loop_malloc /        { printf "  %-44s %8.2f\n", "malloc", $1 / 2 / n }'
fi
