#!/usr/bin/env python3
"""Turns `fusion bench --json` output files into the Markdown tables of Docs/benchmarks.md.

    python3 Tools/bench_table.py ops.json models.json ...

One table per input file: a row per case, a column group per backend (median ms, GFLOP/s,
GB/s, share of the roofline and which roof), with the devices and their peaks above it.
"""
import json
import sys


def fmt(x, digits=1):
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def table(report):
    lines = []
    for d in report["devices"]:
        p = d.get("peak") or {}
        lines.append(f"- {d['backend']}: {d['name']}; peak {fmt(p.get('gflops'))} GFLOP/s, {fmt(p.get('gbps'))} GB/s ({p.get('method', 'not measured')})")
    lines.append("")
    backends = [d["backend"] for d in report["devices"]]
    header = ["case", "size", "GFLOP", "MB"]
    for b in backends:
        header += [f"{b} ms", f"{b} GFLOP/s", f"{b} GB/s", f"{b} share of peak"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    cases = {}
    for r in report["results"]:
        cases.setdefault((r["name"], r["size"]), {})[r["backend"]] = r
    for (name, size), per in cases.items():
        any_r = next(iter(per.values()))
        row = [name, size, f"{any_r['gflop']:.3f}", f"{any_r['gbytes'] * 1000:.1f}"]
        for b in backends:
            r = per.get(b)
            if r is None:
                row += ["-"] * 4
                continue
            share = r.get("peak_share")
            row += [fmt(r["median_ms"], 2), fmt(r["gflops"]), fmt(r["gbps"]),
                    "-" if share is None else f"{share * 100:.1f}% ({r.get('bound', '')})"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    for path in sys.argv[1:]:
        with open(path) as f:
            print(table(json.load(f)))
            print()


if __name__ == "__main__":
    main()
