#!/usr/bin/env python3
"""Summarise ConcordArena JSON statistics dumps and chart them.

    scripts/stats_report.py DUMPS.jsonl [MORE.jsonl ...] [--png chart.png]

Each input holds one JSON dump per line (CONCORD_ARENA_STATS_FORMAT=json, from
SIGUSR1, CONCORD_ARENA_STATS_AT_EXIT=1 or malloc_stats), taken over time; '-'
reads standard input. Prints a summary of the last dump (per process when the
file holds several processes) and, with --png, writes a chart: the size
distribution of the last dump as bars, and bytes in use over the series of
dumps as a line. Needs only the Python standard library.
"""
import argparse
import json
import struct
import sys
import zlib

# ---- a tiny raster: RGB canvas, rectangles, lines, a 5x7 font ----

FONT = {
    '0': "01110100011001110101110011000101110", '1': "00100011000010000100001000010001110",
    '2': "01110100010000100010001000100011111", '3': "11111000100010000010000011000101110",
    '4': "00010001100101010010111110001000010", '5': "11111100001111000001000011000101110",
    '6': "00110010001000011110100011000101110", '7': "11111000010001000100010000100001000",
    '8': "01110100011000101110100011000101110", '9': "01110100011000101111000010001001100",
    'K': "10001100101010011000101001001010001", 'M': "10001110111010110101100011000110001",
    'G': "01110100011000010111100011000101111", 'B': "11110100011000111110100011000111110",
    '<': "00010001000100010000010000010000010", '=': "00000000001111100000111110000000000",
    '>': "01000001000001000001000100010001000", ' ': "0" * 35,
    'a': "00000000000111000001011111000101111", 'b': "10000100001011011001100011000111110",
    'c': "00000000000111010000100001000101110", 'd': "00001000010110110011100011000101111",
    'e': "00000000000111010001111111000001110", 'i': "00100000000110000100001000010001110",
    'l': "01100001000010000100001000010001110", 'n': "00000000001011011001100011000110001",
    'o': "00000000000111010001100011000101110", 'p': "00000000001111010001111101000010000",
    'r': "00000000001011011001100001000010000", 's': "00000000000111010000011100000111110",
    't': "01000010001110001000010000100100110", 'u': "00000000001000110001100011001101101",
    'y': "00000000001000110001011110000101110", 'z': "00000000001111100010001000100011111",
    'm': "00000000001101010101101011000110001", 'v': "00000000001000110001100010101000100",
    'x': "00000000001000101010001000101010001", 'h': "10000100001011011001100011000110001",
    'g': "00000011111000110001011110000101110", 'k': "10000100001001010100110001010010010",
    'w': "00000000001000110001101011010101010", 'f': "00110010010100011100010000100001000",
    'A': "01110100011000111111100011000110001", ',': "00000000000000000000011000010001000",
    '.': "00000000000000000000000000110001100", '(': "00010001000100001000010000010000010",
    ')': "01000001000001000010000100010001000", ':': "00000011000110000000011000110000000",
    '-': "00000000000000011111000000000000000",
}


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def dot(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(c)

    def rect(self, x0, y0, x1, y1, c):
        for y in range(max(0, y0), min(self.h, y1)):
            for x in range(max(0, x0), min(self.w, x1)):
                self.dot(x, y, c)

    def line(self, x0, y0, x1, y1, c):
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for s in range(steps + 1):
            x = x0 + (x1 - x0) * s // steps
            y = y0 + (y1 - y0) * s // steps
            self.dot(x, y, c)
            self.dot(x, y + 1, c)

    def text(self, x, y, s, c=(0, 0, 0)):
        for ch in s:
            glyph = FONT.get(ch, FONT[' '])
            for gy in range(7):
                for gx in range(5):
                    if glyph[gy * 5 + gx] == '1':
                        self.dot(x + gx, y + gy, c)
            x += 6

    def png(self):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(kind, data):
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h,
                                                                   8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


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
            if "total" in d and "concordarena" in d:
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


def chart(dumps, path):
    last = dumps[-1]
    pid = last.get("pid")
    series = [d for d in dumps if d.get("pid") == pid]
    names = last["size_bucket_names"]
    counts = last["total"]["size_buckets"]
    c = Canvas(760, 520)
    c.text(10, 8, f"size distribution (allocations), pid {pid}")
    top = max(counts) or 1
    x0, y0, plot_h = 40, 30, 180
    bw = 42
    for i, n in enumerate(counts):
        h = int(plot_h * n / top)
        c.rect(x0 + i * bw, y0 + plot_h - h, x0 + i * bw + bw - 6, y0 + plot_h, (60, 110, 200))
        c.text(x0 + i * bw, y0 + plot_h + 6, names[i].replace("<=", ""))
    c.line(x0 - 2, y0 + plot_h, x0 + 16 * bw, y0 + plot_h, (0, 0, 0))
    c.text(x0 - 30, y0, human(top))
    # in use over the series
    uses = [d["total"]["in_use"] for d in series]
    gy0, gh = 290, 190
    c.text(10, gy0 - 22, f"bytes in use over {len(uses)} dump(s)")
    c.line(x0, gy0 + gh, x0 + 680, gy0 + gh, (0, 0, 0))
    c.line(x0, gy0, x0, gy0 + gh, (0, 0, 0))
    hi = max(max(uses), 1)
    c.text(x0 - 34, gy0, human(hi))
    pts = []
    for i, u in enumerate(uses):
        x = x0 + (680 * i // max(len(uses) - 1, 1))
        y = gy0 + gh - int(gh * max(u, 0) / hi)
        pts.append((x, y))
    if len(pts) == 1:
        c.rect(pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 3, pts[0][1] + 3, (200, 60, 60))
    for (ax, ay), (bx, by) in zip(pts, pts[1:]):
        c.line(ax, ay, bx, by, (200, 60, 60))
    with open(path, "wb") as f:
        f.write(c.png())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="files of JSON dumps, one per line ('-': stdin)")
    ap.add_argument("--png", help="write a chart to this PNG file")
    args = ap.parse_args()
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
