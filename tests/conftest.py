"""Shared fixtures: one test body runs on numpy and, where a GPU is present, on cupy."""
from __future__ import annotations

import numpy as np
import pytest

from trainkit.backend import cuda_available, cuda_unavailable_reason

_BACKENDS = [
    pytest.param("cpu", id="numpy"),
    pytest.param(
        "cuda",
        id="cupy",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not cuda_available(), reason=f"no GPU: {cuda_unavailable_reason()}"),
        ],
    ),
]


def pytest_runtest_setup(item):
    """Tests marked ``numba`` check the numba kernels themselves: skipped where they cannot run."""
    if item.get_closest_marker("numba") is not None:
        from trainkit.backend import numba_available, numba_unavailable_reason

        if not numba_available():
            pytest.skip(f"no numba kernels: {numba_unavailable_reason()}")


@pytest.fixture(params=_BACKENDS)
def device(request) -> str:
    """The device a test runs on: 'cpu' always, 'cuda' when a GPU is available."""
    return request.param


@pytest.fixture
def xp(device):
    """The array module for ``device``: numpy or cupy."""
    if device == "cpu":
        return np
    import cupy

    return cupy


@pytest.fixture
def torch():
    """PyTorch when importable (an optional oracle); the test is skipped otherwise."""
    return pytest.importorskip("torch")


@pytest.fixture
def tree_env():
    """Environment for a subprocess that must import *this* trainkit tree (not an installed copy):
    ``PYTHONPATH`` starts with the repository root; ``HYDRA_FULL_ERROR`` is dropped."""
    import os
    from pathlib import Path

    import trainkit

    root = str(Path(trainkit.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
    return env
