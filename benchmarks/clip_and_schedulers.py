"""Gradient clipping and scheduler stepping, trainkit vs PyTorch (CPU).

Run: ``python benchmarks/clip_and_schedulers.py [--rounds 5]``. ratio = torch time / trainkit time.

Clipping runs each library alone in a fresh process (as ``run.py`` does for
training steps: in one process OpenBLAS's spinning workers and torch's OpenMP
pool take turns on the cores and distort the ratio), alternating the libraries
A/B then B/A over ``--rounds`` rounds; each process reports its best call and
the table shows the median of the per-process bests. The timed region is the
library's own call and nothing else, the same call on both sides:

* ``nothing to clip``: ``clip_grad_norm_(params, 1e9)`` (the norm; torch then
  also multiplies every gradient by 1.0, which trainkit skips as a no-op);
* ``clips``: ``clip_grad_norm_(params, 1.0)``, which scales every gradient; the
  gradients are restored from the same arrays before each call, outside the
  timed region, so every timed call clips.

Single-threaded (each library on one core; the comparison that stays fair on a
machine whose other core is busy): ``OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1 python benchmarks/clip_and_schedulers.py``.

The scheduler case (a pure-Python loop, no thread pool) is timed in this
process with ``harness.py``. Rows are appended to ``benchmarks/results/``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLIP_SETS = {
    "resnet-ish 62 tensors 11M": [(512, 512, 3, 3)] * 4 + [(256,)] * 58,
    "mlp 6 tensors 1M": [(1024, 512), (512,), (512, 1024), (1024,), (10, 1024), (10,)],
}


# --------------------------------------------------------------------------- one library, one process
def _clip_child(lib: str, label: str, calls: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in CLIP_SETS[label]]
    if lib == "torch":
        import torch

        params = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
        sources = [torch.from_numpy(g) for g in grads]
        for p, g in zip(params, sources):
            p.grad = g.clone()
        clip = torch.nn.utils.clip_grad_norm_

        def restore():
            for p, g in zip(params, sources):
                p.grad.copy_(g)
    else:
        from trainkit.nn import Parameter
        from trainkit.nn.utils import clip_grad_norm_ as clip

        params = []
        for g in grads:
            p = Parameter(np.zeros(1, np.float32))
            p.grad = g.copy()
            params.append(p)

        def restore():
            for p, g in zip(params, grads):
                np.copyto(p.grad_array, g)

    out = {}
    for case, max_norm, restoring in (("nothing to clip", 1e9, False), ("clips", 1.0, True)):
        times = []
        for k in range(calls + 5):  # 5 warm-up calls (numba loads its kernels, torch its pool)
            if restoring:
                restore()
            start = time.perf_counter()
            clip(params, max_norm)
            elapsed = time.perf_counter() - start
            if k >= 5:
                times.append(elapsed)
        out[case] = min(times)
    return out


def _spawn(lib: str, label: str, calls: int) -> dict:
    res = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", lib, label, str(calls)],
                         check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def clip_rows(libs: list[str], rounds: int, calls: int) -> list[dict]:
    rows = []
    for label in CLIP_SETS:
        bests: dict = {}
        load = os.getloadavg()[0]
        for r in range(rounds):
            for lib in (libs if r % 2 == 0 else libs[::-1]):
                for case, seconds in _spawn(lib, label, calls).items():
                    bests.setdefault(case, {}).setdefault(lib, []).append(seconds)
        for case, by_lib in bests.items():
            tk = statistics.median(by_lib["trainkit"])
            ref = statistics.median(by_lib["torch"]) if "torch" in by_lib else None
            rows.append({
                "case": f"clip_grad_norm_ {label}, {case}", "trainkit_s": tk, "reference": "torch" if ref else None,
                "reference_s": ref, "ratio": ref / tk if ref else None, "processes": rounds,
                "trainkit_range_s": [min(by_lib["trainkit"]), max(by_lib["trainkit"])],
                "reference_range_s": [min(by_lib["torch"]), max(by_lib["torch"])] if ref else None,
                "load_before": load, "load_after": os.getloadavg()[0],
            })
    return rows


# --------------------------------------------------------------------------- schedulers, in this process
def scheduler_cases(torch):
    """Both sides build 4 one-element parameters, an SGD with a group each and the scheduler, then step it."""
    import numpy as np
    from harness import Case

    from trainkit import optim
    from trainkit.nn import Parameter
    from trainkit.optim import lr_scheduler as L

    def tk_step():
        ps = [Parameter(np.zeros(1, dtype=np.float32)) for _ in range(4)]
        opt = optim.SGD([{"params": [p]} for p in ps], lr=0.1, momentum=0.9)
        sched = L.OneCycleLR(opt, max_lr=0.1, total_steps=1000)
        for _ in range(999):
            sched.step()

    ref = None
    if torch is not None:
        def ref():
            ps = [torch.nn.Parameter(torch.zeros(1)) for _ in range(4)]
            opt = torch.optim.SGD([{"params": [p]} for p in ps], lr=0.1, momentum=0.9)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=1000)
            for _ in range(999):
                sched.step()
    return [Case("OneCycleLR 999 steps, 4 groups", tk_step, ref, items=999)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="processes per library and clipping set")
    parser.add_argument("--calls", type=int, default=30, help="timed calls per process and case")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "clip_and_schedulers.jsonl"))
    parser.add_argument("--child", nargs=3, metavar=("LIB", "SET", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        lib, label, calls = args.child
        print(json.dumps(_clip_child(lib, label, int(calls))))
        return None
    sys.path.insert(0, HERE)
    import warnings

    from harness import format_row, measure, torch_or_none

    torch = torch_or_none()
    libs = ["trainkit"] + (["torch"] if torch is not None else [])
    warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*")
    print(f"{'case':<44} {'trainkit':>12} {'reference':>12} {'ratio':>8}   (ratio = reference time / trainkit time)")
    rows = clip_rows(libs, args.rounds, args.calls)
    for row in rows:
        print(format_row(row), flush=True)
    for case in scheduler_cases(torch):
        row = measure(case)
        print(format_row(row), flush=True)
        rows.append(row)
    stamp = {"script": "clip_and_schedulers", "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
             "machine": platform.node(), "cpus": os.cpu_count()}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({**row, **stamp}) + "\n")
    return rows


if __name__ == "__main__":
    main()
