"""Data-parallel cost: trainkit's gradient all-reduce vs a bare mpi4py ``Allreduce``, and samples/s at 1 and 2 ranks.

Cases (MLP 784-256-256-10, float32, CPU, one BLAS thread per rank):

- ``grad all-reduce, 2 ranks``: ``trainkit.distributed.gradients.sum_gradients`` on an Adam
  optimizer's flat bucket (269,322 gradients, after a backward pass) against
  ``COMM_WORLD.Allreduce(IN_PLACE, buffer)`` on the same buffer, interleaved, each
  after a barrier; median over the repeats on rank 0. ``ratio = bare / trainkit``:
  0.95 means 5% overhead (goal: above 0.95).
- ``sum_gradients own cost``: the same call with the collective replaced by a no-op, in one
  process: what trainkit adds to the ``Allreduce`` (steadier than the difference of two
  noisy medians on a shared machine).
- ``trainer samples/s``: ``Trainer(strategy="ddp")`` with SGD (momentum 0.9), per-rank
  batch 64, 40 batches per epoch, one warm-up epoch then 3 timed epochs, at 1 and 2
  ranks. ``ratio = samples/s at 2 ranks / at 1 rank`` (2.0 is perfect scaling; on a
  machine with 2 cores shared with other work it is bounded by the free cores).

Run: ``python benchmarks/ddp_allreduce.py [--repeat 200]`` (it starts ``mpiexec`` itself;
needs ``pip install -e ".[mpi]"``). Rows are appended to ``benchmarks/results/ddp_allreduce.jsonl``.
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
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1"}


def _mlp():
    import trainkit as tk
    from trainkit import nn

    tk.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def worker_allreduce(repeat: int) -> dict:
    import numpy as np
    from mpi4py import MPI

    import trainkit as tk
    from trainkit import nn, optim
    from trainkit.distributed.comm import MPIComm
    from trainkit.distributed.gradients import sum_gradients

    comm = MPIComm()
    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = tk.tensor(np.random.default_rng(comm.rank).normal(size=(64, 784)).astype(np.float32))
    y = tk.tensor(np.random.default_rng(comm.rank).integers(0, 10, 64))
    nn.CrossEntropyLoss()(model(x), y).backward()
    (bucket, _), = opt.flat_buckets()
    world = comm.comm
    ours, bare = [], []
    def timed(fn) -> float:
        world.Barrier()
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    def trainkit_call():
        sum_gradients(opt, comm)

    def bare_call():
        world.Allreduce(MPI.IN_PLACE, bucket.grad)

    for i in range(repeat + 10):
        first, second = (trainkit_call, bare_call) if i % 2 else (bare_call, trainkit_call)  # no order bias
        t_first, t_second = timed(first), timed(second)
        bucket.grad *= 0.25  # keep the values bounded (two sums per round)
        if i >= 10:
            ours.append(t_first if first is trainkit_call else t_second)
            bare.append(t_second if first is trainkit_call else t_first)
    return {"numel": int(bucket.numel), "trainkit_s": statistics.median(ours), "reference_s": statistics.median(bare)}


def python_overhead(number: int = 20000) -> float:
    """Seconds per ``sum_gradients`` call on the same MLP when the collective itself costs nothing."""
    import numpy as np

    import trainkit as tk
    from trainkit import nn, optim
    from trainkit.distributed.comm import LocalComm
    from trainkit.distributed.gradients import sum_gradients

    class FreeCollective(LocalComm):
        size = 2

    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = tk.tensor(np.random.default_rng(0).normal(size=(64, 784)).astype(np.float32))
    nn.CrossEntropyLoss()(model(x), tk.tensor(np.arange(64) % 10)).backward()
    comm = FreeCollective()
    t0 = time.perf_counter()
    for _ in range(number):
        sum_gradients(opt, comm)
    return (time.perf_counter() - t0) / number


def worker_throughput(epochs: int = 3, batches: int = 40, batch: int = 64) -> dict:
    import numpy as np

    from trainkit import nn, optim
    from trainkit.data import DataLoader, TensorDataset
    from trainkit.distributed import get_world_size
    from trainkit.trainer import Trainer

    world = get_world_size()
    n = batch * world * batches
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.normal(size=(n, 784)).astype(np.float32), rng.integers(0, 10, n))
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(data, batch_size=batch, shuffle=True)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, loader, max_epochs=1, default_plugins=False,
                      strategy="ddp", log_every=50)
    trainer.fit()  # warm-up: kernels, caches
    trainer.max_epochs = 1 + epochs
    t0 = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - t0
    return {"world": world, "samples_per_s": n * epochs / seconds, "seconds": seconds}


def _launch(n: int, args: list[str]) -> dict:
    from trainkit.distributed.launch import mpiexec_prefix

    env = {**os.environ, **ONE_THREAD}
    command = [*mpiexec_prefix(n), sys.executable, "-m", "mpi4py", os.path.abspath(__file__), *args]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--worker", choices=("allreduce", "throughput"))
    parser.add_argument("--out", default=os.path.join(HERE, "results", "ddp_allreduce.jsonl"))
    args = parser.parse_args(argv)
    if args.worker:
        from trainkit.distributed import get_rank

        row = worker_allreduce(args.repeat) if args.worker == "allreduce" else worker_throughput()
        if get_rank() == 0:
            print(json.dumps(row), flush=True)
        return
    from harness import fmt_time

    red = _launch(2, ["--worker", "allreduce", "--repeat", str(args.repeat)])
    python_s = python_overhead()
    one = _launch(1, ["--worker", "throughput"])
    two = _launch(2, ["--worker", "throughput"])
    rows = [
        {"case": f"grad all-reduce, 2 ranks ({red['numel']} float32)", "trainkit_s": red["trainkit_s"],
         "reference_s": red["reference_s"], "ratio": red["reference_s"] / red["trainkit_s"],
         "reference": "mpi4py Allreduce(IN_PLACE) on the same buffer"},
        {"case": "sum_gradients with a free collective (its own cost)", "trainkit_s": python_s,
         "fraction_of_bare_allreduce": python_s / red["reference_s"]},
        {"case": "trainer samples/s, MLP 784-256-256-10, 1 vs 2 ranks", "samples_per_s_1": one["samples_per_s"],
         "samples_per_s_2": two["samples_per_s"], "ratio": two["samples_per_s"] / one["samples_per_s"]},
    ]
    print(f"{'case':<54} {'trainkit':>14} {'reference':>14} {'ratio':>7}")
    print(f"{rows[0]['case']:<54} {fmt_time(red['trainkit_s']):>14} {fmt_time(red['reference_s']):>14} "
          f"{rows[0]['ratio']:>6.3f}   (bare / trainkit; goal >= 0.95)")
    print(f"{'sum_gradients own cost (collective replaced by no-op)':<54} {fmt_time(python_s):>14} "
          f"{'':>14} {python_s / red['reference_s']:>6.1%}   (of the bare Allreduce)")
    print(f"{'trainer samples/s, 2 ranks vs 1 (per-rank batch 64)':<54} {two['samples_per_s']:>12.0f}/s "
          f"{one['samples_per_s']:>12.0f}/s {rows[2]['ratio']:>6.2f}x  (2 ranks / 1 rank; ideal 2.0)")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(args.out, "a", encoding="utf-8") as fh:
        for row in rows:
            row.update({"script": "ddp_allreduce", "time": stamp, "machine": platform.node(), "cpus": os.cpu_count()})
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
