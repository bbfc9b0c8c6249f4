#!/usr/bin/env python3
"""The table and plot of scripts/study-papers-claims.sh from the runs it made (any subset: missing columns print -).

    scripts/papers-claims-table.py RUNS_FOLDER "STEPS x BATCH x LENGTH"

Prints a Markdown table (one row per cell: path, compression, WikiText-2 perplexity before and after recovery, mean
zero-shot accuracy with its standard error, latency against the dense model) and writes RUNS_FOLDER/perplexity.svg:
perplexity (log scale) against compression, one line per method, solid before recovery and dashed after.
"""
import json
import math
import os
import sys

root, budget = sys.argv[1], sys.argv[2]
METHODS = ["mop", "mop-kl", "width", "depth", "amp", "random-1", "random-2", "random-3", "reversed"]
COLOURS = ["#1f77b4", "#17becf", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def load(path):
    return json.load(open(path)) if os.path.exists(path) else None


def task_mean(evaluation):
    """Mean accuracy over the tasks and its standard error (the tasks' errors combined as independent)."""
    tasks = (evaluation or {}).get("tasks") or {}
    if not tasks:
        return None
    accs = [t["acc"] for t in tasks.values()]
    errors = [t["acc_stderr"] for t in tasks.values()]
    return sum(accs) / len(accs), math.sqrt(sum(e * e for e in errors)) / len(errors), min(t["n"] for t in tasks.values())


def fmt(value, pattern="%.2f"):
    return "-" if value is None else pattern % value


cells = []
for folder in sorted(os.listdir(root)):
    report = load(os.path.join(root, folder, "report.json"))
    if report is None:
        continue
    target, method = folder.split("-", 1)
    evaluation = load(os.path.join(root, folder, "eval.json"))
    recovered = load(os.path.join(root, folder, "recovered-eval.json"))
    latency = load(os.path.join(root, folder, "latency.json"))
    cells.append({
        "target": float(target), "method": method, "path": report.get("path") or "-",
        "compression": report["compression"],
        "ppl": evaluation and evaluation.get("perplexity"), "recovered": recovered and recovered.get("perplexity"),
        "tasks": task_mean(evaluation), "recovered_tasks": task_mean(recovered),
        "latency": latency and latency["ratio"]["latency_seconds"],
        "latency_range": latency and (latency["ratio"]["latency_seconds_min"], latency["ratio"]["latency_seconds_max"]),
    })
cells.sort(key=lambda c: (c["target"], METHODS.index(c["method"]) if c["method"] in METHODS else 99))

dense = load(os.path.join(root, "dense", "eval.json"))
print(f"LoRA recovery budget: {budget} tokens (steps x batch x length), the same for every cell.\n")
print("| target | method | path | compression | WikiText-2 ppl | after recovery | zero-shot acc (rows) | after recovery | latency / dense |")
print("|---:|---|---|---:|---:|---:|---:|---:|---:|")


def tasks_cell(value):
    return "-" if value is None else "%.3f ± %.3f (%d)" % value


if dense:
    print(f"| 0 | dense | - | 0 | {fmt(dense.get('perplexity'))} | - | {tasks_cell(task_mean(dense))} | - | 1 |")
for c in cells:
    latency = "-" if c["latency"] is None else "%.3f (%.3f-%.3f)" % ((c["latency"],) + c["latency_range"])
    print(f"| {c['target']:.0%} | {c['method']} | {c['path']} | {c['compression']:.2%} | {fmt(c['ppl'])} | "
          f"{fmt(c['recovered'])} | {tasks_cell(c['tasks'])} | {tasks_cell(c['recovered_tasks'])} | {latency} |")

# The plot: hand-written SVG (no plotting library on the machine), log-scale perplexity.
points = [(c["compression"], c[key]) for c in cells for key in ("ppl", "recovered") if c[key]]
if dense and dense.get("perplexity"):
    points.append((0.0, dense["perplexity"]))
if points:
    width, height, left, bottom, top, right = 640, 400, 60, 40, 20, 150
    x_max = max(0.45, max(p[0] for p in points))
    y_lo = math.floor(math.log10(min(p[1] for p in points)))
    y_hi = math.ceil(math.log10(max(p[1] for p in points)))
    y_hi = max(y_hi, y_lo + 1)

    def sx(x):
        return left + (width - left - right) * x / x_max

    def sy(y):
        return top + (height - top - bottom) * (1 - (math.log10(y) - y_lo) / (y_hi - y_lo))

    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for decade in range(y_lo, y_hi + 1):
        y = sy(10 ** decade)
        svg.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">1e{decade}</text>')
    for tick in (0, 0.1, 0.2, 0.3, 0.4):
        svg.append(f'<text x="{sx(tick):.1f}" y="{height - bottom + 16}" text-anchor="middle">{tick:.0%}</text>')
    svg.append(f'<text x="{(left + width - right) / 2}" y="{height - 6}" text-anchor="middle">compression (all parameters)</text>')
    svg.append(f'<text x="14" y="{(top + height - bottom) / 2}" transform="rotate(-90 14 {(top + height - bottom) / 2})" '
               'text-anchor="middle">WikiText-2 perplexity</text>')
    legend_y = top
    for method, colour in zip(METHODS, COLOURS):
        for key, dash in (("ppl", ""), ("recovered", ' stroke-dasharray="5,3"')):
            line = [(c["compression"], c[key]) for c in cells if c["method"] == method and c[key]]
            if dense and dense.get("perplexity") and line:
                line = [(0.0, dense["perplexity"])] + line
            if len(line) < 2:
                continue
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in line)
            svg.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>')
            for x, y in line[1:]:
                svg.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{colour}"/>')
        if any(c["method"] == method for c in cells):
            svg.append(f'<line x1="{width - right + 10}" y1="{legend_y}" x2="{width - right + 30}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/>')
            svg.append(f'<text x="{width - right + 35}" y="{legend_y + 4}">{method}</text>')
            legend_y += 16
    svg.append(f'<text x="{width - right + 10}" y="{legend_y + 8}">solid: pruned</text>')
    svg.append(f'<text x="{width - right + 10}" y="{legend_y + 24}">dashed: recovered</text>')
    svg.append("</svg>")
    open(os.path.join(root, "perplexity.svg"), "w").write("\n".join(svg) + "\n")
    print(f"\nPlot: {os.path.join(root, 'perplexity.svg')}")
