#!/usr/bin/env python3
"""Summarise bench/run_peers.sh's runs: ratios to the best peer, geometric
means, noisy rounds, instructions per malloc+free pair.

    bench/peers_summary.py RESULTS_DIR [--noise 0.10]

Reads RESULTS_DIR/runs.csv (one row per run), RESULTS_DIR/callgrind.csv and
RESULTS_DIR/meta.txt; writes RESULTS_DIR/summary.json (what peers_chart.py
reads), summary.csv (one row per program and allocator) and table.md (the
tables the README shows), and prints table.md. Standard library only.

For each program and allocator: the median of the timed rounds' times (the
program's own elapsed time) and the median peak RSS of the RSS rounds (the
larger of the kernel's record and the largest resident set `measure` read
while sampling; from runs.csv files without RSS rounds, the kernel's record
ru_maxrss of the timed rounds, which is also kept as rss_record_kib); the
time ratio is that median over the lowest median among the peers (glibc,
jemalloc, mimalloc and tcmalloc, those that ran), the RSS ratio likewise. The same ratio from each allocator's fastest round
is given beside it: on a loaded machine the noise only ever adds time, so
the fastest round is the least disturbed one. A cell is noisy when its times spread (max - min)
by more than --noise of their median. Every run of a program must print the
same checksum: a different one (or a failed run) is reported, and failed
runs are left out of the medians.
"""
import argparse
import csv
import json
import math
import os
import statistics
import sys

OURS = "concordarena"
PEERS = ("glibc", "jemalloc", "mimalloc", "tcmalloc")


def read_meta(path):
    meta = {"allocators": {}, "notes": []}
    if not os.path.exists(path):
        return meta
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip().lstrip("# ")
            if line.startswith("allocator "):
                name, _, where = line[len("allocator "):].partition("=")
                meta["allocators"][name] = where
            elif line.startswith("note "):
                meta["notes"].append(line[len("note "):])
            else:
                for kv in line.split():
                    k, _, v = kv.partition("=")
                    if v:
                        meta[k] = v
    return meta


def geomean(values):
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summarise(results_dir, noise):
    meta = read_meta(os.path.join(results_dir, "meta.txt"))
    runs = []
    with open(os.path.join(results_dir, "runs.csv"), encoding="utf-8") as f:
        runs = list(csv.DictReader(f))
    if not runs:
        sys.exit(f"{results_dir}/runs.csv: no runs")

    allocators, programs = [], []
    for r in runs:
        if r["allocator"] not in allocators:
            allocators.append(r["allocator"])
        if r["program"] not in programs:
            programs.append(r["program"])
    # the peers first, then ours, then any other build named on the command line
    peers = [a for a in PEERS if a in allocators]
    allocators = peers + [a for a in allocators if a not in PEERS]

    summary = {"meta": meta, "allocators": allocators, "peers": peers, "noise": noise,
               "programs": [], "geomean": {}, "instructions_per_pair": {}, "problems": [],
               "rss_sampled": any(r.get("phase") == "rss" for r in runs)}
    for prog in programs:
        every = [r for r in runs if r["program"] == prog]
        rows = [r for r in every if r.get("phase", "time") != "rss"]  # the timed rounds
        sampled = [r for r in every if r.get("phase") == "rss"]
        checksums = {r["checksum"] for r in every if r["status"] == "0" and r["checksum"]}
        entry = {"name": prog, "threads": int(rows[0]["threads"]), "results": {}}
        if len(checksums) > 1:
            summary["problems"].append(f"{prog}: checksums differ between runs: "
                                       + ", ".join(sorted(checksums)))
        for a in allocators:
            mine = [r for r in rows if r["allocator"] == a]
            ok = [r for r in mine if r["status"] == "0" and r["time_s"]]
            mine_s = [r for r in sampled if r["allocator"] == a]
            ok_s = [r for r in mine_s if r["status"] == "0" and r.get("peak_kib")]
            failed = len(mine) - len(ok) + len(mine_s) - len(ok_s)
            if failed:
                summary["problems"].append(f"{prog} under {a}: {failed} of "
                                           f"{len(mine) + len(mine_s)} runs failed")
            if not ok:
                entry["results"][a] = {"failed": failed}
                continue
            times = [float(r["time_s"]) for r in ok]
            record = [int(r["maxrss_kib"]) for r in ok if r["maxrss_kib"]]
            rss = [int(r["peak_kib"]) for r in ok_s] if sampled else record
            flt = [int(r["minflt"]) for r in ok if r.get("minflt")]
            cpu = [float(r["cpu_s"]) for r in ok if r.get("cpu_s")]
            med = statistics.median(times)
            spread = (max(times) - min(times)) / med if med > 0 else 0.0
            entry["results"][a] = {
                "time_s": med, "time_min_s": min(times), "times": times, "spread": spread,
                "noisy": spread > noise,
                "rss_kib": statistics.median(rss) if rss else None, "rss": rss,
                "rss_record_kib": statistics.median(record) if record else None,
                "minflt": statistics.median(flt) if flt else None,
                "cpu_s": statistics.median(cpu) if cpu else None,
                "others": [float(r["others"]) for r in ok
                           if r.get("others") not in (None, "") and float(r["others"]) >= 0],
                "load1": [float(r["load1"]) for r in ok if r.get("load1")],
                "failed": failed,
            }
        res = entry["results"]
        best_t = min((res[p]["time_s"] for p in peers if "time_s" in res.get(p, {})), default=None)
        best_tm = min((res[p]["time_min_s"] for p in peers if "time_s" in res.get(p, {})),
                      default=None)
        best_m = min((res[p]["rss_kib"] for p in peers if res.get(p, {}).get("rss_kib")),
                     default=None)
        best_r = min((res[p]["rss_record_kib"] for p in peers
                      if res.get(p, {}).get("rss_record_kib")), default=None)
        entry["best_time_s"], entry["best_rss_kib"] = best_t, best_m
        entry["best_time_min_s"] = best_tm
        best_c = min((res[p]["cpu_s"] for p in peers if res.get(p, {}).get("cpu_s")),
                     default=None)
        entry["best_cpu_s"] = best_c
        # Paired by round: each run's time over the best peer's in the same
        # round (the allocators of a round run back to back), then the
        # median over rounds: a slow spell of the machine that spans a few
        # rounds moves both sides of a ratio alike.
        by_round = {}
        for r in rows:
            if r["status"] == "0" and r["time_s"]:
                by_round.setdefault(r["round"], {})[r["allocator"]] = float(r["time_s"])
        best_by_round = [(t, min((t[p] for p in peers if p in t), default=None))
                         for t in by_round.values()]
        for a, v in res.items():
            paired = [t[a] / best for t, best in best_by_round if a in t and best]
            v["paired_ratio"] = statistics.median(paired) if paired else None
        for a, v in res.items():
            if "time_s" in v:
                v["time_ratio"] = v["time_s"] / best_t if best_t else None
                v["time_min_ratio"] = v["time_min_s"] / best_tm if best_tm else None
                v["cpu_ratio"] = v["cpu_s"] / best_c if best_c and v["cpu_s"] else None
                v["rss_ratio"] = v["rss_kib"] / best_m if best_m and v["rss_kib"] else None
                v["rss_record_ratio"] = (v["rss_record_kib"] / best_r
                                         if best_r and v["rss_record_kib"] else None)
        summary["programs"].append(entry)

    for a in allocators:
        cells = [p["results"].get(a, {}) for p in summary["programs"]]
        summary["geomean"][a] = {
            "time_ratio": geomean([c.get("time_ratio") for c in cells]),
            "time_min_ratio": geomean([c.get("time_min_ratio") for c in cells]),
            "paired_ratio": geomean([c.get("paired_ratio") for c in cells]),
            "cpu_ratio": geomean([c.get("cpu_ratio") for c in cells]),
            "rss_ratio": geomean([c.get("rss_ratio") for c in cells]),
            "rss_record_ratio": geomean([c.get("rss_record_ratio") for c in cells]),
        }

    cg = os.path.join(results_dir, "callgrind.csv")
    if os.path.exists(cg):
        with open(cg, encoding="utf-8") as f:
            for r in csv.DictReader(f):
                summary["instructions_per_pair"][r["allocator"]] = float(r["per_pair"])
    cs = os.path.join(results_dir, "callgrind_shapes.csv")
    per_prog = {}
    if os.path.exists(cs):
        with open(cs, encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if r["collected"] and r["ops"]:
                    d = per_prog.setdefault(r["program"], {"threads": int(r["threads"]),
                                                           "scale": r["scale"], "per_op": {}})
                    d["per_op"][r["allocator"]] = int(r["collected"]) / int(r["ops"])
    for prog, d in per_prog.items():
        best = min((d["per_op"][p] for p in peers if p in d["per_op"]), default=None)
        d["ratio"] = {a: v / best if best else None for a, v in d["per_op"].items()}
    summary["instructions_per_op"] = per_prog
    summary["instructions_geomean"] = {
        a: geomean([d["ratio"].get(a) for d in per_prog.values()]) for a in allocators
    } if per_prog else {}
    return summary


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def table(summary):
    allocs = summary["allocators"]
    out = []
    meta = summary["meta"]
    noisy = []
    rss_kind = ("Peak RSS (the larger of the kernel's record and the largest resident set "
                f"read every {meta.get('rss_sample_us', '?')} µs, in rounds of their own)"
                if summary.get("rss_sampled") else "Peak RSS (ru_maxrss)")
    for kind, key in (("Time", "time_ratio"), ("CPU time (user + system)", "cpu_ratio"),
                      (rss_kind, "rss_ratio")):
        best = {"time_ratio": "best_time_s", "cpu_ratio": "best_cpu_s",
                "rss_ratio": "best_rss_kib"}[key]
        unit = "best peer (MiB)" if key == "rss_ratio" else "best peer (s)"
        star = {"time_ratio": f"; in parentheses the same from each allocator's fastest round; "
                              f"* = times spread by more than {summary['noise']:.0%} between "
                              "rounds",
                "cpu_ratio": "; the time the program's threads were on a CPU, which waiting "
                             "for a CPU does not inflate (prodcons's waiting loops do)",
                "rss_ratio": ""}[key]
        n = (meta.get("rss_rounds", "?") if key == "rss_ratio" and summary.get("rss_sampled")
             else meta.get("rounds", "?"))
        out.append(f"**{kind}, ratio to the best peer** (median of {n} rounds; lower is "
                   f"better{star})\n")
        out.append("| program | threads | " + " | ".join(allocs) + f" | {unit} |")
        out.append("|---|---:|" + "---:|" * len(allocs) + "---:|")
        for p in summary["programs"]:
            cells = []
            for a in allocs:
                v = p["results"].get(a, {})
                c = fmt(v.get(key))
                if key == "time_ratio" and v.get("noisy"):
                    c += "*"
                    noisy.append(f"{p['name']}/{a} ({v['spread']:.0%})")
                if key == "time_ratio" and v.get("time_min_ratio") is not None:
                    c += f" ({fmt(v['time_min_ratio'])})"
                if key == "time_ratio" and v.get("failed"):
                    c += f" ({v['failed']} failed)"
                cells.append(c)
            b = p.get(best)
            b = fmt(b / 1024 if b else None, 1) if key == "rss_ratio" else fmt(b)
            out.append(f"| {p['name']} | {p['threads']} | " + " | ".join(cells) + f" | {b} |")
        g = [fmt(summary["geomean"][a][key]) for a in allocs]
        if key == "time_ratio":
            g = [f"{x} ({fmt(summary['geomean'][a]['time_min_ratio'])})" for x, a in zip(g, allocs)]
        out.append("| **geometric mean** | | " + " | ".join(f"**{x}**" for x in g) + " | |")
        out.append("")
        if key == "rss_ratio" and summary.get("rss_sampled"):
            out.append("The kernel's record of the peak (ru_maxrss, median of the timed rounds; "
                       "it can miss a batch of pages per CPU), geometric mean of the same "
                       "ratios: " + ", ".join(
                           f"{a} {fmt(summary['geomean'][a].get('rss_record_ratio'))}"
                           for a in allocs) + ".\n")
    out.append("**Time paired by round** (each run's time over the best peer's time in the same "
               "round, median over the rounds: the allocators of a round run back to back, so a "
               "slow spell of the machine moves both sides of each ratio)\n")
    out.append("| program | threads | " + " | ".join(allocs) + " |")
    out.append("|---|---:|" + "---:|" * len(allocs))
    for p in summary["programs"]:
        cells = [fmt(p["results"].get(a, {}).get("paired_ratio")) for a in allocs]
        out.append(f"| {p['name']} | {p['threads']} | " + " | ".join(cells) + " |")
    g = [fmt(summary["geomean"][a].get("paired_ratio")) for a in allocs]
    out.append("| **geometric mean** | | " + " | ".join(f"**{x}**" for x in g) + " |")
    out.append("")
    out.append("**Minor page faults** (thousands, median of the rounds; ru_minflt)\n")
    out.append("| program | " + " | ".join(allocs) + " |")
    out.append("|---|" + "---:|" * len(allocs))
    for p in summary["programs"]:
        vals = [p["results"].get(a, {}).get("minflt") for a in allocs]
        out.append(f"| {p['name']} | " + " | ".join(fmt(v / 1000 if v is not None else None, 1)
                                                   for v in vals) + " |")
    out.append("")
    ipp = summary["instructions_per_pair"]
    if ipp:
        out.append("**Instructions per malloc+free pair** (callgrind, `bench_malloc batch 1 "
                   "2000000`, Collected / 2,000,000, whole program)\n")
        out.append("| " + " | ".join(a for a in allocs if a in ipp) + " |")
        out.append("|" + "---:|" * len([a for a in allocs if a in ipp]))
        out.append("| " + " | ".join(fmt(ipp[a], 1) for a in allocs if a in ipp) + " |")
        out.append("")
    ipo = summary.get("instructions_per_op") or {}
    if ipo:
        out.append("**Instructions per operation, ratio to the best peer** (callgrind, whole "
                   "program, at the scale shown; the best peer's count per operation in the "
                   "last column)\n")
        out.append("| program | threads | scale | " + " | ".join(allocs) + " | best peer |")
        out.append("|---|---:|---:|" + "---:|" * len(allocs) + "---:|")
        for prog, d in ipo.items():
            best = min((d["per_op"][p] for p in summary["peers"] if p in d["per_op"]),
                       default=None)
            out.append(f"| {prog} | {d['threads']} | {d['scale']} | "
                       + " | ".join(fmt(d["ratio"].get(a)) for a in allocs)
                       + f" | {fmt(best, 0)} |")
        g = summary["instructions_geomean"]
        out.append("| **geometric mean** | | | " + " | ".join(f"**{fmt(g.get(a))}**"
                                                           for a in allocs) + " | |")
        out.append("")
    out.append(f"Noisy cells: {', '.join(noisy) if noisy else 'none'}.")
    busy = {a: [x for p in summary["programs"] for x in p["results"].get(a, {}).get("others", [])]
            for a in allocs}
    if any(busy.values()):
        out.append("Share of the machine's CPU time used by other processes during the runs "
                   "(mean per allocator): "
                   + ", ".join(f"{a} {statistics.mean(v):.0%}" for a, v in busy.items() if v)
                   + ".")
    for n in meta.get("notes", []):
        out.append(f"Note: {n}.")
    for pr in summary["problems"]:
        out.append(f"PROBLEM: {pr}.")
    return "\n".join(out) + "\n"


def write_csv(summary, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["program", "threads", "allocator", "time_s", "time_ratio", "time_min_s",
                    "time_min_ratio", "spread", "noisy", "cpu_s", "cpu_ratio", "rss_kib",
                    "rss_ratio", "rss_record_kib", "rss_record_ratio", "minflt", "failed"])
        for p in summary["programs"]:
            for a in summary["allocators"]:
                v = p["results"].get(a, {})
                w.writerow([p["name"], p["threads"], a, v.get("time_s"), v.get("time_ratio"),
                            v.get("time_min_s"), v.get("time_min_ratio"), v.get("spread"),
                            v.get("noisy"), v.get("cpu_s"), v.get("cpu_ratio"),
                            v.get("rss_kib"), v.get("rss_ratio"), v.get("rss_record_kib"),
                            v.get("rss_record_ratio"), v.get("minflt"), v.get("failed")])
        for a in summary["allocators"]:
            g = summary["geomean"][a]
            w.writerow(["geomean", "", a, "", g["time_ratio"], "", g["time_min_ratio"], "", "",
                        "", g["cpu_ratio"], "", g["rss_ratio"], "", g["rss_record_ratio"], "",
                        ""])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="a bench/run_peers.sh results folder")
    ap.add_argument("--noise", type=float, default=0.10,
                    help="spread (max - min over median) above which a cell is noisy")
    args = ap.parse_args()
    s = summarise(args.results, args.noise)
    with open(os.path.join(args.results, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(s, f, indent=1)
    write_csv(s, os.path.join(args.results, "summary.csv"))
    t = table(s)
    with open(os.path.join(args.results, "table.md"), "w", encoding="utf-8") as f:
        f.write(t)
    print(t)
    return 1 if s["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
