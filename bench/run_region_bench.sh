#!/usr/bin/env bash
# Region allocation (kv_arena_alloc) against malloc: runs bench_region with
# glibc's malloc and again with LD_PRELOAD=jemalloc, and prints ns per
# allocation, the region's speedup against each, and its memory efficiency.
#
# usage: bench/run_region_bench.sh [BUILD_DIR] [N] [REPS]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
reps=${3:-20}
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

region=$(get "$glibc_out" region_ns)
glibc=$(get "$glibc_out" malloc_ns)
warm=$(get "$warm_out" malloc_ns)
jem=$(get "$je_out" malloc_ns)
echo "bench_region: $n allocations of 8..256 bytes (fixed seed), median of $reps runs"
printf "%-44s %10s\n" "" "ns/alloc"
printf "%-44s %10s\n" "region, kv_arena_create(0) defaults" "$region"
printf "%-44s %10s\n" "region, detailed statistics off" "$(get "$glibc_out" region_nostats_ns)"
printf "%-44s %10s\n" "region, thread-safe mode (1 thread)" "$(get "$glibc_out" region_threadsafe_ns)"
printf "%-44s %10s\n" "region, packed (alignment 1)" "$(get "$glibc_out" region_packed_ns)"
printf "%-44s %10s\n" "region (same binary under jemalloc)" "$(get "$je_out" region_ns)"
printf "%-44s %10s\n" "glibc malloc (default: trims, pages refault)" "$glibc"
printf "%-44s %10s\n" "glibc malloc (trim off: warm heap)" "$warm"
[ -n "$jem" ] && printf "%-44s %10s\n" "jemalloc malloc" "$jem"
awk -v r="$region" -v g="$glibc" -v w="$warm" -v j="${jem:-0}" 'BEGIN {
    printf "speedup vs glibc malloc (default)            %9.2fx\n", g / r
    printf "speedup vs glibc malloc (warm heap)          %9.2fx\n", w / r
    if (j > 0) printf "speedup vs jemalloc malloc                   %9.2fx\n", j / r }'
echo "memory efficiency (bytes requested / ...)     blocks held   bytes consumed"
printf "%-44s %10s%% %14s%%\n" "  sizes 8..256, kv_arena_alloc (natural)" \
    "$(get "$glibc_out" efficiency_pct)" "$(get "$glibc_out" efficiency_consumed_pct)"
printf "%-44s %10s%% %14s%%\n" "  sizes 8..256 step 8, kv_arena_alloc" \
    "$(get "$glibc_out" efficiency_mult8_pct)" "$(get "$glibc_out" efficiency_mult8_consumed_pct)"
printf "%-44s %10s%% %14s%%\n" "  sizes 8..256, packed (alignment 1)" \
    "$(get "$glibc_out" efficiency_packed_pct)" "$(get "$glibc_out" efficiency_packed_consumed_pct)"
