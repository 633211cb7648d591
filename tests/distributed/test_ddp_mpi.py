"""Data-parallel training on real processes: ``mpiexec -n 2 python -m mpi4py ...``.

Skipped (with the reason) when mpi4py or mpiexec is missing: ``pip install -e ".[mpi]"``.
Every process runs under a timeout, so a hang fails the test instead of stalling CI.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from trainkit import checkpoint as ckpt
from trainkit.distributed.comm import mpi_unavailable_reason
from trainkit.distributed.launch import find_mpiexec, mpiexec_prefix

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "ddp_script.py"
ROOT = HERE.parents[1]
TIMEOUT = 120

_missing = mpi_unavailable_reason() or (None if find_mpiexec() else "no mpiexec on PATH (pip install mpich)")
pytestmark = [pytest.mark.mpi, pytest.mark.skipif(_missing is not None, reason=f"needs MPI: {_missing}")]

CASES = ["sgd_momentum", "adam", "adamw", "clip", "accumulate", "lbfgs", "nan_skip"]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE), env.get("PYTHONPATH", "")])
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", TRAINKIT_DISABLE_NUMBA="1")
    env.pop("TRAINKIT_DDP_LAUNCHED", None)
    return env


def run(args, n=None, cwd=None, timeout=TIMEOUT):
    """``args`` under ``mpiexec -n n python -m mpi4py`` (or plain python with n=None)."""
    prefix = [*mpiexec_prefix(n), sys.executable, "-m", "mpi4py"] if n else [sys.executable]
    return subprocess.run([*prefix, *map(str, args)], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def _ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    return res


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(a).max())


@pytest.fixture(scope="module")
def equiv(tmp_path_factory):
    out = tmp_path_factory.mktemp("equiv")
    _ok(run([SCRIPT, "equiv", out]))
    _ok(run([SCRIPT, "equiv", out], n=2))

    def load(case, world, rank):
        with np.load(out / f"{case}_w{world}_r{rank}.npz") as f:
            return f["weights"], json.loads(str(f["metrics"])), int(f["skipped"]), int(f["step"])

    return load


@pytest.mark.parametrize("case", CASES)
def test_two_ranks_equal_one_process_with_twice_the_batch(equiv, case):
    w1, m1, skipped1, steps1 = equiv(case, 1, 0)
    w2, m2, skipped2, steps2 = equiv(case, 2, 0)
    assert steps1 == steps2 == 20
    assert _rel(w1, w2) <= 1e-12
    assert skipped1 == skipped2 == (2 if case == "nan_skip" else 0)  # a NaN on one rank skips on both
    for key in ("val/loss", "val/accuracy", "train/loss"):  # 37 validation samples: uneven shards
        assert m2[key] == pytest.approx(m1[key], rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("case", CASES + ["control_no_allreduce"])
def test_ranks_end_bitwise_identical(equiv, case):
    expected_same = case != "control_no_allreduce"
    assert np.array_equal(equiv(case, 2, 0)[0], equiv(case, 2, 1)[0]) == expected_same


def test_without_the_allreduce_the_result_differs(equiv):
    assert _rel(equiv("control_no_allreduce", 1, 0)[0], equiv("control_no_allreduce", 2, 0)[0]) > 1e-3


def _weights(run_dir):
    _, state = ckpt.load_latest(run_dir)
    model = state["model"]
    return np.concatenate([np.ravel(model[k]) for k in sorted(model)]), state["trainer"]


def test_command_line_two_ranks_equal_one_process(tmp_path):
    common = ["-m", "trainkit", "train", "model._target_=ddp_nets.Net64", "data.n_samples=300", "optimizer=adam",
              "lr=0.01", "trainer.max_steps=20", "trainer.max_epochs=5", "callbacks.tensorboard.enabled=false",
              "callbacks.progress.enabled=false"]  # 240 training samples, global batch 14: an uneven last batch
    _ok(run([*common, "data.batch_size=14", f"hydra.run.dir={tmp_path / 'one'}"], cwd=tmp_path))
    res = _ok(run([*common, "data.batch_size=7", "trainer.strategy=ddp", f"hydra.run.dir={tmp_path / 'two'}"],
                  n=2, cwd=tmp_path))
    assert res.stdout.count("trainkit: run directory") == 1 and "data-parallel on 2 processes" in res.stdout
    w1, t1 = _weights(tmp_path / "one")
    w2, t2 = _weights(tmp_path / "two")
    assert w1.dtype == np.float64 and t1["global_step"] == t2["global_step"] == 20
    assert _rel(w1, w2) <= 1e-12
    assert t2["world_size"] == 2 and t2["metrics"]["val/loss"] == pytest.approx(t1["metrics"]["val/loss"], rel=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # rank 1 made no run directory


def test_num_processes_starts_mpiexec(tmp_path):
    res = _ok(run(["-m", "trainkit", "train", "trainer=debug", "trainer.strategy=ddp", "trainer.num_processes=2"],
                  cwd=tmp_path))
    assert "starting 2 processes" in res.stdout and "data-parallel on 2 processes" in res.stdout
    assert len(list((tmp_path / "runs").iterdir())) == 1


def test_a_rank_that_raises_ends_the_job(tmp_path):
    start = time.monotonic()
    res = run([SCRIPT, "raise"], n=2, cwd=tmp_path, timeout=60)
    assert res.returncode != 0 and "rank 1 fails on purpose" in res.stderr
    assert time.monotonic() - start < 30


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """An uninterrupted 2-rank run of 25 updates with step checkpoints."""
    run_dir = tmp_path_factory.mktemp("whole")
    _ok(run([SCRIPT, "train", run_dir], n=2))
    return run_dir


def test_killed_rank_ends_the_job_and_resume_matches_an_uninterrupted_run(tmp_path, whole):
    broken = tmp_path / "broken"
    broken.mkdir()
    start = time.monotonic()
    res = run([SCRIPT, "train", broken, "--kill-at", "12"], n=2, timeout=60)
    assert res.returncode != 0 and time.monotonic() - start < 30
    assert not (broken / "final_r0.npz").exists()
    assert [p.name for p in ckpt.find_checkpoints(broken / "checkpoints")][-1] == "step-000000010.npz"
    _ok(run([SCRIPT, "train", broken, "--resume"], n=2))
    for rank in (0, 1):
        with np.load(whole / f"final_r{rank}.npz") as a, np.load(broken / f"final_r{rank}.npz") as b:
            assert int(a["step"]) == int(b["step"]) == 25
            np.testing.assert_array_equal(a["weights"], b["weights"])


def test_resume_with_another_world_size(tmp_path, whole):
    """Stopped after update 7 of a 2-rank run (per-rank batch 6), resumed by one process (batch 12, the same
    global batch): the loader position is recomputed and the run ends where the 2-rank run ends."""
    broken = tmp_path / "broken"
    broken.mkdir()
    assert run([SCRIPT, "train", broken, "--kill-at", "7"], n=2, timeout=60).returncode != 0
    res = _ok(run([SCRIPT, "train", broken, "--resume"]))
    with np.load(whole / "final_r0.npz") as a, np.load(broken / "final_r0.npz") as b:
        assert int(b["step"]) == 25 and _rel(a["weights"], b["weights"]) <= 1e-12
    assert "world size 1" in res.stderr
