"""Statements of the README's user guide that are behaviour, checked against a real run."""
from __future__ import annotations

import re

import numpy as np
import pytest

import trainkit
from example_helpers import ROOT
from trainkit import nn, optim
from trainkit.backend import cuda_available
from trainkit.data import DataLoader, TensorDataset
from trainkit.trainer import Trainer

README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, flags=re.M | re.S)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def test_python_api_logs_unnamed_param_groups_by_index():
    x = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    trainkit.manual_seed(0)
    model = nn.Linear(2, 1)
    named = {"params": [model.bias], "name": "bias", "lr": 0.05}
    opt = optim.SGD([{"params": [model.weight]}, named], lr=0.1)
    metrics = Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, x[:, :1]), batch_size=4),
                      max_epochs=1, log_every=1, default_plugins=False).fit()
    assert metrics["train/lr/0"] == 0.1 and metrics["train/lr/bias"] == 0.05
    text = section("TensorBoard")
    assert "`train/lr/0`" in text and "`train/lr/<group>`" in text


@pytest.mark.skipif(cuda_available(), reason="a usable GPU is present: device=cuda would train")
def test_top_level_device_is_trainer_device_as_the_readme_says(tk, tmp_path):
    # README (GPU): `device=cuda`, the tutorials' spelling, is the same setting as trainer.device=cuda
    assert "`device=cuda`" in section("GPU")
    res = tk("train", "device=cuda", "data.n_samples=60", "trainer.max_epochs=1")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "trainer.device='cuda' cannot be used" in res.stderr
    assert not (tmp_path / "runs").exists()


def test_a_config_mistake_message_starts_as_documented(tk):
    # README: every config mistake starts `trainkit: error: config:` (Hydra's conversion errors add lines)
    assert "`trainkit: error: config:`" in section("The command line")
    for override in ("lr=abc", "optimizer=adamm", "trainer.max_epoch=3"):
        res = tk("train", override, "trainer=debug")
        assert res.returncode == 2, override
        assert res.stderr.startswith("trainkit: error: config: "), res.stderr
        assert "Traceback" not in res.stderr
