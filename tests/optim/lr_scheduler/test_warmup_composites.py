"""warmup_cosine / warmup_linear: formula, fraction of the run, continuity, resume, errors."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from trainkit.nn import Parameter
from trainkit.optim.lr_scheduler import WarmupCosineLR, WarmupLinearLR


class Opt:
    def __init__(self, lrs=(0.1, 0.02)):
        self.defaults = {"lr": lrs[0]}
        self.param_groups = [{"params": [Parameter(np.zeros(1, np.float32))], "lr": lr} for lr in lrs]


def _trace(sched, opt, n):
    out = [[g["lr"] for g in opt.param_groups]]
    for _ in range(n):
        sched.step()
        out.append([g["lr"] for g in opt.param_groups])
    return np.array(out)


def _expected(kind, base, total, warm, start=0.0, eta_min=0.0):
    out = []
    for t in range(total + 3):
        if t < warm:
            out.append(base * (start + (1 - start) * t / warm))
            continue
        p = min(1.0, (t - warm) / (total - warm))
        d = (1 + math.cos(math.pi * p)) / 2 if kind == "cos" else 1 - p
        out.append(eta_min + (base - eta_min) * d)
    return np.array(out)


@pytest.mark.parametrize("cls,kind", [(WarmupCosineLR, "cos"), (WarmupLinearLR, "lin")])
def test_formula_two_groups_fraction_of_run(cls, kind):
    opt = Opt()
    sched = cls(opt, total_steps=100, warmup=0.05, eta_min=1e-4)
    assert sched.warmup_steps == 5 and sched.interval == "step"
    got = _trace(sched, opt, 102)
    for i, base in enumerate((0.1, 0.02)):
        np.testing.assert_allclose(got[:, i], _expected(kind, base, 100, 5, eta_min=1e-4), rtol=1e-12)
    assert got[0, 0] == 0.0  # starts from zero by default
    assert got[-1, 0] == pytest.approx(1e-4)  # clamped at eta_min after the run


@pytest.mark.parametrize("cls", [WarmupCosineLR, WarmupLinearLR])
@pytest.mark.parametrize("warmup", [10, 0.1, 7])
def test_continuous_at_phase_boundary(cls, warmup):
    opt = Opt(lrs=(1.0,))
    sched = cls(opt, total_steps=100, warmup=warmup, warmup_start_factor=0.1)
    lrs = _trace(sched, opt, 100)[:, 0]
    w = sched.warmup_steps
    steps = np.abs(np.diff(lrs))
    # the largest jump anywhere is one warmup increment; no jump at the boundary
    assert steps.max() <= (1 - 0.1) / w + 1e-12
    assert lrs[w] == pytest.approx(1.0)  # peak exactly at the boundary
    # first decay step is no bigger than the steepest decay slope (1 / decay length)
    assert abs(lrs[w + 1] - lrs[w]) <= 1.0 / (100 - w) + 1e-12
    assert np.all(np.diff(lrs[: w + 1]) > 0) and np.all(np.diff(lrs[w:]) <= 0)


def test_no_warmup_and_all_warmup():
    opt = Opt(lrs=(1.0,))
    lrs = _trace(WarmupCosineLR(opt, total_steps=4, warmup=0), opt, 4)[:, 0]
    np.testing.assert_allclose(lrs, [1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2, 0.0])
    opt = Opt(lrs=(1.0,))
    lrs = _trace(WarmupLinearLR(opt, total_steps=4, warmup=4), opt, 6)[:, 0]
    np.testing.assert_allclose(lrs, [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


def test_resume_matches_uninterrupted():
    opt_a = Opt()
    a = WarmupCosineLR(opt_a, total_steps=50, warmup=0.2)
    full = _trace(a, opt_a, 40)
    opt_b = Opt()
    b = WarmupCosineLR(opt_b, total_steps=50, warmup=0.2)
    _trace(b, opt_b, 20)
    state = json.loads(json.dumps(b.state_dict()))
    opt_c = Opt()
    c = WarmupCosineLR(opt_c, total_steps=50, warmup=0.2)
    c.load_state_dict(state)
    rest = _trace(c, opt_c, 20)
    np.testing.assert_allclose(rest[1:], full[21:], rtol=1e-15)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"total_steps": 0}, "total_steps must be a positive integer"),
        ({"total_steps": 10, "warmup": 1.5}, r"warmup=1.5 as a fraction of the run must be in \[0, 1\)"),
        ({"total_steps": 10, "warmup": 11}, "warmup=11 steps must be between 0 and total_steps=10"),
        ({"total_steps": 10, "warmup": "5"}, "warmup must be an int number of steps or a float fraction"),
        ({"total_steps": 10, "warmup_start_factor": 2.0}, r"warmup_start_factor must be in \[0, 1\]"),
        ({"total_steps": 10, "eta_min": -1.0}, "eta_min must be >= 0"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        WarmupCosineLR(Opt(), **kwargs)
