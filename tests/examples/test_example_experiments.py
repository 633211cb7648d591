"""Every experiment config runs once: `trainkit train -m 'experiment=glob(*)'` as a smoke test."""
from __future__ import annotations

import pytest
import yaml
from example_helpers import EXPERIMENTS, run_dirs

#: Needs files the test suite cannot download; test_example_cnn_shapes runs it on fake CIFAR-10 batches.
NEEDS_FILES = ("cnn_cifar10",)


@pytest.mark.slow
def test_every_experiment_config_runs_once(tk, tmp_path):
    names = sorted(p.stem for p in EXPERIMENTS.glob("*.yaml"))
    assert {"linear_regression", "cnn_shapes", "compare_optimizers", "finetune_pretrain",
            "finetune_digits"} <= set(names)
    res = tk("train", "-m", f"experiment=glob(*,exclude=[{','.join(NEEDS_FILES)}])", "trainer.max_epochs=1",
             "trainer.max_steps=3", "callbacks.progress.enabled=false", "callbacks.checkpointing.enabled=false", timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    ran = []
    for job in run_dirs(tmp_path / "runs"):
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        ran += [o.split("=", 1)[1] for o in overrides if o.startswith("experiment=")]
    assert sorted(ran) == [n for n in names if n not in NEEDS_FILES]
    assert res.stdout.count("trainkit: final metrics") == len(ran)
