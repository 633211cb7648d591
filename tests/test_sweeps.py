"""Sweeps through Hydra's plugins (the `sweeps` and `slurm` extras): parallel jobs with joblib, the
submitit_local launcher, an Optuna study with diverging trials; per-job threads and the job summary."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TRAINKIT = Path(sys.executable).with_name("trainkit")
QUICK = ["trainer.max_epochs=3", "data.n_samples=300", "callbacks.progress.enabled=false"]
REGRESSION = ["optimizer=sgd", "data=regression", "loss=mse", "model=linear"]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not TRAINKIT.exists(), reason=f"console script not installed at {TRAINKIT}")]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package (hydra_plugins) is not there either
        return False


def needs(module: str):
    return pytest.mark.skipif(not _installed(module),
                              reason=f"{module} is not installed (pip install 'trainkit[sweeps,slurm]')")


def tk(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(TRAINKIT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600)


def jobs(cwd: Path) -> list[Path]:
    (sweep,) = (cwd / "runs").glob("*_sweep")
    return sorted((p for p in sweep.iterdir() if p.is_dir() and (p / ".hydra").is_dir()),
                  key=lambda p: int(p.name.split("_", 1)[0]))


def summary(stdout: str) -> dict[str, str]:
    """``{overrides: status}`` from the table printed at the end of a sweep."""
    lines = stdout[stdout.index("trainkit: sweep "):].splitlines()[3:]
    return {ln.split()[1]: ln.split()[2] for ln in lines if ln.strip() and ln.split()[0].isdigit()}


@needs("hydra_plugins.hydra_joblib_launcher")
def test_joblib_sweep_with_a_diverging_job_completes_the_others_and_ends_with_a_summary(tmp_path):
    res = tk("train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *REGRESSION,
             "lr=100,0.01,0.03", *QUICK, cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr  # one job failed
    found = jobs(tmp_path)
    assert len(found) == 3
    assert summary(res.stdout) == {"lr=100": "failed", "lr=0.01": "ok", "lr=0.03": "ok"}
    for job in found:
        log = (job / "train.log").read_text()
        # 2 parallel jobs on this machine's cores: each limits its BLAS/numba threads
        from trainkit.threads import threads_per_job

        assert f"this job uses {threads_per_job(2)} CPU thread(s)" in log
        if "lr-100" not in job.name:
            assert list((job / "checkpoints").glob("step-*.npz"))
    assert "1 sweep job(s) failed" in res.stderr and "Traceback" not in res.stderr


@needs("hydra_plugins.hydra_submitit_launcher")
def test_submitit_local_runs_each_job_as_its_own_process(tmp_path):
    res = tk("train", "-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5",
             "optimizer=sgd,adam", *QUICK, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    found = jobs(tmp_path)
    assert len(found) == 2
    assert summary(res.stdout) == {"optimizer=sgd": "ok", "optimizer=adam": "ok"}
    for job in found:
        assert list((job / "checkpoints").glob("step-*.npz")) and (job / "metrics.jsonl").is_file()


@needs("hydra_plugins.hydra_optuna_sweeper")
def test_optuna_study_survives_diverging_trials_and_beats_the_default_lr(tmp_path):
    default = tk("train", "optimizer=sgd", *QUICK, "hydra.run.dir=default", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    default_loss = float(next(ln.split()[-1] for ln in default.stdout.splitlines()
                              if ln.startswith("trainkit: val/loss")))
    res = tk("train", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=6", "hydra.sweeper.sampler.seed=1",
             "lr=tag(log, interval(1e-2, 1e8))", "optimizer=sgd", *QUICK, cwd=tmp_path)
    statuses = summary(res.stdout)
    assert len(statuses) == 6 and "failed" in statuses.values(), res.stdout  # some trials diverge
    assert "Traceback" not in res.stderr
    (sweep,) = (tmp_path / "runs").glob("*_sweep")
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_value"] < default_loss, (results, default_loss)
    assert 1e-3 <= results["best_params"]["lr"] < 1e3
