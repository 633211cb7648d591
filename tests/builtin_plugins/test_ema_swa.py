"""The ``ema`` and ``swa`` callbacks: what they compute, report and save, and bit-identical resume."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import trainkit as tk
from trainkit import checkpoint as ckpt
from trainkit.config import register_configs
from trainkit.hookspecs import hookimpl

SMALL = ["data.n_samples=240", "data.batch_size=32", "model.hidden_sizes=[16]", "model.dropout=0.1",
         "callbacks.progress.enabled=false", "callbacks.tensorboard.enabled=false", "trainer.log_every=2"]
EMA = ["callbacks.ema.enabled=true", "callbacks.ema.decay=0.9"]
SWA = ["callbacks.swa.enabled=true", "callbacks.swa.start_epoch=2", "callbacks.swa.swa_lr=0.002",
       "callbacks.swa.anneal_epochs=2", "optimizer=sgd", "optimizer.momentum=0.9", "scheduler=step",
       "scheduler.step_size=1", "scheduler.gamma=0.5"]


def build(*overrides, run_dir=None):
    from trainkit.compose import build_run
    from trainkit.overrides import validate

    register_configs()
    (cfg,) = validate([*SMALL, *overrides])
    return build_run(cfg, run_dir=run_dir)


def weights(model) -> dict:
    return {k: np.array(v) for k, v in model.state_dict().items()}


def plugin(trainer, name):
    """The run's plugin ``name`` (``trainer.plugin`` answers during a fit only)."""
    found = [p for p in trainer.plugins if getattr(p, "name", None) == name]
    return found[0] if found else None


class Probe:
    """Records the model's weights after every optimizer step."""

    name = "probe"

    def __init__(self):
        self.seen = []

    @hookimpl
    def on_after_optimizer_step(self, trainer, optimizer):
        self.seen.append(weights(trainer.model))


def test_ema_is_updated_after_every_step_and_validated(tmp_path):
    run = build(*EMA, "trainer.max_epochs=2", run_dir=tmp_path)
    probe = Probe()
    run.trainer.plugins.append(probe)
    metrics = run.trainer.fit()
    ema = plugin(run.trainer, "ema")
    assert int(ema.averaged.n_averaged.data) == len(probe.seen) == 2 * len(run.train_loader)
    for key, value in weights(ema.averaged.module).items():
        expected = probe.seen[0][key].astype(np.float64)
        for w in probe.seen[1:]:
            expected = 0.9 * expected + 0.1 * w[key]
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6, err_msg=key)
        assert not np.allclose(value, probe.seen[-1][key]), "the EMA must differ from the last weights"
    assert {"val_ema/loss", "val_ema/accuracy", "val/loss"} <= set(metrics)
    assert metrics["val_ema/loss"] != metrics["val/loss"]
    best = ckpt.load(tmp_path / "checkpoints" / "best_ema.npz")
    assert best["weights"] == "ema" and best["monitor"] == "val_ema/loss"
    assert best["value"] == ema.best == min(ema.best, metrics["val_ema/loss"])
    assert ckpt.find_checkpoints(tmp_path / "checkpoints"), "best_ema.npz is not a step checkpoint"
    newest = ckpt.load(ckpt.find_checkpoints(tmp_path / "checkpoints")[-1])
    for key, value in weights(ema.averaged.module).items():
        np.testing.assert_array_equal(newest["plugins"]["ema"]["model"][key], value)


def test_export_ema_from_a_checkpoint_and_from_best_ema(tmp_path):
    pytest.importorskip("safetensors")
    from safetensors.numpy import load_file

    run = build(*EMA, "trainer.max_epochs=1", run_dir=tmp_path)
    run.trainer.fit()
    ema = weights(plugin(run.trainer, "ema").averaged.module)
    env_path = str(Path(tk.__file__).resolve().parent.parent)
    cmd = [sys.executable, "-c", "import sys; from trainkit.cli import main; sys.exit(main())", "export"]
    for source, flag in ((tmp_path, "--ema"), (tmp_path / "checkpoints" / "best_ema.npz", "--ema"),
                         (tmp_path / "checkpoints" / "best_ema.npz", None)):
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}.safetensors"
        args = cmd + [str(source), str(out)] + ([flag] if flag else [])
        done = subprocess.run(args, capture_output=True, text=True, env={"PYTHONPATH": env_path, "PATH": ""})
        assert done.returncode == 0, done.stderr
        exported = load_file(str(out))
        assert set(exported) == set(ema)
        if source == tmp_path:  # the newest checkpoint holds the final EMA
            for key, value in ema.items():
                np.testing.assert_array_equal(exported[key], value)


def _fit_and_resume(tmp_path, overrides, epochs, split):
    straight = build(*overrides, f"trainer.max_epochs={epochs}", run_dir=tmp_path / "straight")
    straight.trainer.fit()
    first = build(*overrides, f"trainer.max_epochs={split}", run_dir=tmp_path / "resumed")
    first.trainer.fit()
    second = build(*overrides, f"trainer.max_epochs={epochs}", f"resume={tmp_path / 'resumed'}",
                   run_dir=tmp_path / "resumed")
    with pytest.warns(ckpt.CheckpointWarning, match="trainer.max_epochs"):
        second.trainer.fit()
    return straight.trainer, second.trainer


@pytest.mark.parametrize("name, overrides", [("ema", EMA), ("swa", SWA)])
def test_resume_is_bit_identical(tmp_path, name, overrides):
    straight, resumed = _fit_and_resume(tmp_path, overrides, epochs=4, split=3 if name == "swa" else 2)
    assert resumed.resumed_from is not None
    for a, b in ((straight.model, resumed.model),
                 (plugin(straight, name).averaged.module, plugin(resumed, name).averaged.module)):
        wa, wb = weights(a), weights(b)
        for key in wa:
            np.testing.assert_array_equal(wa[key], wb[key], err_msg=key)
    assert straight.optimizer.param_groups[0]["lr"] == resumed.optimizer.param_groups[0]["lr"]
    for key in straight.metrics:
        if not key.startswith("time/"):
            assert straight.metrics[key] == resumed.metrics[key], key


def test_swa_anneals_averages_and_writes_its_weights(tmp_path):
    run = build(*SWA, "trainer.max_epochs=4", run_dir=tmp_path)
    lrs = []

    class LrProbe:
        name = "lr_probe"

        @hookimpl
        def on_epoch_start(self, trainer, epoch):
            lrs.append(trainer.optimizer.param_groups[0]["lr"])

    epoch_weights = []

    class EpochProbe:
        name = "epoch_probe"

        @hookimpl(trylast=True)
        def on_epoch_end(self, trainer, epoch, metrics):
            epoch_weights.append(weights(trainer.model))

    run.trainer.plugins += [LrProbe(), EpochProbe()]
    metrics = run.trainer.fit()
    swa = plugin(run.trainer, "swa")
    # StepLR halves the lr for epochs 0-1; from epoch 2 SWALR anneals (cos, 2 epochs) to 0.002
    assert lrs[:3] == [0.01, 0.005, 0.0025]
    assert lrs[3] == pytest.approx(0.002 * 0.5 + 0.0025 * 0.5)
    assert run.optimizer.param_groups[0]["lr"] == pytest.approx(0.002)
    assert int(swa.averaged.n_averaged.data) == 2
    for key, value in weights(swa.averaged.module).items():
        np.testing.assert_allclose(value, (epoch_weights[2][key] + epoch_weights[3][key]) / 2, rtol=1e-6, atol=1e-7)
    assert {"val_swa/loss", "val_swa/accuracy"} <= set(metrics)
    saved = ckpt.load(tmp_path / "checkpoints" / "swa.npz")
    assert saved["weights"] == "swa" and saved["n_averaged"] == 2


def test_off_by_default_and_monitor_checks():
    run = build("trainer.max_epochs=1")
    assert plugin(run.trainer, "ema") is None and not any(p.name in ("ema", "swa") for p in run.trainer.plugins
                                                          if hasattr(p, "name"))
    # the EMA's metrics may be monitored by other callbacks once the EMA is on ...
    build(*EMA, "callbacks.checkpointing.monitor=val_ema/accuracy", "callbacks.checkpointing.mode=max")
    # ... and not without it
    from trainkit.compose import ConfigError

    with pytest.raises(ConfigError, match="val_ema/loss"):
        build("callbacks.early_stopping.enabled=true", "callbacks.early_stopping.monitor=val_ema/loss")
    with pytest.raises(ConfigError, match="decay"):
        build("callbacks.ema.enabled=true", "callbacks.ema.decay=1.5")
