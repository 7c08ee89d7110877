#!/usr/bin/env python3
"""Draw bench/run_peers.sh's summary: time and peak-RSS ratios to the best
peer, per program and allocator, and instructions per malloc+free pair.

    bench/peers_chart.py SUMMARY.json --png chart.png

SUMMARY.json is what peers_summary.py writes. Needs matplotlib (Debian:
python3-matplotlib, which serves /usr/bin/python3); when this interpreter
lacks it, the script runs itself again under /usr/bin/python3 (the approach
of scripts/stats_report.py, which it borrows).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from stats_report import pyplot  # noqa: E402

COLORS = {"glibc": "#999999", "jemalloc": "#e8a33c", "mimalloc": "#5aa469",
          "tcmalloc": "#c83c3c", "concordarena": "#3c6ec8"}


def bars(ax, summary, key, ylabel):
    allocs = summary["allocators"]
    groups = [p["name"] for p in summary["programs"]] + ["geo. mean"]
    width = 0.8 / len(allocs)
    top = 1.0
    for k, a in enumerate(allocs):
        ys, noisy = [], []
        for p in summary["programs"]:
            v = p["results"].get(a, {})
            ys.append(v.get(key) or 0.0)
            noisy.append(bool(v.get("noisy")) and key == "time_ratio")
        ys.append(summary["geomean"][a][key] or 0.0)
        noisy.append(False)
        top = max([top] + ys)
        xs = [i + (k - (len(allocs) - 1) / 2) * width for i in range(len(groups))]
        ours = a == "concordarena"
        drawn = ax.bar(xs, ys, width, label=a, color=COLORS.get(a),
                       edgecolor="black" if ours else None, linewidth=0.6 if ours else 0)
        for b, y, n in zip(drawn, ys, noisy):
            if n:
                b.set_hatch("///")
            if ours or y >= 2.0:
                ax.annotate(f"{y:.2f}", (b.get_x() + b.get_width() / 2, y), ha="center",
                            va="bottom", fontsize=7, rotation=90 if not ours else 0)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axvline(len(groups) - 1.5, color="#bbbbbb", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_yscale("log")
    lo = 0.5
    ax.set_ylim(lo, top * 1.6)
    ticks = [t for t in (0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 12, 20) if t <= top * 1.6]
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)


def chart(summary, png):
    plt = pyplot()
    ipp = summary.get("instructions_per_pair") or {}
    rows = 3 if ipp else 2
    fig = plt.figure(figsize=(13, 11 if ipp else 8.5))
    grid = fig.add_gridspec(rows, 1, height_ratios=[3, 3, 1.6][:rows])
    ax_t = fig.add_subplot(grid[0])
    ax_m = fig.add_subplot(grid[1])
    meta = summary["meta"]
    bars(ax_t, summary, "time_ratio", "time / best peer's time\n(lower is better; log scale)")
    bars(ax_m, summary, "rss_ratio", "peak RSS / best peer's\n(lower is better; log scale)")
    ax_t.set_title("Time, ratio to the best of glibc, jemalloc, mimalloc, tcmalloc "
                   "(hatched: rounds spread > "
                   f"{summary['noise']:.0%})", fontsize=10)
    ax_m.set_title("Peak RSS, ratio to the smallest of the peers", fontsize=10)
    from matplotlib.patches import Patch
    handles = [Patch(facecolor=COLORS.get(a), edgecolor="black" if a == "concordarena" else
                     "none", label=a) for a in summary["allocators"]]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="///",
                         label=f"noisy (spread > {summary['noise']:.0%})"))
    ax_t.legend(handles=handles, ncol=len(handles), fontsize=8, loc="upper left")
    if ipp:
        ax_i = fig.add_subplot(grid[2])
        names = [a for a in summary["allocators"] if a in ipp]
        vals = [ipp[a] for a in names]
        b = ax_i.barh(names, vals, color=[COLORS.get(a) for a in names])
        for r, v in zip(b, vals):
            ax_i.annotate(f"{v:.1f}", (v, r.get_y() + r.get_height() / 2), va="center",
                          fontsize=8, xytext=(3, 0), textcoords="offset points")
        ax_i.invert_yaxis()
        ax_i.set_xlim(0, max(vals) * 1.15)
        ax_i.set_xlabel("instructions per malloc+free pair (callgrind, bench_malloc batch 1 "
                        "2000000, whole program / 2,000,000; lower is better)")
        ax_i.grid(True, axis="x", alpha=0.3)
    fig.suptitle(f"bench/run_peers.sh: seven workload shapes under each allocator (LD_PRELOAD)\n"
                 f"{meta.get('rounds', '?')} rounds interleaved, median; scale "
                 f"{meta.get('scale', '?')}; {meta.get('host_cpus', '?')} CPUs, shared VM; "
                 f"{meta.get('date', '')[:10]}", fontsize=11)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("summary", help="summary.json from peers_summary.py")
    ap.add_argument("--png", required=True, help="chart to write")
    args = ap.parse_args()
    pyplot()  # before anything else: a re-execution starts over
    with open(args.summary, encoding="utf-8") as f:
        summary = json.load(f)
    chart(summary, args.png)
    print(f"chart written to {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
