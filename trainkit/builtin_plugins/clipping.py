"""Gradient clipping as a grad transform (``trainer.grad_clip`` in the config).

``GradClip`` runs after backward and before the optimizer step::

    trainer:
      grad_clip: {algorithm: norm, max: 1.0, norm_type: 2.0, nonfinite: skip, max_consecutive_skips: 5}

With ``algorithm: norm`` it is ``clip_grad_norm_`` (torch's arithmetic); with
``value`` it is ``clip_grad_value_``. A non-finite gradient norm is handled by
``nonfinite``: ``skip`` returns False (the Trainer skips the update and does not
advance the schedulers) and counts it, aborting with :class:`GradientSkipLimitError`
after ``max_consecutive_skips`` in a row; ``error`` raises at once; ``warn``
logs a warning and clips anyway (torch's default behaviour: NaN gradients stay NaN).
"""
from __future__ import annotations

import logging
import math
import warnings

from ..hookspecs import hookimpl
from ..nn.utils import clip_grad_value_, clip_grads_with_norm_, get_total_norm
from ..plugins.errors import TrainingAbort as _Abort  # the Trainer passes these through unwrapped

__all__ = ["GradClip", "GradientSkipLimitError", "NonFiniteGradientError", "NonFiniteGradientWarning"]

log = logging.getLogger("trainkit.clipping")


ALGORITHMS = ("norm", "value")
NONFINITE = ("skip", "error", "warn")


class NonFiniteGradientError(_Abort):
    """The gradient norm was NaN or infinite under ``nonfinite: error``."""


class GradientSkipLimitError(_Abort):
    """Too many consecutive updates were skipped for non-finite gradients."""


class NonFiniteGradientWarning(UserWarning):
    """A non-finite gradient norm under ``nonfinite: warn``."""


class GradClip:
    """Clip gradients by total norm or by value; a Trainer grad transform.

    Args:
        algorithm: ``"norm"`` (``clip_grad_norm_``) or ``"value"`` (``clip_grad_value_``).
        max: ``max_norm`` for ``norm``, ``clip_value`` for ``value`` (positive).
        norm_type: 1, 2, any p, or ``inf`` (``norm`` only; the norm is also
            measured under ``value``, for logging and the non-finite check).
        nonfinite: ``"skip"`` (default), ``"error"`` or ``"warn"``.
        max_consecutive_skips: with ``skip``, abort after this many skips in a row.

    Attributes:
        last_norm: total gradient norm of the last call (before clipping), a float.
        skipped_total: updates skipped so far.
        consecutive_skips: current run of skipped updates.
    """

    name = "grad_clip"

    def __init__(
        self,
        algorithm: str = "norm",
        max: float = 1.0,  # noqa: A002 - the config key
        norm_type: float = 2.0,
        nonfinite: str = "skip",
        max_consecutive_skips: int = 10,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"grad_clip.algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
        if nonfinite not in NONFINITE:
            raise ValueError(f"grad_clip.nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
        try:
            max_value = float(max)
        except (TypeError, ValueError):
            raise ValueError(f"grad_clip.max must be a positive number, got {max!r}") from None
        if not max_value > 0 or math.isinf(max_value):
            raise ValueError(f"grad_clip.max must be a positive finite number, got {max!r}")
        try:
            norm_value = float(norm_type)
        except (TypeError, ValueError):
            raise ValueError(f"grad_clip.norm_type must be a number or 'inf', got {norm_type!r}") from None
        if math.isnan(norm_value) or norm_value <= 0:
            raise ValueError(f"grad_clip.norm_type must be positive (1, 2, p or inf), got {norm_type!r}")
        if isinstance(max_consecutive_skips, bool) or not isinstance(max_consecutive_skips, int) or max_consecutive_skips < 1:
            raise ValueError(
                f"grad_clip.max_consecutive_skips must be an int >= 1, got {max_consecutive_skips!r}"
            )
        self.algorithm = algorithm
        self.max = max_value
        self.norm_type = norm_value
        self.nonfinite = nonfinite
        self.max_consecutive_skips = max_consecutive_skips
        self.last_norm: float | None = None
        self.skipped_total = 0
        self.consecutive_skips = 0

    def __call__(self, parameters) -> bool:
        """Clip ``parameters``' gradients in place; False means "skip this update"."""
        params = [p for p in parameters if p.grad_array is not None]
        total = get_total_norm([p.grad_array for p in params], self.norm_type)
        norm = float(total.item())
        self.last_norm = norm
        if not math.isfinite(norm):
            if self.nonfinite == "error":
                raise NonFiniteGradientError(
                    f"gradient norm (order {self.norm_type}) is {norm}; the update was not applied. "
                    "Lower the learning rate, check the loss, or set grad_clip.nonfinite=skip"
                )
            if self.nonfinite == "skip":
                self.skipped_total += 1
                self.consecutive_skips += 1
                if self.consecutive_skips >= self.max_consecutive_skips:
                    raise GradientSkipLimitError(
                        f"{self.consecutive_skips} consecutive updates skipped for non-finite gradient "
                        f"norms (limit grad_clip.max_consecutive_skips={self.max_consecutive_skips}, "
                        f"{self.skipped_total} skipped in total); training has diverged. "
                        "Lower the learning rate or fix the loss."
                    )
                log.warning(
                    "skipping update: gradient norm is %s (%d in a row, %d in total)",
                    norm, self.consecutive_skips, self.skipped_total,
                )
                return False
            warnings.warn(
                f"gradient norm is {norm}; clipping anyway (grad_clip.nonfinite=warn)",
                NonFiniteGradientWarning,
                stacklevel=2,
            )
        self.consecutive_skips = 0
        if self.algorithm == "norm":
            clip_grads_with_norm_(params, self.max, total)
        else:
            clip_grad_value_(params, self.max)
        return True

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {
            "skipped_total": self.skipped_total,
            "consecutive_skips": self.consecutive_skips,
            "last_norm": self.last_norm,
        }

    def load_state_dict(self, state: dict) -> None:
        self.skipped_total = int(state["skipped_total"])
        self.consecutive_skips = int(state["consecutive_skips"])
        last = state.get("last_norm")
        self.last_norm = None if last is None else float(last)

    def __repr__(self) -> str:
        return (
            f"GradClip(algorithm={self.algorithm!r}, max={self.max}, norm_type={self.norm_type}, "
            f"nonfinite={self.nonfinite!r}, max_consecutive_skips={self.max_consecutive_skips})"
        )


@hookimpl
def register_grad_transforms(register):
    """``grad_clip``: :class:`GradClip`, built from the ``trainer.grad_clip`` config mapping."""
    register("grad_clip", GradClip)
