"""TensorBoard plugin: scalars, hparams in the same run, flushing on errors and SIGTERM, non-numeric values."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import trainkit
from trainkit import nn
from trainkit.builtin_plugins.clipping import GradClip
from trainkit.builtin_plugins.tensorboard import TensorBoardLogger
from trainkit.data.dataset import TensorDataset
from trainkit.data.loader import DataLoader
from trainkit.hookspecs import hookimpl
from trainkit.optim import SGD
from trainkit.plugins import PluginHookError
from trainkit.trainer import Trainer

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_events(log_dir):
    """(scalars by tag, plugin names) of the single run in ``log_dir``."""
    runs = [p for p in log_dir.rglob("events.out.tfevents.*")]
    assert len({p.parent for p in runs}) == 1, f"expected one run, found {runs}"
    acc = event_accumulator.EventAccumulator(str(runs[0].parent), size_guidance={"scalars": 0})
    acc.Reload()
    scalars = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    try:
        hparams = acc.PluginTagToContent("hparams")
    except KeyError:
        hparams = {}
    return scalars, hparams


def classification_trainer(run_dir, plugins=(), **kw):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    trainkit.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = SGD([{"params": model[0].parameters(), "name": "body"}, {"params": model[2].parameters()}], lr=0.2)
    return Trainer(
        model, nn.CrossEntropyLoss(), opt, DataLoader(TensorDataset(x[:64], y[:64]), batch_size=8, shuffle=True),
        val_loader=DataLoader(TensorDataset(x[64:], y[64:]), batch_size=16), run_dir=run_dir,
        plugins=list(plugins), default_plugins=("progress", "checkpointing"), log_every=2, **kw,
    )


def test_scalars_and_hparams_are_written_to_one_run(tmp_path):
    trainer = classification_trainer(
        tmp_path, max_epochs=4, grad_transforms=[GradClip(max=10.0)],
        config={"optimizer": {"name": "sgd", "lr": 0.2}, "model": {"hidden": [16]}},
    )
    final = trainer.fit()
    scalars, hparams = read_events(tmp_path)
    expected = {"train/loss", "train/lr/body", "train/lr/1", "train/grad_norm", "train/skipped_steps",
                "val/loss", "val/accuracy", "time/epoch"}
    assert expected <= set(scalars)
    assert [s for s, _ in scalars["train/loss"]] == list(range(2, 33, 2))  # every log_every=2 steps
    assert [s for s, _ in scalars["val/loss"]] == [8, 16, 24, 32]
    losses = [v for _, v in scalars["train/loss"]]
    assert np.mean(losses[-4:]) < np.mean(losses[:4])  # the curve goes down
    assert scalars["train/lr/body"][0][1] == pytest.approx(0.2)
    assert scalars["val/accuracy"][-1][1] == pytest.approx(final["val/accuracy"])
    assert set(hparams) >= {"_hparams_/experiment", "_hparams_/session_start_info"}
    session = hparams["_hparams_/session_start_info"]
    assert b"optimizer" in session and b"sgd" in session and b"\n\x02lr" in session
    # the HPARAMS tab's metrics are the run's own tags (it reads their last values): no hparams/* copies
    assert b"val/accuracy" in hparams["_hparams_/experiment"] and b"val/loss" in hparams["_hparams_/experiment"]
    assert not [tag for tag in scalars if tag.startswith("hparams/")]
    # only the hyperparameters people compare, not every key of the config
    assert b"model.hidden" not in hparams["_hparams_/session_start_info"]


def test_hook_exception_names_the_plugin_and_earlier_events_are_flushed(tmp_path):
    class Exploding:
        name = "exploding"

        @hookimpl
        def on_epoch_start(self, trainer, epoch):
            if epoch == 2:
                raise RuntimeError("kaboom")

    trainer = classification_trainer(tmp_path, plugins=[Exploding(), TensorBoardLogger(flush_secs=3600)],
                                     max_epochs=5)
    with pytest.raises(PluginHookError, match="plugin 'exploding' failed in hook 'on_epoch_start'.*kaboom"):
        trainer.fit()
    scalars, _ = read_events(tmp_path)
    assert [s for s, _ in scalars["val/loss"]] == [8, 16]
    assert scalars["train/loss"][-1][0] == 16


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import trainkit
    from trainkit import nn
    from trainkit.builtin_plugins.tensorboard import TensorBoardLogger
    from trainkit.data.dataset import TensorDataset
    from trainkit.data.loader import DataLoader
    from trainkit.hookspecs import hookimpl
    from trainkit.optim import SGD
    from trainkit.trainer import Trainer

    class Terminate:
        @hookimpl
        def on_step_end(self, trainer, step, skipped):
            if step != 7:
                return
            if sys.argv[2] == "plain":
                os.kill(os.getpid(), signal.SIGTERM)  # the Trainer stops after this update
                return
            # as inside every flush: the main thread holds tensorboardX's non-reentrant event-file lock
            with trainer.plugin("tensorboard").writer.file_writer.event_writer._ev_writer._lock:
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(10000):  # the handler runs in here
                    pass

    x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    model = nn.Linear(2, 1)
    Trainer(model, nn.MSELoss(), SGD(model.parameters(), lr=0.1),
            DataLoader(TensorDataset(x, x[:, :1]), batch_size=4), max_epochs=10, log_every=1,
            run_dir=sys.argv[1], plugins=[TensorBoardLogger(flush_secs=3600), Terminate()],
            default_plugins=False).fit()
    """
)


# "while_flushing": the hang of the old SIGTERM handler, which flushed the writer from the handler and
# so waited forever for the lock the interrupted flush held. Now the handler only sets a flag.
@pytest.mark.parametrize("moment", ["plain", "while_flushing"])
def test_sigterm_flushes_events_and_exits_with_sigterm_status(tmp_path, tree_env, moment):
    script = tmp_path / "run.py"
    script.write_text(SIGTERM_SCRIPT)
    try:
        proc = subprocess.run([sys.executable, str(script), str(tmp_path / "run"), moment], capture_output=True,
                              text=True, timeout=60, env=tree_env)
    except subprocess.TimeoutExpired:
        pytest.fail("the process hung after SIGTERM")
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in proc.stderr, proc.stderr
    scalars, _ = read_events(tmp_path / "run")
    assert [s for s, _ in scalars["train/loss"]] == list(range(1, 8))


def test_tensorboardx_is_imported_only_when_the_plugin_runs():
    code = (
        "import sys, trainkit.builtin_plugins.tensorboard, trainkit.trainer;"
        "print('tensorboardX' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


TORCH_FREE_RUN = """
import importlib, sys
import numpy as np
from trainkit import nn
from trainkit.builtin_plugins.tensorboard import TensorBoardLogger
from trainkit.data.dataset import TensorDataset
from trainkit.data.loader import DataLoader
from trainkit.optim import SGD
from trainkit.runs.metrics import read_event_file
from trainkit.trainer import Trainer
from trainkit.utils.tensorboard import SummaryWriter

run_dir = sys.argv[1]
x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
model = nn.Sequential(nn.Linear(2, 2))
Trainer(model, nn.MSELoss(), SGD(model.parameters(), lr=0.1), DataLoader(TensorDataset(x, x), batch_size=8),
        run_dir=run_dir, plugins=[TensorBoardLogger()], default_plugins=(), max_epochs=1).fit()
with SummaryWriter(run_dir + "/own") as writer:
    writer.add_scalar("a", 1.0, 1)
import pathlib
for path in pathlib.Path(run_dir).rglob("events.out.tfevents.*"):
    read_event_file(path)
print("torch" in sys.modules)
importlib.import_module("torch")  # the block lasted the import of tensorboardX only
print("torch" in sys.modules)
"""


def test_tensorboard_does_not_import_torch(tmp_path):
    """tensorboardX imports torch whenever it is installed (a second and ~200 MB at start-up): trainkit's
    writers, the plugin and the event reader import it with torch blocked, and torch imports afterwards."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed: nothing to keep out")
    script = tmp_path / "run.py"
    script.write_text(TORCH_FREE_RUN)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], capture_output=True, text=True, check=False,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["False", "True"]


def test_needs_a_directory():
    trainer = classification_trainer(None, plugins=[TensorBoardLogger()], max_epochs=1)
    with pytest.raises(PluginHookError, match="tensorboard.*pass log_dir= or give the Trainer a run_dir"):
        trainer.fit()


# --------------------------------------------------------------------------- tag names
def test_tag_names_are_sanitised_once_and_kept_unique():
    from trainkit.builtin_plugins.tensorboard import TagNames

    tags = TagNames()
    assert tags("train/loss") == "train/loss"
    assert tags("train/lr/unfreeze:features.*") == "train/lr/unfreeze_features._"
    assert tags("train/lr/re:.*seg.* head") == "train/lr/re_._seg.__head"
    assert tags("/val/loss") == "val/loss"  # tensorboardX strips leading slashes
    # distinct metric names never share a tag, whichever comes first
    assert tags("train/lr/a b") == "train/lr/a_b"
    assert tags("train/lr/a_b") == "train/lr/a_b_2"
    assert tags("train/lr/a:b") == "train/lr/a_b_3"
    assert tags("train/lr/a b") == "train/lr/a_b"  # stable on repeat
    assert tags("train/lr/a_b") == "train/lr/a_b_2"


def test_group_names_with_glob_characters_become_valid_tags_without_tensorboardx_messages(tmp_path, caplog):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 2)).astype(np.float32)
    trainkit.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = SGD([{"params": model[0].parameters(), "name": "unfreeze:0.*"},
               {"params": model[2].parameters(), "name": "re:^2\\..*"}], lr=0.1)
    trainer = Trainer(model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, x[:, :1]), batch_size=8),
                      max_epochs=3, log_every=1, run_dir=tmp_path, default_plugins=("progress", "checkpointing"),
                      config={"params": {"freeze": ["0.*"]}})
    with caplog.at_level("INFO", logger="tensorboardX"):
        final = trainer.fit()
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("tensorboardX")]
    scalars, _ = read_events(tmp_path)
    assert [s for s, _ in scalars["train/lr/unfreeze_0._"]] == list(range(1, 13))
    assert scalars["train/lr/re__2_.._"][0][1] == pytest.approx(0.1)
    assert scalars["train/lr/unfreeze_0._"][-1][1] == pytest.approx(final["train/lr/unfreeze:0.*"])
    assert not [t for t in scalars if ":" in t or "*" in t]


def test_two_writers_in_the_same_second_never_share_an_event_file(tmp_path, monkeypatch):
    """A run resumed within the second it was interrupted keeps the first part's events."""
    import time as time_module

    monkeypatch.setattr(time_module, "time", lambda: 1_800_000_000.0)  # tensorboardX names files by it
    for steps in ((1, 2), (3, 4)):
        logger = TensorBoardLogger(log_dir=tmp_path)

        class Run:
            run_dir = tmp_path
            skipped_metrics: set = set()

        logger.on_fit_start(Run())
        for step in steps:
            logger.on_log(Run(), step, {"train/loss": float(step)})
        logger.on_teardown(Run())
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    scalars, _ = read_events(tmp_path)
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3, 4]
