"""Trainings run by tests/distributed/test_ddp_mpi.py, alone or as ``mpiexec -n W python -m mpi4py ddp_script.py``.

Modes (``python ddp_script.py MODE OUT``):

* ``equiv``: every case of :data:`CASES` for 20 updates at a global batch of ``GLOBAL_BATCH``
  (per-rank batch ``GLOBAL_BATCH / W``); writes ``OUT/<case>_w<W>_r<rank>.npz`` (weights, metrics).
* ``train``: Adam with step checkpoints in the run directory ``OUT``; ``--kill-at S`` SIGKILLs rank 1
  after update S; ``--resume`` continues from ``OUT``; writes ``OUT/final_r<rank>.npz``.
* ``raise``: rank 1 raises after update 3 while rank 0 goes on into the next collective.
"""
from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np

import trainkit as tk
from trainkit import nn, optim
from trainkit.builtin_plugins.checkpointing import Checkpointing
from trainkit.builtin_plugins.clipping import GradClip
from trainkit.builtin_plugins.nan_guard import NaNGuard
from trainkit.data import DataLoader, TensorDataset
from trainkit.distributed import DataParallel, get_rank, get_world_size
from trainkit.hookspecs import hookimpl
from trainkit.trainer import Trainer

GLOBAL_BATCH = 12
STEPS = 20
N_TRAIN, N_VAL = 100, 37  # 100 = 8 * 12 + 4: every epoch ends with an uneven batch; 37 val samples: uneven shards


class NoReduce(DataParallel):
    """The control: data-parallel in every respect but the gradient all-reduce."""

    def reduce_gradients(self, optimizer) -> None:
        pass


def data(nan_at=None):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_TRAIN + N_VAL, 5))
    y = rng.integers(0, 3, N_TRAIN + N_VAL)
    if nan_at is not None:
        x[nan_at, 0] = np.nan
    return (x[:N_TRAIN], y[:N_TRAIN]), (x[N_TRAIN:], y[N_TRAIN:])


def build(opt_name, lr, clip=None, accumulate=1, nan_at=None, strategy="ddp", plugins=(), run_dir=None,
          resume=None, max_steps=STEPS):
    tk.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    if opt_name == "sgd":
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    elif opt_name == "adam":
        opt = optim.Adam(model.parameters(), lr=lr)
    elif opt_name == "adamw":
        opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    else:
        opt = optim.LBFGS(model.parameters(), lr=lr, max_iter=3)
    (xt, yt), (xv, yv) = data(nan_at)
    per_rank = GLOBAL_BATCH // get_world_size()
    train = DataLoader(TensorDataset(xt, yt), batch_size=per_rank, shuffle=True, seed=3)
    val = DataLoader(TensorDataset(xv, yv), batch_size=5)
    return Trainer(model, nn.CrossEntropyLoss(), opt, train, val_loader=val, max_epochs=100, max_steps=max_steps,
                   accumulate=accumulate, grad_transforms=[GradClip(max=clip)] if clip else [],
                   plugins=list(plugins), default_plugins=False, strategy=strategy, run_dir=run_dir,
                   resume=resume, log_every=1)


CASES = {
    "sgd_momentum": dict(opt_name="sgd", lr=0.05),
    "adam": dict(opt_name="adam", lr=0.01),
    "adamw": dict(opt_name="adamw", lr=0.01),
    "clip": dict(opt_name="adam", lr=0.01, clip=0.05),
    "accumulate": dict(opt_name="sgd", lr=0.05, accumulate=3),
    "lbfgs": dict(opt_name="lbfgs", lr=0.5),
    "nan_skip": dict(opt_name="adam", lr=0.01, nan_at=7, plugins=(NaNGuard(on_nonfinite="skip", max_streak=3),)),
    "control_no_allreduce": dict(opt_name="adam", lr=0.01, strategy=NoReduce()),
}


def weights(trainer) -> np.ndarray:
    return np.concatenate([p.array.ravel() for p in trainer.model.parameters()])


def save(path, trainer, metrics) -> None:
    np.savez(path, weights=weights(trainer), metrics=json.dumps(metrics),
             skipped=trainer.skipped_steps, step=trainer.global_step)


def equiv(out: str) -> None:
    w, r = get_world_size(), get_rank()
    for name, case in CASES.items():
        case = dict(case)
        if w == 1:
            case["strategy"] = "single"  # the reference: one process, the whole global batch
        trainer = build(**case)
        metrics = trainer.fit()
        metrics.update(trainer.validate())
        save(os.path.join(out, f"{name}_w{w}_r{r}.npz"), trainer, metrics)


class KillRank1:
    """SIGKILLs rank 1 right after update ``step`` (a crashed node)."""

    name = "kill_rank1"

    def __init__(self, step):
        self.step = step

    @hookimpl
    def on_step_end(self, trainer, step, skipped):
        if step == self.step and get_rank() == 1:
            os.kill(os.getpid(), signal.SIGKILL)


class RaiseOnRank1:
    name = "raise_rank1"

    @hookimpl
    def on_step_end(self, trainer, step, skipped):
        if step == 3 and get_rank() == 1:
            raise RuntimeError("rank 1 fails on purpose")


def train(run_dir: str, kill_at=None, resume=False) -> None:
    plugins = [Checkpointing(every_n_epochs=0, every_n_steps=5, keep_last=3)]
    if kill_at:
        plugins.append(KillRank1(kill_at))
    trainer = build("adam", 0.01, plugins=plugins, run_dir=run_dir, resume=run_dir if resume else None,
                    max_steps=25)
    metrics = trainer.fit()
    save(os.path.join(run_dir, f"final_r{get_rank()}.npz"), trainer, metrics)


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "."
    if mode == "equiv":
        equiv(out)
    elif mode == "train":
        kill = int(sys.argv[sys.argv.index("--kill-at") + 1]) if "--kill-at" in sys.argv else None
        train(out, kill_at=kill, resume="--resume" in sys.argv)
    elif mode == "raise":
        build("adam", 0.01, plugins=[RaiseOnRank1()], max_steps=1000).fit()
    else:
        raise SystemExit(f"unknown mode {mode}")
