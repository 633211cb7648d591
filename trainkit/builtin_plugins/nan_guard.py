"""NaN guard: stop (or skip) on a non-finite loss before it reaches the weights.

The classic CNN at lr 0.01 and batch size 1 diverges to ``nan``; without a
guard the user watches ``loss=nan`` for ten epochs. With the guard the first
non-finite loss stops training *before* backward/step, with an error naming
the step, the batch and the last good checkpoint. ``on_nonfinite="skip"``
instead drops such batches, up to ``max_streak`` in a row.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from ..backend import get_array_module
from ..hookspecs import hookimpl
from ..plugins.callback import ConfiguredCallback
from ..plugins.errors import TrainingAbort

__all__ = ["NaNGuard", "NaNGuardConf", "NonFiniteLossError"]

log = logging.getLogger("trainkit.nan_guard")

_POLICIES = ("raise", "skip")


class NonFiniteLossError(TrainingAbort):
    """The loss was NaN or infinite; the update was not applied."""


@dataclass
class NaNGuardConf:
    """``callbacks.nan_guard``: ``on_nonfinite: error`` stops before the update naming the step
    and batch; ``skip`` skips such batches (at most ``max_streak`` in a row)."""

    enabled: bool = True
    on_nonfinite: str = "error"
    max_streak: int = 10


#: ``callbacks.nan_guard.on_nonfinite`` -> :class:`NaNGuard`'s policy.
_CONFIG_POLICIES = {"error": "raise", "skip": "skip"}


class NaNGuard(ConfiguredCallback):
    """Checks every training loss (one device sync per batch) before backward.

    Args:
        on_nonfinite: ``"raise"`` (default) stops with :class:`NonFiniteLossError`;
            ``"skip"`` skips the batch (no backward, no update).
        max_streak: with ``"skip"``, this many non-finite losses in a row raise
            anyway (the run has diverged, skipping will not save it).
    """

    name = "nan_guard"
    default = True
    needs_run_dir = False
    Config = NaNGuardConf

    @classmethod
    def from_config(cls, conf) -> NaNGuard:
        """The plugin of a ``callbacks.nan_guard`` node."""
        if conf.on_nonfinite not in _CONFIG_POLICIES:
            raise ValueError(f"on_nonfinite={conf.on_nonfinite!r} is not valid; use one of: error, skip")
        return cls(on_nonfinite=_CONFIG_POLICIES[conf.on_nonfinite], max_streak=conf.max_streak)

    def __init__(self, on_nonfinite: str = "raise", max_streak: int = 10):
        if on_nonfinite not in _POLICIES:
            raise ValueError(f"NaNGuard: on_nonfinite must be one of {_POLICIES}, got {on_nonfinite!r}")
        if isinstance(max_streak, bool) or not isinstance(max_streak, int) or max_streak < 1:
            raise ValueError(f"NaNGuard: max_streak must be an int >= 1, got {max_streak!r}")
        self.on_nonfinite = on_nonfinite
        self.max_streak = max_streak
        self.streak = 0
        self.skipped = 0

    def _message(self, trainer, batch_idx: int, value: float, why: str) -> str:
        last = trainer.last_checkpoint
        return (
            f"non-finite loss ({value}) at step {trainer.global_step + 1} "
            f"(epoch {trainer.epoch}, batch {batch_idx}){why}; the update was not applied. "
            f"Last good checkpoint: {last if last is not None else 'none written yet'}. "
            "Lower the learning rate, add gradient clipping (trainer.grad_clip.max), or skip such batches "
            "(callbacks.nan_guard.on_nonfinite=skip)."
        )

    @hookimpl
    def on_train_loss(self, trainer, batch_idx, loss):
        data = loss.array
        if bool(get_array_module(data).isfinite(data).all()):
            self.streak = 0
            return None
        value = float(data) if data.size == 1 else "non-finite values"
        if self.on_nonfinite == "raise":
            raise NonFiniteLossError(self._message(trainer, batch_idx, value, ""))
        self.streak += 1
        self.skipped += 1
        if self.streak >= self.max_streak:
            raise NonFiniteLossError(
                self._message(trainer, batch_idx, value, f", {self.streak} non-finite losses in a row")
            )
        log.warning("skipping batch %d of epoch %d: non-finite loss (%s)", batch_idx, trainer.epoch, value)
        return False

    def state_dict(self) -> dict:
        """The counters a resume restores (saved in every checkpoint by the Trainer)."""
        return {"streak": self.streak, "skipped": self.skipped}

    def load_state_dict(self, state: dict) -> None:
        self.streak, self.skipped = int(state["streak"]), int(state["skipped"])


@hookimpl
def register_callbacks(register):
    register("nan_guard", NaNGuard)
