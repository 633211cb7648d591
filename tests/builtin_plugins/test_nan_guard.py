"""NaN guard: a diverging run stops before the bad update, naming step, batch and checkpoint."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import nn
from trainkit.builtin_plugins.checkpointing import Checkpointing
from trainkit.builtin_plugins.nan_guard import NaNGuard, NonFiniteLossError
from trainkit.data.dataset import TensorDataset
from trainkit.data.loader import DataLoader
from trainkit.hookspecs import hookimpl
from trainkit.optim import SGD
from trainkit.trainer import Trainer


def diverging_trainer(run_dir=None, plugins=(), targets=None, lr=0.5):
    """Linear regression on large inputs: at lr=0.5 the loss grows ~100x per step to inf, then nan."""
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 4)) * 10).astype(np.float32)
    y = x.sum(axis=1, keepdims=True) if targets is None else targets
    trainkit.manual_seed(0)
    model = nn.Linear(4, 1)
    return Trainer(model, nn.MSELoss(), SGD(model.parameters(), lr=lr),
                   DataLoader(TensorDataset(x, y), batch_size=1), max_epochs=3, run_dir=run_dir,
                   plugins=list(plugins), default_plugins=("progress", "tensorboard", "checkpointing"))


class WeightTrace:
    """Remembers the weights after every update."""

    def __init__(self):
        self.after = []

    @hookimpl
    def on_step_end(self, trainer, step, skipped):
        self.after.append(trainer.model.weight.data.copy())


def test_non_finite_loss_stops_before_the_update_naming_step_batch_and_checkpoint(tmp_path):
    trace = WeightTrace()
    trainer = diverging_trainer(tmp_path, plugins=[Checkpointing(every_n_steps=2), trace])
    with pytest.raises(NonFiniteLossError) as info, np.errstate(over="ignore", invalid="ignore"):
        trainer.fit()  # overflow warnings are the divergence under test
    bad_step = trainer.global_step + 1
    message = str(info.value)
    assert f"at step {bad_step} (epoch 0, batch {trainer.batch_idx})" in message
    assert "the update was not applied" in message
    last_good = trainer.last_checkpoint
    assert last_good is not None and last_good.exists() and str(last_good) in message
    assert np.isfinite(trainer.model.weight.data).all()
    np.testing.assert_array_equal(trainer.model.weight.data, trace.after[-1])  # nothing after the last update


def test_without_a_checkpoint_the_message_says_so():
    trainer = diverging_trainer()
    with pytest.raises(NonFiniteLossError, match="Last good checkpoint: none written yet"), \
            np.errstate(over="ignore", invalid="ignore"):
        trainer.fit()


def test_skip_policy_drops_bad_batches_and_keeps_training():
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(64, 4)) * 10).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    y[[5, 40]] = np.nan  # two corrupt labels
    guard = NaNGuard(on_nonfinite="skip", max_streak=3)
    trainer = diverging_trainer(plugins=[guard], targets=y, lr=1e-4)
    with np.errstate(invalid="ignore"):
        metrics = trainer.fit()
    assert trainer.skipped_steps == 6 and guard.skipped == 6  # 2 bad batches x 3 epochs
    assert np.isfinite(trainer.model.weight.data).all() and np.isfinite(metrics["train/loss"])
    assert trainer.global_step == 3 * 64


def test_skip_policy_gives_up_after_a_streak():
    guard = NaNGuard(on_nonfinite="skip", max_streak=4)
    trainer = diverging_trainer(plugins=[guard])
    with pytest.raises(NonFiniteLossError, match="4 non-finite losses in a row"), \
            np.errstate(over="ignore", invalid="ignore"):
        trainer.fit()
    assert guard.streak == 4 and trainer.skipped_steps >= 4


def test_guard_state_round_trips_through_a_checkpoint():
    guard = NaNGuard(on_nonfinite="skip")
    guard.streak, guard.skipped = 2, 7
    state = guard.state_dict()  # what the Trainer saves under checkpoint["plugins"]["nan_guard"]
    other = NaNGuard(on_nonfinite="skip")
    other.load_state_dict(state)
    assert (other.streak, other.skipped) == (2, 7)


@pytest.mark.parametrize(("kwargs", "match"), [({"on_nonfinite": "ignore"}, "on_nonfinite"),
                                               ({"max_streak": 0}, "max_streak")])
def test_bad_options_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NaNGuard(**kwargs)
