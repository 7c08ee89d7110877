#!/usr/bin/env bash
# Draws the README's charts (matplotlib) from a build in BUILD_DIR (default build):
#
#   scripts/charts.sh bench [BUILD_DIR]   bench/charts/malloc_bench.png from
#                                         bench/run_malloc_bench.sh's results
#   scripts/charts.sh stats [BUILD_DIR]   bench/charts/kvserver_stats.png from a
#                                         series of JSON dumps of kvserver under
#                                         redis-benchmark, one dump per phase
#   scripts/charts.sh peers [BUILD_DIR]   bench/charts/peers.png from
#                                         bench/run_peers.sh (the seven workload
#                                         shapes under glibc, jemalloc, mimalloc,
#                                         tcmalloc and the library; its ROUNDS,
#                                         SCALE, QUICK apply)
#
# The raw results are kept in bench/results/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: scripts/charts.sh bench|stats|peers [BUILD_DIR]}
build=${2:-build}
mkdir -p bench/results bench/charts

case $what in
bench)
    bench/run_malloc_bench.sh "$build" | tee bench/results/malloc_bench.txt
    scripts/bench_chart.py bench/results/malloc_bench.txt --png bench/charts/malloc_bench.png
    ;;
stats)
    series=bench/results/kvserver_stats.jsonl
    rm -f "$series"
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    mkfifo "$dir/ready"
    "$build/concordarena" --json --stats-file "$series" --stats-at-exit -- \
        "$build/engines/kvserver" --port 0 --engine hash --threads 2 >"$dir/ready" &
    pid=$!
    read -r -t 30 line <"$dir/ready" || { kill "$pid"; echo "kvserver did not start" >&2; exit 1; }
    port=${line##*:}
    port=${port%% *}
    dump() { "$build/concordarena" stats "$pid" >/dev/null; }
    dump
    # values growing in size, then the keyspace dropped, then small values again
    for size in 16 64 256 1024 4096; do
        redis-benchmark -p "$port" -t set -n 20000 -r 20000 -d "$size" -c 20 -P 8 -q >/dev/null
        dump
        redis-benchmark -p "$port" -t get,incr -n 20000 -r 20000 -c 20 -P 8 -q >/dev/null
        dump
    done
    redis-cli -p "$port" flushdb >/dev/null
    dump
    redis-benchmark -p "$port" -t set,mset -n 20000 -r 20000 -d 32 -c 20 -P 8 -q >/dev/null
    dump
    kill -TERM "$pid"
    wait "$pid"
    scripts/stats_report.py "$series" --png bench/charts/kvserver_stats.png
    ;;
peers)
    rc=0
    bench/run_peers.sh "$build" || rc=$?
    cp bench/results/peers-latest/peers.png bench/charts/peers.png
    echo "chart copied to bench/charts/peers.png; table in bench/results/peers-latest/table.md"
    exit "$rc"
    ;;
*)
    echo "usage: scripts/charts.sh bench|stats|peers [BUILD_DIR]" >&2
    exit 2
    ;;
esac
