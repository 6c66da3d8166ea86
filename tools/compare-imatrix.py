#!/usr/bin/env python3
"""Compare two importance-matrix files in llama-imatrix's legacy binary format (.dat).

    tools/compare-imatrix.py OURS.dat THEIRS.dat [--tolerance 1e-4]

Prints entry counts, chunk counts, dataset names, and per entry two relative differences: the largest over
its values, max|a-b|/|b|, and the entry as a whole, ||a-b||/||b|| (L2). Exits 1 when an entry is missing on
either side, sizes or call counts differ, or the chosen metric (--metric value|l2, default value) exceeds the
tolerance for some entry. Standard library only.
"""
import argparse
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def i32():
        nonlocal pos
        if pos + 4 > len(data):
            sys.exit(f"{path}: file ends at offset {pos} while reading an int32")
        v = struct.unpack_from("<i", data, pos)[0]
        pos += 4
        return v

    n = i32()
    entries = {}
    order = []
    for _ in range(n):
        ln = i32()
        name = data[pos:pos + ln].decode("utf-8", "replace")
        pos += ln
        ncall = i32()
        nval = i32()
        vals = struct.unpack_from(f"<{nval}f", data, pos)
        pos += 4 * nval
        entries[name] = (ncall, vals)
        order.append(name)
    chunks = dataset = None
    if pos + 4 <= len(data):
        chunks = i32()
        if pos + 4 <= len(data):
            ln = i32()
            dataset = data[pos:pos + ln].decode("utf-8", "replace")
    return entries, chunks, dataset


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ours")
    ap.add_argument("theirs")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--metric", choices=["value", "l2"], default="value")
    a = ap.parse_args()
    ours, oc, od = read(a.ours)
    theirs, tc, td = read(a.theirs)
    print(f"entries: {len(ours)} vs {len(theirs)}; chunks: {oc} vs {tc}; dataset: {od!r} vs {td!r}")
    bad = 0
    worst = (0.0, None)
    worst_l2 = (0.0, None)
    for name in sorted(set(ours) | set(theirs)):
        if name not in ours or name not in theirs:
            print(f"{name}: only in {'ours' if name in ours else 'theirs'}")
            bad += 1
            continue
        (c1, v1), (c2, v2) = ours[name], theirs[name]
        if c1 != c2 or len(v1) != len(v2):
            print(f"{name}: ncall {c1} vs {c2}, nval {len(v1)} vs {len(v2)}")
            bad += 1
            continue
        rel = max(abs(x - y) / max(abs(y), 1e-30) for x, y in zip(v1, v2))
        l2 = (sum((x - y) ** 2 for x, y in zip(v1, v2)) / max(sum(y * y for y in v2), 1e-300)) ** 0.5
        if rel > worst[0]:
            worst = (rel, name)
        if l2 > worst_l2[0]:
            worst_l2 = (l2, name)
        if (rel if a.metric == "value" else l2) > a.tolerance:
            print(f"{name}: max relative difference {rel:.3g} per value, {l2:.3g} for the entry (L2)")
            bad += 1
    print(f"largest relative difference per value: {worst[0]:.3g} ({worst[1]})")
    print(f"largest relative difference per entry (L2): {worst_l2[0]:.3g} ({worst_l2[1]})")
    print("OK" if bad == 0 else f"{bad} entries differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
