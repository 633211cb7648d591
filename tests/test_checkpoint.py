"""Checkpoints: pickle-free format, atomic writes, resume (incl. SIGKILL), fallback, init_from."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import trainkit
from trainkit import checkpoint as ckpt
from trainkit import nn
from trainkit.builtin_plugins.checkpointing import Checkpointing
from trainkit.data.dataset import TensorDataset
from trainkit.data.loader import DataLoader
from trainkit.nn import StateDictMismatchError
from trainkit.optim import Adam
from trainkit.optim.lr_scheduler import StepLR
from trainkit.trainer import Trainer


# --------------------------------------------------------------------------- format
def test_round_trip_keeps_structure_keys_dtypes_and_values(tmp_path):
    state = {
        "model": {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array(3, dtype=np.int64)},
        "optimizer": {"state": {0: {"step": 5, "buf": np.ones(3)}, 1: {}}, "param_groups": [{"betas": (0.9, 0.99)}]},
        "rng": {"state": 2**100 + 7, "name": "PCG64"},
        "flags": [True, None, 1.5, "x"],
        "tricky": {"__array__": "not a marker"},
    }
    path = ckpt.save(tmp_path / "c.npz", state)
    back = ckpt.load(path)
    assert back["optimizer"]["state"].keys() == {0, 1}
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.99)
    assert back["rng"]["state"] == 2**100 + 7
    assert back["flags"] == [True, None, 1.5, "x"] and back["tricky"] == {"__array__": "not a marker"}
    np.testing.assert_array_equal(back["model"]["w"], state["model"]["w"])
    assert back["model"]["w"].dtype == np.float32 and back["model"]["n"].dtype == np.int64
    assert back["model"]["n"].shape == ()  # 0-d stays 0-d (BatchNorm's num_batches_tracked)
    with np.load(path, allow_pickle=False) as npz:  # plain arrays only
        assert all(npz[k].dtype != object for k in npz.files)


def test_a_batchnorm_state_dict_loads_back_from_a_checkpoint(tmp_path):
    norm = nn.BatchNorm1d(3)
    norm(trainkit.randn(4, 3))
    path = ckpt.save(tmp_path / "c.npz", {"model": norm.state_dict()})
    fresh = nn.BatchNorm1d(3)
    fresh.load_state_dict(ckpt.load(path)["model"])
    assert int(fresh.num_batches_tracked) == 1


def test_objects_that_would_need_pickle_are_rejected(tmp_path):
    with pytest.raises(ckpt.CheckpointError, match=r"cannot checkpoint object at checkpoint\.plugins\.x"):
        ckpt.save(tmp_path / "c.npz", {"plugins": {"x": object()}})
    with pytest.raises(ckpt.CheckpointError, match="only str and int keys"):
        ckpt.save(tmp_path / "c.npz", {(1, 2): 3})
    assert not list(tmp_path.iterdir())


def test_write_is_atomic_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = ckpt.save(tmp_path / "c.npz", {"v": np.zeros(3)})

    def broken_savez(fh, **arrays):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save(path, {"v": np.ones(3)})
    monkeypatch.undo()
    np.testing.assert_array_equal(ckpt.load(path)["v"], np.zeros(3))
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temp file left behind


@pytest.mark.parametrize("damage", ["truncate", "garbage", "plain_npz"])
def test_damaged_files_raise_corrupt_checkpoint_error(tmp_path, damage):
    path = ckpt.save(tmp_path / "c.npz", {"v": np.arange(1000.0)})
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(raw[:100] + b"\x00" * (len(raw) - 100))
    else:
        np.savez(path, v=np.zeros(2))
    with pytest.raises(ckpt.CorruptCheckpointError, match="c.npz"):
        ckpt.load(path)


# --------------------------------------------------------------------------- helpers
def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (np.sin(x[:, :1] * 2) + 0.5 * x[:, 1:]).astype(np.float32)
    return x, y


def _trainer(run_dir, *, every_n_steps=2, keep_last=3, resume=None, max_steps=None, max_epochs=4, config=None):
    trainkit.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1))
    opt = Adam(model.parameters(), lr=0.01)
    x, y = _data()
    return Trainer(
        model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=3),
        scheduler=StepLR(opt, step_size=1, gamma=0.7), run_dir=run_dir, resume=resume,
        plugins=[Checkpointing(every_n_steps=every_n_steps, keep_last=keep_last)],
        default_plugins=("tensorboard", "progress"), max_steps=max_steps, max_epochs=max_epochs, config=config,
    )


def _weights(trainer):
    return {k: v.copy() for k, v in trainer.model.state_dict().items()}


# --------------------------------------------------------------------------- resume
def test_resume_in_process_continues_bit_identically(tmp_path):
    full = _trainer(tmp_path / "full", max_steps=13)
    full.fit()
    first = _trainer(tmp_path / "split", max_steps=7)  # 5 batches per epoch: stops mid-epoch 2
    first.fit()
    second = _trainer(tmp_path / "split", resume=tmp_path / "split", max_steps=13)
    second.fit()
    assert second.resumed_from.name == "step-000000007.npz"
    assert second.global_step == 13 and second.epoch == full.epoch
    for name, value in _weights(full).items():
        np.testing.assert_array_equal(_weights(second)[name], value, err_msg=name)
    assert second.optimizer.param_groups[0]["lr"] == full.optimizer.param_groups[0]["lr"]


def test_keep_last_and_best(tmp_path):
    trainer = _trainer(tmp_path, every_n_steps=1, keep_last=2, max_epochs=2)
    trainer.fit()
    files = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert files == ["step-000000009.npz", "step-000000010.npz"]  # no val_loader: no best.npz
    state = ckpt.load(tmp_path / "checkpoints" / "step-000000010.npz")
    assert state["trainer"]["global_step"] == 10 and state["loader"] == {"epoch": 2, "batch": 0, "seed": 3}
    assert set(state["plugins"]) >= {"checkpointing", "nan_guard"}


def test_best_checkpoint_tracks_the_monitored_metric(tmp_path):
    trainer = _trainer(tmp_path, every_n_steps=0, max_epochs=3)
    x, y = _data(16, seed=5)
    trainer.val_loader = DataLoader(TensorDataset(x, y), batch_size=8)
    seen = []

    class Spy:
        from trainkit.hookspecs import hookimpl

        @hookimpl
        def on_validation_end(self, trainer, metrics):
            seen.append((trainer.global_step, metrics["val/loss"]))

    trainer.plugins.append(Spy())
    trainer.fit()
    best_step = min(seen, key=lambda s: s[1])[0]
    best = ckpt.load(tmp_path / "checkpoints" / "best.npz")
    assert best["trainer"]["global_step"] == best_step


def test_corrupt_latest_checkpoint_falls_back_to_the_previous_with_a_warning(tmp_path):
    _trainer(tmp_path, max_steps=6).fit()
    newest = tmp_path / "checkpoints" / "step-000000006.npz"
    raw = newest.read_bytes()
    newest.write_bytes(raw[: len(raw) // 3])  # a crash mid-copy, or a full disk
    resumed = _trainer(tmp_path, resume=tmp_path, max_steps=8)
    with pytest.warns(ckpt.CheckpointWarning, match="step-000000006.npz is unreadable.*falling back"):
        resumed.fit()
    assert resumed.resumed_from.name == "step-000000005.npz"  # epoch-end checkpoint
    reference = _trainer(tmp_path / "ref", max_steps=8)
    reference.fit()
    for name, value in _weights(reference).items():
        np.testing.assert_array_equal(_weights(resumed)[name], value, err_msg=name)


def test_resume_from_an_explicit_file_and_missing_targets(tmp_path):
    _trainer(tmp_path, max_steps=4).fit()
    t = _trainer(tmp_path, resume=tmp_path / "checkpoints" / "step-000000002.npz", max_steps=4)
    t.fit()
    assert t.resumed_from.name == "step-000000002.npz"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _trainer(tmp_path, resume=tmp_path / "nowhere").fit()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoints"):
        _trainer(tmp_path / "x", resume=tmp_path / "empty").fit()


def test_changed_config_on_resume_is_listed_in_a_warning(tmp_path):
    config = {"optimizer": {"name": "adam", "lr": 0.01}, "seed": 0}
    _trainer(tmp_path, max_steps=2, config=config).fit()
    changed = {"optimizer": {"name": "adam", "lr": 0.1}, "seed": 0, "trainer": {"accumulate": 2}}
    with pytest.warns(ckpt.CheckpointWarning, match=r"optimizer\.lr: 0\.01 -> 0\.1.*trainer\.accumulate: '<unset>' -> 2"):
        _trainer(tmp_path, max_steps=4, config=changed, resume=tmp_path).fit()


def test_changed_optimizer_values_on_resume_are_named_as_not_applied(tmp_path):
    config = {"lr": 0.01, "optimizer": {"name": "adam", "lr": 0.01}, "data": {"batch_size": 8}}
    _trainer(tmp_path, max_steps=2, config=config).fit()
    changed = {"lr": 0.5, "optimizer": {"name": "adam", "lr": 0.5}, "data": {"batch_size": 4}}
    resumed = _trainer(tmp_path, max_steps=4, config=changed, resume=tmp_path)
    with pytest.warns(ckpt.CheckpointWarning) as record:
        resumed.fit()
    (message,) = [str(w.message) for w in record if "config differs" in str(w.message)]
    not_applied = message.split("NOT applied")[1]
    assert "lr, optimizer.lr" in not_applied and "batch_size" not in not_applied
    assert "init_from=" in not_applied
    saved_lr = 0.01 * 0.7 ** 0  # StepLR(step_size=1) steps per epoch; 4 steps < one epoch of 5 batches
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(saved_lr)  # the checkpoint's, not 0.5


def _finished_run(tmp_path, **kw):
    trainer = _trainer(tmp_path, every_n_steps=0, max_epochs=2, **kw)
    trainer.fit()
    return trainer


def test_resuming_a_finished_run_trains_nothing_and_says_how_to_continue(tmp_path, caplog):
    done = _finished_run(tmp_path)
    files = sorted((tmp_path / "checkpoints").iterdir())
    again = _trainer(tmp_path, every_n_steps=0, max_epochs=2, resume=tmp_path)
    with caplog.at_level("WARNING", logger="trainkit.trainer"):
        metrics = again.fit()
    assert "run already finished (trainer.max_epochs=2 reached at step 10); raise trainer.max_epochs" in caplog.text
    assert again.global_step == done.global_step == 10 and again.already_finished
    assert metrics["train/loss"] == done.metrics["train/loss"]
    assert sorted((tmp_path / "checkpoints").iterdir()) == files  # nothing written
    longer = _trainer(tmp_path, every_n_steps=0, max_epochs=3, resume=tmp_path)
    longer.fit()
    assert longer.global_step == 15 and longer.already_finished is None


def _early_stopped(tmp_path, patience):
    from trainkit.builtin_plugins.early_stopping import EarlyStopping

    trainer = _trainer(tmp_path, every_n_steps=0, max_epochs=10)
    trainer.plugins.append(EarlyStopping(monitor="train/loss", patience=patience, min_delta=10.0))
    return trainer


def test_resuming_an_early_stopped_run_trains_nothing_unless_patience_or_stopping_changes(tmp_path, caplog):
    first = _early_stopped(tmp_path, patience=1)
    first.fit()
    assert first.should_stop and first.epoch == 2  # epoch 1 sets the best, epoch 2 does not beat it by 10
    stopped = ckpt.atomic_copy(ckpt.find_checkpoints(tmp_path / "checkpoints")[-1], tmp_path / "stopped.npz")
    state = ckpt.load(stopped)
    assert state["trainer"]["should_stop"] is True and "early stopping" in state["trainer"]["stop_reason"]

    again = _early_stopped(tmp_path, patience=1)
    again.resume = tmp_path
    with caplog.at_level("WARNING", logger="trainkit.trainer"):
        again.fit()
    assert again.global_step == first.global_step
    assert "run already finished (early stopping: train/loss" in caplog.text
    assert "callbacks.early_stopping.patience" in caplog.text

    patient = _early_stopped(tmp_path, patience=3)
    patient.resume = tmp_path
    patient.fit()
    assert patient.global_step > first.global_step

    without = _trainer(tmp_path / "copy", every_n_steps=0, max_epochs=3, resume=stopped)
    without.fit()  # early stopping is not part of this run: it goes on
    assert without.epoch == 3


def test_non_finite_state_is_never_checkpointed(tmp_path):
    trainer = _trainer(tmp_path, max_steps=2)
    trainer.fit()
    good = trainer.last_checkpoint
    trainer.model[0].weight.data[0, 0] = np.nan
    with pytest.warns(ckpt.CheckpointWarning, match=f"not finite; the last good checkpoint is {good}"):
        assert trainer.save_checkpoint(tmp_path / "bad.npz") is None
    assert not (tmp_path / "bad.npz").exists() and trainer.last_checkpoint == good


# --------------------------------------------------------------------------- init_from
def test_init_from_checkpoint_or_plain_npz(tmp_path):
    source = _trainer(tmp_path / "src", max_steps=3)
    source.fit()
    weights = _weights(source)
    target = _trainer(tmp_path / "dst", max_steps=0)
    target.init_weights(source.last_checkpoint)
    for k, v in weights.items():
        np.testing.assert_array_equal(target.model.state_dict()[k], v)
    np.savez(tmp_path / "plain.npz", **weights)
    fresh = _trainer(tmp_path / "dst2", max_steps=0)
    fresh.init_weights(tmp_path / "plain.npz")
    np.testing.assert_array_equal(fresh.model.state_dict()["3.weight"], weights["3.weight"])
    assert fresh.optimizer.state_dict()["state"] == {}  # weights only


def test_init_from_non_strict_skips_and_reports_bad_keys(tmp_path):
    trainkit.manual_seed(1)
    other = {"0.weight": np.ones((8, 2), np.float32), "0.bias": np.ones(3, np.float32), "extra": np.zeros(1)}
    np.savez(tmp_path / "w.npz", **other)
    strict = _trainer(tmp_path / "a", max_steps=0)
    with pytest.raises(StateDictMismatchError, match="0.bias"):
        strict.init_weights(tmp_path / "w.npz", strict=True)
    loose = _trainer(tmp_path / "b", max_steps=0)
    before = _weights(loose)
    with pytest.warns(ckpt.CheckpointWarning, match=r"missing: 3\.weight, 3\.bias.*unexpected: extra.*wrong_shape: 0\.bias"):
        report = loose.init_weights(tmp_path / "w.npz", strict=False)
    assert report["unexpected"] == ["extra"] and report["wrong_shape"][0].startswith("0.bias")
    np.testing.assert_array_equal(loose.model.state_dict()["0.weight"], other["0.weight"])
    np.testing.assert_array_equal(loose.model.state_dict()["0.bias"], before["0.bias"])


# --------------------------------------------------------------------------- SIGKILL
SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import trainkit
    from trainkit import nn
    from trainkit.builtin_plugins.checkpointing import Checkpointing
    from trainkit.data.dataset import TensorDataset
    from trainkit.data.loader import DataLoader
    from trainkit.hookspecs import hookimpl
    from trainkit.optim import SGD
    from trainkit.optim.lr_scheduler import StepLR
    from trainkit.trainer import Trainer

    run_dir, total, kill_at, resume, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]

    class Killer:
        @hookimpl
        def on_batch_start(self, trainer, batch_idx, batch):
            if trainer.global_step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    trainkit.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2)).astype(np.float32)
    y = (x[:, :1] * x[:, 1:] > 0).astype(np.float32)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 1))
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    trainer = Trainer(model, nn.BCEWithLogitsLoss(), opt,
                      DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=1),
                      scheduler=StepLR(opt, step_size=1, gamma=0.9), max_epochs=100, max_steps=total,
                      run_dir=run_dir, resume=run_dir if resume else None,
                      plugins=[Checkpointing(every_n_steps=5), Killer()],
                      default_plugins=("tensorboard", "progress"))
    trainer.fit()
    np.savez(out, **model.state_dict())
    """
)


def _run(script, *args):
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    n = 17  # 13 batches per epoch: the kill lands in epoch 2, between checkpoints (15 saved, 17 not)
    killed = _run(script, tmp_path / "run", 2 * n, n, 0, tmp_path / "never.npz")
    assert killed.returncode == -9, killed.stderr
    assert not (tmp_path / "never.npz").exists()
    assert (tmp_path / "run" / "checkpoints" / "step-000000015.npz").exists()
    resumed = _run(script, tmp_path / "run", 2 * n, -1, 1, tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr
    straight = _run(script, tmp_path / "straight", 2 * n, -1, 0, tmp_path / "straight.npz")
    assert straight.returncode == 0, straight.stderr
    with np.load(tmp_path / "resumed.npz") as a, np.load(tmp_path / "straight.npz") as b:
        assert a.files == b.files
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert zipfile.is_zipfile(tmp_path / "run" / "checkpoints" / "step-000000034.npz")


