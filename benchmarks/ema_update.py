"""One EMA update over 10M parameters: trainkit's AveragedModel vs torch's, each alone in a fresh process.

Both libraries run ``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))``
and time ``update_parameters(model)`` (torch: ``_foreach_lerp_``; trainkit: one
fused pass per contiguous run of the model's arrays, which an element-wise
optimizer lays out in one flat buffer, so the model is stepped once by SGD
first, as in training). Cases: 10 Linear(1000, 1000) layers (20 tensors) and
1,000 Linear(100, 100) layers (2,000 tensors), 10.0M / 10.1M float32 parameters.

Each library runs in its own fresh process (no competing thread pools), the
processes alternate (trainkit, torch, trainkit, ...) for ``--rounds`` rounds,
each process reports its best time per update, and the row shows the median
of those bests (ratio = torch time / trainkit time).

Run: ``python benchmarks/ema_update.py [--rounds 3] [--updates 20]``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from harness import format_row, torch_or_none

CHILD = r"""
import sys, time
lib_name, case, updates = sys.argv[1], sys.argv[2], int(sys.argv[3])
layers, width = {"20 tensors": (10, 1000), "2000 tensors": (1000, 100)}[case]
if lib_name == "torch":
    import torch as lib
    from torch.optim import swa_utils
else:
    import trainkit as lib
    from trainkit.optim import swa_utils
nn = lib.nn
lib.manual_seed(0)
model = nn.Sequential(*[nn.Linear(width, width) for _ in range(layers)])
opt = lib.optim.SGD(model.parameters(), lr=0.0)
for p in model.parameters():
    p.grad = lib.zeros_like(p)
opt.step()  # trainkit: the parameters now view the optimizer's flat buffer (as during training)
ema = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.999))
for _ in range(3):  # the first update copies; then warm-up (kernel compile/load)
    ema.update_parameters(model)
best = float("inf")
for _ in range(5):
    t = time.perf_counter()
    for _ in range(updates):
        ema.update_parameters(model)
    best = min(best, (time.perf_counter() - t) / updates)
print(best)
"""

CASES = ("20 tensors", "2000 tensors")


def child_best(lib: str, case: str, updates: int) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, lib, case, str(updates)],
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "ema_update.jsonl"))
    args = parser.parse_args(argv)
    has_torch = torch_or_none() is not None
    print(f"{'case':<44} {'trainkit':>12} {'reference':>12} {'ratio':>8}   (ratio = torch time / trainkit time)")
    rows = []
    for case in CASES:
        times = {"trainkit": [], "torch": []}
        for _ in range(args.rounds):
            for lib in ("trainkit", "torch") if has_torch else ("trainkit",):
                times[lib].append(child_best(lib, case, args.updates))
        tk = statistics.median(times["trainkit"])
        ref = statistics.median(times["torch"]) if times["torch"] else None
        row = {"case": f"EMA update, 10M params in {case}", "trainkit_s": tk, "reference": "torch" if ref else None,
               "reference_s": ref, "ratio": (ref / tk) if ref else None, "per_process_best": times,
               "script": "ema_update", "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count()}
        print(format_row(row), flush=True)
        rows.append(row)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return rows


if __name__ == "__main__":
    main()
