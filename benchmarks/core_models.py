"""Forward + backward + update of the core models, trainkit vs PyTorch.

Cases (float32, torch with its default thread count):
- MLP 784-256-256-10 (ReLU), batch 128, CrossEntropyLoss.
- The classic CIFAR-10 CNN: three Conv2d 5x5 padding 2 (3->32->32->64), each
  followed by MaxPool2d(2) and ReLU, then Linear 1024->64->10, batch 64.

Both sides run the same step: ``zero_grad``; ``loss = criterion(model(x), y)``;
``loss.backward()``; ``p -= lr * p.grad`` for every parameter (trainkit: on the raw arrays, ``p.array -= lr * p.grad_array``). Both models
start from the same weights (copied as arrays). The "full Adam step" case uses
each library's own Adam (``optimizer.zero_grad(); ...; optimizer.step()``) as a
training loop does. Run:
``python benchmarks/core_models.py [--filter cnn] [--repeat 7]``.

On a shared 2-core machine, oversubscribed BLAS threads make the default
(2-thread) timings swing by several times; ``OMP_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1`` gives a steadier single-thread
comparison (torch honours OMP_NUM_THREADS too).
"""
from __future__ import annotations

import numpy as np
from harness import Case, run, torch_or_none  # the script's own directory is on sys.path

import trainkit
from trainkit import nn

LR = 0.01


def mlp(nn_mod):
    return nn_mod.Sequential(
        nn_mod.Linear(784, 256), nn_mod.ReLU(), nn_mod.Linear(256, 256), nn_mod.ReLU(), nn_mod.Linear(256, 10)
    )


def cifar_cnn(nn_mod):
    return nn_mod.Sequential(
        nn_mod.Conv2d(3, 32, 5, padding=2), nn_mod.MaxPool2d(2), nn_mod.ReLU(),
        nn_mod.Conv2d(32, 32, 5, padding=2), nn_mod.MaxPool2d(2), nn_mod.ReLU(),
        nn_mod.Conv2d(32, 64, 5, padding=2), nn_mod.MaxPool2d(2), nn_mod.ReLU(),
        nn_mod.Flatten(), nn_mod.Linear(1024, 64), nn_mod.ReLU(), nn_mod.Linear(64, 10),
    )


def trainkit_step(model, x, y):
    criterion = nn.CrossEntropyLoss()
    params = list(model.parameters())

    def step():
        model.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        for p in params:
            p.array -= LR * p.grad_array  # the raw arrays (the update torch does in place)
        return loss

    return step


def torch_step(torch, model, x, y):
    criterion = torch.nn.CrossEntropyLoss()
    params = list(model.parameters())

    def step():
        model.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
        return loss

    return step


def optimizer_step(lib, make_optimizer):
    """A step builder for ``lib`` (trainkit or torch) that uses the library's own optimizer."""

    def build(model, x, y):
        criterion = lib.nn.CrossEntropyLoss()
        optimizer = make_optimizer(lib)(model.parameters(), lr=1e-3)

        def step():
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            return loss

        return step

    return build


def adam(lib):
    return lib.optim.Adam


def build_case(name, factory, x_shape, batch, steps=(trainkit_step, torch_step)):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    y = rng.integers(0, 10, size=batch)
    trainkit.manual_seed(0)
    tk_model = factory(nn)
    tk_steps, torch_steps = steps
    tk = tk_steps(tk_model, trainkit.from_numpy(x), trainkit.from_numpy(y))
    torch = torch_or_none()
    ref = None
    if torch is not None:
        t_model = factory(torch.nn)
        t_model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tk_model.state_dict().items()})
        ref = torch_steps(torch, t_model, torch.from_numpy(x), torch.from_numpy(y))
    return Case(name, tk, ref, items=batch, meta={"unit": "samples"})


def cases():
    return [
        build_case("mlp 784-256-256-10 b128 fwd+bwd+sgd", mlp, (128, 784), 128),
        build_case("mlp 784-256-256-10 b128 full Adam step", mlp, (128, 784), 128,
                   steps=(optimizer_step(trainkit, adam),
                          lambda torch, *args: optimizer_step(torch, adam)(*args))),
        build_case("cifar10 cnn b64 fwd+bwd+sgd", cifar_cnn, (64, 3, 32, 32), 64),
    ]


if __name__ == "__main__":
    run(cases())
