"""Example 5: the third-party plugin package examples/plugin_lion, installed with pip and used by name.

The package is pip-installed into a throwaway virtual environment (created with
``python -m venv --system-site-packages``, so trainkit and its dependencies are
visible), and that environment's ``python -m trainkit`` is run from the command
line; the shared venv is never changed. The Lion update itself is checked
in-process against an independent numpy transcription of the paper's rule.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

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


def _site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory) -> Path:
    """The python of a new venv with examples/plugin_lion pip-installed into it."""
    root = tmp_path_factory.mktemp("plugin_lion")
    source = root / "src"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, capture_output=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if sys.prefix != sys.base_prefix:
        # The tests run from a venv: a venv made from it sees the *base* interpreter's
        # site-packages only, so point it at this venv's too (trainkit, numpy, hydra, ...).
        parent = sysconfig.get_paths()["purelib"]
        (_site_packages(python) / "_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index", str(source)],
        capture_output=True, text=True, timeout=180,
    )
    if proc.returncode != 0:
        pytest.fail("pip install of examples/plugin_lion failed (--no-build-isolation builds with this "
                    "environment's setuptools/wheel, which the test extra brings: pip install -e \".[test]\"):\n"
                    f"{proc.stdout}\n{proc.stderr}")
    assert (_site_packages(python) / "trainkit_lion").is_dir()  # installed into the new venv, not the shared one
    return python


@pytest.mark.slow
def test_installed_plugin_is_listed_and_trains_from_the_command_line(venv_python, tk, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def venv_trainkit(*args):
        return subprocess.run([str(venv_python), "-m", "trainkit", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300, env={k: v for k, v in os.environ.items()
                                                            if k not in ("PYTHONPATH", "HYDRA_FULL_ERROR")})

    listing = venv_trainkit("plugins")
    assert listing.returncode == 0, listing.stderr
    block = listing.stdout.split("\nlion ", 1)[1].split("\n\n")[0]
    assert block.startswith("0.1.0 (trainkit-lion)"), block
    assert "registers optimizers: lion" in block and "on_epoch_end" in block

    res = venv_trainkit("train", "optimizer=lion", "lr=3e-3", "trainer.max_epochs=3", "data.n_samples=900",
                        "callbacks.progress.enabled=false", "hydra.run.dir=runs/lion")
    assert res.returncode == 0, res.stdout + res.stderr
    assert final_metrics(res.stdout)["val/accuracy"] > 0.5  # 3 classes: chance is 1/3

    events = EventAccumulator(str(tmp_path / "runs" / "lion"))
    events.Reload()
    norms = [t for t in events.Tags()["scalars"] if t.startswith("weights/norm/")]
    assert "weights/norm/layers.0.weight" in norms
    assert len(events.Scalars("weights/norm/layers.0.weight")) == 3  # one per epoch

    # the shared environment's trainkit, without the package: lion is not registered
    unknown = tk("train", "optimizer=lion", "trainer=debug")
    assert unknown.returncode == 2, unknown.stdout + unknown.stderr
    message = re.search(r"^trainkit: error: config: optimizer=lion: unknown optimizer 'lion'\. "
                        r"Available optimizers \(provider\): (.*)$", unknown.stderr, flags=re.M)
    assert message, unknown.stderr
    available = dict(re.findall(r"(\w+) \(([\w.-]+)\)", message.group(1)))
    assert "lion" not in available and available["adam"] == "trainkit.optimizers"
