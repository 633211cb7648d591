"""Example 4: an optimizer sweep, one TensorBoard run per job, and the final-loss table."""
from __future__ import annotations

import importlib.util
import math
import re

import pytest
from example_helpers import EXAMPLES, run_dirs


def load_compare_table():
    spec = importlib.util.spec_from_file_location("compare_table", EXAMPLES / "compare_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_read_scalars_returns_what_a_summary_writer_wrote(tmp_path):
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(logdir=str(tmp_path / "run" / "tensorboard"))
    for step, value in enumerate([0.5, 0.25, 0.125]):
        writer.add_scalar("train/loss", value, step)
    writer.add_scalar("val/accuracy", 0.75, 2)
    writer.close()
    ct = load_compare_table()
    scalars = ct.run_scalars(tmp_path / "run")
    assert scalars["train/loss"] == [(0, 0.5), (1, 0.25), (2, 0.125)]
    rows = ct.table(tmp_path)
    assert rows == [("run", {"train/loss": 0.125, "val/loss": None, "val/accuracy": 0.75})]


@pytest.mark.slow
def test_sweep_gives_one_run_per_optimizer_and_the_table_lists_them(tk, run_example, tmp_path):
    res = tk("train", "-m", "experiment=compare_optimizers", "optimizer=sgd,adam,rmsprop,adagrad",
             "trainer.max_epochs=2", "data.n_samples=300", "callbacks.progress.enabled=false")
    assert res.returncode == 0, res.stdout + res.stderr
    sweeps = list((tmp_path / "runs").glob("*_sweep"))
    assert len(sweeps) == 1
    # the README's layout: runs/<time stamp>_<id>_sweep/<job number>_<overrides>/
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_[0-9a-z]+_sweep", sweeps[0].name), sweeps[0].name
    jobs = run_dirs(sweeps[0])
    assert len(jobs) == 4
    for i, (job, name) in enumerate(zip(jobs, ("sgd", "adam", "rmsprop", "adagrad"))):
        # <job number>_<the job's overrides, comma-separated>
        assert job.name == f"{i}_optimizer-{name}", job.name  # the job number and what the sweep varies
    for job in jobs:  # each job is its own TensorBoard run under the sweep folder
        assert list(job.glob("events.out.tfevents.*")), job  # each job directory is a TensorBoard run
    table = run_example("compare_table.py")  # default: the newest runs/*_sweep
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "tensorboard --logdir" in lines[0]
    body = {ln.split()[0]: ln.split()[1:] for ln in lines[3:]}
    assert list(body) == [f"optimizer={name}" for name in ("sgd", "adam", "rmsprop", "adagrad")]
    for name, values in body.items():
        train_loss, val_loss, accuracy = map(float, values)
        assert math.isfinite(train_loss) and math.isfinite(val_loss) and 0 <= accuracy <= 1, name
