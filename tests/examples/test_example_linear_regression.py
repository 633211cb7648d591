"""Example 1: linear regression y = 3x + 0.8, from Python and from the command line."""
from __future__ import annotations

import re

from example_helpers import final_metrics


def test_script_learns_w_and_b(run_example):
    res = run_example("linear_regression.py", "--epochs", "150")
    assert res.returncode == 0, res.stderr
    match = re.search(r"learned w = (-?[\d.]+), b = (-?[\d.]+)", res.stdout)
    assert match, res.stdout
    w, b = map(float, match.groups())
    assert abs(w - 3.0) < 0.1 and abs(b - 0.8) < 0.1, (w, b)


def test_script_with_too_few_steps_has_not_converged(run_example):
    # The assertion above can fail: two steps from a random start are far from (3, 0.8).
    res = run_example("linear_regression.py", "--epochs", "2")
    assert res.returncode == 0, res.stderr
    w, b = map(float, re.search(r"learned w = (-?[\d.]+), b = (-?[\d.]+)", res.stdout).groups())
    assert abs(w - 3.0) > 0.5


def test_experiment_config_prints_learned_weights(tk):
    res = tk("train", "experiment=linear_regression", "trainer.max_epochs=15", "callbacks.progress.enabled=false")
    assert res.returncode == 0, res.stdout + res.stderr
    match = re.search(r"learned linear\.weight=\[\s*(-?[\d.]+)\]\s+linear\.bias=\[\s*(-?[\d.]+)\]", res.stdout)
    assert match, res.stdout
    w, b = map(float, match.groups())
    assert abs(w - 3.0) < 0.15 and abs(b - 0.8) < 0.15, (w, b)
    assert final_metrics(res.stdout)["val/loss"] < 0.05  # the noise variance is 0.01
