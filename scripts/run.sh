#!/usr/bin/env bash
# The main job: builds, starts kvserver under the library (loopback, a free
# port), drives it with redis-benchmark, shows what INFO says of its memory,
# and stops it; the library prints its statistics as the server exits.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
lib="$PWD/build/interpose/libconcordarena.so"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/ready"
CONCORD_ARENA_STATS_AT_EXIT=1 LD_PRELOAD="$lib" build/engines/kvserver --port 0 \
    --engine "${ENGINE:-hash}" --threads 2 > "$dir/ready" &
pid=$!
# The server's first line says where it listens; no sleeping.
if ! read -r -t 30 line < "$dir/ready"; then
    kill "$pid" 2>/dev/null || true
    echo "kvserver did not start" >&2
    exit 1
fi
echo "$line"
port=${line##*:}
port=${port%% *}
redis-benchmark -p "$port" -t set,get,incr,mset -n 100000 -P 16 -c 50 -q
redis-cli -p "$port" info memory | grep -E 'rss|mallinfo' || true
kill -TERM "$pid"
wait "$pid"
