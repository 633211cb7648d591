"""Fit hooks: once per ``Trainer.fit()``, at its start, its normal end, an exception, and always last.

``on_exception`` and ``on_teardown`` run for every plugin even when one of
them fails, so that logs are flushed and files closed on every way out of ``fit()``.
"""
from __future__ import annotations

from .markers import Metrics, Trainer, spec


@spec
def on_fit_start(trainer: "Trainer") -> None:
    """Called once at the start of ``Trainer.fit()``, after a resume was restored.

    The model is on ``trainer.device``; ``trainer.global_step`` and
    ``trainer.epoch`` are where training will continue (0 on a fresh run).
    Not called (nor ``on_fit_end``) when a resumed run had already finished
    and ``fit()`` returns without training (``trainer.already_finished`` says why).
    """


@spec
def on_fit_end(trainer: "Trainer", metrics: Metrics) -> None:
    """Called once when ``fit()`` finishes normally (not after an exception).

    Args:
        metrics: the final metrics, the same dict ``fit()`` returns.
    """


@spec
def on_exception(trainer: "Trainer", exception: BaseException) -> None:
    """Called for every plugin when ``fit()`` is left by an exception.

    Every implementation runs even when one of them fails (those failures are
    logged); the original exception is re-raised afterwards. Use it to flush
    logs or to record the failure, not to swallow it.

    Args:
        exception: what was raised (including ``KeyboardInterrupt``).
    """


@spec
def on_teardown(trainer: "Trainer") -> None:
    """Called for every plugin in ``fit()``'s ``finally``, success or failure.

    The place to close files and writers. Every implementation runs even when
    one of them fails.
    """
