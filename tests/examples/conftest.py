"""Helpers for the example tests: run an example script or the installed ``trainkit`` command.

Both run as subprocesses in a temporary directory, as a user would run them, so
the scripts' own ``__main__`` paths are what is tested and warnings they print
(e.g. the skipped keys of ``init_from``) do not trip pytest's warnings-as-errors.
"""
from __future__ import annotations

import os

import subprocess
import sys
from pathlib import Path

import pytest

from example_helpers import EXAMPLES

TRAINKIT = Path(sys.executable).with_name("trainkit")


def _env(extra=None) -> dict:
    env = dict(os.environ, **(extra or {}))
    env.pop("HYDRA_FULL_ERROR", None)
    env.setdefault("PYTHONWARNINGS", "default")
    return env


@pytest.fixture
def run_example(tmp_path):
    """``run_example("linear_regression.py", "--epochs", 5)`` -> CompletedProcess (cwd: tmp_path)."""

    def run(script: str, *args, timeout: float = 300, env=None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=timeout, env=_env(env))

    return run


@pytest.fixture
def tk(tmp_path):
    """``tk("train", "experiment=...")`` runs the installed console script in tmp_path."""
    if not TRAINKIT.exists():
        pytest.skip(f"console script not installed at {TRAINKIT}")

    def run(*args, timeout: float = 300, env=None, cwd=None) -> subprocess.CompletedProcess:
        return subprocess.run([str(TRAINKIT), *map(str, args)], cwd=cwd or tmp_path, capture_output=True,
                              text=True, timeout=timeout, env=_env(env))

    return run
