"""What the Trainer costs: Trainer with its default plugins vs a bare loop, and vs PyTorch.

Cases (float32, SGD lr=0.01 momentum=0.9, CPU):
- ``mlp trainer vs bare loop``: MLP 784-256-256-10, batch 64, 50 batches per
  call. trainkit's ``Trainer.fit()`` (default plugins: NaN guard and progress,
  which is off when not on a terminal; a fresh Trainer each call, so the
  plugin registration is included) against a hand-written loop over the same
  model, loss, optimizer and loader. ``ratio = bare / trainer``: 0.95 means
  5% overhead (goal: above 0.95).
- ``mlp ... 5 epochs``: the same with one 5-epoch ``fit()`` per call, the way
  the Trainer is used (its fixed per-fit cost is paid once).
- ``tiny 2-16-1 trainer vs torch``: Linear(2,16)-Tanh-Linear(16,1), batch 64,
  MSELoss, 200 steps per call; the Trainer against a raw PyTorch loop (the
  throughput column is steps/s; goal: faster than torch, ratio > 1).
- ``tiny 2-16-1 bare loop vs torch``: the same without the Trainer.
- ``trainkit --help``: wall time of the installed command in a fresh process
  (goal: under 0.5 s); no reference.
- ``trainkit train --help``: the same for the train help (groups, options and
  the composed defaults; rendered by trainkit, Hydra's own took 4-7 s).

Run: ``python benchmarks/trainer_overhead.py [--filter tiny] [--repeat 7]``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
from harness import Case, run, torch_or_none  # the script's own directory is on sys.path

import trainkit
from trainkit import nn
from trainkit.data.dataset import TensorDataset
from trainkit.data.loader import DataLoader
from trainkit.optim import SGD
from trainkit.trainer import Trainer

LR, MOMENTUM = 0.01, 0.9
MLP_STEPS, TINY_STEPS = 50, 200  # one fit() per call, as one epoch


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def tiny(nn_mod):
    return nn_mod.Sequential(nn_mod.Linear(2, 16), nn_mod.Tanh(), nn_mod.Linear(16, 1))


def setup(model, loss, x, y, batch_size, epochs=1):
    opt = SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size)

    def with_trainer():
        Trainer(model, loss, opt, loader, max_epochs=epochs).fit()

    def bare():
        for _ in range(epochs):
            for xb, yb in loader:
                out = loss(model(xb), yb)
                opt.zero_grad()
                out.backward()
                opt.step()

    return with_trainer, bare


def torch_tiny(torch, x, y, batch_size):
    torch.manual_seed(0)
    model = tiny(torch.nn)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss = torch.nn.MSELoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]

    def step_all():
        for xb, yb in batches:
            out = loss(model(xb), yb)
            opt.zero_grad()
            out.backward()
            opt.step()

    return step_all


def main(argv=None):
    rng = np.random.default_rng(0)
    trainkit.manual_seed(0)
    cases = []

    x = rng.normal(size=(MLP_STEPS * 64, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=MLP_STEPS * 64)
    with_trainer, bare = setup(mlp(), nn.CrossEntropyLoss(), x, y, 64)
    cases.append(Case("mlp 784-256-256-10 b64: trainer vs bare loop", with_trainer, bare,
                      reference_name="bare loop", items=MLP_STEPS))
    # the same over a 5-epoch fit: the per-fit cost (plugin registration) is paid once
    with_trainer5, bare5 = setup(mlp(), nn.CrossEntropyLoss(), x, y, 64, epochs=5)
    cases.append(Case("mlp 784-256-256-10 b64 5 epochs: trainer vs bare", with_trainer5, bare5,
                      reference_name="bare loop", items=5 * MLP_STEPS))

    xs = rng.normal(size=(TINY_STEPS * 64, 2)).astype(np.float32)
    ys = np.sin(xs[:, :1]) * xs[:, 1:]
    with_trainer, bare = setup(tiny(nn), nn.MSELoss(), xs, ys, 64)
    torch = torch_or_none()
    torch_loop = torch_tiny(torch, xs, ys, 64) if torch is not None else None
    cases.append(Case("tiny 2-16-1 b64: trainer vs torch", with_trainer, torch_loop, items=TINY_STEPS))
    cases.append(Case("tiny 2-16-1 b64: bare loop vs torch", bare, torch_loop, items=TINY_STEPS))

    command = shutil.which("trainkit") or shutil.which("trainkit", path=os.path.dirname(sys.executable))
    if command is not None:
        cases.append(Case("trainkit --help (fresh process)",
                          lambda: subprocess.run([command, "--help"], check=True, capture_output=True),
                          number=3))
        cases.append(Case("trainkit train --help (fresh process)",
                          lambda: subprocess.run([command, "train", "--help"], check=True, capture_output=True),
                          number=1))
    return run(cases, argv=argv, script="trainer_overhead")


if __name__ == "__main__":
    main()
