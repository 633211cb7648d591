"""EMA: an exponential moving average of the weights, updated after every optimizer step.

``callbacks.ema.enabled=true callbacks.ema.decay=0.999``: after each optimizer
step ``ema = lerp(ema, weights, 1 - decay)`` (torch's
``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))``; the first
step copies the weights; one fused pass over the optimizer's flat buffer). With
``use_buffers`` (default) BatchNorm statistics are averaged too, else copied.

* Validation: every validation also evaluates the EMA weights; their metrics
  are ``val_ema/loss`` (and ``val_ema/accuracy``), next to the model's ``val/*``,
  in the logs, TensorBoard and the final metrics, and may be monitored
  (``callbacks.checkpointing.monitor=val_ema/loss``).
* Checkpoints: every checkpoint holds the EMA as its own entry,
  ``plugins.ema`` = ``{"model": name -> array, "n_averaged", "best", "best_step"}``
  (``trainkit export --ema``), restored on resume bit-identically.
* ``best_ema.npz``: with a run directory, the EMA weights with the best
  ``monitor`` value so far (default ``val_ema/loss``) are written to
  ``<run_dir>/checkpoints/best_ema.npz`` (a checkpoint whose ``model`` is the
  EMA weights: ``init_from=`` and ``trainkit export`` read it).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from ..hookspecs import hookimpl
from ..optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from ..plugins.callback import ConfiguredCallback
from .averaged_weights import averaged_state, load_averaged_state, save_weights, validate_averaged, weights_dir

__all__ = ["EMA", "EMAConf"]

log = logging.getLogger("trainkit.ema")

BEST_FILE = "best_ema.npz"


@dataclass
class EMAConf:
    """``callbacks.ema``: an EMA copy of the weights, validated and checkpointed (off by default)."""

    enabled: bool = False
    decay: float = 0.999
    use_buffers: bool = True
    monitor: str = "val_ema/loss"
    mode: str = "min"
    save_best: bool = True


class EMA(ConfiguredCallback):
    """Keeps ``self.averaged``, an :class:`~trainkit.optim.swa_utils.AveragedModel` EMA of the model.

    Args:
        decay: the EMA decay in [0, 1].
        use_buffers: average buffers (BatchNorm statistics) too, else copy them.
        monitor: the metric deciding ``best_ema.npz`` (``val_ema/loss``, ``val_ema/accuracy``).
        mode: ``"min"`` or ``"max"`` for ``monitor``.
        save_best: write ``best_ema.npz`` (needs a run directory).
    """

    name = "ema"
    default = False
    needs_run_dir = False
    Config = EMAConf
    #: without validation there is no val_ema metric and no best_ema.npz; the EMA is still kept
    monitor_required = False
    #: the metrics this callback reports (validation runs only)
    metrics = ("val_ema/loss", "val_ema/accuracy")

    def __init__(self, decay: float = 0.999, use_buffers: bool = True, monitor: str = "val_ema/loss",
                 mode: str = "min", save_best: bool = True):
        if not isinstance(decay, (int, float)) or isinstance(decay, bool) or not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA: decay must be a number in [0, 1], got {decay!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"EMA: mode must be 'min' or 'max', got {mode!r}")
        self.decay = float(decay)
        self.use_buffers = bool(use_buffers)
        self.monitor, self.mode, self.save_best = monitor, mode, bool(save_best)
        self.averaged: AveragedModel | None = None
        self.best = math.inf if mode == "min" else -math.inf
        self.best_step: int | None = None
        self._pending: dict | None = None

    @hookimpl
    def on_fit_start(self, trainer):
        if self.averaged is None:
            self.averaged = AveragedModel(trainer.model, multi_avg_fn=get_ema_multi_avg_fn(self.decay),
                                          use_buffers=self.use_buffers)
        if self._pending is not None:
            load_averaged_state(self.averaged, self._pending)
            self._pending = None

    @hookimpl
    def on_after_optimizer_step(self, trainer, optimizer):
        self.averaged.update_parameters(trainer.model)

    @hookimpl(tryfirst=True)
    def on_validation_end(self, trainer, metrics):
        """Validate the EMA weights too (before other plugins see the metrics, so they may monitor them)."""
        if self.averaged is None or int(self.averaged.n_averaged.array) == 0:
            return
        ema_metrics = validate_averaged(trainer, self.averaged.module, "val_ema")
        metrics.update(ema_metrics)
        trainer.metrics.update(ema_metrics)
        value = ema_metrics.get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        if value < self.best if self.mode == "min" else value > self.best:
            self.best, self.best_step = float(value), trainer.global_step
            directory = weights_dir(trainer)
            if self.save_best and directory is not None:
                path = save_weights(directory / BEST_FILE, self.averaged, "ema", step=trainer.global_step,
                                    monitor=self.monitor, value=self.best)
                log.info("new best EMA %s = %.6g: %s", self.monitor, self.best, path)

    def state_dict(self) -> dict:
        """The EMA weights and count, and the best monitored value (in every checkpoint, ``plugins.ema``)."""
        if self.averaged is None:
            state = dict(self._pending) if self._pending is not None else {"model": {}, "n_averaged": 0}
        else:
            state = averaged_state(self.averaged)
        return {**state, "best": self.best, "best_step": self.best_step}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        self.best_step = None if state.get("best_step") is None else int(state["best_step"])
        pending = {"model": state["model"], "n_averaged": int(state["n_averaged"])}
        if self.averaged is None:
            self._pending = pending  # the averaged copy is made at on_fit_start
        else:
            load_averaged_state(self.averaged, pending)


@hookimpl
def register_callbacks(register):
    register("ema", EMA)
