"""GradClip: the trainer.grad_clip grad transform (norm/value, non-finite policies, state, registration)."""
from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest

from trainkit import nn
from trainkit.builtin_plugins.clipping import (
    GradClip,
    GradientSkipLimitError,
    NonFiniteGradientError,
    NonFiniteGradientWarning,
)
from trainkit.data import DataLoader
from trainkit.data.dataset import TensorDataset
from trainkit.nn import Parameter
from trainkit.nn.utils import clip_grad_norm_
from trainkit.optim import SGD
from trainkit.optim.lr_scheduler import StepLR
from trainkit.plugins import registry
from trainkit.trainer import Trainer


def _params(*grads):
    ps = []
    for g in grads:
        p = Parameter(np.zeros(len(g), np.float32))
        p.grad = np.asarray(g, np.float32)
        ps.append(p)
    return ps


def test_registered_as_grad_clip():
    reg = registry("grad_transforms")
    assert reg.get("grad_clip") is GradClip
    assert reg.provider("grad_clip").endswith("clipping")


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
def test_norm_algorithm_equals_clip_grad_norm_(norm_type):
    a = _params([3.0, -4.0], [12.0])
    b = _params([3.0, -4.0], [12.0])
    clip = GradClip(algorithm="norm", max=2.0, norm_type=norm_type)
    assert clip(a) is True
    want = clip_grad_norm_(b, 2.0, norm_type)
    assert clip.last_norm == pytest.approx(float(want.item()))
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa.grad, pb.grad)


def test_value_algorithm_clamps_and_measures_norm():
    ps = _params([3.0, -0.2], [-12.0])
    clip = GradClip(algorithm="value", max=1.0)
    assert clip(ps) is True
    np.testing.assert_array_equal(ps[0].grad, np.array([1.0, -0.2], np.float32))
    np.testing.assert_array_equal(ps[1].grad, [-1.0])
    assert clip.last_norm == pytest.approx(math.sqrt(9 + 0.04 + 144), rel=1e-6)


def test_skip_counts_logs_and_aborts_after_limit(caplog):
    clip = GradClip(max=1.0, nonfinite="skip", max_consecutive_skips=3)
    good = lambda: _params([0.5, 0.5])  # noqa: E731
    bad = lambda: _params([np.nan, 1.0])  # noqa: E731
    with caplog.at_level(logging.WARNING, logger="trainkit.clipping"):
        assert clip(bad()) is False
    assert "skipping update: gradient norm is nan (1 in a row, 1 in total)" in caplog.text
    assert clip(bad()) is False
    assert (clip.skipped_total, clip.consecutive_skips) == (2, 2)
    assert clip(good()) is True
    assert (clip.skipped_total, clip.consecutive_skips) == (2, 0)
    assert clip(bad()) is False and clip(bad()) is False
    with pytest.raises(GradientSkipLimitError, match=r"3 consecutive updates skipped.*max_consecutive_skips=3.*5 skipped in total"):
        clip(bad())


def test_skipped_gradients_are_left_untouched():
    ps = _params([np.inf, 1.0])
    assert GradClip(max=1.0)(ps) is False
    np.testing.assert_array_equal(ps[0].grad, [np.inf, 1.0])


def test_error_policy():
    with pytest.raises(NonFiniteGradientError, match="gradient norm .* is inf; the update was not applied"):
        GradClip(max=1.0, nonfinite="error")(_params([np.inf]))


def test_warn_policy_clips_anyway():
    ps = _params([np.nan, 1.0])
    with pytest.warns(NonFiniteGradientWarning, match="gradient norm is nan; clipping anyway"):
        assert GradClip(max=1.0, nonfinite="warn")(ps) is True
    assert np.isnan(ps[0].grad).all()  # torch's behaviour: scaled by the NaN norm


def test_state_dict_round_trip_through_json():
    clip = GradClip(max=1.0, max_consecutive_skips=5)
    clip(_params([np.nan]))
    clip(_params([3.0, 4.0]))
    clip(_params([np.nan]))
    state = json.loads(json.dumps(clip.state_dict()))
    other = GradClip(max=1.0, max_consecutive_skips=5)
    other.load_state_dict(state)
    assert (other.skipped_total, other.consecutive_skips) == (2, 1)
    assert math.isnan(other.last_norm)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"algorithm": "l2"}, r"grad_clip.algorithm must be one of \('norm', 'value'\), got 'l2'"),
        ({"nonfinite": "ignore"}, "grad_clip.nonfinite must be one of"),
        ({"max": 0}, "grad_clip.max must be a positive finite number, got 0"),
        ({"max": "big"}, "grad_clip.max must be a positive number, got 'big'"),
        ({"norm_type": -1}, "grad_clip.norm_type must be positive"),
        ({"norm_type": "fro"}, "grad_clip.norm_type must be a number or 'inf'"),
        ({"max_consecutive_skips": 0}, "grad_clip.max_consecutive_skips must be an int >= 1"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GradClip(**kwargs)


class _NaNOnce(nn.Module):
    """A linear model whose loss is NaN on the batches whose x[0, 0] is NaN."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def forward(self, x):
        return self.lin(x)


def test_trainer_skips_update_and_does_not_advance_schedulers():
    x = np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32)
    y = np.zeros((8, 1), np.float32)
    x[4:6, 0] = np.nan  # batch 2 of 4 has non-finite gradients
    model = _NaNOnce()
    opt = SGD(model.parameters(), lr=0.1)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    sched.interval = "step"
    clip = GradClip(max=1.0, nonfinite="skip")
    trainer = Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, y), batch_size=2),
                      scheduler=sched, grad_transforms=[clip], max_epochs=1, default_plugins=False)
    trainer.fit()
    assert trainer.skipped_steps == 1 and clip.skipped_total == 1
    assert sched.last_epoch == 3  # 4 batches, one skipped
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)
    assert all(np.isfinite(p.data).all() for p in model.parameters())
