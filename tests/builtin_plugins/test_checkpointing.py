"""Checkpointing plugin: cadence, pruning, final save, state; the format itself is in tests/test_checkpoint.py."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import checkpoint as ckpt
from trainkit import nn
from trainkit.builtin_plugins.checkpointing import Checkpointing
from trainkit.data.dataset import TensorDataset
from trainkit.data.loader import DataLoader
from trainkit.optim import SGD
from trainkit.trainer import Trainer


def fit(run_dir, plugin, **kw):
    x = np.random.default_rng(0).normal(size=(24, 2)).astype(np.float32)
    trainkit.manual_seed(0)
    model = nn.Linear(2, 1)
    trainer = Trainer(model, nn.MSELoss(), SGD(model.parameters(), lr=0.1),
                      DataLoader(TensorDataset(x, x[:, :1]), batch_size=4), plugins=[plugin], run_dir=run_dir,
                      default_plugins=False, **kw)
    trainer.fit()
    return trainer


def steps(directory):
    return [int(p.stem.split("-")[1]) for p in ckpt.find_checkpoints(directory)]


def test_every_n_epochs_keep_last(tmp_path):
    fit(tmp_path, Checkpointing(every_n_epochs=2, keep_last=2), max_epochs=5)
    assert steps(tmp_path / "checkpoints") == [24, 30]  # epochs 2 and 4 (6 steps each), plus the final one


def test_every_n_steps_into_a_custom_directory(tmp_path):
    trainer = fit(None, Checkpointing(dirpath=tmp_path / "ck", every_n_steps=4, every_n_epochs=0, keep_last=10,
                                      save_last=False), max_steps=10)
    assert steps(tmp_path / "ck") == [4, 8]
    assert trainer.last_checkpoint == tmp_path / "ck" / "step-000000008.npz"


def test_needs_a_directory():
    with pytest.raises(Exception, match="pass dirpath= or give the Trainer a run_dir"):
        fit(None, Checkpointing(), max_epochs=1)


def test_bad_options():
    with pytest.raises(ValueError, match="keep_last"):
        Checkpointing(keep_last=0)
    with pytest.raises(ValueError, match="every_n_steps"):
        Checkpointing(every_n_steps=-2)


def test_a_monitor_the_run_does_not_produce_is_warned_about_once(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    val = DataLoader(TensorDataset(x, x[:, :1]), batch_size=4)
    with pytest.warns(ckpt.CheckpointWarning, match="monitors 'val/acc'.*no best.npz.*available metrics: .*val/loss") as rec:
        fit(tmp_path, Checkpointing(monitor="val/acc"), max_epochs=3, val_loader=val)
    assert len([w for w in rec if "val/acc" in str(w.message)]) == 1
    assert not (tmp_path / "checkpoints" / "best.npz").exists()
