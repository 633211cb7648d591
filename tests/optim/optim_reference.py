"""Helpers for the optimizer tests: the committed torch reference and a replayer (imported by the tests)."""
from __future__ import annotations

import importlib.util
import json
import os

import numpy as np

import trainkit.optim as optim
from trainkit.backend import to_device
from trainkit.nn import Parameter

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "optim")


def load_reference():
    with open(os.path.join(FIXTURES, "cases.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    with np.load(os.path.join(FIXTURES, "reference.npz"), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return meta, arrays


META, ARRAYS = load_reference()
CASES = {c["name"]: c for c in META["cases"]}


def load_generator():
    """The fixture script as a module (for live torch comparisons)."""
    path = os.path.join(FIXTURES, "make_reference.py")
    spec = importlib.util.spec_from_file_location("optim_make_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rosenbrock_closure(params, opt, xp):
    """The LBFGS objective of the fixtures, with its analytic gradient written into ``.grad``."""

    def closure():
        opt.zero_grad()
        x = xp.concatenate([p.data.reshape(-1) for p in params])
        a, b = x[:-1], x[1:]
        r = b - a * a
        loss = ((1 - a) ** 2 + 5 * r**2).sum()
        g = xp.zeros_like(x)
        g[:-1] += -2 * (1 - a) - 20 * r * a
        g[1:] += 10 * r
        off = 0
        for p in params:
            n = p.numel()
            p.grad = g[off:off + n].reshape(p.shape).copy()
            off += n
        return loss

    return closure


def replay(case: dict, dtype: str, device: str = "cpu", arrays=None, **extra):
    """Run trainkit's optimizer over a case's recorded gradients; return (trajectories, losses)."""
    arrays = ARRAYS if arrays is None else arrays
    name, n = case["name"], len(case["shapes"])
    get = (lambda key: arrays[f"{name}/{key}"])
    params = [Parameter(to_device(get(f"init_{k}").astype(dtype), device)) for k in range(n)]
    kwargs = dict(case["kwargs"], **extra)
    opt = getattr(optim, case["cls"])(params, **kwargs)
    xp = params[0].xp
    traj = [[] for _ in range(n)]
    losses = []
    for step in range(META["steps"]):
        if case["cls"] == "LBFGS":
            losses.append(float(opt.step(rosenbrock_closure(params, opt, xp))))
        else:
            for k, p in enumerate(params):
                if get(f"mask_{k}")[step]:
                    p.grad = to_device(get(f"grads_{k}")[step].astype(dtype), device)
                else:
                    p.grad = None
            opt.step()
        for k, p in enumerate(params):
            traj[k].append(np.asarray(to_device(p.data, "cpu")).copy())
    return [np.stack(t) for t in traj], losses


TOLERANCE = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}
