"""A real third-party distribution (tests/fixtures/plugin_dist) installed with pip, found via its entry point.

It is installed with ``pip install --target`` into a temporary directory and
used from a subprocess with that directory on PYTHONPATH, so the shared venv
is never modified.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # pip builds a wheel and two interpreters start: ~10 s

FIXTURE = Path(__file__).parent / "fixtures" / "plugin_dist"
ROOT = Path(__file__).parents[1]

USE_IT = textwrap.dedent(
    """
    import numpy as np
    import trainkit
    from trainkit import nn
    from trainkit.data.dataset import TensorDataset
    from trainkit.data.loader import DataLoader
    from trainkit.plugins import get_plugin_manager, plugin_info, registry
    from trainkit.trainer import Trainer

    reg = registry("optimizers")
    info = {i.name: i for i in plugin_info()}["demo"]
    print("provider", reg.provider("demo_sgd"))
    print("info", info.distribution, info.version, info.registered["optimizers"], info.hooks)
    x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    model = nn.Linear(2, 1)
    opt = reg.get("demo_sgd")(model.parameters())
    print("defaults", opt.defaults["lr"], opt.defaults["momentum"])
    metrics = Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, x[:, :1] * 2), batch_size=8),
                      max_epochs=20, default_plugins=False).fit()
    print("loss", metrics["train/loss"])
    """
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin_dist")
    source = root / "src"
    shutil.copytree(FIXTURE, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    target = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=120,
    )
    if proc.returncode != 0:
        pytest.fail("pip install of the fixture distribution failed (--no-build-isolation builds with this "
                    "environment's setuptools/wheel, which the test extra brings: pip install -e \".[test]\"):\n"
                    f"{proc.stdout}\n{proc.stderr}")
    return target


def test_installed_distribution_registers_an_optimizer_usable_by_name(installed):
    env = {**os.environ, "PYTHONPATH": str(installed)}
    env.pop("TRAINKIT_LOAD_PLUGINS", None)
    proc = subprocess.run([sys.executable, "-c", USE_IT], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())
    assert out["provider"] == "demo"
    assert out["info"] == "trainkit-demo-plugin 0.3.1 ['demo_sgd'] ['register_optimizers']"
    assert out["defaults"] == "0.05 0.5"
    assert float(out["loss"]) < 1e-2


def test_load_plugins_env_can_leave_it_out(installed):
    env = {**os.environ, "PYTHONPATH": str(installed), "TRAINKIT_LOAD_PLUGINS": "someone_else"}
    code = "from trainkit.plugins import registry; print('demo_sgd' in registry('optimizers'))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_the_test_extra_brings_the_build_tools_of_the_plugin_installs():
    """The plugin-install tests run ``pip install --no-build-isolation --no-index``: the wheel is built
    with the test environment's own setuptools/wheel, so ``pip install -e ".[test]"`` must bring them.
    A fresh Python 3.11 venv has setuptools 65 and no wheel, which stops with
    "invalid command 'bdist_wheel'" (setuptools has bdist_wheel built in from 70.1)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from packaging.requirements import Requirement

    def requires(pyproject: Path, *keys: str) -> list[Requirement]:
        node = tomllib.loads(pyproject.read_text())
        for key in keys:
            node = node[key]
        return [Requirement(r) for r in node]

    pyproject = ROOT / "pyproject.toml"
    extra = {r.name: r for r in requires(pyproject, "project", "optional-dependencies", "test")}
    builds = [pyproject, FIXTURE / "pyproject.toml", ROOT / "examples" / "plugin_lion" / "pyproject.toml"]
    for build_req in (r for p in builds for r in requires(p, "build-system", "requires")):
        assert build_req.name in extra, f"build requirement {build_req} is missing from the test extra"
    setuptools = extra["setuptools"].specifier
    assert not setuptools.contains("70.0"), f"setuptools{setuptools} admits a setuptools without bdist_wheel"
    assert setuptools.contains("80.9.0"), setuptools
