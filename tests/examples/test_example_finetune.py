"""Example 3: fine-tuning with freeze/unfreeze, per-group lrs and no_decay, against training from scratch."""
from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
from example_helpers import EXAMPLES, final_metrics


def group_rows(text: str) -> dict[str, list[str]]:
    """Rows of a printed parameter-group table, by group name: [name, parameters, elements, lr, weight_decay]."""
    rows = {}
    for line in text.splitlines():
        row = re.match(r"^(\S.*?)\s{2,}(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s*$", line)
        if row:
            rows[row.group(1)] = list(row.groups())
    return rows


def load_finetune():
    spec = importlib.util.spec_from_file_location("finetune_example", EXAMPLES / "finetune.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def summary_rows(text: str) -> tuple[dict[float, list[float]], list[tuple[float, float]]]:
    """The printed summary: {lr: [mean per method]} and the ``best:`` line as [(accuracy, lr)] per method."""
    table = text.split("mean (min-max) over", 1)[1]
    rows = {float(m.group(1)): [float(v) for v in re.findall(r"([\d.]+) \([\d.]+-[\d.]+\)", m.group(2))]
            for m in re.finditer(r"^([\d.e-]+)\s+(.*)$", table, flags=re.M)}
    best = [(float(a), float(lr)) for a, lr in re.findall(r"([\d.]+) at lr ([\d.e-]+)", table)]
    return rows, best


@pytest.mark.parametrize("fine, scratch, expected", [
    ({1e-3: [0.8, 0.9], 1e-2: [0.1, 0.2]}, {1e-3: [0.5, 0.5], 1e-2: [0.9, 0.95]}, [(0.85, 1e-3), (0.925, 1e-2)]),
    ({1e-3: [0.3]}, {1e-3: [0.7]}, [(0.3, 1e-3), (0.7, 1e-3)]),
])
def test_summary_reports_each_methods_best_learning_rate(fine, scratch, expected):
    text = load_finetune().summary({"fine-tuned": fine, "from scratch": scratch})
    rows, best = summary_rows("mean (min-max) over\n" + text)
    assert rows == {lr: [pytest.approx(np.mean(fine[lr])), pytest.approx(np.mean(scratch[lr]))] for lr in fine}
    assert best == [(pytest.approx(a), lr) for a, lr in expected]


@pytest.mark.slow
def test_script_prints_groups_and_both_accuracies_per_learning_rate(run_example):
    res = run_example("finetune.py", "--pretrain-samples", "150", "--pretrain-epochs", "1", "--epochs", "2",
                      "--unfreeze-epoch", "1", "--lrs", "1e-3,1e-2", "--seeds", "1")
    assert res.returncode == 0, res.stderr
    rows = group_rows(res.stdout)
    assert rows["classifier.*"][3] == "0.01"            # head: 10x the lr of 1e-3
    assert rows["classifier.*/no_decay"][4] == "0"      # biases: no weight decay
    assert rows["(frozen)"][1:3] == ["4", "4800"]       # features: 2 convs (weight + bias) frozen
    # the old 3-class output layer was skipped, everything else loaded
    assert "wrong_shape: classifier.2.weight" in res.stdout
    # after the unfreeze epoch the backbone is its own group at 0.1x the lr
    assert "unfreeze:features.* (lr 0.0001," in res.stdout
    runs = re.findall(r"^lr ([\d.e-]+) seed 0: fine-tuned ([\d.]+), from scratch ([\d.]+)$", res.stdout, flags=re.M)
    assert [float(lr) for lr, _, _ in runs] == [1e-3, 1e-2]
    table, best = summary_rows(res.stdout)
    assert table == {float(lr): [float(ft), float(sc)] for lr, ft, sc in runs}
    for column, (accuracy, lr) in enumerate(best):
        assert accuracy == max(values[column] for values in table.values()) == table[lr][column]


@pytest.mark.slow
def test_cli_pretrain_then_finetune_with_init_from(tk, tmp_path):
    small = ["trainer.max_epochs=1", "callbacks.progress.enabled=false"]
    pre = tk("train", "experiment=finetune_pretrain", "data.n_samples=150", "hydra.run.dir=runs/pretrain", *small)
    assert pre.returncode == 0, pre.stdout + pre.stderr
    weights = tmp_path / "runs" / "pretrain" / "checkpoints" / "best.npz"
    assert weights.is_file()
    ft = tk("train", "experiment=finetune_digits", f"init_from={weights}", "trainer.max_epochs=3",
            "callbacks.progress.enabled=false", "hydra.run.dir=runs/finetune")
    assert ft.returncode == 0, ft.stdout + ft.stderr
    log = (tmp_path / "runs" / "finetune" / "train.log").read_text()
    rows = group_rows(log)
    assert rows["classifier.*"][3:] == ["0.01", "0.05"]           # the head at 10x the lr of 1e-3
    assert rows["classifier.*/no_decay"][3:] == ["0.01", "0"]     # its bias without weight decay
    # the frozen backbone is listed with the epoch it joins at 0.1x the lr, its bias without decay too
    assert rows["unfreeze:features.* (epoch 2)"][3:] == ["0.0001", "0.05"]
    assert rows["unfreeze:features.*/no_decay (epoch 2)"][3:] == ["0.0001", "0"]
    assert re.search(r"unfroze 2 parameters matching 'features\.\*' as group 'unfreeze:features\.\*/no_decay' "
                     r"\(lr 0\.0001, weight_decay 0(\.0)?\)", log), log
    # reported on the console and in train.log (a logged warning)
    assert "skipped keys (wrong_shape: classifier.2.weight" in log
    assert "train/lr/unfreeze:features.*" in final_metrics(ft.stdout)
