"""Ctrl-C and SIGTERM during ``Trainer.fit()``: stop at a safe point, checkpoint, exit cleanly.

Why the handlers do nothing but set a flag: a signal handler runs between two
bytecodes of whatever the main thread was doing. One that flushed TensorBoard
could re-enter tensorboardX's non-reentrant lock (held by the interrupted
``flush``) and hang the process for good; one that raised could leave the model
half-updated by an optimizer step. So while :class:`SignalGuard` is active
(``fit()`` enters it in the main thread and restores the previous handlers at
its end) SIGINT and SIGTERM only record the signal; the Trainer calls
:meth:`SignalGuard.check` at its safe points (after each completed update, after
each epoch's end) and that raises :class:`TrainingInterrupted` where the
model, optimizer, counters and loader position agree.

What happens next: every plugin's ``on_exception`` sees it (the checkpointing
plugin writes the checkpoint of the last completed update, TensorBoard flushes),
``on_teardown`` closes the TensorBoard writer within a time bound
(:func:`call_with_timeout`), ``fit()`` re-raises, and ``trainkit train`` prints
one line and exits with 130 (SIGINT) or 143 (SIGTERM). From Python, SIGINT
is a ``KeyboardInterrupt`` (a notebook stops as on any Ctrl-C) and SIGTERM a
``SystemExit`` with code 143 (a script exits quietly with the status a
terminated process has); neither is caught by ``except Exception``.

A second signal while the first is handled exits at once with
``os._exit(128 + signum)``: no cleanup runs, but checkpoints are written to a
temporary file and renamed into place, so every file on disk is whole. In an
interactive session (a notebook, the REPL) a second Ctrl-C raises
``KeyboardInterrupt`` where the code is instead, so the kernel survives.
A signal that the process ignores (``SIG_IGN``, e.g. SIGINT of a background
job ``trainkit train &``) stays ignored.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

__all__ = ["SignalGuard", "TrainingInterrupted", "TrainingKeyboardInterrupt", "TrainingTerminated",
           "call_with_timeout", "exit_on_next_signal"]

log = logging.getLogger("trainkit.trainer")

#: The signals ``fit()`` turns into :class:`TrainingInterrupted`.
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(BaseException):
    """``fit()`` stopped at a safe point because the process received SIGINT or SIGTERM.

    What is raised is one of its two subclasses (:meth:`from_signal`):
    :class:`TrainingKeyboardInterrupt` (SIGINT, a ``KeyboardInterrupt``) or
    :class:`TrainingTerminated` (SIGTERM, a ``SystemExit`` with code 143). A
    ``BaseException``, so ``except Exception`` in plugins and user code lets it
    through; ``except TrainingInterrupted`` catches both. ``checkpoint`` is the checkpoint of
    the last completed update (set by the checkpointing plugin in
    ``on_exception``; None when none was written: no run directory, checkpointing
    off, or no update done yet); ``resume=<run dir>`` continues from it.

    Attributes:
        signum: the signal received (``signal.SIGINT`` or ``signal.SIGTERM``).
        epoch: the trainer's epoch counter (completed epochs) when it stopped.
        step: the trainer's ``global_step`` (completed updates) when it stopped.
        checkpoint: the checkpoint written for this interruption, or None.
    """

    def __init__(self, signum: int, epoch: int, step: int, checkpoint: Path | None = None):
        super().__init__(signum, epoch, step, checkpoint)
        self.signum = int(signum)
        self.epoch = int(epoch)
        self.step = int(step)
        self.checkpoint = checkpoint

    @staticmethod
    def from_signal(signum: int, epoch: int, step: int, checkpoint: Path | None = None) -> TrainingInterrupted:
        """The exception for ``signum``: :class:`TrainingTerminated` for SIGTERM, else
        :class:`TrainingKeyboardInterrupt`."""
        kind = TrainingTerminated if signum == signal.SIGTERM else TrainingKeyboardInterrupt
        return kind(signum, epoch, step, checkpoint)

    @property
    def exit_code(self) -> int:
        """The exit status a shell expects after this signal: 130 (SIGINT), 143 (SIGTERM)."""
        return 128 + self.signum

    def summary(self) -> str:
        """``interrupted at epoch N, step S; checkpoint <path>`` (N counts from 1: the epoch in progress)."""
        where = f"interrupted at epoch {self.epoch + 1}, step {self.step}"
        return f"{where}; checkpoint {self.checkpoint}" if self.checkpoint else f"{where}; no checkpoint written"

    def __str__(self) -> str:
        return f"{self.summary()} ({signal.Signals(self.signum).name})"


class TrainingKeyboardInterrupt(TrainingInterrupted, KeyboardInterrupt):
    """Ctrl-C (SIGINT) during ``fit()``: stops a notebook cell or a script like any ``KeyboardInterrupt``."""


class TrainingTerminated(TrainingInterrupted, SystemExit):
    """SIGTERM during ``fit()``: uncaught, the interpreter exits quietly with status 143."""

    def __init__(self, *args):
        super().__init__(*args)
        self.code = self.exit_code


def _interactive() -> bool:
    """A REPL or a notebook kernel, where a second Ctrl-C must not kill the process."""
    ipython = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)
    return hasattr(sys, "ps1") or bool(sys.flags.interactive) or ipython() is not None


def _exit_now(signum: int, frame=None) -> None:
    """A second signal: leave at once, without running any cleanup that could hang."""
    if signum == signal.SIGINT and _interactive():
        raise KeyboardInterrupt
    os.write(2, f"trainkit: {signal.Signals(signum).name} again: exiting now\n".encode())
    os._exit(128 + signum)


class SignalGuard:
    """While active in the main thread, SIGINT and SIGTERM only record the signal (see the module doc).

    ``fit()`` enters it and calls :meth:`check` at its safe points. Leaving the
    block restores the previous handlers; a signal received after the last safe
    point (during the final validation, ``on_fit_end`` or teardown) is raised
    then, so a fit that received a signal never returns as if it had not.
    In another thread nothing is installed (Python allows handlers only in the
    main thread) and signals behave as without trainkit.
    """

    def __init__(self, trainer):
        self.trainer = trainer
        self.signum: int | None = None
        self._raised = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> SignalGuard:
        self.signum, self._raised = None, False
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                previous = signal.getsignal(sig)
                if previous is not signal.SIG_IGN:
                    signal.signal(sig, self._handle)
                    self._previous[sig] = previous
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
        if exc_type is None:
            self.check(checkpoint=self.trainer.last_checkpoint)
        return False

    def _handle(self, signum: int, frame) -> None:
        # no logging or printing here: the interrupted code may hold the stream's lock
        if self.signum is None:
            self.signum = signum
        else:
            _exit_now(signum)

    def check(self, checkpoint: Path | None = None) -> None:
        """Raise :class:`TrainingInterrupted` if a signal arrived (once); call only where the state is whole."""
        trainer = self.trainer
        pending = self.signum is not None and not self._raised
        agree = getattr(trainer, "agree", None)
        if agree is not None:  # under data-parallel training every rank stops at the same step
            pending = agree(pending) and not self._raised
        if pending:
            self._raised = True
            signum = self.signum if self.signum is not None else signal.SIGTERM  # a rank told by another
            log.info("%s received: stopping at step %d", signal.Signals(signum).name, trainer.global_step)
            raise TrainingInterrupted.from_signal(signum, trainer.epoch, trainer.global_step, checkpoint)


def exit_on_next_signal() -> None:
    """From now on SIGINT/SIGTERM exit at once: ``trainkit train`` has reported an interruption
    and is shutting down, and a second Ctrl-C must not print a traceback from Hydra's cleanup."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _exit_now)


def call_with_timeout(fn, timeout: float, what: str) -> bool:
    """Run ``fn()`` in a daemon thread and wait at most ``timeout`` seconds for it.

    For shutdown steps that can block forever in a library (tensorboardX's
    ``close`` joins its writer thread): after the timeout a warning names
    ``what`` and the caller goes on; the daemon thread cannot keep the process
    alive. Returns True when ``fn`` finished; an exception of ``fn`` is re-raised.
    """
    errors: list[BaseException] = []

    def target():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name=f"trainkit: {what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        log.warning("%s did not finish within %g s; going on without it", what, timeout)
        return False
    if errors:
        raise errors[0]
    return True
