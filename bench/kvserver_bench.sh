#!/usr/bin/env bash
# kvserver_bench.sh - kvserver under glibc malloc, jemalloc and ConcordArena.
#
#   bench/kvserver_bench.sh [PATH_TO_libconcordarena.so]
#
# Starts kvserver (loopback only) once per allocator, runs
#   redis-benchmark -t set,get,incr,mset -n 200000 -P 16 -c 50 -q --csv
# against it, reads the server's peak resident memory (VmHWM) before shutting
# it down, and prints requests/s and peak RSS per allocator, plus ratios
# against glibc and jemalloc.
#
# Environment (all optional):
#   KVSERVER     kvserver binary             (default build/engines/kvserver)
#   ENGINE       storage engine              (default hash)
#   THREADS      kvserver --threads          (default 2)
#   REQUESTS     redis-benchmark -n          (default 200000)
#   JEMALLOC     jemalloc shared library     (default /usr/lib/x86_64-linux-gnu/libjemalloc.so.2)
#   EXTRA_ARGS   more redis-benchmark flags, e.g. "-r 100000 -d 128"
#   ROUNDS       rounds, allocators interleaved; medians reported (default 3)
#   PIN          1: server on CPU 0, redis-benchmark on CPU 1 (less noise on a
#                small machine; default 0)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
concord=${1:-$root/build/interpose/libconcordarena.so}
kvserver=${KVSERVER:-$root/build/engines/kvserver}
engine=${ENGINE:-hash}
threads=${THREADS:-2}
requests=${REQUESTS:-200000}
jemalloc=${JEMALLOC:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
host=127.0.0.1
tests=(SET GET INCR MSET)

die() { echo "kvserver_bench: $*" >&2; exit 1; }
[[ -x $kvserver ]] || die "no kvserver at $kvserver (build first, or set KVSERVER)"
command -v redis-benchmark >/dev/null || die "redis-benchmark not found (apt-get install redis-tools)"

pin_server="" pin_client=""
if [[ ${PIN:-0} == 1 ]] && command -v taskset >/dev/null && (($(nproc) >= 2)); then
    pin_server="taskset -c 0" pin_client="taskset -c 1"
fi
declare -A rps rss
names=()

# run NAME PRELOAD: one server, one benchmark, results into rps[NAME,TEST] and rss[NAME].
run() {
    local name=$1 preload=$2
    if [[ -n $preload && ! -r $preload ]]; then
        echo "skipping $name: $preload not found" >&2
        return
    fi
    [[ " ${names[*]} " == *" $name "* ]] || names+=("$name")
    local out pid line port
    out=$(mktemp -d)
    mkfifo "$out/ready"
    LD_PRELOAD=$preload $pin_server "$kvserver" --engine "$engine" --threads "$threads" --bind "$host" \
        --port 0 >"$out/ready" 2>"$out/stderr" &
    pid=$!
    # The ready line, not a sleep, says when the server listens.
    if ! read -r -t 30 line <"$out/ready"; then
        kill "$pid" 2>/dev/null || true
        cat "$out/stderr" >&2
        die "$name: kvserver did not start"
    fi
    port=${line##*:}
    port=${port%% *}
    # shellcheck disable=SC2086
    $pin_client redis-benchmark -h "$host" -p "$port" -t set,get,incr,mset -n "$requests" -P 16 -c 50 -q \
        --csv ${EXTRA_ARGS:-} >"$out/csv"
    rss[$name]+="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status") "
    kill -TERM "$pid"
    wait "$pid" || die "$name: kvserver exited with status $?"
    local t v
    for t in "${tests[@]}"; do
        # CSV rows look like "SET","448430.47",...; MSET is "MSET (10 keys)".
        v=$(awk -F'","' -v t="$t" '{ gsub(/^"/, "", $1); split($1, a, " ");
                                     if (a[1] == t) { print $2; exit } }' "$out/csv")
        rps[$name,$t]+="${v:-0} "
    done
    rm -rf "$out"
}

rounds=${ROUNDS:-3}
for _ in $(seq 1 "$rounds"); do
    run glibc ""
    run jemalloc "$jemalloc"
    run concordarena "$concord"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for n in "${names[@]}"; do
    for t in "${tests[@]}"; do rps[$n,$t]=$(echo "${rps[$n,$t]}" | median); done
    rss[$n]=$(echo "${rss[$n]}" | median)
done

echo
echo "kvserver engine=$engine threads=$threads, redis-benchmark -n $requests -P 16 -c 50 ${EXTRA_ARGS:-}"
echo "median of $rounds rounds, allocators interleaved"
echo
printf '%-14s' allocator
for t in "${tests[@]}"; do printf '%14s' "$t req/s"; done
printf '%16s\n' "peak RSS MiB"
for n in "${names[@]}"; do
    printf '%-14s' "$n"
    for t in "${tests[@]}"; do printf '%14.0f' "${rps[$n,$t]}"; done
    awk -v k="${rss[$n]}" 'BEGIN { printf "%16.1f\n", k / 1024 }'
done

# ratio BASE: every allocator's figures divided by BASE's (req/s: >1 is faster;
# RSS: <1 is smaller).
ratio() {
    local base=$1 n t
    [[ -n ${rss[$base]:-} ]] || return 0
    echo
    echo "relative to $base"
    for n in "${names[@]}"; do
        [[ $n == "$base" ]] && continue
        printf '%-14s' "$n"
        for t in "${tests[@]}"; do
            awk -v a="${rps[$n,$t]}" -v b="${rps[$base,$t]}" \
                'BEGIN { if (b > 0) printf "%13.2fx", a / b; else printf "%14s", "n/a" }'
        done
        awk -v a="${rss[$n]}" -v b="${rss[$base]}" \
            'BEGIN { if (b > 0) printf "%15.2fx\n", a / b; else printf "%16s\n", "n/a" }'
    done
}
ratio glibc
ratio jemalloc
