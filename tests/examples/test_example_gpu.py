"""Example 6: `trainer.device=cuda` / `auto`, and what happens without cupy or a GPU."""
from __future__ import annotations

import pytest

from trainkit.backend import cuda_available, cuda_unavailable_reason

no_cuda = pytest.mark.skipif(cuda_available(), reason="a usable GPU is present: device=cuda would train")


@no_cuda
def test_device_cuda_without_cupy_is_a_clear_config_error(tk, tmp_path):
    res = tk("train", "trainer.device=cuda", "trainer=debug")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "trainer.device='cuda' cannot be used" in res.stderr
    assert cuda_unavailable_reason() in res.stderr  # e.g. "cupy is not installed (...); install trainkit[cuda12]"
    assert "trainer.device=auto" in res.stderr      # and what to do instead
    assert not (tmp_path / "runs").exists()         # rejected before a run directory was made


@no_cuda
def test_device_auto_falls_back_to_cpu_and_says_why(tk):
    res = tk("train", "trainer.device=auto", "trainer=debug", "data.n_samples=100")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"trainkit: device cpu (trainer.device=auto: {cuda_unavailable_reason()})" in res.stdout


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason=f"no usable GPU: {cuda_unavailable_reason()}")
def test_device_cuda_trains_on_the_gpu(tk):
    res = tk("train", "trainer.device=cuda", "trainer=debug", "data.n_samples=100")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "trainkit: device cuda:0" in res.stdout
