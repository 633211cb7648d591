"""Ctrl-C and SIGTERM during ``Trainer.fit()`` from Python: a flag, a safe point, a checkpoint, a clean stop.

The signals are sent by the test process to itself (``os.kill(os.getpid(), ...)``)
from inside a hook, as a user pressing Ctrl-C in a notebook would. The CLI side
(exit codes, the one line, random moments, a second Ctrl-C) is in
``test_interrupts_cli.py``.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time

import numpy as np
import pytest

import trainkit
from trainkit import checkpoint as ckpt
from trainkit import nn
from trainkit.builtin_plugins.checkpointing import Checkpointing
from trainkit.builtin_plugins.tensorboard import TensorBoardLogger
from trainkit.data.dataset import TensorDataset
from trainkit.data.loader import DataLoader
from trainkit.hookspecs import hookimpl
from trainkit.interrupts import (
    SignalGuard,
    TrainingInterrupted,
    TrainingKeyboardInterrupt,
    TrainingTerminated,
    call_with_timeout,
)
from trainkit.optim import Adam
from trainkit.optim.lr_scheduler import StepLR
from trainkit.trainer import Trainer


class SignalAt:
    """Sends ``signum`` to this process at the start of the ``n``-th training batch of the fit (once)."""

    name = "signal_at"

    def __init__(self, n: int, signum: int = signal.SIGINT):
        self.n, self.signum, self.seen = n, signum, 0

    @hookimpl
    def on_batch_start(self, trainer, batch_idx, batch):
        self.seen += 1
        if self.seen == self.n:
            os.kill(os.getpid(), self.signum)


def _trainer(run_dir, *plugins, resume=None, accumulate=1, max_epochs=4, default_plugins=("tensorboard", "progress")):
    trainkit.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)).astype(np.float32)
    y = (np.sin(x[:, :1] * 2) + 0.5 * x[:, 1:]).astype(np.float32)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1))
    opt = Adam(model.parameters(), lr=0.01)
    return Trainer(
        model, nn.MSELoss(), opt, DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=3),
        scheduler=StepLR(opt, step_size=1, gamma=0.7), run_dir=run_dir, resume=resume, accumulate=accumulate,
        plugins=[Checkpointing(every_n_epochs=1), *plugins], default_plugins=default_plugins, max_epochs=max_epochs,
    )


def _weights(trainer):
    return {k: v.copy() for k, v in trainer.model.state_dict().items()}


# 5 batches an epoch. accumulate=1: the signal in batch 7 is handled after update 7.
# accumulate=3 (updates after batches 3, 5 (the epoch's partial cycle), 8, 10, ...): a signal in
# batch 7 waits for the update after batch 8 (step 3); one in batch 5 for the partial update and the
# epoch's end (step 2, epoch 1 done).
@pytest.mark.parametrize(("accumulate", "at", "step", "epoch"), [(1, 7, 7, 1), (3, 7, 3, 1), (3, 5, 2, 1)])
def test_ctrl_c_stops_at_the_next_update_checkpoints_it_and_resume_is_bit_identical(
        tmp_path, accumulate, at, step, epoch):
    before = signal.getsignal(signal.SIGINT)
    run = tmp_path / "run"
    interrupted = _trainer(run, SignalAt(at), accumulate=accumulate)
    with pytest.raises(KeyboardInterrupt) as info:
        interrupted.fit()
    exc = info.value
    assert isinstance(exc, TrainingKeyboardInterrupt) and not isinstance(exc, Exception)
    assert (exc.signum, exc.step, exc.epoch, exc.exit_code) == (signal.SIGINT, step, epoch, 130)
    assert exc.checkpoint == run / "checkpoints" / f"step-{step:09d}.npz"
    assert str(exc) == f"interrupted at epoch {epoch + 1}, step {step}; checkpoint {exc.checkpoint} (SIGINT)"
    assert signal.getsignal(signal.SIGINT) is before  # the fit's handlers are gone
    path, state = ckpt.load_latest(run)
    assert path == exc.checkpoint and state["trainer"]["global_step"] == step

    resumed = _trainer(run, resume=run, accumulate=accumulate)
    resumed.fit()
    assert resumed.resumed_from == exc.checkpoint
    straight = _trainer(tmp_path / "straight", accumulate=accumulate)
    straight.fit()
    assert resumed.global_step == straight.global_step
    for name, value in _weights(straight).items():
        np.testing.assert_array_equal(_weights(resumed)[name], value, err_msg=name)


def test_sigterm_is_a_system_exit_with_status_143_that_except_exception_does_not_catch(tmp_path):
    trainer = _trainer(tmp_path, SignalAt(3, signal.SIGTERM))
    try:
        trainer.fit()
    except Exception:  # noqa: BLE001 - what user code often does
        pytest.fail("TrainingInterrupted was caught by `except Exception`")
    except SystemExit as exc:
        assert isinstance(exc, TrainingTerminated) and isinstance(exc, TrainingInterrupted)
        assert exc.code == 143 and exc.step == 3
        assert exc.checkpoint == tmp_path / "checkpoints" / "step-000000003.npz"
    else:
        pytest.fail("fit() returned after SIGTERM")


def test_the_first_update_completes_first_and_without_checkpointing_there_is_no_checkpoint(tmp_path):
    trainer = _trainer(tmp_path / "a", SignalAt(1), accumulate=3)
    with pytest.raises(TrainingInterrupted) as info:
        trainer.fit()
    assert info.value.step == 1 and info.value.checkpoint is not None  # the first update completes first
    plain = _trainer(tmp_path / "b", SignalAt(2), default_plugins=False)
    plain.plugins = [p for p in plain.plugins if not isinstance(p, Checkpointing)]
    with pytest.raises(TrainingInterrupted) as info:
        plain.fit()
    assert info.value.checkpoint is None and "no checkpoint written" in str(info.value)
    assert not (tmp_path / "b" / "checkpoints").exists()


def test_a_signal_after_the_last_safe_point_still_raises_after_teardown(tmp_path):
    torn_down = []

    class LateSignal:
        @hookimpl
        def on_fit_end(self, trainer, metrics):
            os.kill(os.getpid(), signal.SIGTERM)

        @hookimpl
        def on_teardown(self, trainer):
            torn_down.append(True)

    trainer = _trainer(tmp_path, LateSignal(), max_epochs=1)
    with pytest.raises(TrainingTerminated) as info:
        trainer.fit()
    assert torn_down and info.value.step == 5
    assert info.value.checkpoint == trainer.last_checkpoint == tmp_path / "checkpoints" / "step-000000005.npz"


def test_an_ignored_signal_stays_ignored(tmp_path):
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as for a background job `trainkit train &`
    try:
        trainer = _trainer(tmp_path, SignalAt(2), max_epochs=1)
        trainer.fit()
        assert trainer.global_step == 5
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_fit_in_another_thread_installs_no_handler(tmp_path):
    errors = []

    def fit():
        try:
            _trainer(tmp_path, max_epochs=1).fit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=fit)
    thread.start()
    thread.join(60)
    assert not errors and not thread.is_alive()


def test_signal_guard_outside_a_fit_is_inert():
    class Counters:
        epoch, global_step, last_checkpoint = 0, 0, None

    guard = SignalGuard(Counters())
    guard.check()  # no signal: nothing happens
    with guard:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        assert guard.signum == signal.SIGINT
        with pytest.raises(TrainingKeyboardInterrupt):
            guard.check()
        guard.check()  # raised once only


def test_call_with_timeout_gives_up_with_a_warning(caplog):
    release = threading.Event()
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="trainkit.trainer"):
        assert call_with_timeout(release.wait, 0.2, "waiting for nothing") is False
    assert time.perf_counter() - start < 2
    assert "waiting for nothing did not finish within 0.2 s" in caplog.text
    release.set()
    assert call_with_timeout(lambda: None, 1, "nothing") is True
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 1, "dividing")


def test_a_tensorboard_writer_that_never_closes_does_not_hang_the_fit(tmp_path, monkeypatch, caplog):
    import tensorboardX

    never = threading.Event()
    monkeypatch.setattr(tensorboardX.SummaryWriter, "close", lambda self: never.wait())
    trainer = _trainer(tmp_path, TensorBoardLogger(close_timeout=0.3), max_epochs=1)
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="trainkit.trainer"):
        trainer.fit()
    assert time.perf_counter() - start < 10
    assert "closing the TensorBoard writer" in caplog.text and "did not finish within 0.3 s" in caplog.text
    never.set()
