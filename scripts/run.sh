#!/usr/bin/env bash
# The main job: builds, then starts kvserver under the library and drives it
# with redis-benchmark, then prints the library's statistics. When kvserver is
# not built, runs a real program (python3) under the library instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
lib="$PWD/build/interpose/libconcordarena.so"
if [ -x build/engines/kvserver ]; then
    port=${PORT:-7379}
    out=$(mktemp)
    CONCORD_ARENA_STATS_AT_EXIT=1 LD_PRELOAD="$lib" build/engines/kvserver --port "$port" \
        --engine "${ENGINE:-hash}" --threads 2 > "$out" &
    pid=$!
    for _ in $(seq 1 100); do grep -q listening "$out" && break; redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    cat "$out"
    redis-benchmark -p "$port" -t set,get,incr,mset -n 100000 -P 16 -c 50 -q
    redis-cli -p "$port" info memory | grep -E 'used_memory|rss|mallinfo' || true
    kill -USR1 "$pid"; sleep 0.2
    kill -TERM "$pid"; wait "$pid" || true
    rm -f "$out"
else
    CONCORD_ARENA_STATS_AT_EXIT=1 LD_PRELOAD="$lib" python3 -c \
        "import json; print(len(json.dumps([{'k': i} for i in range(200000)])))"
fi
