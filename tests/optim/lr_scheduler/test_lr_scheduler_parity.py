"""Every scheduler and mode against PyTorch: two groups, SGD(momentum=0.9) and Adam, 64 steps,
a state_dict round trip (through JSON) at step 30.

The expected values were recorded from torch 2.13 by
``tests/fixtures/schedulers/make_scheduler_fixtures.py``. With torch importable,
every recorded trace is checked against a fresh torch run (so trainkit matches
live torch through the reference), and a representative subset is compared
trainkit-vs-torch directly.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import trainkit.optim.lr_scheduler as lr_scheduler
from trainkit.nn import Parameter
from trainkit.optim import SGD, Adam

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "schedulers"


def _load_generator():
    """The committed generator script, loaded by path (it defines CASES and run_case)."""
    spec = importlib.util.spec_from_file_location(
        "make_scheduler_fixtures", FIXTURES / "make_scheduler_fixtures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()


class TrainkitAdapter:
    """Runs a generator case on trainkit's schedulers and optimizers (SGD momentum 0.9, Adam)."""

    lib = lr_scheduler

    def __init__(self):
        rng = np.random.default_rng(0)
        self.init = [rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal(4)]

    def make_optimizer(self, kind):
        ps = [Parameter(x.copy()) for x in self.init]
        groups = [{"params": ps[:2], "lr": 0.1}, {"params": ps[2:], "lr": 0.01}]
        if kind == "sgd":
            return SGD(groups, lr=0.1, momentum=0.9)
        return Adam(groups, lr=0.1)

    def fake_grads(self, opt, i):
        for g in opt.param_groups:
            for p in g["params"]:
                p.grad = np.full_like(p.data, 0.01 * ((i % 3) - 1))

    def roundtrip(self, old_opt, old_sched, new_opt, new_sched):
        new_opt.load_state_dict(old_opt.state_dict())
        # JSON proves the scheduler state holds plain values only.
        new_sched.load_state_dict(json.loads(json.dumps(old_sched.state_dict())))


@pytest.fixture(scope="module")
def reference():
    return json.loads((FIXTURES / "reference.json").read_text())


@pytest.fixture
def adapter():
    return TrainkitAdapter()


CASE_IDS = [f"{name}-{kind}" for name in GEN.CASES for kind in GEN.OPTIMIZERS]
ALL_CLASSES = {
    "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
    "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
    "CyclicLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler",
}


def _compare(got, want):
    for key in ("lr", "momentum", "last_lr"):
        np.testing.assert_allclose(
            np.array(got[key]), np.array(want[key]), rtol=1e-12, atol=1e-15, err_msg=key
        )


def test_cases_cover_all_fifteen_schedulers():
    used = {spec["cls"] for spec in GEN.CASES.values()}
    for spec in GEN.CASES.values():
        used |= {s["cls"] for s in spec["kwargs"].get("schedulers", [])}
    assert ALL_CLASSES <= used


def test_reference_has_every_case(reference):
    assert sorted(reference["cases"]) == sorted(CASE_IDS)
    assert reference["steps"] >= 60


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_matches_recorded_torch(case_id, reference, adapter):
    name, kind = case_id.rsplit("-", 1)
    got = GEN.run_case(GEN.CASES[name], adapter, kind)
    want = reference["cases"][case_id]
    assert len(got["lr"]) == GEN.STEPS + 1
    _compare(got, want)


@pytest.mark.torch
def test_recorded_reference_is_what_live_torch_does(torch, reference):
    """Every recorded trace equals a fresh torch run, so trainkit == recorded == live torch."""
    torch_adapter = GEN.TorchAdapter()
    for case_id in CASE_IDS:
        name, kind = case_id.rsplit("-", 1)
        _compare(GEN.run_case(GEN.CASES[name], torch_adapter, kind), reference["cases"][case_id])


LIVE_DIRECT = ["one_cycle_linear_three_phase", "cyclic_exp_range", "plateau_max_abs",
               "cosine_warm_restarts_frac", "sequential_three", "chained_cosine_multistep"]


@pytest.mark.torch
@pytest.mark.parametrize("name", LIVE_DIRECT)
def test_matches_live_torch_directly(name, torch, adapter):
    torch_adapter = GEN.TorchAdapter()
    for kind in GEN.OPTIMIZERS:
        got = GEN.run_case(GEN.CASES[name], adapter, kind)
        _compare(got, GEN.run_case(GEN.CASES[name], torch_adapter, kind))
