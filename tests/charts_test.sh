#!/bin/sh
# The matplotlib charts, run by ctest:
#
#   charts_test.sh SOURCE_DIR LAUNCHER
#
# scripts/stats_report.py on real JSON dumps (taken through the launcher)
# made into a two-node, several-arena series: the chart gets its per-node and
# per-arena panels (two rows: 1200x840 pixels), from a file and from stdin;
# scripts/bench_chart.py on run_malloc_bench.sh's output format.
# Exit 77 (skipped) when no python3 here has matplotlib.
set -eu
src=$1 launcher=$2
tmp=$(mktemp -d /tmp/ca-charts-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# width and height of a PNG, from its IHDR chunk
png_size() {
    od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}'
}

for _ in 1 2 3; do
    "$launcher" --json --stats-at-exit --stats-file "$tmp/one.jsonl" -- sh -c "ls / >/dev/null"
done
[ "$(wc -l <"$tmp/one.jsonl")" -eq 3 ] || fail "expected 3 dumps"
# one process's series, on two nodes with three busy arenas
python3 - "$tmp/one.jsonl" >"$tmp/series.jsonl" <<'PY'
import copy, json, sys
dumps = [json.loads(l) for l in open(sys.argv[1])]
for k, d in enumerate(dumps):
    d["pid"] = 4242
    other = copy.deepcopy(d["nodes"][0])
    other["node"] = 1
    other["in_use"] = d["total"]["in_use"] // 3
    d["nodes"].append(other)
    busy = [a for a in d["arenas"] if a["allocs"]][0]
    d["arenas"] = [dict(busy, id=i + 1, node=i % 2, allocs=busy["allocs"] * (i + 1))
                   for i in range(3)]
    d["arena_count"] = 3
    print(json.dumps(d))
PY

out=$(python3 "$src/scripts/stats_report.py" "$tmp/series.jsonl" --png "$tmp/a.png" 2>&1) || {
    case $out in *"needs matplotlib"*) echo "SKIPPED: $out"; exit 77 ;; esac
    fail "stats_report.py: $out"
}
echo "$out"
case $out in *"process 4242: 3 dump(s)"*"node 1:"*"in use over 3 dumps"*) ;; *) fail "summary: $out" ;; esac
[ "$(png_size "$tmp/a.png")" = 1200x840 ] || fail "chart size $(png_size "$tmp/a.png"), expected 1200x840"
# the same from stdin, through the interpreter the shebang picks
"$src/scripts/stats_report.py" - --png "$tmp/b.png" <"$tmp/series.jsonl" >/dev/null || fail "from stdin"
[ "$(png_size "$tmp/b.png")" = 1200x840 ] || fail "stdin chart size $(png_size "$tmp/b.png")"

cat >"$tmp/bench.txt" <<'TXT'
case (Mops/s)                          glibc              jemalloc          concordarena      ours/glibc   ours/jemalloc
pairs x1                             131.322               106.567               138.135           1.05x           1.30x
prodcons (2 threads)                   4.850                15.483                47.643           9.82x           3.08x
(3 rounds, median; N=5000000; 2 CPUs; 2026-11-22)
TXT
python3 "$src/scripts/bench_chart.py" "$tmp/bench.txt" --png "$tmp/c.png" || fail "bench_chart.py"
[ "$(png_size "$tmp/c.png")" = 1200x500 ] || fail "bench chart size $(png_size "$tmp/c.png")"
echo "garbage" >"$tmp/bad.txt"
if python3 "$src/scripts/bench_chart.py" "$tmp/bad.txt" --png "$tmp/d.png" 2>"$tmp/err"; then
    fail "bench_chart.py accepted garbage"
fi
grep -q "no run_malloc_bench.sh results found" "$tmp/err" || fail "message: $(cat "$tmp/err")"
[ ! -e "$tmp/d.png" ] || fail "a chart from garbage"
echo "ok: charts"
