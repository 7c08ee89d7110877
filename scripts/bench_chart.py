#!/usr/bin/env python3
"""Draw bench/run_malloc_bench.sh's results as grouped bars (matplotlib).

    scripts/bench_chart.py RESULTS.txt --png chart.png

RESULTS.txt is what run_malloc_bench.sh prints: a header naming the
allocators, one row per case (million operations per second, median of the
rounds, then the ratios against glibc and jemalloc), and a closing line with
the rounds, N, CPUs and date. Runs itself under /usr/bin/python3 when the
interpreter lacks matplotlib (see stats_report.py).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stats_report import pyplot  # noqa: E402


def parse(path):
    names, rows, note = None, [], ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            tokens = line.split()
            if not tokens:
                continue
            if line.startswith("case (Mops/s)"):
                names = [t for t in tokens[2:] if not t.startswith("ours/")]
            elif line.startswith("("):
                note = line.strip().strip("()")
            elif names and len(tokens) > len(names) + 2:
                k = len(names) + 2
                try:
                    values = [float(v) for v in tokens[-k:-2]]
                except ValueError:
                    continue
                rows.append((" ".join(tokens[:-k]), values))
    if not names or not rows:
        sys.exit(f"{path}: no run_malloc_bench.sh results found")
    return names, rows, note


def chart(names, rows, note, png):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / len(names)
    colors = {"glibc": "#999999", "jemalloc": "#e8a33c", "concordarena": "#3c6ec8",
              "mimalloc": "#5aa469", "tcmalloc": "#c83c3c"}
    for k, name in enumerate(names):
        xs = [i + (k - (len(names) - 1) / 2) * width for i in range(len(rows))]
        ys = [values[k] for _, values in rows]
        bars = ax.bar(xs, ys, width, label=name, color=colors.get(name))
        for b, y in zip(bars, ys):
            ax.annotate(f"{y:.0f}", (b.get_x() + b.get_width() / 2, y), ha="center",
                        va="bottom", fontsize=7)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([label for label, _ in rows])
    ax.set_xlabel("case (x threads)")
    ax.set_ylabel("million operations per second (higher is better)")
    ax.set_title("bench_malloc under each allocator (LD_PRELOAD)" + (f"\n{note}" if note else ""))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="run_malloc_bench.sh output")
    ap.add_argument("--png", required=True, help="chart to write")
    args = ap.parse_args()
    pyplot()  # before anything else: a re-execution starts over
    names, rows, note = parse(args.results)
    chart(names, rows, note, args.png)
    print(f"chart written to {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
