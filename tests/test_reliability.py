"""Reliability edges (issue "interrupts never hang, odd values never kill a run, every edge of resume"):
re-running into a run directory, stale temp files, resume with a changed run, errors that name the
culprit, scheduler milestones, config errors before any run directory, config targets checked
before they are called."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import trainkit
from trainkit import nn
from trainkit.data import DataLoader, TensorDataset
from trainkit.optim import SGD
from trainkit.trainer import Trainer

TRAINKIT = Path(sys.executable).with_name("trainkit")
QUICK = ["trainer.max_epochs=1", "callbacks.progress.enabled=false", "data.n_samples=200"]
needs_cli = pytest.mark.skipif(not TRAINKIT.exists(), reason=f"console script not installed at {TRAINKIT}")


def tk(*args, cwd: Path, env=None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([str(TRAINKIT), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=240, env=full_env)


def _trainer(run_dir, **kw):
    trainkit.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((16, 2)).astype(np.float32)
    y = x @ np.array([[1.0], [-1.0]], np.float32)
    model = nn.Linear(2, 1)
    opt = SGD(model.parameters(), lr=0.05)
    plugins = [trainkit.plugins.registry("callbacks").get("checkpointing")(monitor=None)]
    return Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, y), batch_size=4), run_dir=run_dir,
                   plugins=plugins, default_plugins=False, **kw)


# --------------------------------------------------------------------------- 4. re-running into a run directory
@needs_cli
def test_cli_refuses_a_run_directory_holding_another_runs_checkpoints(tmp_path):
    first = tk("train", *QUICK, "hydra.run.dir=runs/x", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = tk("train", *QUICK, "hydra.run.dir=runs/x", cwd=tmp_path)
    assert again.returncode == 2, again.stderr
    assert "trainkit: error: config: hydra.run.dir=runs/x already holds checkpoints" in again.stderr
    assert "resume=runs/x" in again.stderr and "Traceback" not in again.stderr
    # the first run's checkpoints are untouched
    assert trainkit.checkpoint.load_latest(tmp_path / "runs/x")[1]["trainer"]["epoch"] == 1


def test_python_fresh_trainer_refuses_a_used_run_dir_and_a_second_fit_says_what_it_does(tmp_path, caplog):
    _trainer(tmp_path, max_epochs=1).fit()
    before = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    with pytest.raises(trainkit.resume.RunDirectoryError, match=r"already holds checkpoints.*resume="):
        _trainer(tmp_path, max_epochs=1).fit()
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == before
    same = _trainer(tmp_path / "again", max_epochs=1)
    same.fit()
    with caplog.at_level("WARNING", logger="trainkit.trainer"):
        same.fit()
    assert "fit() again on the same Trainer" in caplog.text and "nothing to train" in caplog.text


# --------------------------------------------------------------------------- 5. temp files of a killed write
def test_stale_checkpoint_temp_files_are_removed_at_start_and_nothing_else(tmp_path):
    ck = tmp_path / "checkpoints"
    ck.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = ck / f".step-000000076.npz.{dead}.tmp"
    live = ck / f".step-000000080.npz.{os.getpid()}.tmp"
    other = ck / ".notes.tmp"
    for path in (stale, live, other):
        path.write_bytes(b"partial")
    _trainer(tmp_path, max_epochs=1).fit()
    assert not stale.exists()
    assert live.exists() and other.exists()


# --------------------------------------------------------------------------- 6. resume with a changed run
@needs_cli
@pytest.mark.parametrize("change", [["scheduler=step", "scheduler.step_size=1"],
                                    ["params.param_groups=[{params: 'layers.4.*', lr_mult: 10}]"]])
def test_resume_with_a_changed_structure_stops_with_one_line_and_the_way_on(tmp_path, change):
    first = tk("train", *QUICK, "trainer.max_epochs=2", "hydra.run.dir=a", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    res = tk("train", *QUICK, "trainer.max_epochs=3", *change, "resume=a", cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("trainkit: error:")]
    assert len(errors) == 1 and "init_from=" in errors[0], res.stderr
    assert "Traceback" not in res.stderr
    assert "final metrics" not in res.stdout


# --------------------------------------------------------------------------- 7. errors that name the culprit
def test_optimizer_load_state_dict_names_the_groups_and_parameters_that_differ():
    from trainkit.nn import Parameter
    from trainkit.optim.state_store import StateDictError

    a, b, c = (Parameter(np.zeros(2)) for _ in range(3))
    saved = SGD([{"params": [a, b], "name": "body", "param_names": ["a", "b"]},
                 {"params": [c], "name": "head", "param_names": ["c"]}], lr=0.1).state_dict()
    other = SGD([{"params": [a], "name": "body", "param_names": ["a"]},
                 {"params": [b, c], "name": "head", "param_names": ["b", "c"]}], lr=0.1)
    with pytest.raises(StateDictError, match=r"param group 0 \('body'\) has 1 parameters but the loaded one "
                                             r"has 2 \(only in the loaded one: b\)"):
        other.load_state_dict(saved)
    with pytest.raises(StateDictError, match=r"Loaded: 'body' \(2 parameters\), 'head' \(1 parameters\); "
                                             r"this optimizer: 0 \(3 parameters\)"):
        SGD([a, b, c], lr=0.1).load_state_dict(saved)


def test_a_typo_inside_a_yaml_config_file_gets_a_suggestion(tmp_path):
    from trainkit.config import ConfigError, register_configs
    from trainkit.overrides import validate

    register_configs()
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "typo.yaml").write_text("# @package _global_\ntrainer:\n  max_epoch: 3\n")
    with pytest.raises(ConfigError, match=r"(?s)max_epoch.*Did you mean 'trainer.max_epochs'"):
        validate(["experiment=typo"], config_dir=str(tmp_path))


def test_string_numbers_in_param_groups_rules_are_coerced_or_named():
    from trainkit.params import ParamRuleError, build_param_groups

    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    groups = build_param_groups(model, [{"params": "1.*", "weight_decay": "1e-3", "lr": "0.5"}], base_lr=0.1)
    head = next(g for g in groups if g["name"] == "1.*")
    assert head["weight_decay"] == pytest.approx(1e-3) and head["lr"] == pytest.approx(0.5)
    with pytest.raises(ParamRuleError, match=r"param_groups\[0\] \('1\.\*'\) weight_decay='abc' is not a number"):
        build_param_groups(model, [{"params": "1.*", "weight_decay": "abc"}], base_lr=0.1)


def test_trainkit_plugins_shows_a_duplicate_name_as_one_line(capsys):
    import types

    from trainkit.cli import main
    from trainkit.hookspecs import hookimpl
    from trainkit.plugins import get_plugin_manager

    dup = types.SimpleNamespace()
    dup.register_optimizers = hookimpl(lambda register: register("adam", SGD))
    pm = get_plugin_manager()
    pm.register(dup, name="tk-dup-plugin")
    try:
        assert main(["plugins"]) == 1
    finally:
        pm.unregister(dup)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("trainkit: error: plugins:") and "'adam'" in err[0]
    assert "tk-dup-plugin" in err[0]


# --------------------------------------------------------------------------- 8. scheduler milestones
@needs_cli
@pytest.mark.parametrize("milestones, words", [("[0.5]", "milestones[0]=0.5 is not valid"),
                                               ("[-1]", "milestones[0]=-1 is not valid")])
def test_milestones_must_be_whole_and_not_negative(tmp_path, milestones, words):
    res = tk("train", *QUICK, "scheduler=multistep", f"scheduler.milestones={milestones}", cwd=tmp_path)
    assert res.returncode == 2 and f"trainkit: error: config: scheduler.{words}" in res.stderr, res.stderr
    assert not (tmp_path / "runs").exists()


def test_milestones_past_the_run_are_warned_about(caplog):
    from trainkit.compose import build_scheduler

    opt = SGD([trainkit.nn.Parameter(np.zeros(2))], lr=0.1)
    with caplog.at_level("WARNING", logger="trainkit.compose"):
        build_scheduler({"name": "multistep", "milestones": [2, 50]}, opt, max_epochs=10, steps_per_epoch=1,
                        max_steps=None)
    assert "[50] are at or past the end of the run" in caplog.text


# --------------------------------------------------------------------------- 9. config errors leave no trace
@needs_cli
@pytest.mark.parametrize("overrides, words", [
    (["params.freeze=[nothing.*]"], "nothing.*"),
    (["data=npz", "data.path=missing.npz"], "missing.npz"),
    (["lr=-1"], "learning rate"),
    (["model=cnn"], "model"),
])
def test_config_errors_exit_2_before_any_run_directory(tmp_path, overrides, words):
    res = tk("train", "trainer.max_epochs=1", *overrides, cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.startswith("trainkit: error: config:") and words in res.stderr, res.stderr
    assert "run directory" not in res.stdout
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- 10. targets checked before calls
@needs_cli
def test_a_model_target_that_is_not_a_module_class_is_refused_without_calling_it(tmp_path):
    (tmp_path / "sidefx.py").write_text("def make(*args, **kwargs):\n    open('called', 'w').close()\n")
    res = tk("train", *QUICK, "model._target_=sidefx.make", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert res.returncode == 2, res.stderr
    assert "model._target_='sidefx.make' is a function, not a trainkit.nn.Module subclass" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "called").exists()
    res = tk("train", *QUICK, "model._target_=os.getcwd", cwd=tmp_path)
    assert res.returncode == 2 and "not a trainkit.nn.Module subclass" in res.stderr
    assert not (tmp_path / "runs").exists()
