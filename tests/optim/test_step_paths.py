"""The short step path, the plain-path warm-up and the kernel variants all give the same numbers.

A step normally takes the short path (gradients already in the flat buffer,
equal step counts: one prepared kernel, parameters sharing their scalar
state); anything unusual takes the general path. Small buckets start on the
plain path and move to the fused kernel; large buffers switch between a serial
and a parallel kernel. None of this may change a single bit of the results.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import trainkit.optim as optim
from trainkit.nn import Parameter
from trainkit.optim import elementwise, flat_step

SHAPES = [(5, 3), (7,), (2, 2, 2), (1,)]
CONFIGS = [
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("NAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.05)),
    ("ASGD", dict(lr=0.05, t0=3)),  # advances its scalar state after the update, and switches flags at t0
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
]


def _grads(steps, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def _run(cls, kwargs, grads, dtype, into_views: bool, skip=None):
    """Trajectory of the flat parameters; gradients written like autograd does or assigned fresh."""
    rng = np.random.default_rng(1)
    params = [Parameter(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
    opt = getattr(optim, cls)(params, **kwargs)
    out = []
    for step, gs in enumerate(grads):
        for k, (p, g) in enumerate(zip(params, gs)):
            if skip is not None and skip(step, k):
                p.grad = None
            elif into_views:
                p._accumulate_grad(g)  # what backward does: the first gradient lands in the flat buffer
            else:
                p.grad = g.copy()
        opt.step()
        opt.zero_grad()
        out.append(np.concatenate([p.data.reshape(-1) for p in params]))
    return np.stack(out), opt, params


def _count_general_steps(monkeypatch):
    calls = []
    original = flat_step.step_segments

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(flat_step, "step_segments", counting)
    return calls


@pytest.mark.parametrize("cls,kwargs", CONFIGS, ids=[c[0] for c in CONFIGS])
@pytest.mark.parametrize("fused", [False, True])
def test_short_path_equals_general_path(cls, kwargs, fused, monkeypatch):
    grads = _grads(8, np.float32)
    general, _, _ = _run(cls, dict(kwargs, fused=fused), grads, np.float32, into_views=False)
    calls = _count_general_steps(monkeypatch)
    short, _, _ = _run(cls, dict(kwargs, fused=fused), grads, np.float32, into_views=True)
    assert len(calls) == 1  # only the first step (fresh state) needed the general path
    np.testing.assert_array_equal(short, general)
    assert not np.array_equal(short[0], short[-1])


def test_skipping_after_short_steps_keeps_separate_step_counts():
    """Parameters share their scalar state on the short path; skipping one must split it again."""
    grads = _grads(6, np.float64)
    skip = (lambda step, k: k == 1 and step in (3, 4))
    mixed, opt, params = _run("Adam", dict(lr=0.1), grads, np.float64, into_views=True, skip=skip)
    reference, _, _ = _run("Adam", dict(lr=0.1), grads, np.float64, into_views=False, skip=skip)
    np.testing.assert_array_equal(mixed, reference)
    steps = [opt.state[p]["step"] for p in params]
    assert steps == [6.0, 4.0, 6.0, 6.0]


@pytest.mark.numba
def test_plain_warmup_then_fused_is_seamless(monkeypatch):
    """Small buckets start on the plain path and move to the fused kernel with identical numbers."""
    # the move's cost in seconds of plain steps: tiny, so the bucket moves after its first step
    monkeypatch.setattr(elementwise, "NUMBA_START_SECONDS", 1e-12)
    monkeypatch.setattr(elementwise, "KERNEL_LOAD_SECONDS", 1e-12)
    grads = _grads(7, np.float32)
    default, opt, _ = _run("Adam", dict(lr=0.01), grads, np.float32, into_views=True)
    plain, _, _ = _run("Adam", dict(lr=0.01, fused=False), grads, np.float32, into_views=True)
    np.testing.assert_array_equal(default, plain)
    backends = {run.backend for run in opt._buckets[0][0].runners.values()}
    assert backends == {"numpy", "numba"}


@pytest.mark.numba
def test_plain_warmup_lasts_until_its_steps_cost_the_move(monkeypatch):
    """Rent or buy: a small bucket moves to the fused kernel once its plain steps have taken as long as the
    move costs (numba's start-up before any fused kernel ran in the process, one kernel load after)."""
    monkeypatch.setattr(elementwise, "NUMBA_START_SECONDS", 3600.0)
    monkeypatch.setattr(elementwise, "KERNEL_LOAD_SECONDS", 3600.0)
    _, opt, _ = _run("Adam", {"lr": 0.01}, _grads(7, np.float32), np.float32, into_views=True)
    bucket = opt._buckets[0][0]
    assert {run.backend for run in bucket.runners.values()} == {"numpy"}
    assert 0.0 < bucket.plain_seconds < 3600.0
    spent = bucket.plain_seconds
    monkeypatch.setattr(elementwise, "NUMBA_START_SECONDS", spent)
    monkeypatch.setattr(elementwise, "KERNEL_LOAD_SECONDS", spent)
    params = [p for g in opt.param_groups for p in g["params"]]
    for p in params:
        p.grad = np.ones_like(p.data)
    opt.step()
    assert {run.backend for run in bucket.runners.values()} == {"numpy", "numba"}
    assert bucket.plain_seconds == spent  # fused steps are not counted


def test_switch_cost_drops_once_a_fused_kernel_runs(monkeypatch):
    from trainkit.optim.kernels import numba_backend

    monkeypatch.setattr(numba_backend, "_KERNELS", {})
    assert elementwise.fused_switch_cost() == elementwise.NUMBA_START_SECONDS
    monkeypatch.setattr(numba_backend, "_KERNELS", {"a kernel": object()})
    assert elementwise.fused_switch_cost() == elementwise.KERNEL_LOAD_SECONDS < elementwise.NUMBA_START_SECONDS


@pytest.mark.numba
def test_forced_numba_skips_the_warmup(monkeypatch):
    monkeypatch.setenv("TRAINKIT_OPTIM_BACKEND", "numba")
    _, opt, _ = _run("SGD", dict(lr=0.1, momentum=0.9), _grads(2, np.float32), np.float32, into_views=True)
    assert {run.backend for run in opt._buckets[0][0].runners.values()} == {"numba"}


@pytest.mark.numba
def test_large_bucket_skips_the_warmup():
    p = Parameter(np.zeros(elementwise.PLAIN_WARMUP_NUMEL, dtype=np.float32))
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.ones_like(p.data)
    opt.step()
    assert {run.backend for run in opt._buckets[0][0].runners.values()} == {"numba"}


def test_short_runs_of_small_models_do_not_import_numba():
    code = (
        "import sys, numpy as np\n"
        "import trainkit, trainkit.optim as optim\n"
        "from trainkit.nn import Parameter\n"
        "assert 'numba' not in sys.modules, 'import trainkit.optim imported numba'\n"
        "ps = [Parameter(np.ones((16, 2), np.float32)), Parameter(np.ones(16, np.float32))]\n"
        "opt = optim.Adam(ps, lr=0.1)\n"
        "for _ in range(300):\n"  # a short run: its plain steps take milliseconds, numba's start-up ~0.5 s
        "    for p in ps: p._accumulate_grad(np.ones_like(p.data))\n"
        "    opt.step(); opt.zero_grad()\n"
        "print('numba' in sys.modules)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "TRAINKIT_OPTIM_BACKEND"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
