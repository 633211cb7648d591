"""Example 5: the third-party plugin package examples/plugin_lion, installed with pip and used by name.

The package is installed with ``pip install --target`` into a temporary folder
and put on PYTHONPATH for the subprocesses, so the shared venv is never changed.
The Lion update itself is checked in-process against an independent numpy
transcription of the paper's rule.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

import numpy as np
import pytest

from example_helpers import EXAMPLES, final_metrics

PACKAGE = EXAMPLES / "plugin_lion"


def load_lion_module():
    spec = importlib.util.spec_from_file_location("trainkit_lion_optimizer", PACKAGE / "trainkit_lion" / "optimizer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lion_reference(p, grads, lr, beta1, beta2, wd):
    """Chen et al. 2023, Algorithm 2, written out step by step in float64."""
    p, m = p.astype(np.float64).copy(), np.zeros_like(p, dtype=np.float64)
    for g in grads:
        update = np.sign(beta1 * m + (1 - beta1) * g) + wd * p
        p = p - lr * update
        m = beta2 * m + (1 - beta2) * g
    return p


def test_lion_step_matches_the_published_rule():
    from trainkit.nn import Parameter

    Lion = load_lion_module().Lion
    rng = np.random.default_rng(0)
    start = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(5)]
    w = Parameter(start.copy())
    opt = Lion([w], lr=0.01, betas=(0.8, 0.95), weight_decay=0.1)
    for g in grads:
        w.grad = g.copy()
        opt.step()
    np.testing.assert_allclose(w.data, lion_reference(start, grads, 0.01, 0.8, 0.95, 0.1), rtol=1e-12, atol=1e-12)
    assert opt.state[w]["exp_avg"].shape == (4, 3)


def test_lion_rejects_bad_hyperparameters_by_name():
    from trainkit.nn import Parameter

    Lion = load_lion_module().Lion
    with pytest.raises(ValueError, match=r"betas=\(0\.9, 1\.5\)"):
        Lion([Parameter(np.zeros(2))], betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="lr=-1"):
        Lion([Parameter(np.zeros(2))], lr=-1)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin_lion")
    source = root / "src"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    target = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=180,
    )
    if proc.returncode != 0:
        pytest.fail(f"pip install of examples/plugin_lion failed:\n{proc.stdout}\n{proc.stderr}")
    return target


@pytest.mark.slow
def test_installed_plugin_is_listed_and_trains_from_the_command_line(installed, tk, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    env = {"PYTHONPATH": str(installed)}
    listing = tk("plugins", env=env)
    assert listing.returncode == 0, listing.stderr
    block = listing.stdout.split("\nlion ", 1)[1].split("\n\n")[0]
    assert block.startswith("0.1.0 (trainkit-lion)"), block
    assert "registers optimizers: lion" in block and "on_epoch_end" in block

    res = tk("train", "optimizer=lion", "lr=3e-3", "trainer.max_epochs=3", "data.n_samples=900",
             "trainer.progress=false", "hydra.run.dir=runs/lion", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert final_metrics(res.stdout)["val/accuracy"] > 0.5  # 3 classes: chance is 1/3

    events = EventAccumulator(str(tmp_path / "runs" / "lion" / "tensorboard"))
    events.Reload()
    norms = [t for t in events.Tags()["scalars"] if t.startswith("weights/norm/")]
    assert "weights/norm/layers.0.weight" in norms
    assert len(events.Scalars("weights/norm/layers.0.weight")) == 3  # one per epoch

    unknown = tk("train", "optimizer=lion", "trainer=debug")  # without the package: not registered
    assert unknown.returncode == 2 and "lion" in unknown.stderr
