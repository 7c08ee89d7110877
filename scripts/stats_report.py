#!/usr/bin/env python3
"""Summarise ConcordArena JSON statistics dumps and chart them.

    scripts/stats_report.py DUMPS.jsonl [MORE.jsonl ...] [--png chart.png]

Each input holds one JSON dump per line (CONCORD_ARENA_STATS_FORMAT=json, from
SIGUSR1, CONCORD_ARENA_STATS_AT_EXIT=1 or malloc_stats), taken over time; '-'
reads standard input. Prints a summary of the last dump (per process when the
file holds several processes) and, with --png, draws a chart with matplotlib:
the size distribution of the last dump as bars, bytes in use over the series
of dumps as a line (one line per NUMA node too when there are several), and
per-node and per-arena views when the dump has several nodes or arenas.

The summary needs only the standard library. The chart needs matplotlib
(Debian: python3-matplotlib, which serves /usr/bin/python3): when the
interpreter running this script lacks it, the script runs itself again under
/usr/bin/python3.
"""
import argparse
import json
import os
import sys

DEBIAN_PYTHON = "/usr/bin/python3"
REEXEC_MARK = "CA_STATS_REPORT_REEXEC"


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display). Without matplotlib,
    re-executes this script under Debian's interpreter, once."""
    try:
        import matplotlib
    except ImportError:
        here = os.path.realpath(sys.executable or "")
        if (os.environ.get(REEXEC_MARK) is None and os.access(DEBIAN_PYTHON, os.X_OK)
                and here != os.path.realpath(DEBIAN_PYTHON)):
            os.environ[REEXEC_MARK] = "1"
            sys.stdout.flush()
            os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, os.path.abspath(sys.argv[0])] + sys.argv[1:])
        print("stats_report.py: --png needs matplotlib, and neither this python "
              f"({sys.executable}) nor {DEBIAN_PYTHON} has it; on Debian: "
              "apt-get install python3-matplotlib", file=sys.stderr)
        sys.exit(3)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def human(n):
    n = float(n)
    for unit in ("", "K", "M", "G"):
        if abs(n) < 1024 or unit == "G":
            return f"{n:.0f}{unit}" if unit == "" else f"{n:.1f}{unit}"
        n /= 1024
    return str(n)


# ---- reading and summarising ----

def load(paths):
    dumps = []
    for path in paths:
        f = sys.stdin if path == "-" else open(path, encoding="utf-8")
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{path}:{lineno}: not a JSON dump ({e.msg}); skipped", file=sys.stderr)
                continue
            if isinstance(d, dict) and "total" in d and "concordarena" in d:
                dumps.append(d)
    return dumps


def summary(dumps):
    by_pid = {}
    for d in dumps:
        by_pid.setdefault(d.get("pid"), []).append(d)
    out = []
    for pid, series in by_pid.items():
        last = series[-1]
        t = last["total"]
        names = last["size_bucket_names"]
        out.append(f"process {pid}: {len(series)} dump(s), block size {last['block_size']}, "
                   f"{last['arena_count']} arena(s), {len(last['nodes'])} node(s)")
        out.append(f"  allocations {t['allocs']}, frees {t['frees']} "
                   f"(remote {t['remote_frees']}), in use {human(t['in_use'])}B, "
                   f"peak {human(t['peak'])}B")
        waste = 100.0 * t["wasted_bytes"] / t["slot_bytes"] if t["slot_bytes"] else 0.0
        out.append(f"  requested {human(t['req_bytes'])}B, handed out {human(t['slot_bytes'])}B "
                   f"({waste:.1f}% rounding and alignment)")
        out.append(f"  blocks fresh {t['blocks_fresh']}, reused {t['blocks_reused']}; segments "
                   f"mapped {t['segments_mapped']}, returned {t['segments_unmapped']}")
        out.append("  hotspots by count: " + ", ".join(
            f"{h['bucket']} ({h['count']})" for h in last["hotspots"]["by_count"][:5]))
        out.append("  hotspots by bytes: " + ", ".join(
            f"{h['bucket']} ({human(h['bytes'])}B)" for h in last["hotspots"]["by_bytes"][:5]))
        for n in last["nodes"]:
            out.append(f"  node {n['node']}: allocations {n['allocs']}, in use "
                       f"{human(n['in_use'])}B, segments mapped {n['segments_mapped']}")
        if len(series) > 1:
            uses = [s["total"]["in_use"] for s in series]
            out.append(f"  in use over {len(series)} dumps: min {human(min(uses))}B, "
                       f"max {human(max(uses))}B, last {human(uses[-1])}B")
        sizes = t["size_buckets"]
        total = sum(sizes) or 1
        out.append("  size distribution: " + ", ".join(
            f"{names[i]} {100.0 * c / total:.1f}%" for i, c in enumerate(sizes) if c))
    return "\n".join(out)


# ---- the chart ----

def bytes_unit(values):
    """(divisor, name) that keeps the largest of `values` readable."""
    top = max([abs(v) for v in values] + [1])
    for div, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if top >= 2 * div:
            return div, name
    return 1, "bytes"


def chart(dumps, path):
    plt = pyplot()
    last = dumps[-1]
    pid = last.get("pid")
    series = [d for d in dumps if d.get("pid") == pid]
    names = last["size_bucket_names"]
    nodes = last["nodes"]
    # arenas that did something (the fallback arena of early calls is often idle)
    arenas = [a for a in last.get("arenas", []) if a["allocs"] or a["frees"]]
    panels = ["sizes", "in_use"]
    if len(nodes) > 1:
        panels.append("nodes")
    if len(arenas) > 1:
        panels.append("arenas")
    rows = (len(panels) + 1) // 2
    fig = plt.figure(figsize=(12, 4.2 * rows))
    grid = fig.add_gridspec(rows, 2)
    flat = [fig.add_subplot(grid[i // 2, i % 2]) for i in range(len(panels) // 2 * 2)]
    if len(panels) % 2:
        flat.append(fig.add_subplot(grid[rows - 1, :]))  # the last panel spans the row
    fig.suptitle(f"ConcordArena statistics: pid {pid}, {len(series)} dump(s), "
                 f"block size {human(last['block_size'])}B, {last['arena_count']} arena(s), "
                 f"{len(nodes)} node(s)")
    x = list(range(1, len(series) + 1))
    for ax, panel in zip(flat, panels):
        if panel == "sizes":
            counts = last["total"]["size_buckets"]
            bars = ax.bar(range(len(counts)), counts, color="#3c6ec8")
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels([n.replace("<=", "") for n in names], rotation=45)
            ax.set_title("size distribution (last dump)")
            ax.set_xlabel("size bucket (bytes, up to)")
            ax.set_ylabel("allocations")
            nonzero = [c for c in counts if c]
            if nonzero and max(nonzero) > 100 * min(nonzero):
                ax.set_yscale("log")
            for b, c in zip(bars, counts):
                if c:
                    ax.annotate(str(c), (b.get_x() + b.get_width() / 2, c), ha="center",
                                va="bottom", fontsize=7)
        elif panel == "in_use":
            lines = [("in use", [d["total"]["in_use"] for d in series], "-", "#c83c3c"),
                     ("peak in use", [d["total"]["peak"] for d in series], ":", "#c83c3c"),
                     ("in mapped segments", [d["total"]["mapped_bytes"] for d in series], "--",
                      "#777777")]
            if len(nodes) > 1:
                for i, n in enumerate(nodes):
                    lines.append((f"in use, node {n['node']}",
                                  [d["nodes"][i]["in_use"] if i < len(d["nodes"]) else 0
                                   for d in series], "-", None))
            div, unit = bytes_unit([v for _, ys, _, _ in lines for v in ys])
            for label, ys, style, color in lines:
                ax.plot(x, [v / div for v in ys], linestyle=style, color=color, label=label,
                        marker="o" if label == "in use" else None, markersize=3)
            ax.set_title(f"memory over {len(series)} dump(s)")
            ax.set_xlabel("dump")
            ax.set_ylabel(unit)
            ax.set_ylim(bottom=0)
            if len(x) < 20:
                ax.set_xticks(x)
            ax.legend(fontsize=8)
        elif panel == "nodes":
            ids = [str(n["node"]) for n in nodes]
            w = 0.4
            div, unit = bytes_unit([n["mapped_bytes"] for n in nodes])
            ax.bar([i - w / 2 for i in range(len(ids))], [n["in_use"] / div for n in nodes], w,
                   label="in use", color="#c83c3c")
            ax.bar([i + w / 2 for i in range(len(ids))], [n["mapped_bytes"] / div for n in nodes],
                   w, label="in mapped segments", color="#999999")
            ax.set_xticks(range(len(ids)))
            ax.set_xticklabels(ids)
            ax.set_xlabel("NUMA node")
            ax.set_ylabel(unit)
            ax.set_title("per node (last dump)")
            ax.legend(fontsize=8)
        elif panel == "arenas":
            top = sorted(arenas, key=lambda a: a["allocs"], reverse=True)[:16]
            ids = range(len(top))
            w = 0.27
            for k, (key, label, color) in enumerate((("allocs", "allocations", "#3c6ec8"),
                                                     ("frees", "frees", "#8fb0e8"),
                                                     ("remote_frees", "remote frees (objects of another "
                                                      "thread)", "#e8a33c"))):
                ax.bar([i + (k - 1) * w for i in ids], [a[key] for a in top], w, label=label,
                       color=color)
            ax.set_xticks(list(ids))
            ax.set_xticklabels([f"arena {a['id']}\nnode {a['node']}, {a['state']}\n"
                                f"in use {human(a['in_use'])}B" for a in top], fontsize=8)
            more = f", {len(top)} busiest of {len(arenas)}" if len(arenas) > len(top) else ""
            ax.set_title(f"per arena (last dump{more}; in use is net of what that thread freed)")
            ax.legend(fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="files of JSON dumps, one per line ('-': stdin)")
    ap.add_argument("--png", help="write a chart to this PNG file (needs matplotlib)")
    args = ap.parse_args()
    if args.png:
        pyplot()  # before reading: a re-execution must still find its input
    dumps = load(args.inputs)
    if not dumps:
        print("no ConcordArena JSON dumps found", file=sys.stderr)
        return 1
    print(summary(dumps))
    if args.png:
        chart(dumps, args.png)
        print(f"chart written to {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
