"""Metrics that are not plain floats: numbers of any kind are logged, anything else is skipped with one warning."""
from __future__ import annotations

import io
import logging

import numpy as np
import pytest

import trainkit
from trainkit import nn
from trainkit.builtin_plugins.progress import ProgressBar
from trainkit.data.dataset import TensorDataset
from trainkit.data.loader import DataLoader
from trainkit.hookspecs import hookimpl
from trainkit.metric_values import numeric_metrics, to_float
from trainkit.optim import SGD
from trainkit.trainer import Trainer

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def test_to_float_accepts_numbers_scalars_and_0d_arrays_only():
    for value, expected in [(1, 1.0), (2.5, 2.5), (True, 1.0), (np.float32(0.5), 0.5), (np.int64(3), 3.0),
                            (np.array(1.5), 1.5), (np.array(2, dtype=np.int32), 2.0), (np.bool_(True), 1.0),
                            (trainkit.tensor(4.0), 4.0)]:
        assert to_float(value) == expected and type(to_float(value)) is float, value
    for value in (None, "abc", b"1", np.ones(3), np.array([1.0]), np.array("x"), np.array(1 + 2j), [1.0], {}):
        assert to_float(value) is None, value
    assert np.isnan(to_float(float("nan")))  # a NaN loss is a number (TensorBoard shows it)


def test_numeric_metrics_warns_once_per_key_and_trainer(caplog):
    class Run:
        skipped_metrics: set = set()

    run = Run()
    with caplog.at_level(logging.WARNING, logger="trainkit.metrics"):
        for _ in range(3):
            assert numeric_metrics({"a": 1, "b": None, "c": np.ones(2)}, run) == {"a": 1.0}
    assert [r.getMessage() for r in caplog.records] == [
        "metric 'b' is None, not a number: it is not logged",
        "metric 'c' is a 'ndarray' of shape (2,), not a number: it is not logged",
    ]
    assert run.skipped_metrics == {"b", "c"}


class OddMetrics:
    """A plugin that puts every kind of value into the metrics."""

    name = "odd_metrics"

    @hookimpl
    def on_validation_end(self, trainer, metrics):
        metrics["val/custom"] = None
        metrics["val/np_scalar"] = np.float32(0.25)
        metrics["val/zero_d"] = np.array(0.75)

    @hookimpl
    def on_epoch_start(self, trainer, epoch):
        trainer.metrics["x"] = "abc"
        trainer.metrics["vector"] = np.arange(3.0)
        trainer.metrics["int_count"] = np.int64(epoch)


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_a_plugin_logging_none_strings_and_numpy_values_does_not_stop_training(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("sys.stderr", FakeTTY())  # the progress bar is on (its on_log path runs)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    trainkit.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    trainer = Trainer(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.1),
                      DataLoader(TensorDataset(x[:32], y[:32]), batch_size=8),
                      val_loader=DataLoader(TensorDataset(x[32:], y[32:]), batch_size=8), max_epochs=3, log_every=2,
                      run_dir=tmp_path, plugins=[OddMetrics(), ProgressBar()])
    with caplog.at_level(logging.WARNING, logger="trainkit.metrics"):
        final = trainer.fit()
    assert trainer.global_step == 12 and final["x"] == "abc"
    warned = [r.getMessage() for r in caplog.records if r.name == "trainkit.metrics"]
    assert sorted(warned) == [
        "metric 'val/custom' is None, not a number: it is not logged",
        "metric 'vector' is a 'ndarray' of shape (3,), not a number: it is not logged",
        "metric 'x' is 'abc', not a number: it is not logged",
    ]  # one each, although every epoch and the final hparams see them again
    assert trainer.skipped_metrics == {"val/custom", "x", "vector"}

    acc = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    acc.Reload()
    scalars = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    assert scalars["val/np_scalar"] == [(4, 0.25), (8, 0.25), (12, 0.25)]
    assert scalars["val/zero_d"] == [(4, 0.75), (8, 0.75), (12, 0.75)]
    # a numpy integer set straight into trainer.metrics reaches the end of the run as a plain number
    from trainkit.metric_values import numeric_metrics

    assert numeric_metrics(final, trainer)["int_count"] == 2.0 and type(numeric_metrics(final, trainer)["int_count"]) is float
    assert not [t for t in scalars if "custom" in t or t.endswith(("/x", "vector"))]
    assert {"train/loss", "val/loss", "val/accuracy"} <= set(scalars)


def test_the_metrics_file_keeps_finite_numbers_only(tmp_path):
    """metrics.jsonl is JSON: numbers (numpy scalars included) are written, None/strings/NaN are not."""
    import json

    from trainkit.builtin_plugins.metrics_file import MetricsFile

    class FakeTrainer:
        epoch, skipped_metrics, run_dir = 1, set(), tmp_path

    plugin = MetricsFile()
    trainer = FakeTrainer()
    plugin.on_fit_start(trainer)
    plugin.on_log(trainer, 3, {"a": np.float32(0.5), "b": None, "c": "x", "d": float("nan"), "e": np.array(2)})
    plugin.on_teardown(trainer)
    (row,) = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert row == {"step": 3, "epoch": 1, "metrics": {"a": 0.5, "e": 2.0}}
