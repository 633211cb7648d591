"""Example 3: fine-tuning with freeze/unfreeze, per-group lrs and no_decay, against training from scratch."""
from __future__ import annotations

import re

import pytest
from example_helpers import final_metrics

pytestmark = pytest.mark.slow  # three trainings of a CNN


def group_rows(text: str) -> dict[str, list[str]]:
    """Rows of a printed parameter-group table, by group name."""
    rows = {}
    for line in text.splitlines():
        cells = line.split()
        if len(cells) == 5 and cells[0] in ("default", "classifier.*", "classifier.*/no_decay", "(frozen)"):
            rows[cells[0]] = cells
    return rows


def test_script_prints_groups_and_both_accuracies(run_example):
    res = run_example("finetune.py", "--pretrain-samples", "150", "--pretrain-epochs", "1", "--epochs", "2",
                      "--unfreeze-epoch", "1")
    assert res.returncode == 0, res.stderr
    rows = group_rows(res.stdout)
    assert rows["classifier.*"][3] == "0.01"            # head: 10x the lr of 1e-3
    assert rows["classifier.*/no_decay"][4] == "0"      # biases: no weight decay
    assert rows["(frozen)"][1:3] == ["4", "4800"]       # features: 2 convs (weight + bias) frozen
    # the old 3-class output layer was skipped, everything else loaded
    assert "wrong_shape: classifier.2.weight" in res.stdout
    # after the unfreeze epoch the backbone is its own group at 0.1x the lr
    assert "unfreeze:features.* (lr 0.0001)" in res.stdout
    found = dict(re.findall(r"^  (fine-tuned|from scratch)\s+([\d.]+)$", res.stdout, flags=re.M))
    assert set(found) == {"fine-tuned", "from scratch"}, res.stdout


def test_cli_pretrain_then_finetune_with_init_from(tk, tmp_path):
    small = ["trainer.max_epochs=1", "trainer.progress=false"]
    pre = tk("train", "experiment=finetune_pretrain", "data.n_samples=150", "hydra.run.dir=runs/pretrain", *small)
    assert pre.returncode == 0, pre.stdout + pre.stderr
    weights = tmp_path / "runs" / "pretrain" / "checkpoints" / "best.npz"
    assert weights.is_file()
    ft = tk("train", "experiment=finetune_digits", f"init_from={weights}", "trainer.max_epochs=3",
            "trainer.progress=false", "hydra.run.dir=runs/finetune")
    assert ft.returncode == 0, ft.stdout + ft.stderr
    log = (tmp_path / "runs" / "finetune" / "train.log").read_text()
    rows = group_rows(log)
    assert rows["classifier.*"][3:] == ["0.01", "0.05"]
    assert rows["classifier.*/no_decay"][3:] == ["0.01", "0"]
    assert "(frozen)" in rows
    assert "unfroze 4 parameters matching 'features.*'" in log
    assert "skipped keys (wrong_shape: classifier.2.weight" in ft.stderr
    assert "train/lr/unfreeze:features.*" in final_metrics(ft.stdout)
