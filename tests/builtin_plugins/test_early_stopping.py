"""Early stopping: monitor, mode, patience, min_delta; state survives a checkpoint."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import nn
from trainkit.builtin_plugins.early_stopping import EarlyStopping
from trainkit.data.dataset import TensorDataset
from trainkit.data.loader import DataLoader
from trainkit.optim import SGD
from trainkit.trainer import Trainer


class FakeTrainer:
    def __init__(self):
        self.metrics, self.should_stop, self.stop_reason = {}, False, None


def feed(stopper, values, key="val/loss"):
    trainer = FakeTrainer()
    for i, v in enumerate(values):
        stopper.on_validation_end(trainer, {key: v})
        if trainer.should_stop:
            return i, trainer
    return None, trainer


def test_stops_after_patience_validations_without_improvement():
    stopped_at, trainer = feed(EarlyStopping(patience=2), [1.0, 0.9, 0.95, 0.91, 0.5])
    assert stopped_at == 3
    assert "val/loss did not improve on 0.9 for 2 validation(s)" in trainer.stop_reason


def test_min_delta_and_max_mode():
    assert feed(EarlyStopping(patience=1, min_delta=0.05), [1.0, 0.97])[0] == 1  # 0.03 is not enough
    assert feed(EarlyStopping(monitor="val/accuracy", mode="max", patience=1), [0.5, 0.6, 0.6],
                key="val/accuracy")[0] == 2
    assert feed(EarlyStopping(patience=1), [3.0, 2.0, 1.0])[0] is None


def test_missing_metric_lists_the_available_ones():
    with pytest.raises(KeyError, match="'val/acc'.*available metrics: val/loss"):
        feed(EarlyStopping(monitor="val/acc"), [1.0])


def test_bad_options():
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="lowest")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)


def test_ends_a_real_fit_early_and_state_round_trips():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 2)).astype(np.float32)
    y = rng.normal(size=(32, 1)).astype(np.float32)  # pure noise: validation loss stops improving
    trainkit.manual_seed(0)
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2)
    trainer = Trainer(model, nn.MSELoss(), SGD(model.parameters(), lr=0.3),
                      DataLoader(TensorDataset(x, y), batch_size=8),
                      val_loader=DataLoader(TensorDataset(x[::-1].copy(), y), batch_size=8),
                      plugins=[stopper], max_epochs=200, default_plugins=False)
    trainer.fit()
    assert trainer.epoch < 200 and trainer.should_stop and stopper.wait == 2
    state = stopper.state_dict()  # what the Trainer saves under checkpoint["plugins"]["early_stopping"]
    again = EarlyStopping(patience=2)
    again.load_state_dict(state)
    assert (again.best, again.wait) == (stopper.best, stopper.wait)


def _fit_without_validation(stopper, max_epochs=50):
    x = np.random.default_rng(1).normal(size=(16, 2)).astype(np.float32)
    trainkit.manual_seed(0)
    model = nn.Linear(2, 1)
    trainer = Trainer(model, nn.MSELoss(), SGD(model.parameters(), lr=1e-9),  # the loss cannot improve
                      DataLoader(TensorDataset(x, x[:, :1]), batch_size=8), plugins=[stopper],
                      max_epochs=max_epochs, default_plugins=False)
    trainer.fit()
    return trainer


def test_without_validation_data_a_training_metric_is_checked_at_each_epoch_end():
    trainer = _fit_without_validation(EarlyStopping(monitor="train/loss", patience=2))
    assert trainer.should_stop and trainer.epoch == 3  # epoch 1 sets the best, 2 and 3 do not improve
    assert trainer.stopped_by == "early_stopping"


def test_without_validation_data_monitoring_a_validation_metric_is_an_error():
    from trainkit.plugins import PluginHookError

    with pytest.raises(PluginHookError, match="'val/loss'.*no validation data.*'train/loss'"):
        _fit_without_validation(EarlyStopping(monitor="val/loss"))
