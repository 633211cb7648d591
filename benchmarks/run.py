"""Side-by-side training steps, each library alone in its own fresh process.

In one process two libraries' thread pools fight over the cores (OpenBLAS's
workers keep spinning after a numpy call and slow torch down), so in-process
ratios flatter whichever side ran second. Here every (case, library) pair runs
in a fresh process (``solo_cases.py``), the libraries alternate A/B/B/A over
``--rounds`` rounds, each process reports the best of its timed blocks, and the
table shows the median of those per-process bests with their spread (min-max)
and the machine's load average before and after. ``ratio`` = torch time /
trainkit time (above 1: trainkit faster). JAX (+ optax) is a third column when
importable by ``--jax-python`` (default: this interpreter).

    python benchmarks/run.py [--cases cnn,transformer] [--rounds 5] [--markdown]

Rows are appended as JSON lines to ``benchmarks/results/run.jsonl``. The
``train`` case is the wall time of ``python -m trainkit train`` (the default
job) in a scratch directory, trainkit only; its row records whether torch is
importable there (``torch_installed``: the figure the README quotes is with
torch installed, which is what used to cost a second through tensorboardX).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# case: (description, steps per block, blocks, warm-up steps)
CASES = {
    "mlp": ("MLP 784-256-256-10, batch 128, Adam step", 100, 5, 150),
    "cnn": ("CIFAR-10 CNN (3 conv 5x5 + maxpool), batch 64, SGD momentum step", 5, 5, 3),
    "transformer": ("transformer block (Embedding 5000x256, LN, MLP 1024, GELU, CE over 5000), b32x64, AdamW",
                    3, 5, 2),
    "train": ("`python -m trainkit train` default job, wall", 1, 1, 0),
}


def _importable(python, module):
    probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True)
    return probe.returncode == 0


def _child(python, case, lib):
    """Per-step seconds of each timed block, from one fresh process."""
    if case == "train":
        with tempfile.TemporaryDirectory() as cwd:
            start = time.perf_counter()
            subprocess.run([python, "-m", "trainkit", "train"], cwd=cwd, check=True, capture_output=True)
            return [time.perf_counter() - start]
    _, steps, repeat, warmup = CASES[case]
    out = subprocess.run([python, os.path.join(HERE, "solo_cases.py"), case, lib, str(steps), str(repeat),
                          str(warmup)], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["times"]


def measure(case, libs, rounds):
    """{lib: [best seconds per process]} with the libraries alternating A/B then B/A."""
    bests = {lib: [] for lib, _ in libs}
    for r in range(rounds):
        for lib, python in (libs if r % 2 == 0 else libs[::-1]):
            bests[lib].append(min(_child(python, case, lib)))
    return bests


def summarize(case, bests, load_before):
    row = {"case": case, "description": CASES[case][0], "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "machine": platform.node(), "cpus": os.cpu_count(),
           "load_before": load_before, "load_after": os.getloadavg()[0]}
    for lib, values in bests.items():
        med = statistics.median(values)
        row[lib] = {"median_s": med, "min_s": min(values), "max_s": max(values),
                    "spread": (max(values) - min(values)) / med, "processes": len(values)}
    tk = row["trainkit"]["median_s"]
    for ref in ("torch", "jax"):
        if ref in row:
            row[f"{ref}_ratio"] = row[ref]["median_s"] / tk
    return row


def _ms(entry):
    if entry is None:
        return "-"
    unit, scale = ("s", 1) if entry["median_s"] >= 1 else ("ms", 1e3)
    return f"{entry['median_s'] * scale:.3g} {unit} (±{entry['spread'] * 50:.0f}%)"


def markdown(rows):
    lines = ["| case | trainkit | torch | JAX | torch/trainkit | JAX/trainkit | load |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        ratios = [f"{row[k]:.2f}x" if k in row else "-" for k in ("torch_ratio", "jax_ratio")]
        lines.append(f"| {row['description']} | {_ms(row['trainkit'])} | {_ms(row.get('torch'))} | "
                     f"{_ms(row.get('jax'))} | {ratios[0]} | {ratios[1]} | "
                     f"{row['load_before']:.1f}-{row['load_after']:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="mlp,cnn,transformer,train")
    parser.add_argument("--rounds", type=int, default=5, help="processes per library and case")
    parser.add_argument("--libs", default="trainkit,torch,jax")
    parser.add_argument("--jax-python", default=sys.executable, help="interpreter with jax and optax")
    parser.add_argument("--markdown", action="store_true", help="print the README table at the end")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "run.jsonl"))
    args = parser.parse_args(argv)
    wanted = args.libs.split(",")
    libs = [("trainkit", sys.executable)]
    if "torch" in wanted and _importable(sys.executable, "torch"):
        libs.append(("torch", sys.executable))
    if "jax" in wanted and _importable(args.jax_python, "jax, optax"):
        libs.append(("jax", args.jax_python))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    rows = []
    for case in args.cases.split(","):
        case_libs = libs[:1] if case == "train" else libs
        load = os.getloadavg()[0]
        row = summarize(case, measure(case, case_libs, args.rounds), load)
        if case == "train":
            row["torch_installed"] = _importable(sys.executable, "torch")
        rows.append(row)
        print(json.dumps(row), flush=True)
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
    if args.markdown:
        print(markdown(rows))
    return rows


if __name__ == "__main__":
    main()
