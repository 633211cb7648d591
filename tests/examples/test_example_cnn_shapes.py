"""Example 2: the classic CIFAR-10 CNN on `shapes` (and on CIFAR-10 binary files), StepLR + clipping."""
from __future__ import annotations

import re

import numpy as np
import pytest
from example_helpers import final_metrics

pytestmark = pytest.mark.slow  # convolutions on numpy: several seconds each

TINY_SCRIPT = ["--epochs", "2", "--n-samples", "150", "--image-size", "8", "--channels", "4", "4"]


def fake_cifar10(root, per_file: int = 8) -> None:
    """CIFAR-10 binary batches with the real layout (label byte + 3072 pixel bytes per record)."""
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, (per_file, 1), dtype=np.uint8)
        pixels = rng.integers(0, 256, (per_file, 3072), dtype=np.uint8)
        (root / name).write_bytes(np.concatenate([labels, pixels], axis=1).tobytes())


def test_script_trains_on_shapes_with_steplr_and_clipping(run_example):
    res = run_example("cnn_shapes.py", *TINY_SCRIPT)
    assert res.returncode == 0, res.stderr
    assert "shapes: 120 training images of shape (3, 8, 8), 3 classes" in res.stdout
    lrs = [float(x) for x in re.findall(r"lr ([\d.e-]+) ", res.stdout)]
    assert len(lrs) == 2 and lrs == [0.01, 0.01]  # StepLR(step_size=5): unchanged in 2 epochs
    losses = [float(x) for x in re.findall(r"loss ([\d.]+)", res.stdout)]
    assert all(np.isfinite(losses))
    accuracy = float(re.search(r"final val accuracy ([\d.]+)", res.stdout).group(1))
    assert 0.0 <= accuracy <= 1.0


def test_script_reads_cifar10_binaries(run_example, tmp_path):
    root = tmp_path / "cifar-10-batches-bin"
    root.mkdir()
    fake_cifar10(root)
    res = run_example("cnn_shapes.py", "--data-root", root, "--epochs", "1", "--channels", "4", "4", "4")
    assert res.returncode == 0, res.stderr
    assert "cifar10: 40 training images of shape (3, 32, 32), 10 classes" in res.stdout


def test_experiment_config_uses_steplr_and_clipping(tk):
    res = tk("train", "experiment=cnn_shapes", "data.n_samples=90", "data.image_size=8", "model.channels=[4,4]",
             "scheduler.step_size=1", "trainer.max_epochs=2", "trainer.progress=false", "trainer.log_every=1")
    assert res.returncode == 0, res.stdout + res.stderr
    metrics = final_metrics(res.stdout)
    # StepLR(step_size=1, gamma=0.5): epoch 2 trains at half the lr of epoch 1
    assert metrics["train/lr/default"] == pytest.approx(0.005)
    # clipping is on (trainer.grad_clip.max=1.0): the clip transform reports the norm
    assert "train/grad_norm" in metrics


def test_cifar10_experiment_config_on_binary_files(tk, tmp_path):
    # experiment=cnn_cifar10 needs data.root, so the glob(*) smoke test leaves it to this test
    root = tmp_path / "cifar"
    root.mkdir()
    fake_cifar10(root)
    res = tk("train", "experiment=cnn_cifar10", f"data.root={root}", "model.channels=[4,4,4]",
             "trainer.max_epochs=1", "trainer.progress=false")
    assert res.returncode == 0, res.stdout + res.stderr
    assert 0.0 <= final_metrics(res.stdout)["val/accuracy"] <= 1.0
