"""SWA: Stochastic Weight Averaging from ``start_epoch`` on, with ``SWALR`` and ``update_bn`` at the end.

``callbacks.swa.enabled=true callbacks.swa.start_epoch=15 callbacks.swa.swa_lr=0.01``
follows torch's recipe (Izmailov et al., UAI 2018; torch.optim.swa_utils):

* from epoch ``start_epoch`` (default: the last quarter, ``int(0.75 * max_epochs)``)
  the run's own schedulers stop and :class:`~trainkit.optim.swa_utils.SWALR`
  anneals every group's lr to ``swa_lr`` (default: the lr at that epoch) over
  ``anneal_epochs``, stepped at each epoch end;
* at the end of each of those epochs the weights are averaged into
  ``self.averaged`` (an equal-weight :class:`~trainkit.optim.swa_utils.AveragedModel`);
* when the fit ends, BatchNorm statistics of the average are recomputed with
  :func:`~trainkit.optim.swa_utils.update_bn` over one pass of a copy of the
  train loader (the run's loader position and RNG are left as they were), the
  average is validated (``val_swa/loss``, ``val_swa/accuracy`` in the final
  metrics) and, with a run directory, written to ``<run_dir>/checkpoints/swa.npz``
  (a checkpoint whose ``model`` is the SWA weights: ``init_from=``, ``trainkit export``).

Checkpoints hold the average, the SWALR state and whether SWA has started
(``plugins.swa``); a resumed run continues bit-identically.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Optional

from .. import random as tk_random
from ..hookspecs import hookimpl
from ..optim.swa_utils import SWALR, AveragedModel, update_bn
from ..plugins.callback import ConfiguredCallback
from .averaged_weights import averaged_state, load_averaged_state, save_weights, validate_averaged, weights_dir

__all__ = ["SWA", "SWAConf"]

log = logging.getLogger("trainkit.swa")

WEIGHTS_FILE = "swa.npz"


@dataclass
class SWAConf:
    """``callbacks.swa``: average the weights from ``start_epoch`` on, with SWALR (off by default)."""

    enabled: bool = False
    start_epoch: Optional[int] = None
    swa_lr: Optional[float] = None
    anneal_epochs: int = 10
    anneal_strategy: str = "cos"
    update_bn: bool = True


class SWA(ConfiguredCallback):
    """See the module docstring.

    Args:
        start_epoch: first epoch (0-based) of SWA; None: ``int(0.75 * max_epochs)``.
        swa_lr: the lr SWALR anneals to; None: each group's lr at ``start_epoch``.
        anneal_epochs: epochs of the annealing (0: ``swa_lr`` at once).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        update_bn: recompute BatchNorm statistics of the average when the fit ends.
    """

    name = "swa"
    default = False
    needs_run_dir = False
    Config = SWAConf

    def __init__(self, start_epoch: int | None = None, swa_lr: float | None = None, anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", update_bn: bool = True):
        if start_epoch is not None and (isinstance(start_epoch, bool) or not isinstance(start_epoch, int)
                                        or start_epoch < 0):
            raise ValueError(f"SWA: start_epoch must be an int >= 0 (or None), got {start_epoch!r}")
        if swa_lr is not None and (not isinstance(swa_lr, (int, float)) or swa_lr < 0):
            raise ValueError(f"SWA: swa_lr must be a number >= 0 (or None), got {swa_lr!r}")
        if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"SWA: anneal_epochs must be an int >= 0, got {anneal_epochs!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWA: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.start_epoch, self.swa_lr = start_epoch, swa_lr
        self.anneal_epochs, self.anneal_strategy, self.update_bn = anneal_epochs, anneal_strategy, bool(update_bn)
        self.averaged: AveragedModel | None = None
        self.scheduler: SWALR | None = None
        self._pending: dict | None = None

    def first_epoch(self, trainer) -> int:
        """The epoch SWA starts at."""
        return self.start_epoch if self.start_epoch is not None else int(0.75 * trainer.max_epochs)

    @hookimpl
    def on_epoch_start(self, trainer, epoch):
        if epoch < self.first_epoch(trainer) or self.scheduler is not None:
            return
        optimizer = trainer.optimizer
        lrs = [g["lr"] for g in optimizer.param_groups]
        swa_lr = self.swa_lr if self.swa_lr is not None else lrs
        trainer.hand_over_lr()
        self.scheduler = SWALR(optimizer, swa_lr, anneal_epochs=self.anneal_epochs,
                               anneal_strategy=self.anneal_strategy)
        self.averaged = AveragedModel(trainer.model)
        pending, self._pending = self._pending, None
        if pending is not None and pending.get("scheduler") is not None:  # resumed during SWA
            self.scheduler.load_state_dict(pending["scheduler"])
            load_averaged_state(self.averaged, pending["averaged"])
            for group, lr in zip(optimizer.param_groups, lrs):
                group["lr"] = lr  # as restored (SWALR's first step may have moved it)
        else:
            log.info("SWA from epoch %d: lr annealed to %s over %d epoch(s)", epoch, swa_lr, self.anneal_epochs)

    @hookimpl(tryfirst=True)
    def on_epoch_end(self, trainer, epoch, metrics):
        """Average the epoch's weights in and step SWALR (before checkpoints are written)."""
        if self.scheduler is None:
            return
        self.averaged.update_parameters(trainer.model)
        self.scheduler.step()

    @hookimpl(tryfirst=True)
    def on_fit_end(self, trainer, metrics):
        if self.averaged is None or int(self.averaged.n_averaged.array) == 0:
            return
        if self.update_bn:
            rng = tk_random.get_rng_state()  # dropout in train mode draws from it
            update_bn(copy.copy(trainer.train_loader), self.averaged, device=trainer.device)
            tk_random.set_rng_state(rng)
        if trainer.val_loader is not None:
            swa_metrics = validate_averaged(trainer, self.averaged.module, "val_swa")
            metrics.update(swa_metrics)
            trainer.metrics.update(swa_metrics)
        directory = weights_dir(trainer)
        if directory is not None:
            path = save_weights(directory / WEIGHTS_FILE, self.averaged, "swa", step=trainer.global_step,
                                n_averaged=int(self.averaged.n_averaged.array))
            log.info("SWA weights (%d epochs averaged): %s", int(self.averaged.n_averaged.array), path)

    def state_dict(self) -> dict:
        """The average, the SWALR state (None before ``start_epoch``), in every checkpoint as ``plugins.swa``."""
        if self.scheduler is None:
            return dict(self._pending) if self._pending is not None else {"averaged": None, "scheduler": None}
        return {"averaged": averaged_state(self.averaged), "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self._pending = {"averaged": state.get("averaged"), "scheduler": state.get("scheduler")}
        self.scheduler = None  # rebuilt at the next epoch start, from the restored optimizer


@hookimpl
def register_callbacks(register):
    register("swa", SWA)
