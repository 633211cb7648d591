"""The installed ``trainkit`` command, run as a subprocess from a temporary directory.

Each test starts the venv's console script (next to the running interpreter) in
``tmp_path``, so the configs and built-in plugins must come from the installed
package, not the repository checkout.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

TRAINKIT = Path(sys.executable).with_name("trainkit")
QUICK = ["trainer.max_epochs=1", "callbacks.progress.enabled=false", "data.n_samples=300"]

pytestmark = pytest.mark.skipif(not TRAINKIT.exists(), reason=f"console script not installed at {TRAINKIT}")


def tk(*args, cwd: Path, timeout: float = 180, env=None) -> subprocess.CompletedProcess:
    """Run the installed ``trainkit`` with ``args`` in ``cwd``."""
    full_env = dict(os.environ, **(env or {}))
    full_env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [str(TRAINKIT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env
    )


def run_dirs(cwd: Path) -> list[Path]:
    """Every job directory (it holds Hydra's ``.hydra``) under ``cwd/runs``."""
    return sorted(p.parent for p in (cwd / "runs").rglob(".hydra"))


def printed_run_dirs(out: str) -> list[Path]:
    return [Path(m) for m in re.findall(r"^trainkit: run directory (.+)$", out, flags=re.M)]


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the run's TensorBoard directory, read back from its event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


# --------------------------------------------------------------------------- help, speed


def test_top_level_help_lists_commands_without_importing_the_heavy_parts(tmp_path):
    res = tk("--help", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for command in ("train", "groups", "plugins", "compare", "resume", "export", "completion"):
        assert re.search(rf"^\s+{command}\b", res.stdout, flags=re.M), res.stdout
    # what makes it fast (its time is measured in benchmarks/trainer_overhead.py, not asserted here):
    # Hydra, numba and tensorboardX are imported only by the subcommand that needs them
    code = ("import sys; from trainkit.cli import main; main(['--help']); "
            "print(sorted(m for m in ('hydra', 'numba', 'tensorboardX', 'omegaconf') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_help_imports_no_heavy_module(tmp_path):
    code = (
        "import sys, contextlib, io\n"
        "from trainkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['--help'])\n"
        "print(sorted(m for m in ('hydra', 'omegaconf', 'numba', 'tensorboardX', 'tqdm') if m in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


def test_unknown_command_suggests(tmp_path):
    res = tk("trian", cwd=tmp_path)
    assert res.returncode == 2
    assert "Did you mean 'train'" in res.stderr


def test_train_help_lists_groups_and_registered_optimizers(tmp_path):
    res = tk("train", "--help", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert re.search(r"^callbacks: .*default.*none", res.stdout, flags=re.M), res.stdout
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("optimizer:"))
    for name in ("sgd", "adam", "rmsprop", "adamw", "lbfgs"):
        assert re.search(rf"\b{name}\b", line), line
    assert "scheduler:" in res.stdout and "model: cnn, linear, mlp" in res.stdout
    assert re.search(r"^experiment: .*linear_regression", res.stdout, flags=re.M)
    assert res.stdout.startswith("trainkit train: train a model")  # the header
    defaults = res.stdout.split("== Defaults")[1]
    assert re.search(r"^optimizer:\n  name: adam\n", defaults, flags=re.M)  # the composed defaults
    assert re.search(r"^lr: 0.01$", defaults, flags=re.M)
    assert "trainkit train --hydra-help" in res.stdout  # the footer
    assert not (tmp_path / "runs").exists()


def test_train_help_shows_the_defaults_of_the_chosen_options(tmp_path):
    res = tk("train", "optimizer=sgd", "--help", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert re.search(r"^optimizer:\n  name: sgd\n", res.stdout.split("== Defaults")[1], flags=re.M)


def test_cfg_job_prints_the_composed_config_without_a_run(tmp_path):
    res = tk("train", "optimizer=adam", "lr=1e-3", "optimizer.betas=[0.9,0.99]", "--cfg", "job", "--resolve",
             cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    cfg = yaml.safe_load(res.stdout)
    assert cfg["optimizer"]["name"] == "adam"
    assert cfg["optimizer"]["lr"] == pytest.approx(1e-3)
    assert cfg["optimizer"]["betas"] == [0.9, 0.99]
    assert not (tmp_path / "runs").exists()


def test_config_dir_adds_user_options(tmp_path):
    (tmp_path / "myconf" / "model").mkdir(parents=True)
    (tmp_path / "myconf" / "model" / "wide.yaml").write_text(
        "name: mlp\n_target_: null\nin_features: null\nnum_classes: null\nhidden_sizes: [128]\n"
        "activation: tanh\ndropout: 0.0\n"
    )
    res = tk("train", "--config-dir", "myconf", "model=wide", "--cfg", "job", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert yaml.safe_load(res.stdout)["model"]["hidden_sizes"] == [128]
    res = tk("train", "--config-dir", "myconf", "model=wid", cwd=tmp_path)
    assert res.returncode == 2 and "Did you mean 'wide'" in res.stderr
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- training runs


@pytest.mark.slow
def test_default_job_trains_spirals_to_95_percent(tmp_path):
    res = tk("train", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    acc = float(re.search(r"^trainkit: val/accuracy ([0-9.]+)$", res.stdout, flags=re.M).group(1))
    assert acc >= 0.95, res.stdout
    (printed,) = printed_run_dirs(res.stdout)
    assert printed.is_dir() and printed.parent == tmp_path / "runs"
    assert run_dirs(tmp_path) == [printed]
    logged = scalars(printed)
    loss = [v for _, v in logged["train/loss"]]
    assert len(loss) >= 10 and np.mean(loss[-3:]) < 0.5 * np.mean(loss[:3]), loss  # loss decreasing
    val_loss = [v for _, v in logged["val/loss"]]
    assert len(val_loss) == 10 and val_loss[-1] < val_loss[0]
    assert logged["val/accuracy"][-1][1] >= 0.95
    assert len(logged["train/grad_norm"]) == len(logged["train/loss"])  # logged without clipping
    assert "train/lr/default" in logged and "time/epoch" in logged


def test_adam_with_top_level_lr(tmp_path):
    res = tk("train", "optimizer=adam", "lr=1e-3", *QUICK, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    (run,) = run_dirs(tmp_path)
    saved = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    assert saved["optimizer"]["name"] == "adam"
    assert saved["lr"] == pytest.approx(1e-3)
    assert "train/lr/default=0.001 " in res.stdout  # significant digits, not fixed decimals


@pytest.mark.slow
def test_sweep_gives_one_directory_and_tensorboard_run_per_job(tmp_path):
    res = tk("train", "-m", "optimizer=sgd,adam,rmsprop", *QUICK, "callbacks.checkpointing.enabled=false", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    dirs = run_dirs(tmp_path)
    assert len(dirs) == 3
    # each job directory is named by its number and overrides
    names = sorted(re.search(r"optimizer-(\w+)", d.name).group(1) for d in dirs)  # <n>_optimizer-<name>
    assert names == ["adam", "rmsprop", "sgd"]
    assert set(printed_run_dirs(res.stdout)) == set(dirs)
    for d in dirs:
        assert len(list(d.glob("events.out.tfevents.*"))) == 1, d  # the run directory is the TensorBoard run
        logged = scalars(d)
        assert logged["train/loss"] and logged["val/loss"] and logged["train/grad_norm"], d
        assert len(logged["val/loss"]) == 1  # one epoch of this job only: no run shares its directory


@pytest.mark.slow
def test_a_failing_sweep_job_does_not_stop_the_sweep(tmp_path):
    res = tk("train", "-m", "optimizer=sgd", *REGRESSION, "lr=100,0.01", *QUICK, cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    dirs = run_dirs(tmp_path)
    assert len(dirs) == 2  # the second job ran after the first one failed
    good = next(d for d in dirs if "lr-0.01" in d.name)
    assert list((good / "checkpoints").glob("step-*.npz"))
    assert re.search(r"trainkit: error: training stopped: non-finite loss", res.stderr)
    assert "1 sweep job(s) failed" in res.stderr and "lr-100" in res.stderr.split("failed:")[1]
    assert "Traceback" not in res.stderr
    assert "RuntimeWarning" not in res.stderr  # overflow inside trainkit's ops is not shown


def test_a_diverging_single_run_exits_non_zero_at_once(tmp_path):
    res = tk("train", "optimizer=sgd", *REGRESSION, "lr=100", *QUICK, cwd=tmp_path)
    assert res.returncode == 1
    assert "trainkit: error: training stopped: non-finite loss" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_two_runs_started_together_get_two_directories(tmp_path):
    args = [str(TRAINKIT), "train", "trainer=debug", "data.n_samples=200"]
    procs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    printed = [printed_run_dirs(out)[0] for out, _ in outs]
    assert printed[0] != printed[1]
    assert len(run_dirs(tmp_path)) == 2


@pytest.mark.slow
def test_user_model_by_target(tmp_path):
    (tmp_path / "mynets.py").write_text(
        "from trainkit import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, in_features, num_classes, width=8):\n"
        "        super().__init__()\n"
        "        self.body = nn.Sequential(nn.Linear(in_features, width), nn.Tanh(), nn.Linear(width, num_classes))\n"
        "    def forward(self, x):\n"
        "        return self.body(x)\n"
    )
    res = tk("train", "model._target_=mynets.Net", *QUICK, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "body.0.weight" not in res.stderr
    assert re.search(r"^trainkit: val/accuracy", res.stdout, flags=re.M)


# --------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    "args, expected",
    [
        (["optimizer=adamm"], ["unknown optimizer 'adamm'", "Did you mean 'adam'", "adam (trainkit.optimizers)",
                               "sgd (trainkit.optimizers)"]),
        (["optimizer.lrr=0.1"], ["optimizer.lrr", "Did you mean 'optimizer.lr'"]),
        (["trainer.max_epoch=3"], ["trainer.max_epoch", "Did you mean 'trainer.max_epochs'"]),
        (["lr=abc"], ["lr", "'abc'"]),
        (["scheduler=cosin"], ["unknown scheduler 'cosin'", "cosine (trainkit.schedulers)"]),
        (["-m", "optimizer=sgd,adam", "optimizer.amsgrad=true"], ["optimizer.amsgrad", "optimizer=sgd"]),
        (["resume=nope"], ["resume=nope", "does not exist"]),
        (["init_from=nope.npz"], ["init_from=nope.npz", "no such file"]),
        (["data.batch_size=0"], ["data.batch_size=0", ">= 1"]),
        (["callbacks.checkpointing.monitor=val/acc"], ["callbacks.checkpointing.monitor='val/acc'", "'val/accuracy'"]),
        (["callbacks.early_stopping.enabled=true", "callbacks.early_stopping.monitor=val/acc"],
         ["callbacks.early_stopping.monitor='val/acc'", "Available: train/loss"]),
    ],
    ids=["unknown-optimizer", "misspelt-optimizer-key", "misspelt-trainer-key", "non-numeric-lr",
         "unknown-scheduler", "bad-key-in-one-sweep-job", "resume-missing", "init-from-missing",
         "batch-size-0", "checkpoint-monitor", "early-stopping-monitor"],
)
def test_config_error_exits_nonzero_without_a_run_directory(tmp_path, args, expected):
    res = tk("train", *args, cwd=tmp_path)
    assert res.returncode != 0
    for text in expected:
        assert text in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists()
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()


REGRESSION = ["data=regression", "model=linear", "loss=mse"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["params.freeze=[no_such_layer.*]"], ["no_such_layer"]),
        ([*REGRESSION, "callbacks.early_stopping.enabled=true", "callbacks.early_stopping.monitor=val/accuracy"],
         ["callbacks.early_stopping.monitor='val/accuracy' is not a metric", "val/loss"]),
        ([*REGRESSION, "scheduler=plateau", "scheduler.monitor=val/accuracy"],
         ["scheduler.monitor='val/accuracy'", "train/loss"]),
    ],
    ids=["freeze-rule", "accuracy-on-regression", "plateau-on-regression"],
)
def test_error_found_while_building_removes_the_run_directory(tmp_path, args, expected):
    res = tk("train", *args, *QUICK, cwd=tmp_path)
    assert res.returncode == 2
    for text in expected:
        assert text in res.stderr, res.stderr
    assert "trainkit: error:" in res.stderr and "Traceback" not in res.stderr
    assert run_dirs(tmp_path) == []


def test_strict_init_from_with_wrong_shapes_is_a_clean_error_with_a_hint(tmp_path):
    np.savez(tmp_path / "w.npz", **{"layers.0.weight": np.zeros((3, 3), np.float32)})
    res = tk("train", "init_from=w.npz", *QUICK, cwd=tmp_path)
    assert res.returncode == 1
    assert "trainkit: error: init_from=w.npz" in res.stderr and "init_strict=false" in res.stderr
    assert "Traceback" not in res.stderr
    assert run_dirs(tmp_path) == []  # nothing had been written: the directory is removed


def test_lbfgs_trains_from_the_command_line(tmp_path):
    res = tk("train", "optimizer=lbfgs", "lr=0.5", *REGRESSION, *QUICK, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert float(re.search(r"^trainkit: val/loss ([0-9.]+)$", res.stdout, flags=re.M).group(1)) < 0.05


@pytest.mark.parametrize("name", ["warmup_cosine", "warmup_linear"])
def test_warmup_schedulers_run_without_total_steps(tmp_path, name):
    res = tk("train", f"scheduler={name}", "scheduler.warmup=0.1", "trainer=debug", "data.n_samples=200",
             cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "final metrics" in res.stdout


def test_one_cycle_with_accumulate_not_dividing_the_epoch(tmp_path):
    res = tk("train", "scheduler=one_cycle", "trainer.accumulate=3", "trainer.max_epochs=2",
             "callbacks.progress.enabled=false", "callbacks.tensorboard.enabled=false", "data.n_samples=300", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_two_runs_in_one_process_get_two_directories(tmp_path, monkeypatch, capsys):
    from trainkit.cli import main

    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["train", "trainer=debug", "data.n_samples=100"]) == 0
    printed = printed_run_dirs(capsys.readouterr().out)
    assert len(printed) == 2 and printed[0] != printed[1]
    assert len(run_dirs(tmp_path)) == 2


def test_a_run_composes_its_config_twice(tmp_path, monkeypatch):
    """Once to check the command line, once in Hydra's run: Hydra's own third composition, only to read
    ``hydra.mode``, is answered from the first (each composition is ~0.1 s of a short run)."""
    from hydra._internal.hydra import Hydra

    from trainkit.cli import main

    composed = []
    original = Hydra.compose_config

    def counting(self, *args, **kwargs):
        composed.append(kwargs.get("run_mode"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Hydra, "compose_config", counting)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "trainer=debug", "data.n_samples=100", "callbacks.progress.enabled=false"]) == 0
    assert len(composed) == 2
    assert Hydra.get_mode.__qualname__ == "Hydra.get_mode"  # Hydra's own again after the run


def test_hydra_mode_from_the_command_line_still_chooses_a_sweep(tmp_path, monkeypatch):
    from trainkit.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "hydra.mode=MULTIRUN", "trainer=debug", "data.n_samples=100",
                 "callbacks.progress.enabled=false"]) == 0
    (job,) = run_dirs(tmp_path)
    assert job.parent.name.endswith("_sweep") and job.name.startswith("0_")


# --------------------------------------------------------------------------- plugins, groups


def test_plugins_lists_registrations_versions_and_hooks(tmp_path):
    from trainkit import __version__

    res = tk("plugins", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    blocks = {b.split()[0]: b for b in re.split(r"\n(?=\S)", res.stdout.strip())}
    opt = blocks["trainkit.optimizers"]
    assert __version__ in opt.splitlines()[0]
    assert re.search(r"registers optimizers: .*\badam\b.*\bsgd\b", opt)
    assert "hooks: register_optimizers" in opt
    assert "registers schedulers:" in blocks["trainkit.schedulers"]
    assert "on_log" in blocks["trainkit.tensorboard"]  # the lifecycle hooks of its callback


def test_groups_prints_the_table_and_does_not_train(tmp_path):
    res = tk("groups", "model=cnn", "data=shapes", "data.n_samples=30", "data.image_size=16",
             "params.freeze=[features.0.*]", "params.param_groups=[{params: 'classifier.*', lr_mult: 10}]",
             "lr=0.01", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = {ln.split()[0]: ln.split() for ln in res.stdout.splitlines() if ln.strip()}
    assert rows["classifier.*"][3] == "0.1"
    assert rows["default"][3] == "0.01"
    assert rows["(frozen)"][1] == "2"  # features.0.weight and features.0.bias
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["linear_regression", "cnn_shapes", "compare_optimizers"])
def test_experiment_configs_run(tmp_path, experiment):
    res = tk("train", f"experiment={experiment}", "trainer.max_epochs=1", "callbacks.progress.enabled=false",
             cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "final metrics" in res.stdout


def _table_rows(out: str) -> dict[str, list[str]]:
    return {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.strip() and not ln.startswith("-")}


@pytest.mark.parametrize(
    "optimizer, expected_default",
    [(["optimizer=sgd", "optimizer.weight_decay=5e-4"], "0.0005"), (["optimizer=adamw"], "0.01")],
    ids=["sgd-set", "adamw-signature-default"],
)
def test_groups_table_shows_the_optimizers_weight_decay(tmp_path, optimizer, expected_default):
    res = tk("groups", *optimizer, "params.param_groups=[{params: 'layers.4.*', weight_decay: 0.1}]",
             "params.no_decay=true", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = _table_rows(res.stdout)
    assert rows["group"][-1] == "weight_decay"
    assert rows["default"][-1] == expected_default  # the optimizer's own value, not "(default)"
    assert rows["layers.4.*"][-1] == "0.1"  # a rule's weight_decay wins
    assert rows["default/no_decay"][-1] == "0" and rows["layers.4.*/no_decay"][-1] == "0"
    assert "(default)" not in res.stdout


# --------------------------------------------------------------------------- a third-party plugin


@pytest.fixture(scope="module")
def demo_plugin_site(tmp_path_factory):
    """tests/fixtures/plugin_dist installed with ``pip install --target`` (the venv is left alone)."""
    import shutil

    fixture = Path(__file__).parent / "fixtures" / "plugin_dist"
    root = tmp_path_factory.mktemp("demo_plugin")
    shutil.copytree(fixture, root / "src", ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(root / "site"), str(root / "src")],
        capture_output=True, text=True, timeout=180,
    )
    if proc.returncode != 0:
        pytest.fail("pip install of the fixture distribution failed (--no-build-isolation builds with this "
                    "environment's setuptools/wheel, which the test extra brings: pip install -e \".[test]\"):\n"
                    f"{proc.stdout}\n{proc.stderr}")
    return root / "site"


@pytest.mark.slow
def test_installed_third_party_optimizer_is_selectable_by_name(tmp_path, demo_plugin_site):
    from trainkit import checkpoint as ckpt

    env_run = dict(os.environ, PYTHONPATH=str(demo_plugin_site))
    env_run.pop("TRAINKIT_LOAD_PLUGINS", None)
    env_run.pop("HYDRA_FULL_ERROR", None)
    res = subprocess.run([str(TRAINKIT), "train", "optimizer=demo_sgd", "lr=null", *QUICK], cwd=tmp_path,
                         capture_output=True, text=True, timeout=180, env=env_run)
    assert res.returncode == 0, res.stdout + res.stderr
    (run,) = run_dirs(tmp_path)
    saved = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    assert saved["optimizer"]["name"] == "demo_sgd"
    assert saved["optimizer"]["momentum"] == 0.5  # the generated node took DemoSGD's signature defaults
    assert "train/lr/default=0.05 " in res.stdout  # lr=null: DemoSGD's own default lr was used
    (last,) = ckpt.find_checkpoints(run / "checkpoints")[-1:]
    state = ckpt.load(last)
    assert state["optimizer"]["param_groups"][0]["momentum"] == 0.5
    assert all("momentum_buffer" in s for s in state["optimizer"]["state"].values())

    res = subprocess.run([str(TRAINKIT), "plugins"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env=env_run)
    assert res.returncode == 0, res.stderr
    blocks = {b.split()[0]: b for b in re.split(r"\n(?=\S)", res.stdout.strip())}
    demo = blocks["demo"]
    assert demo.splitlines()[0] == "demo 0.3.1 (trainkit-demo-plugin)"
    assert "registers optimizers: demo_sgd" in demo
    assert "hooks: register_optimizers" in demo


# --------------------------------------------------------------------------- kill and resume

#: ``model._target_=signalnet.Net``: a user model that signals its own process at a given forward call
USER_MODEL = Path(__file__).parent / "fixtures" / "user_model"


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(tmp_path):
    from trainkit import checkpoint as ckpt

    # spirals 300 -> 240 training samples, 8 batches an epoch: 4 epochs = 32 steps, a checkpoint per epoch
    args = ["train", "model._target_=signalnet.Net", "optimizer=sgd", "optimizer.momentum=0.9", "lr=0.05",
            "scheduler=step", "scheduler.step_size=1", "trainer.max_epochs=4", "callbacks.progress.enabled=false",
            "callbacks.tensorboard.enabled=false", "callbacks.checkpointing.keep_last=10", "data.n_samples=300"]

    def train(*extra, cwd, kill_at=0):
        cwd.mkdir(exist_ok=True)
        env = {"PYTHONPATH": str(USER_MODEL), "SIGNAL": "SIGKILL", "SIGNAL_AT": str(kill_at)}
        return tk(*args, *extra, cwd=cwd, env=env)

    killed = train(cwd=tmp_path / "a", kill_at=21)  # step 21: in epoch 3, after the epoch-2 checkpoint
    assert killed.returncode == -9, killed.stdout + killed.stderr
    (killed_dir,) = printed_run_dirs(killed.stdout)
    assert [p.name for p in ckpt.find_checkpoints(killed_dir / "checkpoints")] == [
        "step-000000008.npz", "step-000000016.npz"]

    resumed = train(f"resume={killed_dir}", cwd=tmp_path / "a")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "config differs" not in resumed.stderr
    (resumed_dir,) = printed_run_dirs(resumed.stdout)
    assert resumed_dir == killed_dir  # the run goes on in its own directory
    # the resumed run continued from step 16: it added the epoch-3 and epoch-4 checkpoints
    assert [p.name for p in ckpt.find_checkpoints(resumed_dir / "checkpoints")] == [
        "step-000000008.npz", "step-000000016.npz", "step-000000024.npz", "step-000000032.npz"]
    assert len(run_dirs(tmp_path / "a")) == 1

    straight = train(cwd=tmp_path / "b")
    assert straight.returncode == 0, straight.stdout + straight.stderr
    (straight_dir,) = printed_run_dirs(straight.stdout)

    a = ckpt.load(resumed_dir / "checkpoints" / "step-000000032.npz")
    b = ckpt.load(straight_dir / "checkpoints" / "step-000000032.npz")
    assert sorted(a["model"]) == sorted(b["model"]) and a["model"]
    for name in a["model"]:
        np.testing.assert_array_equal(a["model"][name], b["model"][name], err_msg=name)
    for idx, entry in b["optimizer"]["state"].items():
        np.testing.assert_array_equal(a["optimizer"]["state"][idx]["momentum_buffer"], entry["momentum_buffer"])
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"]
    assert a["trainer"]["metrics"]["val/loss"] == b["trainer"]["metrics"]["val/loss"]


def _quick_run(tmp_path, *extra):
    res = tk("train", *QUICK[1:], "trainer.max_epochs=2", *extra, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


@pytest.mark.slow
def test_resume_continues_in_the_run_directory_and_a_finished_run_trains_nothing(tmp_path):
    first = _quick_run(tmp_path)
    (run,) = printed_run_dirs(first.stdout)
    before = sorted(p.name for p in (run / "checkpoints").iterdir())

    again = _quick_run(tmp_path, f"resume={run}")
    done = re.search(r"run already finished \(trainer.max_epochs=2 reached at step (\d+)\); "
                     r"raise trainer.max_epochs to continue", again.stdout + again.stderr)
    assert done, again.stdout + again.stderr
    per_epoch = int(done.group(1)) // 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before
    assert run_dirs(tmp_path) == [run]

    longer = tk("train", *QUICK[1:], "trainer.max_epochs=3", "lr=0.5", f"resume={run}", cwd=tmp_path)
    assert longer.returncode == 0, longer.stdout + longer.stderr
    assert printed_run_dirs(longer.stdout) == [run] and run_dirs(tmp_path) == [run]
    out = longer.stdout + longer.stderr
    assert re.search(r"NOT applied, because resume restores them from the checkpoint: lr, optimizer.lr", out)
    assert f"init_from={run}" in out
    table = out.split("parameter groups (restored from")[1]
    assert re.search(r"^default\s+\d+\s+\d+\s+0.01\s", table, flags=re.M), table  # the lr in use, not 0.5
    assert f"step-{3 * per_epoch:09d}.npz" in {p.name for p in (run / "checkpoints").iterdir()}
    logged = scalars(run)  # one TensorBoard run, continued
    assert [s for s, _ in logged["val/loss"]] == [per_epoch, 2 * per_epoch, 3 * per_epoch]
    assert "CheckpointWarning" in (run / "train.log").read_text()  # the warning is in the run's log too


@pytest.mark.slow
def test_resumed_plain_sgd_keeps_writing_checkpoints(tmp_path):
    """SGD without momentum has no momentum buffers: after a resume in a new process its state
    must still be checkpointable (a restored buffer once came back as NaN and every later
    checkpoint was refused as non-finite)."""
    common = ["optimizer=sgd", "callbacks.progress.enabled=false", "data.n_samples=300", "hydra.run.dir=runs/r"]
    first = tk("train", *common, "trainer.max_epochs=1", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    resumed = tk("train", *common, "trainer.max_epochs=2", "resume=runs/r", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "not writing checkpoint" not in resumed.stdout + resumed.stderr
    steps = sorted(int(p.stem.split("-")[1]) for p in (tmp_path / "runs/r/checkpoints").glob("step-*.npz"))
    assert len(steps) == 2 and steps[-1] == 2 * steps[0], steps
