"""The MLP Adam step with each library alone in its own process.

``core_models.py`` times trainkit and torch in one process, interleaved, as the
harness does everywhere. On a 2-core machine their BLAS/OpenMP thread pools
then compete, and the MLP Adam ratio swings between runs. This script runs the
same step (MLP 784-256-256-10, batch 128, CrossEntropyLoss, each library's own
``Adam``) in two fresh processes, one library each, one after the other, and
prints the usual row (ratio = torch time / trainkit time) plus a JSON line.

Run: ``python benchmarks/solo_mlp_adam.py [--steps 200] [--repeat 5]``.
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
import sys, time, numpy as np
lib_name, steps, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
x = rng.standard_normal((128, 784)).astype(np.float32)
y = rng.integers(0, 10, size=128)
if lib_name == "torch":
    import torch as lib
    xt, yt = lib.from_numpy(x), lib.from_numpy(y)
else:
    import trainkit as lib
    xt, yt = lib.from_numpy(x), lib.from_numpy(y)
nn = lib.nn
model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
opt = lib.optim.Adam(model.parameters(), lr=1e-3)
crit = nn.CrossEntropyLoss()
def step():
    opt.zero_grad(); loss = crit(model(xt), yt); loss.backward(); opt.step()
for _ in range(150):  # warm-up (trainkit switches to its compiled kernel after 100 steps)
    step()
times = []
for _ in range(repeat):
    t = time.perf_counter()
    for _ in range(steps):
        step()
    times.append((time.perf_counter() - t) / steps)
print(min(times), sorted(times)[len(times) // 2])
"""


def child_time(lib: str, steps: int, repeat: int) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, lib, str(steps), str(repeat)],
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[1])  # the median repeat


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "solo_mlp_adam.jsonl"))
    args = parser.parse_args(argv)
    tk = statistics.median(child_time("trainkit", args.steps, args.repeat) for _ in range(3))
    ref = statistics.median(child_time("torch", args.steps, args.repeat) for _ in range(3)) if torch_or_none() else None
    row = {"case": "mlp 784-256-256-10 b128 Adam step, solo processes", "trainkit_s": tk,
           "reference": "torch" if ref else None, "reference_s": ref, "ratio": (ref / tk) if ref else None,
           "script": "solo_mlp_adam", "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    print(f"{'case':<44} {'trainkit':>12} {'reference':>12} {'ratio':>8}")
    print(format_row(row))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    return row


if __name__ == "__main__":
    main()
