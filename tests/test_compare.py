"""``trainkit compare`` on a real sweep: the table of final and best metrics, the labels, the plot;
and the ``metrics_file`` callback it reads."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TRAINKIT = Path(sys.executable).with_name("trainkit")
pytestmark = pytest.mark.skipif(not TRAINKIT.exists(), reason=f"console script not installed at {TRAINKIT}")


def tk(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(TRAINKIT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("compare")
    res = tk("train", "-m", "optimizer=sgd,adam", "trainer.max_epochs=3", "data.n_samples=300",
             "callbacks.progress.enabled=false", cwd=cwd)
    assert res.returncode == 0, res.stdout + res.stderr
    (sweep_dir,) = (cwd / "runs").glob("*_sweep")
    return cwd, sweep_dir


def test_every_run_writes_its_metrics_file(sweep):
    _, sweep_dir = sweep
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    assert len(jobs) == 2
    for job in jobs:
        rows = [json.loads(line) for line in (job / "metrics.jsonl").read_text().splitlines()]
        assert {"step", "epoch", "metrics"} <= set(rows[0])
        assert sum("val/loss" in r["metrics"] for r in rows) == 3  # one validation per epoch
        assert max(r["epoch"] for r in rows) == 3


def test_compare_prints_final_and_best_per_job_labelled_by_its_overrides(sweep):
    from trainkit.runs import run_scalars

    cwd, sweep_dir = sweep
    res = tk("compare", cwd=cwd)  # default: the newest sweep
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("2 run(s) under") and f"tensorboard --logdir {sweep_dir.relative_to(cwd)}" in lines[0]
    assert lines[1].split()[:3] == ["run", "train/loss", "best"]
    labels = [ln.split()[0] for ln in lines[3:]]
    assert labels == ["optimizer=sgd", "optimizer=adam"]
    for line, job in zip(lines[3:], sorted(p for p in sweep_dir.iterdir() if p.is_dir())):
        val = sorted(run_scalars(job)["val/loss"])
        cells = line.split()
        final_val, best_val = cells[3], cells[4]
        assert float(final_val) == pytest.approx(val[-1][1], rel=1e-3)
        best = min(val, key=lambda p: p[1])
        assert best_val == f"{best[1]:.4g}@{best[0]}"


def test_compare_plot_writes_a_png(sweep, tmp_path):
    pytest.importorskip("matplotlib")
    cwd, sweep_dir = sweep
    out = tmp_path / "curves.png"
    res = tk("compare", sweep_dir, "--plot", out, "--metrics", "train/loss", "val/accuracy", cwd=cwd)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


def test_compare_without_runs_is_one_clear_error(tmp_path):
    res = tk("compare", tmp_path / "nope", cwd=tmp_path)
    assert res.returncode == 1 and res.stderr.startswith("trainkit: error: no such directory")


def test_tensorboard_runs_are_the_job_directories_named_by_what_the_sweep_varies(sweep):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    _, sweep_dir = sweep
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    assert [j.name for j in jobs] == ["0_optimizer-sgd", "1_optimizer-adam"]
    for job, optimizer in zip(jobs, ("sgd", "adam")):
        acc = EventAccumulator(str(job), size_guidance={"scalars": 0})
        acc.Reload()
        tags = acc.Tags()["scalars"]
        assert {"train/loss", "val/loss", "val/accuracy", "train/lr/default"} <= set(tags)
        assert not [t for t in tags if t.startswith("hparams/")]
        content = acc.PluginTagToContent("hparams")
        session = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        hparams = {k: v.string_value or v.number_value for k, v in session.session_start_info.hparams.items()}
        assert hparams["optimizer"] == optimizer and hparams["lr"] == pytest.approx(0.01)
        assert set(hparams) == {"optimizer", "lr", "batch_size", "model"}  # the swept key first, then a few
        experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
        assert {m.name.tag for m in experiment.metric_infos} >= {"val/loss", "val/accuracy", "train/loss"}
