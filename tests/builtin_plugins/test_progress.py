"""Progress bar: off when not a terminal, per-epoch bar with loss/lr when on, log lines always."""
from __future__ import annotations

import io
import logging

import numpy as np

import trainkit
from trainkit import nn
from trainkit.builtin_plugins.progress import ProgressBar
from trainkit.data.dataset import TensorDataset
from trainkit.data.loader import DataLoader
from trainkit.optim import SGD
from trainkit.trainer import Trainer


def run(progress, epochs=2):
    x = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    trainkit.manual_seed(0)
    model = nn.Linear(2, 1)
    trainer = Trainer(model, nn.MSELoss(), SGD(model.parameters(), lr=0.1),
                      DataLoader(TensorDataset(x, x[:, :1]), batch_size=4), plugins=[progress],
                      max_epochs=epochs, log_every=2, default_plugins=False)
    trainer.fit()
    return trainer


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_disabled_automatically_when_stderr_is_not_a_terminal(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    bar = ProgressBar()
    run(bar)
    assert bar._tqdm is None and stream.getvalue() == ""


def test_shows_a_bar_per_epoch_with_loss_and_lr_on_a_terminal(monkeypatch):
    stream = FakeTTY()
    monkeypatch.setattr("sys.stderr", stream)
    run(ProgressBar())
    text = stream.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text
    assert "4/4" in text and "loss=" in text and "lr=0.1" in text


def test_logs_one_line_per_epoch(caplog, monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    with caplog.at_level(logging.INFO, logger="trainkit.progress"):
        run(ProgressBar(enabled=False), epochs=3)
    lines = [r.getMessage() for r in caplog.records if r.name == "trainkit.progress"]
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3 step 4: loss ")
    assert "skipped" not in lines[0] and "lr 0.1" in lines[0]  # compact: no zero counters


def test_without_logging_the_epoch_line_goes_to_stdout(capsys, monkeypatch):
    """Trainer.fit() from Python or a notebook (no logging set up, no terminal) is not silent."""
    monkeypatch.setattr("sys.stderr", io.StringIO())
    root, trainkit_logger = logging.getLogger(), logging.getLogger("trainkit")
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(trainkit_logger, "handlers", [])
    run(ProgressBar(), epochs=2)
    out = capsys.readouterr().out.splitlines()
    assert [ln.split(":")[0] for ln in out] == ["epoch 1/2 step 4", "epoch 2/2 step 8"]
