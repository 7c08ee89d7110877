#!/usr/bin/env bash
# Runs the workload-shape programs (bench/shapes/) under glibc,
# jemalloc, mimalloc, tcmalloc and this library, interleaved, in one
# invocation; then counts instructions per malloc+free pair with callgrind;
# then writes the summary (ratios to the best peer, geometric means, noisy
# rounds) and draws the chart.
#
# usage: bench/run_peers.sh [BUILD_DIR [NAME=/path/lib.so ...]]
#
# BUILD_DIR defaults to build. Each NAME=LIB adds an allocator that is not a
# peer (another build of this library, say): it runs with the others and is
# compared with the same best peer.
#
# Environment:
#   ROUNDS=7        timed rounds; each round runs every program under every
#                   allocator once, the allocators in a rotated order
#   RSS_ROUNDS=5    rounds more, after the timed ones, that measure peak RSS:
#                   measure reads the program's resident set (VmRSS) every
#                   RSS_SAMPLE_US=1000 microseconds. Their times are not
#                   used: the sampling would disturb them (by up to a fifth,
#                   and more under some allocators than others). 0: peak RSS
#                   is the kernel's record (ru_maxrss) of the timed rounds
#   SCALE=1         work multiplier passed to every program
#   QUICK=1         ROUNDS=3 RSS_ROUNDS=1 SCALE=0.3 (about two minutes)
#                   unless ROUNDS/RSS_ROUNDS/SCALE are given
#   NOISE=0.10      a (program, allocator) whose times spread by more than
#                   this fraction of their median is flagged noisy
#   CALLGRIND=0     skip the instruction counts (pairs and programs)
#   INSTR=0         skip only the per-program instruction counts
#   PEERS_INSTALL=0 never apt-get the peers that are missing (they are then
#                   skipped with a note)
#   OUT=DIR         results folder (default bench/results/peers-DATE, and
#                   bench/results/peers-latest points at it)
#   SHAPES=a,b      only these programs (names as in the tables: large,
#                   medium, server, server-sized, xthread, local, heavy-1t,
#                   heavy-2t, prodcons), for the timed runs and the
#                   per-program instruction counts: to run the rows a
#                   first run found noisy again, with more rounds
#
# Writes into OUT: runs.csv (every run), callgrind.csv and callgrind.*.out
# (instructions per pair), callgrind_shapes.csv (instructions per program),
# summary.json and summary.csv (what the chart reads), table.md, peers.png.
# The peers are the four allocators other than ours; "best" is the best of
# those present. Times are the programs' own (their work, not process start
# and exit); peak RSS is measure's peak_kib in the RSS rounds: the larger of
# the largest resident set it read (exact readings every millisecond) and
# the kernel's record, ru_maxrss, which alone can miss a batch of pages per
# CPU, a tenth of a small program (see bench/README.md). It includes the
# allocator's own footprint.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${1:-build}
build=$(cd "$build" && pwd) || { echo "no build folder: ${1:-build}" >&2; exit 1; }
shift || true
shapes="$build/bench/shapes"
lib="$build/interpose/libconcordarena.so"
if [ -n "${QUICK:-}" ] && [ "${QUICK}" != 0 ]; then
    rounds=${ROUNDS:-3}
    scale=${SCALE:-0.3}
    rss_rounds=${RSS_ROUNDS:-1}
else
    rounds=${ROUNDS:-7}
    scale=${SCALE:-1}
    rss_rounds=${RSS_ROUNDS:-5}
fi
rss_sample_us=${RSS_SAMPLE_US:-1000}
noise=${NOISE:-0.10}
for f in "$shapes/measure" "$shapes/shape_large" "$lib"; do
    [ -e "$f" ] || { echo "build first (cmake --build $build): $f is missing" >&2; exit 1; }
done

# ---- the programs: NAME PROGRAM THREADS ----
entries=("large shape_large 1" "medium shape_medium 2" "server shape_server 2"
         "server-sized shape_server-sized 2" "xthread shape_xthread 2" "local shape_local 2" "heavy-1t shape_heavy 1"
         "heavy-2t shape_heavy 2" "prodcons shape_prodcons 2")
# wanted NAME: is program NAME among SHAPES (all when SHAPES is unset)?
wanted() {
    [ -z "${SHAPES:-}" ] && return 0
    case ",$SHAPES," in *",$1,"*) return 0 ;; *) return 1 ;; esac
}
if [ -n "${SHAPES:-}" ]; then
    for s in ${SHAPES//,/ }; do
        found=0
        for e in "${entries[@]}"; do [ "${e%% *}" = "$s" ] && found=1; done
        [ "$found" = 1 ] || { echo "SHAPES: no program named $s" >&2; exit 1; }
    done
fi

stamp=$(date -u +%Y%m%d-%H%M%S)
out=${OUT:-$root/bench/results/peers-$stamp}
mkdir -p "$out"
if [ -z "${OUT:-}" ]; then ln -sfn "peers-$stamp" "$root/bench/results/peers-latest"; fi

# ---- the allocators ----
libdir=/usr/lib/x86_64-linux-gnu
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
[ -n "$multiarch" ] && [ -d "/usr/lib/$multiarch" ] && libdir=/usr/lib/$multiarch

# the shared object a Debian package installs whose name matches PATTERN
pkg_so() {
    dpkg -L "$1" 2>/dev/null | grep -E "/$2\$" | head -1 || true
}
sudo_cmd() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi
}
installed_any=0
install_pkg() {
    [ "${PEERS_INSTALL:-1}" = 0 ] && return 1
    command -v apt-get >/dev/null || return 1
    if [ "$installed_any" = 0 ]; then
        sudo_cmd apt-get update -qq >/dev/null 2>&1 || true
        installed_any=1
    fi
    sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}
# find_peer NAME PACKAGE SONAME [FALLBACK_PACKAGE FALLBACK_SONAME]
names=(glibc)
paths=("")
notes=()
find_peer() {
    local name=$1 pkg=$2 so=$3 pkg2=${4:-} so2=${5:-} path=""
    for attempt in 1 2; do
        path=$(pkg_so "$pkg" "$so")
        [ -z "$path" ] && [ -f "$libdir/$so" ] && path=$libdir/$so
        if [ -z "$path" ] && [ -n "$pkg2" ]; then
            path=$(pkg_so "$pkg2" "$so2")
            [ -z "$path" ] && [ -f "$libdir/$so2" ] && path=$libdir/$so2
        fi
        [ -n "$path" ] && break
        [ "$attempt" = 1 ] && { install_pkg "$pkg" || true; }
    done
    if [ -n "$path" ]; then
        names+=("$name")
        paths+=("$path")
    else
        notes+=("$name skipped: $so not found and Debian package $pkg could not be installed")
        echo "note: ${notes[-1]}" >&2
    fi
}
find_peer jemalloc libjemalloc2 libjemalloc.so.2
find_peer mimalloc libmimalloc2.0 'libmimalloc.so.2'
# gperftools' tcmalloc without the profiler (libtcmalloc-minimal4, which
# libgoogle-perftools4 depends on); the full libtcmalloc.so.4 otherwise
find_peer tcmalloc libtcmalloc-minimal4 libtcmalloc_minimal.so.4 libgoogle-perftools4 libtcmalloc.so.4
names+=(concordarena)
paths+=("$lib")
for kv in "$@"; do
    case $kv in
    *=*) [ -f "${kv#*=}" ] || { echo "no such library: ${kv#*=}" >&2; exit 1; }
         names+=("${kv%%=*}"); paths+=("$(cd "$(dirname "${kv#*=}")" && pwd)/$(basename "${kv#*=}")") ;;
    *) echo "not NAME=LIB: $kv" >&2; exit 1 ;;
    esac
done

{
    echo "# date=$(date -u +%Y-%m-%dT%H:%M:%SZ) host_cpus=$(nproc) kernel=$(uname -r)"
    echo "# rounds=$rounds rss_rounds=$rss_rounds rss_sample_us=$rss_sample_us scale=$scale noise=$noise shapes=${SHAPES:-all} load_start=$(cut -d' ' -f1 /proc/loadavg)"
    for i in "${!names[@]}"; do echo "# allocator ${names[$i]}=${paths[$i]:-(none: the C library)}"; done
    for n in "${notes[@]+"${notes[@]}"}"; do echo "# note $n"; done
} >"$out/meta.txt"
cat "$out/meta.txt"

csv="$out/runs.csv"
echo "round,program,threads,allocator,time_s,wall_s,cpu_s,maxrss_kib,minflt,others,checksum,status,load1,phase,peak_kib" >"$csv"
load1() { cut -d' ' -f1 /proc/loadavg; }
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
t_start=$(date +%s)
na=${#names[@]}
# field NAME: the value of NAME= in the last run's output ($res)
field() { grep -o "$1=[-0-9.a-f]*" <<<"$res" | cut -d= -f2 || true; }
# round R PHASE: every wanted program under every allocator once, the
# allocator that goes first rotated by R. PHASE time: nothing else runs
# beside the program (measure samples nothing); PHASE rss: measure samples
# the program's resident set every RSS_SAMPLE_US, and only peak_kib is used.
round() {
    local r=$1 phase=$2 every=0
    [ "$phase" = rss ] && every=$rss_sample_us
    for e in "${entries[@]}"; do
        read -r name prog threads <<<"$e"
        wanted "$name" || continue
        for k in $(seq 0 $((na - 1))); do
            i=$(((k + r - 1) % na)) # rotate who runs first, round by round
            status=0
            res=$(MEASURE_SAMPLE_US=$every "$shapes/measure" --preload "${paths[$i]}" "$shapes/$prog" "$scale" "$threads" 2>"$out/stderr.tmp") || status=$?
            echo "$r,$name,$threads,${names[$i]},$(field time_s),$(field wall_s),$(field cpu_s),$(field maxrss_kib),$(field minflt),$(field others),$(field checksum),$status,$(load1),$phase,$(field peak_kib)" >>"$csv"
            if [ "$status" != 0 ]; then
                echo "$phase round $r: $name under ${names[$i]} failed (status $status): $(head -c 300 "$out/stderr.tmp")" >&2
            fi
        done
        printf '%s round %d  %-9s done (load %s)\n' "$phase" "$r" "$name" "$(load1)"
    done
}
for r in $(seq 1 "$rounds"); do round "$r" time; done
for r in $(seq 1 "$rss_rounds"); do round "$r" rss; done
rm -f "$out/stderr.tmp"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); runs took $(($(date +%s) - t_start)) s"
echo "# load_end=$(cut -d' ' -f1 /proc/loadavg) run_s=$(($(date +%s) - t_start))" >>"$out/meta.txt"

# ---- instructions per malloc+free pair: callgrind on bench_malloc batch 1 2000000 ----
cg="$out/callgrind.csv"
echo "allocator,collected,pairs,per_pair" >"$cg"
pairs=2000000
if [ "${CALLGRIND:-1}" != 0 ] && command -v valgrind >/dev/null && [ -x "$build/bench/bench_malloc" ]; then
    for i in "${!names[@]}"; do
        f="$out/callgrind.${names[$i]}.out"
        if [ -n "${paths[$i]}" ]; then
            log=$(LD_PRELOAD="${paths[$i]}" valgrind --tool=callgrind --callgrind-out-file="$f" \
                "$build/bench/bench_malloc" batch 1 "$pairs" 2>&1 >/dev/null) || true
        else
            log=$(env -u LD_PRELOAD valgrind --tool=callgrind --callgrind-out-file="$f" \
                "$build/bench/bench_malloc" batch 1 "$pairs" 2>&1 >/dev/null) || true
        fi
        n=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$log" | tail -1)
        if [ -n "$n" ]; then
            echo "${names[$i]},$n,$pairs,$(awk -v n="$n" -v p="$pairs" 'BEGIN {printf "%.1f", n / p}')" >>"$cg"
            printf 'callgrind %-13s %s instructions, %s per pair\n' "${names[$i]}" "$n" \
                "$(awk -v n="$n" -v p="$pairs" 'BEGIN {printf "%.1f", n / p}')"
        else
            echo "callgrind under ${names[$i]} gave no count: $(tail -c 300 <<<"$log")" >&2
        fi
    done
else
    echo "note: no instruction counts (CALLGRIND=0, valgrind missing, or no bench_malloc)" >&2
fi

# ---- instructions per program: callgrind on the shapes at a small scale ----
# Not timing: the count barely moves with the load of the machine. Left out:
# large (its cost is page faults, which callgrind does not see, and memset)
# and prodcons (its waiting loops count as many instructions as the
# scheduler makes them). Valgrind runs the threads one at a time.
# callgrind_scale NAME: the scale program NAME is counted at (none: left out).
callgrind_scale() {
    case $1 in
    large | prodcons) ;;
    medium) echo 0.1 ;;
    *) echo 0.02 ;;
    esac
}
cs="$out/callgrind_shapes.csv"
echo "program,threads,scale,allocator,collected,ops" >"$cs"
if [ "${INSTR:-1}" != 0 ] && [ "${CALLGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then
    for e in "${entries[@]}"; do
        read -r name prog threads <<<"$e"
        s=$(callgrind_scale "$name")
        [ -n "$s" ] && wanted "$name" || continue
        for i in "${!names[@]}"; do
            log=$(env -u LD_PRELOAD ${paths[$i]:+LD_PRELOAD="${paths[$i]}"} valgrind --tool=callgrind \
                --callgrind-out-file=/dev/null "$shapes/$prog" "$s" "$threads" 2>&1) || true
            n=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$log" | tail -1)
            ops=$(grep -o 'ops=[0-9]*' <<<"$log" | cut -d= -f2 | head -1)
            [ -n "$n" ] && echo "$name,$threads,$s,${names[$i]},$n,$ops" >>"$cs"
        done
        echo "callgrind $name done"
    done
fi

# ---- summary and chart ----
py=python3
command -v "$py" >/dev/null || py=/usr/bin/python3
rc=0
"$py" "$here/peers_summary.py" "$out" --noise "$noise" || rc=$? # 1: failed runs or checksums
"$py" "$here/peers_chart.py" "$out/summary.json" --png "$out/peers.png" ||
    echo "note: no chart (matplotlib missing? apt-get install python3-matplotlib)" >&2
echo "results in $out"
exit "$rc"
