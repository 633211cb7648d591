"""``Trainer``: the training loop, its fixed step order, and the hooks it calls."""
from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from . import random as tk_random
from .autograd import no_grad
from .autograd.tensor import Tensor
from .backend import Device, get_array_module, to_device
from .plugins import (
    HookDispatcher,
    get_plugin_manager,
    plugin_name_of,
    registered,
    registry,
)

__all__ = ["Trainer", "LIFECYCLE_HOOKS"]

log = logging.getLogger("trainkit.trainer")

#: Every hook the Trainer calls (registration hooks excluded).
LIFECYCLE_HOOKS: tuple[str, ...] = (
    "on_fit_start",
    "on_fit_end",
    "on_exception",
    "on_teardown",
    "on_epoch_start",
    "on_validation_end",
    "on_epoch_end",
    "on_batch_start",
    "on_train_loss",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_after_optimizer_step",
    "on_step_end",
    "on_batch_end",
    "on_log",
    "on_save_checkpoint",
    "on_load_checkpoint",
)


def _check_int(name: str, value, minimum: int, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Trainer: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"Trainer: {name} must be >= {minimum}, got {value}")
    return value


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _tree_to_device(value, device: Device):
    if isinstance(value, dict):
        return {k: _tree_to_device(v, device) for k, v in value.items()}
    if isinstance(value, list):
        return [_tree_to_device(v, device) for v in value]
    if isinstance(value, tuple):
        return tuple(_tree_to_device(v, device) for v in value)
    if hasattr(value, "dtype") and hasattr(value, "shape") and not isinstance(value, (int, float)):
        return to_device(value, device)
    return value


def _flatten_config(config: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten_config(value, name + "."))
        else:
            out[name] = value
    return out


class Trainer:
    """Runs ``fit()``: the loop over epochs and batches, in a fixed order.

    One training batch (the Trainer owns this order; plugins cannot reorder it)::

        batch  = next(train_loader)          moved to the device once
        on_batch_start(batch_idx, batch)
        out    = model(*batch[:-1]); loss = loss(out, batch[-1])
        on_train_loss(batch_idx, loss)       non-finite check (NaN guard); False skips the batch
        optimizer.zero_grad()                on the first batch of an update cycle only
        (loss / accumulate).backward()
        on_after_backward()
        -- at the end of each cycle of ``accumulate`` batches (or of the epoch) --
        grad_transforms in list order        (clipping, ...); one returning False skips the update
        global gradient 2-norm               on the device, only when a log step is due
        on_before_optimizer_step(optimizer)
        optimizer.step()                     optimizer.step(closure) for LBFGS-style optimizers
        on_after_optimizer_step(optimizer)
        step-interval schedulers .step()     not on skipped updates (counted in skipped_steps)
        global_step += 1; every log_every steps: on_log(step, train metrics)
        on_step_end(step, skipped)           step checkpoints are written here
        -- every batch --
        on_batch_end(batch_idx, loss, skipped)

    When ``accumulate`` does not divide the number of batches, the last,
    partial cycle of an epoch is still applied (its gradients scaled by
    ``1/accumulate``, as in a hand-written loop): that update, with its
    ``on_step_end``, runs *after* the epoch's last ``on_batch_end``.
    Optimizers that need a closure (``LBFGS``, or any optimizer with
    ``requires_closure = True``) are stepped as ``optimizer.step(closure)``
    where the closure zeroes the gradients and recomputes the loss of the
    current batch and its gradients; they need ``accumulate=1``.

    One epoch::

        train_loader.set_epoch(epoch); on_epoch_start(epoch)
        the batches above (stopping early at max_steps or when should_stop is set)
        validation every ``val_every`` epochs -> on_validation_end(metrics)
        plateau schedulers .step(metrics[monitor])   after validation; without a
                                              val_loader at every epoch end (train/loss)
        epoch-interval schedulers .step()
        epoch += 1; on_log(...); on_epoch_end(epoch, metrics)   epoch checkpoints here

    Around everything: resume/init_from, ``on_fit_start``; the epochs;
    ``on_fit_end(metrics)``. On an exception ``on_exception`` is called for
    every plugin (each one even if another fails) and the exception re-raised;
    ``on_teardown`` always runs in ``finally``.

    What a checkpoint holds and ``resume`` restores: model weights, optimizer
    state, every scheduler and stateful gradient transform, the counters
    (epoch, global_step, skipped_steps), metrics, the global RNG state
    (``trainkit.random``), the train loader's position, every plugin's state
    (``on_save_checkpoint``), whether the run had stopped (``should_stop``,
    ``stop_reason``) and the resolved config. A run resumed from a checkpoint
    continues bit-identically on the CPU. The optimizer's and schedulers'
    hyperparameters (lr, momentum, T_max, ...) come from the checkpoint, not
    from a changed config (a warning lists such changes; ``init_from`` starts a
    fresh run from the weights instead). Resuming a run that had finished
    (``max_epochs``/``max_steps`` reached, or stopped early) trains nothing:
    ``fit()`` logs why and returns the saved metrics.

    Device scalars (the loss, the global gradient norm) are summed on the
    device and transferred every ``log_every`` steps, so the loop does not
    synchronise per step (the NaN guard, which must look at every loss, is
    the exception).

    Args:
        model: a ``trainkit.nn.Module``; moved to ``device``.
        loss: the loss callable, ``loss(output, target) -> Tensor`` (mean reduction).
        optimizer: a ``trainkit.optim`` optimizer over the model's parameters.
        train_loader: yields ``(inputs..., target)`` tuples (a ``DataLoader``).
        val_loader: optional; validation computes ``val/loss`` and, for
            classification (2-D outputs, integer targets), ``val/accuracy``.
        scheduler: one scheduler or a list; each has ``.interval`` ("epoch" or
            "step"); those with ``.monitor`` (plateau) step after validation.
        plugins: plugin objects registered for this fit (and unregistered after).
        max_epochs: epochs to run.
        max_steps: stop after this many updates (None: no limit).
        device: "cpu", "cuda", "cuda:N" or "auto" (cuda when available).
        accumulate: batches per update; each loss is scaled by ``1/accumulate``.
        val_every: validate every this many epochs.
        log_every: steps between host transfers of train metrics (``on_log``).
        grad_transforms: callables ``t(parameters) -> bool`` run after backward.
        run_dir: the run's directory; enables the default TensorBoard and
            checkpointing plugins.
        default_plugins: add the registered callbacks marked ``default`` that
            were not passed in ``plugins`` (True), none (False), or all but the
            names in a list/tuple/set of names to leave out.
        resume: a run directory or checkpoint file to continue from.
        init_from: a checkpoint or plain ``.npz`` state dict to load weights from
            (fine-tuning; ignored when resuming).
        init_strict: with False, missing/unexpected/wrongly shaped keys of
            ``init_from`` are skipped and reported instead of raising.
        config: the resolved run config (a JSON-able dict), saved in checkpoints,
            compared on resume and used as TensorBoard hparams.
    """

    def __init__(
        self,
        model,
        loss,
        optimizer,
        train_loader,
        val_loader=None,
        scheduler=None,
        plugins: Iterable[Any] = (),
        max_epochs: int = 10,
        max_steps: int | None = None,
        device: str | Device = "cpu",
        accumulate: int = 1,
        val_every: int = 1,
        log_every: int = 10,
        grad_transforms: Iterable[Any] = (),
        run_dir: str | Path | None = None,
        default_plugins: bool | Iterable[str] = True,
        resume: str | Path | None = None,
        init_from: str | Path | None = None,
        init_strict: bool = True,
        config: Mapping | None = None,
    ):
        if not callable(loss):
            raise TypeError(f"Trainer: loss must be callable, got {type(loss).__name__}")
        if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
            raise TypeError(
                f"Trainer: optimizer must be a trainkit.optim optimizer (step, param_groups), "
                f"got {type(optimizer).__name__}"
            )
        self.max_epochs = _check_int("max_epochs", max_epochs, 0)
        self.max_steps = _check_int("max_steps", max_steps, 0, allow_none=True)
        self.accumulate = _check_int("accumulate", accumulate, 1)
        self.val_every = _check_int("val_every", val_every, 1)
        self.log_every = _check_int("log_every", log_every, 1)
        self.device = Device(device)
        self.model = model.to(self.device)
        self.loss_fn = loss
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.schedulers = _as_list(scheduler)
        self._step_schedulers, self._epoch_schedulers, self._plateau_schedulers = [], [], []
        for i, sched in enumerate(self.schedulers):
            interval = getattr(sched, "interval", "epoch")
            if hasattr(sched, "monitor"):
                self._plateau_schedulers.append(sched)
            elif interval == "step":
                self._step_schedulers.append(sched)
            elif interval == "epoch":
                self._epoch_schedulers.append(sched)
            else:
                raise ValueError(
                    f"Trainer: scheduler {i} ({type(sched).__name__}) has interval={interval!r}; "
                    "expected 'epoch' or 'step'"
                )
        self._needs_closure = _needs_closure(optimizer)
        if self._needs_closure and self.accumulate != 1:
            raise ValueError(
                f"Trainer: {type(optimizer).__name__} is stepped with a closure that re-evaluates one batch; "
                f"it cannot accumulate gradients (accumulate={self.accumulate}); use accumulate=1"
            )
        self.grad_transforms = list(grad_transforms)
        for i, t in enumerate(self.grad_transforms):
            if not callable(t):
                raise TypeError(f"Trainer: grad_transforms[{i}] ({type(t).__name__}) is not callable")
        self.plugins = list(plugins)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.default_plugins = default_plugins
        self.resume = resume
        self.init_from = init_from
        self.init_strict = bool(init_strict)
        self.config = dict(config) if config is not None else None

        self.global_step = 0
        self.epoch = 0
        self.batch_idx = 0
        self.skipped_steps = 0
        self.metrics: dict[str, float] = {}
        self.should_stop = False
        self.stop_reason: str | None = None
        #: name of the plugin that set ``should_stop`` (e.g. "early_stopping"), if any
        self.stopped_by: str | None = None
        #: why a resumed run trained nothing (it had already finished), else None
        self.already_finished: str | None = None
        self.last_checkpoint: Path | None = None
        self.resumed_from: Path | None = None
        self.last_grad_norm = None
        self.active_plugins: list[Any] = []
        self.hooks: HookDispatcher | None = None
        self._loss_sum = 0.0
        self._loss_count = 0
        self._grads_zeroed = False
        self._validated_at: int | None = None
        self._batch: tuple | None = None
        self._norm_step = -1  # global_step whose gradient norm last_grad_norm is

    # ------------------------------------------------------------------ plugins
    def _plugin_objects(self) -> list[Any]:
        objects = list(self.plugins)
        if self.default_plugins is False:
            return objects
        leave_out = set() if self.default_plugins is True else set(self.default_plugins)
        given = {plugin_name_of(p) for p in objects}
        for name, cls in registry("callbacks").items():
            if not getattr(cls, "default", False) or name in given or name in leave_out:
                continue
            if getattr(cls, "needs_run_dir", False) and self.run_dir is None:
                continue
            objects.append(cls())
        return objects

    def plugin(self, name: str):
        """The active per-fit plugin registered as ``name`` (None when absent)."""
        for p in self.active_plugins:
            if plugin_name_of(p) == name:
                return p
        return None

    # ------------------------------------------------------------------ fit
    def fit(self) -> dict[str, float]:
        """Train until ``max_epochs``/``max_steps``/``should_stop``; return the final metrics."""
        pm = get_plugin_manager()
        objects = self._plugin_objects()
        with registered(objects, pm):
            self.active_plugins = objects
            self.hooks = HookDispatcher(pm, LIFECYCLE_HOOKS)
            try:
                if self.resume is not None:
                    self.load_checkpoint(self.resume)
                    finished = self._finished_reason()
                    if finished is not None:
                        self.already_finished = "; ".join(finished)
                        log.warning("run already finished (%s); %s", *finished)
                        return dict(self.metrics)
                elif self.init_from is not None:
                    self.init_weights(self.init_from, strict=self.init_strict)
                self.model.train()
                self.hooks("on_fit_start", trainer=self)
                self._run()
                metrics = self._final_metrics()
                self.hooks("on_fit_end", trainer=self, metrics=metrics)
                return metrics
            except BaseException as exc:
                self.hooks.call_all("on_exception", trainer=self, exception=exc)
                raise
            finally:
                self.hooks.call_all("on_teardown", trainer=self)
                self.active_plugins = []

    def _finished_reason(self) -> tuple[str, str] | None:
        """``(why, how to continue)`` when this (resumed) run has nothing left to train, else None."""
        if self.should_stop:
            how = (
                "turn early stopping off (trainer.early_stopping.enabled=false) or raise "
                "trainer.early_stopping.patience to continue"
                if self.stopped_by == "early_stopping"
                else "raise trainer.max_epochs to continue"
            )
            return self.stop_reason or "it was stopped", how
        if self.max_steps is not None and self.global_step >= self.max_steps:
            return (f"trainer.max_steps={self.max_steps} reached at step {self.global_step}",
                    "raise trainer.max_steps to continue")
        if self.epoch >= self.max_epochs:
            return (f"trainer.max_epochs={self.max_epochs} reached at step {self.global_step}",
                    "raise trainer.max_epochs to continue")
        return None

    def _done(self) -> bool:
        return self.should_stop or (self.max_steps is not None and self.global_step >= self.max_steps)

    def _run(self) -> None:
        while self.epoch < self.max_epochs and not self._done():
            finished = self._train_epoch()
            if not finished:
                break
            self._end_epoch()

    # ------------------------------------------------------------------ one epoch
    def _train_epoch(self) -> bool:
        """Run the epoch's batches; True when the loader was exhausted."""
        loader = self.train_loader
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(self.epoch)
        start = loader.state_dict()["batch"] if hasattr(loader, "state_dict") else 0
        self._epoch_t0 = time.perf_counter()
        hooks = self.hooks
        hooks("on_epoch_start", trainer=self, epoch=self.epoch)
        acc = self.accumulate
        micro = contributed = 0
        for batch_idx, batch in enumerate(loader, start=start):
            self.batch_idx = batch_idx
            batch = self._to_device(batch)
            self._batch = batch
            hooks("on_batch_start", trainer=self, batch_idx=batch_idx, batch=batch)
            loss = self._forward(batch)
            skipped = hooks("on_train_loss", trainer=self, batch_idx=batch_idx, loss=loss) is False
            if not skipped:
                if not self._grads_zeroed:
                    self.optimizer.zero_grad()
                    self._grads_zeroed = True
                (loss * (1.0 / acc) if acc > 1 else loss).backward()
                hooks("on_after_backward", trainer=self)
                self._loss_sum = self._loss_sum + loss.data
                self._loss_count += 1
                contributed += 1
            micro += 1
            if micro == acc:
                skipped = self._finish_update(contributed) or skipped
                micro = contributed = 0
            hooks("on_batch_end", trainer=self, batch_idx=batch_idx, loss=loss.detach(), skipped=skipped)
            if self._done():
                return False
        if micro:
            self._finish_update(contributed)
        return True

    def _to_device(self, batch) -> tuple:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError(
                "Trainer: each batch must be a tuple (inputs..., target) of at least 2 items, "
                f"got {type(batch).__name__}"
            )
        device = self.device
        out = []
        for item in batch:
            if not isinstance(item, Tensor):
                item = Tensor(item)
            if item.device != device:
                item = item.to(device)
            out.append(item)
        return tuple(out)

    def _forward(self, batch: tuple):
        return self.loss_fn(self.model(*batch[:-1]), batch[-1])

    def _finish_update(self, contributed: int) -> bool:
        """Transforms, optimizer step, step schedulers, counters. Returns True if skipped."""
        hooks = self.hooks
        skipped = contributed == 0
        norm_known = False
        if not skipped and self.grad_transforms:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            for t in self.grad_transforms:
                go_on = t(params)
                norm = getattr(t, "last_norm", None)
                if norm is not None:
                    self.last_grad_norm = norm
                    norm_known = True
                if go_on is False:
                    skipped = True
                    break
        if not skipped and (self.global_step + 1) % self.log_every == 0:
            if not norm_known:
                self.last_grad_norm = self._global_grad_norm()
            self._norm_step = self.global_step + 1
        if skipped:
            self.skipped_steps += 1
        else:
            hooks("on_before_optimizer_step", trainer=self, optimizer=self.optimizer)
            if self._needs_closure:
                self.optimizer.step(self._closure)
            else:
                self.optimizer.step()
            hooks("on_after_optimizer_step", trainer=self, optimizer=self.optimizer)
            for sched in self._step_schedulers:
                sched.step()
        self.global_step += 1
        self._grads_zeroed = False
        if self.global_step % self.log_every == 0:
            self._log_train()
        hooks("on_step_end", trainer=self, step=self.global_step, skipped=skipped)
        return skipped

    def _global_grad_norm(self):
        """The 2-norm of all gradients as a device scalar (no host transfer until it is logged)."""
        total = None
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                flat = g.reshape(-1)
                sq = get_array_module(flat).vdot(flat, flat)
                total = sq if total is None else total + sq
        if total is None:
            return None
        return get_array_module(total).sqrt(total)

    def _closure(self):
        """Zero the gradients, recompute the current batch's loss and its gradients (LBFGS)."""
        self.optimizer.zero_grad()
        loss = self._forward(self._batch)
        loss.backward()
        return loss

    def _log_train(self) -> None:
        metrics: dict[str, float] = {}
        if self._loss_count:
            metrics["train/loss"] = float(self._loss_sum) / self._loss_count
            self._loss_sum, self._loss_count = 0.0, 0
        for i, group in enumerate(self.optimizer.param_groups):
            metrics[f"train/lr/{group.get('name', i)}"] = float(group["lr"])
        if self._norm_step != self.global_step and not self.grad_transforms:
            # a flush between log steps (epoch end, max_steps): the last update's gradients
            norm = self._global_grad_norm()
            if norm is not None:
                self.last_grad_norm, self._norm_step = norm, self.global_step
        if self.last_grad_norm is not None:
            metrics["train/grad_norm"] = float(self.last_grad_norm)
        metrics["train/skipped_steps"] = float(self.skipped_steps)
        self.metrics.update(metrics)
        self.hooks("on_log", trainer=self, step=self.global_step, metrics=metrics)

    def _end_epoch(self) -> None:
        if self._loss_count:
            self._log_train()
        metrics: dict[str, float] = {"time/epoch": time.perf_counter() - self._epoch_t0}
        self.metrics.update(metrics)
        if self.val_loader is not None and (self.epoch + 1) % self.val_every == 0:
            val = self.validate()
            metrics.update(val)
            for sched in self._plateau_schedulers:
                self._step_plateau(sched)
        elif self.val_loader is None:
            for sched in self._plateau_schedulers:  # no validation: the epoch's (train) metrics
                self._step_plateau(sched)
        for sched in self._epoch_schedulers:
            sched.step()
        finished = self.epoch
        self.epoch += 1
        self.hooks("on_log", trainer=self, step=self.global_step, metrics=metrics)
        self.hooks("on_epoch_end", trainer=self, epoch=finished, metrics=self.metrics)

    def _step_plateau(self, sched) -> None:
        """Step a plateau scheduler with ``metrics[monitor]``; MissingMetricError lists the metrics."""
        from .optim.lr_scheduler import MissingMetricError

        if hasattr(sched, "step_from"):
            sched.step_from(self.metrics)
            return
        if sched.monitor not in self.metrics:
            raise MissingMetricError(sched.monitor, self.metrics.keys())
        sched.step(self.metrics[sched.monitor])

    # ------------------------------------------------------------------ validation
    def validate(self) -> dict[str, float]:
        """One pass over ``val_loader`` in eval mode: ``val/loss`` (+ ``val/accuracy``).

        Results are accumulated on the device and transferred once; they are
        merged into ``trainer.metrics`` and passed to ``on_validation_end``.
        """
        if self.val_loader is None:
            raise ValueError("Trainer.validate: no val_loader was given")
        was_training = self.model.training
        self.model.eval()
        total, count, correct, classification = 0.0, 0, 0, None
        with no_grad():
            for batch in self.val_loader:
                batch = self._to_device(batch)
                target = batch[-1]
                out = self.model(*batch[:-1])
                n = target.shape[0] if target.ndim else 1
                total = total + self.loss_fn(out, target).data * n
                count += n
                if classification is None:
                    classification = out.ndim == 2 and target.ndim == 1 and target.dtype.kind in "iu"
                if classification:
                    correct = correct + (out.data.argmax(axis=1) == target.data).sum()
        self.model.train(was_training)
        if count == 0:
            raise ValueError("Trainer.validate: val_loader yielded no batches")
        metrics = {"val/loss": float(total) / count}
        if classification:
            metrics["val/accuracy"] = float(correct) / count
        self.metrics.update(metrics)
        self._validated_at = self.global_step
        if self.hooks is not None:
            self.hooks("on_validation_end", trainer=self, metrics=metrics)
        return metrics

    def _final_metrics(self) -> dict[str, float]:
        if self._loss_count:
            self._log_train()
        if self.val_loader is not None and self._validated_at != self.global_step and self.global_step:
            val = self.validate()
            self.hooks("on_log", trainer=self, step=self.global_step, metrics=val)
        return dict(self.metrics)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_state(self) -> dict:
        """The full training state as a plain nested dict (see the class docstring)."""
        loader = self.train_loader
        state = {
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "schedulers": [s.state_dict() for s in self.schedulers],
            "grad_transforms": [
                t.state_dict() if hasattr(t, "state_dict") else None for t in self.grad_transforms
            ],
            "trainer": {
                "epoch": self.epoch,
                "global_step": self.global_step,
                "skipped_steps": self.skipped_steps,
                "metrics": dict(self.metrics),
                "should_stop": bool(self.should_stop),
                "stop_reason": self.stop_reason,
                "stopped_by": self.stopped_by,
            },
            "loader": loader.state_dict() if hasattr(loader, "state_dict") else None,
            "rng": tk_random.get_rng_state(),
            "config": self.config,
            "plugins": {},
        }
        if self.hooks is not None:
            self.hooks("on_save_checkpoint", trainer=self, checkpoint=state)
        return state

    def save_checkpoint(self, path: str | Path) -> Path | None:
        """Write the full state to ``path`` atomically; refuse non-finite state.

        Returns:
            The path written, or None when weights or optimizer state hold
            NaN/inf (a warning says so; ``last_checkpoint`` keeps the last good one).
        """
        state = self.checkpoint_state()
        if not (ckpt.is_finite_tree(state["model"]) and ckpt.is_finite_tree(state["optimizer"])):
            warnings.warn(
                f"not writing checkpoint {path} at step {self.global_step}: the model or optimizer "
                f"state is not finite; the last good checkpoint is {self.last_checkpoint}",
                ckpt.CheckpointWarning,
                stacklevel=2,
            )
            return None
        written = ckpt.save(path, state)
        self.last_checkpoint = written
        return written

    def load_checkpoint(self, target: str | Path) -> Path:
        """Restore the full state from a run directory (newest readable checkpoint) or a file.

        The order matters and is fixed:

        1. model weights;
        2. counters (epoch, global_step, skipped_steps, metrics, should_stop)
           and the train loader's position; a changed config is warned about;
        3. ``on_load_checkpoint``: every plugin restores its own state and
           rebuilds structure it added during training, such as the param
           groups of parameters unfrozen at an epoch (``unfreeze``), so that
        4. the optimizer state, the schedulers and the gradient transforms are
           loaded into an optimizer with the same param groups as when saved;
        5. the global RNG state, last, so nothing above can consume it.
        """
        path, state = ckpt.load_latest(target)
        self.model.load_state_dict(state["model"])
        counters = state["trainer"]
        self.epoch = int(counters["epoch"])
        self.global_step = int(counters["global_step"])
        self.skipped_steps = int(counters["skipped_steps"])
        self.metrics.update(counters.get("metrics", {}))
        self.should_stop = bool(counters.get("should_stop", False))
        self.stop_reason = counters.get("stop_reason")
        self.stopped_by = counters.get("stopped_by")
        if state.get("loader") is not None and hasattr(self.train_loader, "load_state_dict"):
            self.train_loader.load_state_dict(state["loader"])
        self._warn_config_changes(path, state.get("config"))
        if self.hooks is not None:
            self.hooks("on_load_checkpoint", trainer=self, checkpoint=state)
        if self.should_stop and self.stopped_by and self.active_plugins and self.plugin(self.stopped_by) is None:
            log.info("the run was stopped by %s, which is not part of this run: continuing", self.stopped_by)
            self.should_stop, self.stop_reason, self.stopped_by = False, None, None
        saved_opt = state["optimizer"]
        try:
            self.optimizer.load_state_dict(_tree_to_device(saved_opt, self.device))
        except ValueError as exc:
            saved_names = [g.get("name", i) for i, g in enumerate(saved_opt.get("param_groups", []))]
            own_names = [g.get("name", i) for i, g in enumerate(self.optimizer.param_groups)]
            hint = ""
            if len(saved_names) != len(own_names):
                hint = (f" (saved param groups {saved_names}, this run has {own_names}: a plugin that adds "
                        "param groups, such as unfreeze, must be configured as when the checkpoint was saved)")
            raise type(exc)(f"cannot restore the optimizer from checkpoint {path}{hint}: {exc}") from exc
        saved = state.get("schedulers", [])
        if len(saved) != len(self.schedulers):
            raise ValueError(
                f"checkpoint {path} holds {len(saved)} scheduler state(s) but this run has "
                f"{len(self.schedulers)} scheduler(s)"
            )
        for sched, sstate in zip(self.schedulers, saved):
            sched.load_state_dict(sstate)
        for t, tstate in zip(self.grad_transforms, state.get("grad_transforms", [])):
            if tstate is not None and hasattr(t, "load_state_dict"):
                t.load_state_dict(tstate)
        tk_random.set_rng_state(state["rng"])
        self.resumed_from = path
        self.last_checkpoint = path
        log.info("resumed from %s at epoch %d, step %d", path, self.epoch, self.global_step)
        return path

    def _warn_config_changes(self, path: Path, saved: Mapping | None) -> None:
        if self.config is None or saved is None:
            return
        old, new = _flatten_config(saved), _flatten_config(self.config)
        changed = [
            k for k in sorted(set(old) | set(new))
            if k not in ("resume",) and old.get(k, "<unset>") != new.get(k, "<unset>")
        ]
        if not changed:
            return
        message = f"the config differs from the one saved in {path}: " + "; ".join(
            f"{k}: {old.get(k, '<unset>')!r} -> {new.get(k, '<unset>')!r}" for k in changed
        )
        restored = [k for k in changed if k == "lr" or k.startswith(_RESTORED_PREFIXES)]
        if restored:
            message += (
                f". NOT applied, because resume restores them from the checkpoint: {', '.join(restored)}"
                f" (the run goes on with the saved optimizer/scheduler state). To train with the new values, "
                f"start a fresh run from these weights: init_from={path}"
            )
        warnings.warn(message, ckpt.CheckpointWarning, stacklevel=3)

    def init_weights(self, source: str | Path, strict: bool = True) -> dict[str, list[str]]:
        """Load model weights only (fine-tuning) from a checkpoint or a plain ``.npz``.

        Returns:
            ``{"missing": [...], "unexpected": [...], "wrong_shape": [...]}``. With
            ``strict=False`` those keys are skipped and reported in a warning;
            with ``strict=True`` any of them raises ``StateDictMismatchError``.
        """
        from .nn.module import StateDictMismatchError

        weights = ckpt.load_weights(source)
        own = self.model.state_dict()
        report = {
            "missing": [k for k in own if k not in weights],
            "unexpected": [k for k in weights if k not in own],
            "wrong_shape": [
                f"{k} (file {tuple(v.shape)}, model {tuple(own[k].shape)})"
                for k, v in weights.items()
                if k in own and tuple(v.shape) != tuple(own[k].shape)
            ],
        }
        if strict:
            try:
                self.model.load_state_dict(weights, strict=True)
            except StateDictMismatchError as exc:
                exc.args = (f"init_from={source}: {exc}. Set init_strict=false to skip these keys "
                            "and report them",)
                raise
            return report
        usable = {k: v for k, v in weights.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
        self.model.load_state_dict(usable, strict=False)
        problems = "; ".join(f"{k}: {', '.join(v)}" for k, v in report.items() if v)
        if problems:
            warnings.warn(f"init_from={source}: skipped keys ({problems})", ckpt.CheckpointWarning, stacklevel=2)
        return report

    def __repr__(self) -> str:
        return (
            f"Trainer(model={type(self.model).__name__}, optimizer={type(self.optimizer).__name__}, "
            f"device={self.device}, epoch={self.epoch}, global_step={self.global_step})"
        )


#: Config keys whose values a resume takes from the checkpoint (optimizer/scheduler state, RNG).
_RESTORED_PREFIXES = ("optimizer.", "scheduler.", "params.", "trainer.seed")


def _needs_closure(optimizer) -> bool:
    """True for optimizers whose ``step`` must be given a closure (LBFGS, or ``requires_closure``)."""
    flag = getattr(optimizer, "requires_closure", None)
    if flag is not None:
        return bool(flag)
    from .optim import LBFGS

    return isinstance(optimizer, LBFGS)


def hparams_from_config(config: Mapping | None) -> dict[str, Any]:
    """Flatten a config to ``{"a.b": scalar}`` keeping TensorBoard-friendly values."""
    if not config:
        return {}
    out = {}
    for k, v in _flatten_config(config).items():
        if isinstance(v, (bool, int, float, str)):
            out[k] = v
        elif v is None:
            out[k] = "None"
        else:
            out[k] = str(v)
    return out

