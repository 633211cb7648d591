"""Scheduler contracts beyond the LR sequences: intervals, plateau metrics, state, errors, seed recipe (c)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from trainkit.nn import Parameter
from trainkit.optim import lr_scheduler as L


class Opt:
    """The smallest torch-style optimizer: param_groups and defaults."""

    def __init__(self, lrs=(0.1, 0.01), **defaults):
        self.defaults = {"lr": lrs[0], **defaults}
        self.param_groups = [
            {"params": [Parameter(np.zeros(2, np.float32))], "lr": lr, **defaults} for lr in lrs
        ]

    def add_param_group(self, group):
        self.param_groups.append(group)


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


ALL = {
    "LambdaLR": lambda o: L.LambdaLR(o, lambda e: 0.5**e),
    "MultiplicativeLR": lambda o: L.MultiplicativeLR(o, lambda e: 0.9),
    "StepLR": lambda o: L.StepLR(o, 3),
    "MultiStepLR": lambda o: L.MultiStepLR(o, [2, 4, 4]),
    "ConstantLR": lambda o: L.ConstantLR(o),
    "LinearLR": lambda o: L.LinearLR(o),
    "ExponentialLR": lambda o: L.ExponentialLR(o, 0.9),
    "PolynomialLR": lambda o: L.PolynomialLR(o),
    "CosineAnnealingLR": lambda o: L.CosineAnnealingLR(o, 10),
    "CosineAnnealingWarmRestarts": lambda o: L.CosineAnnealingWarmRestarts(o, 3, 2),
    "CyclicLR": lambda o: L.CyclicLR(o, 0.01, 0.1, step_size_up=3),
    "OneCycleLR": lambda o: L.OneCycleLR(o, 0.1, total_steps=20),
    "ReduceLROnPlateau": lambda o: L.ReduceLROnPlateau(o, patience=1),
    "SequentialLR": lambda o: L.SequentialLR(o, [L.ConstantLR(o), L.ExponentialLR(o, 0.9)], [3]),
    "ChainedScheduler": lambda o: L.ChainedScheduler([L.ConstantLR(o), L.ExponentialLR(o, 0.9)]),
    "WarmupCosineLR": lambda o: L.WarmupCosineLR(o, total_steps=20, warmup=0.25),
    "WarmupLinearLR": lambda o: L.WarmupLinearLR(o, total_steps=20, warmup=5),
}
STEP_INTERVAL = {"CyclicLR", "OneCycleLR", "WarmupCosineLR", "WarmupLinearLR"}


@pytest.mark.parametrize("name", list(ALL))
def test_interval_and_json_state(name):
    opt = Opt(momentum=0.9)
    sched = ALL[name](opt)
    assert sched.interval == ("step" if name in STEP_INTERVAL else "epoch")
    for i in range(4):
        sched.step(1.0 - 0.1 * i) if name == "ReduceLROnPlateau" else sched.step()
    state = sched.state_dict()
    text = json.dumps(state)  # plain values only: no callables, no objects
    assert "optimizer" not in state and "function" not in text
    assert sched.get_last_lr() == _lrs(opt)
    # resume: N steps, save, load into a fresh one, N more steps == 2N steps
    opt2 = Opt(momentum=0.9)
    for g2, g in zip(opt2.param_groups, opt.param_groups):
        g2.update({k: v for k, v in g.items() if k != "params"})
    sched2 = ALL[name](opt2)
    for g2, g in zip(opt2.param_groups, opt.param_groups):
        g2.update({k: v for k, v in g.items() if k != "params"})
    sched2.load_state_dict(json.loads(text))
    for i in range(4, 8):
        for s in (sched, sched2):
            s.step(1.0) if name == "ReduceLROnPlateau" else s.step()
    assert _lrs(opt2) == _lrs(opt)


def test_initial_step_sets_initial_lr_and_epoch_zero():
    opt = Opt()
    sched = L.LinearLR(opt, start_factor=0.5, total_iters=4)
    assert sched.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert sched.get_last_lr() == [0.05, 0.005] == _lrs(opt)
    got = sched.get_last_lr()
    got[0] = 123.0  # a copy: cannot corrupt the scheduler
    assert sched.get_last_lr()[0] == 0.05


def test_resume_without_initial_lr_is_a_clear_error():
    with pytest.raises(KeyError, match=r"initial_lr.*param_groups\[0\].*last_epoch=5"):
        L.StepLR(Opt(), step_size=2, last_epoch=5)


def test_lambda_state_saves_no_functions_but_callable_objects():
    class Factor:
        def __init__(self):
            self.k = 0.5

        def __call__(self, epoch):
            return self.k**epoch

    opt = Opt()
    obj = Factor()
    sched = L.LambdaLR(opt, [lambda e: 1.0, obj])
    obj.k = 0.25
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"k": 0.25}]
    other = Factor()
    sched2 = L.LambdaLR(Opt(), [lambda e: 1.0, other])
    sched2.load_state_dict(state)
    assert other.k == 0.25


def test_plateau_monitor_and_missing_metric_lists_available():
    opt = Opt()
    sched = L.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    assert (sched.monitor, sched.mode, sched.interval) == ("val/loss", "min", "epoch")
    sched.step_from({"val/loss": 1.0, "train/loss": 2.0})
    sched.step_from({"val/loss": 1.0})  # no improvement, patience 0 -> halve
    assert _lrs(opt) == [0.05, 0.005]
    with pytest.raises(L.MissingMetricError) as err:
        sched.step_from({"train/loss": 1.0, "val/accuracy": 0.5})
    msg = str(err.value)
    assert "'val/loss'" in msg and "train/loss, val/accuracy" in msg
    acc = L.ReduceLROnPlateau(Opt(), mode="max", monitor="val/accuracy")
    assert acc.monitor == "val/accuracy"
    assert L.monitored_value({"val/accuracy": np.float32(0.5)}, "val/accuracy") == 0.5


def test_seed_recipe_c_steplr_30_over_100_epochs_drops_three_times():
    opt = Opt(lrs=(0.1,))
    sched = L.StepLR(opt, step_size=30, gamma=0.1)
    seen = []
    for epoch in range(100):
        seen.append(opt.param_groups[0]["lr"])  # lr used for this epoch's training
        sched.step()
    drops = [e for e in range(1, 100) if not math.isclose(seen[e], seen[e - 1])]
    assert drops == [30, 60, 90]
    assert seen[0] == 0.1
    for e, expected in [(29, 0.1), (30, 0.01), (60, 1e-3), (90, 1e-4), (99, 1e-4)]:
        assert seen[e] == pytest.approx(expected, rel=1e-12)


def test_cosine_warm_restarts_fractional_epochs():
    opt = Opt(lrs=(1.0,))
    sched = L.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    sched.step(1.5)  # within the first period of 2
    assert opt.param_groups[0]["lr"] == pytest.approx((1 + math.cos(math.pi * 1.5 / 2)) / 2)
    sched.step(3.0)  # second period (length 4) started at 2
    assert opt.param_groups[0]["lr"] == pytest.approx((1 + math.cos(math.pi * 1.0 / 4)) / 2)
    assert sched.last_epoch == 3 and sched.T_i == 4


def test_one_cycle_cycles_beta1_for_adam_style():
    opt = Opt(betas=(0.9, 0.999))
    sched = L.OneCycleLR(opt, max_lr=1.0, total_steps=10, base_momentum=0.8, max_momentum=0.9)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)
    for _ in range(2):
        sched.step()
    beta1, beta2 = opt.param_groups[0]["betas"]
    # at the lr peak: end of phase 1 is step pct_start * total_steps - 1 = 2 (torch's convention)
    assert beta1 == pytest.approx(0.8) and beta2 == 0.999
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda o: L.OneCycleLR(o, 0.1), "either total_steps OR"),
        (lambda o: L.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), "pct_start"),
        (lambda o: L.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="cosine"), "anneal_strategy"),
        (lambda o: L.CyclicLR(o, 0.01, 0.1, mode="sawtooth"), "mode 'sawtooth' is invalid"),
        (lambda o: L.CyclicLR(o, [0.01], 0.1), "base_lr must have the same length"),
        (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=0), "positive integer T_0"),
        (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), "T_mult >= 1"),
        (lambda o: L.ConstantLR(o, factor=2.0), "between 0 and 1"),
        (lambda o: L.LinearLR(o, start_factor=0.0), "greater than 0"),
        (lambda o: L.ReduceLROnPlateau(o, factor=1.0), "Factor should be < 1.0"),
        (lambda o: L.ReduceLROnPlateau(o, mode="up"), "mode up is unknown"),
        (lambda o: L.ReduceLROnPlateau(o, threshold_mode="pct"), "threshold mode pct is unknown"),
        (lambda o: L.ReduceLROnPlateau(o, min_lr=[0.1]), "expected 2 min_lrs, got 1"),
        (lambda o: L.LambdaLR(o, [lambda e: 1.0]), "Expected 2 lr_lambdas, but got 1"),
        (lambda o: L.StepLR(o, step_size=0), "step_size must be a positive integer"),
        (lambda o: L.SequentialLR(o, [L.StepLR(o, 2)], milestones=[3]), "one more than the number of milestone"),
        (lambda o: L.SequentialLR(o, [L.StepLR(o, 2), L.ReduceLROnPlateau(o)], [3]), "does not support `ReduceLROnPlateau`"),
        (lambda o: L.ChainedScheduler([L.StepLR(o, 2), L.StepLR(Opt(), 2)]), "same optimizer"),
        (lambda o: L.ChainedScheduler([]), "at least one scheduler"),
    ],
)
def test_constructor_errors(build, match):
    with pytest.raises((ValueError, TypeError, KeyError), match=match):
        build(Opt())


def test_not_an_optimizer():
    with pytest.raises(TypeError, match="list is not an Optimizer.*param_groups"):
        L.StepLR([], step_size=2)


def test_cycle_momentum_needs_momentum_or_betas():
    with pytest.raises(ValueError, match="momentum or beta1.*cycle_momentum=False"):
        L.OneCycleLR(Opt(), 0.1, total_steps=5)
    L.OneCycleLR(Opt(), 0.1, total_steps=5, cycle_momentum=False)


def test_one_cycle_overstep_error():
    sched = L.OneCycleLR(Opt(momentum=0.9), 0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
        sched.step()


def test_group_added_after_scheduler_is_named():
    opt = Opt()
    sched = L.LambdaLR(opt, lambda e: 0.5)  # closed form over base_lrs (one per group)
    opt.add_param_group({"params": [], "lr": 0.5})
    with pytest.raises(ValueError, match="computed 2 learning rates for 3 param groups"):
        sched.step()


def test_deprecated_epoch_argument_warns_and_uses_closed_form():
    opt = Opt(lrs=(1.0,))
    sched = L.StepLR(opt, step_size=2, gamma=0.5)
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(5)
    assert opt.param_groups[0]["lr"] == 0.25


# --------------------------------------------------------------------------- groups added later
@pytest.mark.parametrize("name", list(ALL))
def test_follow_new_group_keeps_every_scheduler_stepping(name):
    """A group added after construction (unfreeze) is scheduled from then on, state stays JSON."""
    opt = Opt(momentum=0.9)
    sched = ALL[name](opt)
    step = (lambda i: sched.step(1.0)) if name == "ReduceLROnPlateau" else (lambda i: sched.step())
    for i in range(3):
        step(i)
    opt.add_param_group({"params": [Parameter(np.zeros(2, np.float32))], "lr": 0.05, "momentum": 0.9})
    sched.follow_new_group(opt.param_groups[-1])
    assert sched.get_last_lr() == _lrs(opt)
    for i in range(5):
        step(i)
        assert len(sched.get_last_lr()) == 3 and sched.get_last_lr() == _lrs(opt)
    json.dumps(sched.state_dict())
    assert all(math.isfinite(lr) and lr >= 0 for lr in _lrs(opt))


@pytest.mark.parametrize("kind", ["OneCycleLR", "CyclicLR"])
def test_follow_new_group_joins_a_cycle_as_if_there_from_the_start(kind):
    def make(opt, peaks):
        if kind == "OneCycleLR":
            return L.OneCycleLR(opt, max_lr=peaks, total_steps=30, div_factor=10.0, final_div_factor=100.0)
        return L.CyclicLR(opt, base_lr=[p / 20 for p in peaks], max_lr=peaks, step_size_up=4, step_size_down=6)

    late = Opt(lrs=(0.1,), momentum=0.9)
    sched = make(late, [0.4])
    for _ in range(7):
        sched.step()
    late.add_param_group({"params": [], "lr": 0.2, "momentum": 0.9})
    sched.follow_new_group(late.param_groups[-1])
    ref_opt = Opt(lrs=(0.1, 0.1), momentum=0.9)
    ref = make(ref_opt, [0.4, 0.2])
    for _ in range(7):
        ref.step()
    for _ in range(20):
        assert _lrs(late) == pytest.approx(_lrs(ref_opt), rel=1e-12)
        want = [g["momentum"] for g in ref_opt.param_groups]
        assert [g["momentum"] for g in late.param_groups] == pytest.approx(want)
        sched.step()
        ref.step()


def test_follow_new_group_in_composites_reaches_the_children():
    opt = Opt(lrs=(1.0,))
    sched = L.SequentialLR(opt, [L.LinearLR(opt, start_factor=0.5, total_iters=2), L.ExponentialLR(opt, 0.5)], [2])
    sched.step()
    opt.add_param_group({"params": [], "lr": 0.1})
    sched.follow_new_group(opt.param_groups[-1])
    sched.step()  # milestone: ExponentialLR restarts from base_lrs (closed form at 0)
    assert _lrs(opt) == pytest.approx([1.0, 0.1])
    sched.step()
    assert _lrs(opt) == pytest.approx([0.5, 0.05])


def test_plateau_follows_with_a_scalar_min_lr_only():
    opt = Opt()
    sched = L.ReduceLROnPlateau(opt, min_lr=[0.0, 0.001])
    opt.add_param_group({"params": [], "lr": 0.1, "name": "unfreeze:features.*"})
    with pytest.raises(ValueError, match=r"one min_lr per param group.*'unfreeze:features\.\*'.*one number"):
        sched.follow_new_group(opt.param_groups[-1])


# --------------------------------------------------------------------------- composite intervals
def _warm(o):
    return L.WarmupLinearLR(o, total_steps=10, warmup=2)  # interval "step"


@pytest.mark.parametrize(
    "build",
    [
        lambda o, **kw: L.SequentialLR(o, [_warm(o), L.CosineAnnealingLR(o, 5)], [3], **kw),
        lambda o, **kw: L.ChainedScheduler([L.ExponentialLR(o, 0.9), _warm(o)], **kw),
    ],
    ids=["sequential", "chained"],
)
def test_composite_of_mixed_intervals_needs_an_explicit_interval(build):
    sched = build(Opt())
    with pytest.raises(ValueError) as err:
        sched.interval  # noqa: B018 - the Trainer reads it when it is built
    msg = str(err.value)
    assert "different intervals" in msg and "WarmupLinearLR: 'step'" in msg and "'epoch'" in msg
    assert "interval='step'" in msg and "scheduler.interval=step" in msg
    assert build(Opt(), interval="step").interval == "step"
    assert build(Opt(), interval="epoch").interval == "epoch"
    sched.interval = "step"  # what a config's scheduler.interval does
    assert sched.interval == "step"
    with pytest.raises(ValueError, match="interval must be one of"):
        build(Opt(), interval="batch")


def test_composite_of_agreeing_intervals_takes_theirs():
    o = Opt()
    assert L.SequentialLR(o, [_warm(o), L.CyclicLR(o, 0.01, 0.1, cycle_momentum=False)], [3]).interval == "step"
    o = Opt()
    assert L.ChainedScheduler([L.ExponentialLR(o, 0.9), L.StepLR(o, 2)]).interval == "epoch"


def test_trainer_refuses_a_composite_of_mixed_intervals():
    from trainkit import nn
    from trainkit.data import DataLoader, TensorDataset
    from trainkit.optim import SGD
    from trainkit.trainer import Trainer

    model = nn.Linear(2, 1)
    opt = SGD(model.parameters(), lr=0.1)
    sched = L.SequentialLR(opt, [_warm(opt), L.CosineAnnealingLR(opt, 5)], [3])
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="SequentialLR has children with different intervals"):
        Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, x[:, :1])), scheduler=sched,
                default_plugins=False)
