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


EXTRA = ["#8c5ac8", "#3cb4c8", "#c88c3c", "#555555"]


def color(a):
    """the allocator's colour; builds named on the command line take the next free one"""
    if a not in COLORS:
        COLORS[a] = EXTRA[sum(1 for k in COLORS if k not in ("glibc", "jemalloc", "mimalloc",
                                                              "tcmalloc", "concordarena"))
                          % len(EXTRA)]
    return COLORS[a]


def bars(ax, summary, key, ylabel, dots=None, groups=None, geo=None):
    """Grouped bars of summary's ratios KEY per program and allocator, a
    geometric-mean group last; DOTS: a second ratio drawn as a marker."""
    allocs = summary["allocators"]
    if groups is None:
        rows = [(p["name"], p["results"]) for p in summary["programs"]]
        geo = {a: summary["geomean"][a] for a in allocs}
    else:
        rows = groups
    names = [n for n, _ in rows] + ["geo. mean"]
    width = 0.8 / len(allocs)
    top = 1.0
    for k, a in enumerate(allocs):
        ys, noisy, ds = [], [], []
        for _, res in rows:
            v = res.get(a, {})
            ys.append(v.get(key) or 0.0)
            noisy.append(bool(v.get("noisy")) and key == "time_ratio")
            ds.append(v.get(dots) if dots else None)
        ys.append(geo[a][key] or 0.0)
        noisy.append(False)
        ds.append(geo[a].get(dots) if dots else None)
        top = max([top] + ys + [d for d in ds if d])
        xs = [i + (k - (len(allocs) - 1) / 2) * width for i in range(len(names))]
        ours = a not in ("glibc", "jemalloc", "mimalloc", "tcmalloc")
        drawn = ax.bar(xs, ys, width, label=a, color=color(a),
                       edgecolor="black" if ours else None, linewidth=0.6 if ours else 0)
        if dots:
            ax.plot([x for x, d in zip(xs, ds) if d], [d for d in ds if d], linestyle="none",
                    marker="D", markersize=3.5, color="black")
        for b, y, n in zip(drawn, ys, noisy):
            if n:
                b.set_hatch("///")
            if ours:
                ax.annotate(f"{y:.2f}", (b.get_x() + b.get_width() / 2, y), ha="center",
                            va="bottom", fontsize=7)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axvline(len(names) - 1.5, color="#bbbbbb", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_yscale("log")
    lo = 0.5
    ax.set_ylim(lo, top * 1.6)
    ticks = [t for t in (0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 12, 20, 30) if t <= top * 1.6]
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)


def chart(summary, png):
    plt = pyplot()
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D
    ipp = summary.get("instructions_per_pair") or {}
    ipo = summary.get("instructions_per_op") or {}
    rows = 3 if (ipp or ipo) else 2
    fig = plt.figure(figsize=(13, 12.5 if rows == 3 else 8.5))
    grid = fig.add_gridspec(rows, 3, height_ratios=[3, 3, 2.4][:rows])
    ax_t = fig.add_subplot(grid[0, :])
    ax_m = fig.add_subplot(grid[1, :])
    meta = summary["meta"]
    bars(ax_t, summary, "time_ratio", "time / best peer's time\n(lower is better; log scale)",
         dots="time_min_ratio")
    bars(ax_m, summary, "rss_ratio", "peak RSS / best peer's\n(lower is better; log scale)")
    ax_t.set_title("Time: median of the rounds over the best peer's median (bars), fastest "
                   "round over the best peer's fastest (diamonds)", fontsize=10)
    how = ("read every ms, or the kernel's record if larger" if summary.get("rss_sampled")
           else "ru_maxrss")
    ax_m.set_title(f"Peak RSS ({how}), ratio to the smallest of the peers", fontsize=10)
    handles = [Patch(facecolor=color(a), edgecolor="black" if a == "concordarena" else
                     "none", label=a) for a in summary["allocators"]]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="///",
                         label=f"noisy (spread > {summary['noise']:.0%})"))
    handles.append(Line2D([], [], linestyle="none", marker="D", markersize=4, color="black",
                          label="fastest round"))
    ax_t.legend(handles=handles, ncol=len(handles), fontsize=8, loc="upper left")
    if ipp:
        ax_i = fig.add_subplot(grid[2, 0])
        names = [a for a in summary["allocators"] if a in ipp]
        vals = [ipp[a] for a in names]
        b = ax_i.barh(names, vals, color=[color(a) for a in names])
        for r, v in zip(b, vals):
            ax_i.annotate(f"{v:.1f}", (v, r.get_y() + r.get_height() / 2), va="center",
                          fontsize=8, xytext=(3, 0), textcoords="offset points")
        ax_i.invert_yaxis()
        ax_i.set_xlim(0, max(vals) * 1.2)
        ax_i.set_title("instructions per malloc+free pair\n(callgrind, bench_malloc batch 1 "
                       "2000000)", fontsize=10)
        ax_i.grid(True, axis="x", alpha=0.3)
    if ipo:
        ax_o = fig.add_subplot(grid[2, 1:] if ipp else grid[2, :])
        groups = [(f"{name}", {a: {"ratio": r} for a, r in d["ratio"].items()})
                  for name, d in ipo.items()]
        geo = {a: {"ratio": summary["instructions_geomean"].get(a)}
               for a in summary["allocators"]}
        bars(ax_o, summary, "ratio", "instructions /\nbest peer's", groups=groups, geo=geo)
        ax_o.set_title("instructions per operation, ratio to the best peer (callgrind, "
                       "small scale; barely moved by the load)", fontsize=10)
    others = [x for p in summary["programs"] for v in p["results"].values()
              for x in v.get("others", [])]
    busy = f", other processes used {sum(others) / len(others):.0%} of it" if others else ""
    fig.suptitle(f"bench/run_peers.sh: seven workload shapes under each allocator (LD_PRELOAD)\n"
                 f"{meta.get('rounds', '?')} rounds interleaved; scale "
                 f"{meta.get('scale', '?')}; {meta.get('host_cpus', '?')} CPUs, shared VM "
                 f"(load average {meta.get('load_start', '?')}{busy}); "
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
