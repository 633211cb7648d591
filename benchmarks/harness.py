"""Side-by-side timing of trainkit against PyTorch, in one process.

Every benchmark script builds ``Case`` objects and hands them to ``run``.
Each case times the trainkit callable and, when torch is importable and the
case has one, the PyTorch callable, interleaving their repeats so that both
see the same machine noise. One row per case is printed:

    case | trainkit | reference | ratio

where ``ratio = reference_time / trainkit_time`` (above 1.0 means trainkit is
faster). Rows are appended as JSON lines to ``--out`` (default
``benchmarks/results/<script>.jsonl``).

Usage inside a script::

    from harness import Case, run, torch_or_none
    run([Case("adam 10M x1", tk_step, torch_step, items=10_000_000)])
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable


def torch_or_none():
    """The torch module when importable (an optional oracle), else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch


@dataclass
class Case:
    """One measurement: a name, a trainkit callable and an optional reference.

    ``items`` (e.g. images or steps per call) adds a throughput column.
    ``setup`` runs once before timing (allocations, JIT warm-up).
    """

    name: str
    trainkit: Callable[[], object]
    reference: Callable[[], object] | None = None
    reference_name: str = "torch"
    items: int | None = None
    number: int | None = None
    sync: Callable[[], None] | None = None
    meta: dict = field(default_factory=dict)


def _time_once(fn, number, sync):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    if sync is not None:
        sync()
    return (time.perf_counter() - start) / number


def _auto_number(fn, sync, budget=0.05):
    """Calls per repeat so that one repeat takes about ``budget`` seconds."""
    fn()
    n = 1
    while True:
        t = _time_once(fn, n, sync) * n
        if t >= budget or n >= 1 << 20:
            return n
        n *= 2 if t == 0 else max(2, min(10, int(budget / max(t, 1e-9))))


def measure(case: Case, repeat: int = 7, warmup: int = 2) -> dict:
    """Median seconds per call for trainkit and the reference, interleaved."""
    fns = [("trainkit", case.trainkit)]
    if case.reference is not None:
        fns.append((case.reference_name, case.reference))
    numbers = {}
    for label, fn in fns:
        for _ in range(warmup):
            fn()
        numbers[label] = case.number or _auto_number(fn, case.sync)
    samples = {label: [] for label, _ in fns}
    for _ in range(repeat):
        for label, fn in fns:
            samples[label].append(_time_once(fn, numbers[label], case.sync))
    tk = statistics.median(samples["trainkit"])
    ref = statistics.median(samples[case.reference_name]) if case.reference is not None else None
    row = {
        "case": case.name,
        "trainkit_s": tk,
        "reference": case.reference_name if ref is not None else None,
        "reference_s": ref,
        "ratio": (ref / tk) if ref else None,
        "items": case.items,
        "trainkit_items_per_s": (case.items / tk) if case.items else None,
        "reference_items_per_s": (case.items / ref) if (case.items and ref) else None,
        **case.meta,
    }
    return row


def fmt_time(seconds):
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} us"


def format_row(row: dict) -> str:
    ratio = f"{row['ratio']:.2f}x" if row["ratio"] else "-"
    return (
        f"{row['case']:<44} {fmt_time(row['trainkit_s']):>12} "
        f"{fmt_time(row['reference_s']):>12} {ratio:>8}"
    )


def run(cases, argv=None, script=None) -> list[dict]:
    """Measure every case, print one row each, append JSON lines; return the rows."""
    script = script or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    parser = argparse.ArgumentParser(description=f"trainkit benchmark: {script}")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", f"{script}.jsonl"))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--filter", default="", help="only cases whose name contains this text")
    args = parser.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    print(f"{'case':<44} {'trainkit':>12} {'reference':>12} {'ratio':>8}   (ratio = reference time / trainkit time)")
    rows = []
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(args.out, "a", encoding="utf-8") as fh:
        for case in cases:
            if args.filter and args.filter not in case.name:
                continue
            row = measure(case, repeat=args.repeat)
            row.update({"script": script, "time": stamp, "machine": platform.node(), "cpus": os.cpu_count()})
            print(format_row(row), flush=True)
            fh.write(json.dumps(row) + "\n")
            rows.append(row)
    return rows
