"""``Trainer.lr_find`` / ``trainkit lr-find``: the range test, its suggestions, and that it changes nothing."""
from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import trainkit as tk
from trainkit import random as tk_random
from trainkit.config import register_configs
from trainkit.lr_finder import centred_average, suggestions

SMALL = ["data.n_samples=300", "model.hidden_sizes=[16]", "model.dropout=0.2", "callbacks.progress.enabled=false",
         "callbacks.tensorboard.enabled=false", "trainer.grad_clip.max=1.0", "scheduler=step",
         "scheduler.step_size=1", "callbacks.ema.enabled=true", "callbacks.early_stopping.enabled=true"]


def build(*overrides, run_dir=None):
    from trainkit.compose import build_run
    from trainkit.overrides import validate

    register_configs()
    (cfg,) = validate(list(overrides))
    return build_run(cfg, run_dir=run_dir)


def everything(run) -> dict:
    """Every state lr_find must leave alone, as plain comparable values."""
    trainer = run.trainer
    state = trainer.checkpoint_state()  # model, optimizer, schedulers, transforms, counters, loader, rng, plugins
    state.pop("config")
    state["plugins"] = {getattr(p, "name", type(p).__name__): p.state_dict() for p in trainer.plugins
                        if hasattr(p, "state_dict")}
    state["grads"] = [None if p.grad is None else np.array(p.grad) for p in trainer.model.parameters()]
    state["modes"] = [m.training for m in trainer.model.modules()]
    state["groups"] = [{k: v for k, v in g.items() if k != "params"} for g in trainer.optimizer.param_groups]
    state["attrs"] = {k: v for k, v in vars(trainer).items() if isinstance(v, (int, float, str, type(None)))}
    state["rng_draw"] = tk_random.generator().bit_generator.state
    return copy.deepcopy(state)


def assert_same(a, b, where="state"):
    if isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif hasattr(a, "dtype") and hasattr(a, "shape"):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def test_lr_find_leaves_every_state_as_it_was(tmp_path):
    run = build(*SMALL, "trainer.max_epochs=1", "optimizer=sgd", "optimizer.momentum=0.9", run_dir=tmp_path)
    run.trainer.fit()  # optimizer state, scheduler state, a loader position, plugin state
    run.trainer.max_epochs = 3
    run.model.eval()  # lr_find trains in train mode; the mode must come back
    before = everything(run)
    result = run.trainer.lr_find(num_steps=30, max_lr=100.0)
    assert len(result.lrs) >= 10
    assert_same(before, everything(run))


@pytest.mark.parametrize("optimizer", [["optimizer=adam"], ["optimizer=sgd", "optimizer.momentum=0.9"]])
def test_lr_find_then_train_is_bitwise_train_alone(tmp_path, optimizer):
    alone = build(*SMALL, *optimizer, "trainer.max_epochs=2", run_dir=tmp_path / "alone")
    alone.trainer.fit()
    probed = build(*SMALL, *optimizer, "trainer.max_epochs=2", run_dir=tmp_path / "probed")
    files_before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    probed.trainer.lr_find(num_steps=40)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == files_before, "lr_find wrote files"
    probed.trainer.fit()
    for (name, a), b in zip(alone.model.state_dict().items(), probed.model.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    ema_a = next(p for p in alone.trainer.plugins if getattr(p, "name", "") == "ema").averaged.module
    ema_b = next(p for p in probed.trainer.plugins if getattr(p, "name", "") == "ema").averaged.module
    for (name, a), b in zip(ema_a.state_dict().items(), ema_b.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    for key, value in alone.trainer.metrics.items():
        if not key.startswith("time/"):
            assert probed.trainer.metrics[key] == value, key


def test_the_finder_does_train_and_would_change_things_without_restoring(monkeypatch):
    """The test above must be able to fail: without the restore, lr_find changes the weights."""
    from trainkit import snapshot

    run = build(*SMALL, "trainer.max_epochs=1")
    before = {k: v.copy() for k, v in run.model.state_dict().items()}
    monkeypatch.setattr(snapshot.TrainingSnapshot, "restore", lambda self: None)
    run.trainer.lr_find(num_steps=20)
    assert any(not np.array_equal(before[k], v) for k, v in run.model.state_dict().items())


def test_suggestions_of_a_known_curve():
    lrs = np.logspace(-6, 1, 120)
    losses = 1.0 / (1.0 + np.exp(3 * (np.log10(lrs) + 2)))  # falls fastest at lr = 1e-2
    losses = losses + np.where(lrs > 0.3, (lrs - 0.3) * 10, 0)  # blows up past 0.3
    found = suggestions(lrs, centred_average(losses, 5))
    assert found["steep"] == pytest.approx(1e-2, rel=0.2)
    assert 1e-4 < found["valley"] < 0.3
    lowest = lrs[int(np.argmin(centred_average(losses, 5)))]
    assert found["minimum"] == pytest.approx(lowest / 10)
    assert suggestions([1e-3, 1e-2], [1.0, 0.5]) == {"steep": None, "valley": None, "minimum": None}
    assert centred_average([1.0, 2.0, 3.0], 3) == pytest.approx([4 / 3, 2.0, 8 / 3])


def test_bad_arguments_and_closure_optimizers_are_refused():
    run = build(*SMALL, "trainer.max_epochs=1")
    for kwargs in ({"min_lr": 1.0, "max_lr": 0.1}, {"num_steps": 1}, {"smooth": 1.0}, {"diverge": 1.0},
                   {"method": "best"}):
        with pytest.raises(ValueError, match="lr_find"):
            run.trainer.lr_find(**kwargs)
    lbfgs = build(*SMALL, "trainer.max_epochs=1", "optimizer=lbfgs")
    with pytest.raises(ValueError, match="closure"):
        lbfgs.trainer.lr_find()


def test_the_suggestion_trains_the_spirals_mlp_as_well_as_the_default_lr(tmp_path):
    """lr-find on the default run (spirals MLP, Adam): its suggestion reaches at least the default lr's
    validation accuracy (measured: default lr 0.01 -> 0.9967, suggested 0.0102 -> 0.9967)."""
    base = ["callbacks=none"]
    default = build(*base)
    result = default.trainer.lr_find()
    default_accuracy = default.trainer.fit()["val/accuracy"]
    suggested = build(*base, f"lr={result.suggestion}")
    suggested_accuracy = suggested.trainer.fit()["val/accuracy"]
    print(f"default lr {default.optimizer.defaults['lr']}: {default_accuracy:.4f}; "
          f"suggested {result.suggestion:.4g}: {suggested_accuracy:.4f}")
    assert suggested_accuracy >= default_accuracy


def test_cli_prints_the_table_and_plots(tmp_path):
    out = tmp_path / "lr.png"
    env = dict(os.environ, PYTHONPATH=str(Path(tk.__file__).resolve().parent.parent))
    done = subprocess.run([sys.executable, "-m", "trainkit", "lr-find", "--num-steps", "60", "--plot", str(out),
                           "data.n_samples=300"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "suggested lr" in done.stdout and "<- steep" in done.stdout
    assert "trainkit train data.n_samples=300 lr=" in done.stdout
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and b"IHDR" in data[:16]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr.png"], "no run directory, no clutter"
    bad = subprocess.run([sys.executable, "-m", "trainkit", "lr-find", "--num-steps", "many"],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "--num-steps='many'" in bad.stderr
    typo = subprocess.run([sys.executable, "-m", "trainkit", "lr-find", "optimzer=sgd"],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert typo.returncode == 2 and "config:" in typo.stderr
