"""``Trainer``: the training loop, its fixed step order, and the hooks it calls."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import resume
from .backend import Device
from .distributed.strategy import make_strategy
from .evaluate import evaluate
from .hookspecs import PHASES
from .interrupts import SignalGuard
from .lr_finder import lr_find
from .plugins import HookDispatcher, get_plugin_manager, plugin_name_of, registered
from .train_log import TrainLog
from .schedule_steps import ScheduleSteps
from .trainer_inputs import batch_to_device, check_count, check_parts, per_fit_plugins

__all__ = ["Trainer", "LIFECYCLE_HOOKS"]

log = logging.getLogger("trainkit.trainer")

#: Every hook the Trainer calls: all of ``hookspecs.PHASES`` but the registration phase.
LIFECYCLE_HOOKS: tuple[str, ...] = tuple(
    hook for phase, hooks in PHASES.items() if phase != "registration" for hook in hooks
)


class Trainer(resume.CheckpointMethods):
    """Runs ``fit()``: the loop over epochs and batches, in a fixed order.

    One training batch (the Trainer owns this order; plugins cannot reorder it)::

        batch  = next(train_loader)          moved to the device once
        on_batch_start(batch_idx, batch)
        out    = model(*batch[:-1]); loss = loss(out, batch[-1])
        on_train_loss(batch_idx, loss)       non-finite check (NaN guard); False skips the batch
                                             (ddp: the global batch loss; the skip is agreed)
        optimizer.zero_grad()                on the first batch of an update cycle only
        (loss / accumulate).backward()
        on_after_backward()
        -- at the end of each cycle of ``accumulate`` batches (or of the epoch) --
        strategy.reduce_gradients            ddp: one all-reduce per optimizer bucket
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

    Ctrl-C/SIGTERM only set a flag; after the update or epoch in progress ``fit()``
    raises ``TrainingInterrupted`` (a ``KeyboardInterrupt``; :mod:`trainkit.interrupts`),
    on which the checkpointing plugin writes the checkpoint ``resume`` continues from.

    What a checkpoint holds and how ``resume`` restores it: :mod:`trainkit.resume`
    (weights, optimizer, schedulers, counters, RNG, loader position, every
    stateful plugin; a resumed run continues bit-identically on the CPU).

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
        init_from: a checkpoint, ``.npz`` or ``.safetensors`` file to load weights from
            (fine-tuning; ignored when resuming).
        init_strict: with False, missing/unexpected/wrongly shaped keys of
            ``init_from`` are skipped and reported instead of raising.
        init_map: ``pattern -> replacement`` rules renaming the keys of ``init_from``
            (``{"module.": ""}``; see :mod:`trainkit.weights.keymap`).
        config: the resolved run config (a JSON-able dict), saved in checkpoints,
            compared on resume and used as TensorBoard hparams.
        strategy: ``None``/``"single"`` (one process) or ``"ddp"`` (data-parallel over the
            processes of ``mpiexec``; :mod:`trainkit.distributed.strategy` says what changes).
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
        init_map=None,
        config: Mapping | None = None,
        strategy=None,
    ):
        self.max_epochs = check_count("max_epochs", max_epochs, 0)
        self.max_steps = check_count("max_steps", max_steps, 0, allow_none=True)
        self.accumulate = check_count("accumulate", accumulate, 1)
        self.val_every = check_count("val_every", val_every, 1)
        self.log_every = check_count("log_every", log_every, 1)
        self.strategy = make_strategy(strategy, Device(device).type)
        self.device = Device(self.strategy.device_for(device))
        self.model = model.to(self.device)
        self.loss_fn = loss
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader
        self._schedules = ScheduleSteps(scheduler)
        self.schedulers = self._schedules.all
        self._needs_closure = check_parts(loss, optimizer, self.accumulate, grad_transforms)
        self.grad_transforms = list(grad_transforms)
        self.plugins = list(plugins)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.default_plugins = default_plugins
        self.resume = resume
        self.init_from = init_from
        self.init_strict = bool(init_strict)
        self.init_map = init_map
        self.config = dict(config) if config is not None else None

        self.global_step = 0
        self.epoch = 0
        self.batch_idx = 0
        self.skipped_steps = 0
        self.metrics: dict[str, float] = {}
        #: metric names left out of logs as non-numeric in this fit (:mod:`trainkit.metric_values`)
        self.skipped_metrics: set[str] = set()
        self.should_stop = False
        self.stop_reason: str | None = None
        #: name of the plugin that set ``should_stop`` (e.g. "early_stopping"), if any
        self.stopped_by: str | None = None
        #: why a resumed run trained nothing (it had already finished), else None
        self.already_finished: str | None = None
        self.last_checkpoint: Path | None = None
        self.resumed_from: Path | None = None
        self.active_plugins: list[Any] = []
        self.hooks: HookDispatcher | None = None
        self._fits_started = 0  # fit() calls so far (resume.begin)
        self._log = TrainLog()
        self._grads_zeroed = False
        self._validated_at: int | None = None
        self._batch: tuple | None = None
        self.strategy.prepare(self)
        self._signals = SignalGuard(self)  # check() at the safe points of the loop

    # ------------------------------------------------------------------ plugins
    def plugin(self, name: str):
        """The active per-fit plugin registered as ``name`` (None when absent)."""
        for p in self.active_plugins:
            if plugin_name_of(p) == name:
                return p
        return None

    def hand_over_lr(self) -> None:
        """Stop stepping the run's schedulers for the rest of the fit (``swa`` anneals the lr itself)."""
        self._schedules.hand_over()

    # ------------------------------------------------------------------ fit
    def fit(self) -> dict[str, float]:
        """Train until ``max_epochs``/``max_steps``/``should_stop``; return the final metrics."""
        pm = get_plugin_manager()
        objects = self.strategy.fit_plugins(
            self, per_fit_plugins(self.plugins, self.default_plugins, self.run_dir is not None))
        self.skipped_metrics = set()
        with registered(objects, pm), self._signals:
            self.active_plugins = objects
            self.hooks = HookDispatcher(pm, LIFECYCLE_HOOKS)
            try:
                if not resume.begin(self):  # resume, or init_from; False: the resumed run had finished
                    return dict(self.metrics)
                self.strategy.setup(self)
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

    def agree(self, flag) -> bool:
        """True on every rank when ``flag`` is true on any (one small collective under ``strategy="ddp"``,
        ``bool(flag)`` otherwise). Every decision that changes the loop's control flow goes through it."""
        return self.strategy.agree(flag)

    def _done(self) -> bool:
        self.should_stop = self.agree(self.should_stop)
        return self.should_stop or (self.max_steps is not None and self.global_step >= self.max_steps)

    def _run(self) -> None:
        while self.epoch < self.max_epochs and not self._done():
            finished = self._train_epoch()
            if not finished:
                break
            self._end_epoch()
            self._signals.check()

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
            seen = self.strategy.batch_loss(loss, batch)  # the global batch mean under ddp
            skipped = self.agree(hooks("on_train_loss", trainer=self, batch_idx=batch_idx, loss=seen) is False)
            if not skipped:
                if not self._grads_zeroed:
                    self.optimizer.zero_grad()
                    self._grads_zeroed = True
                scale = self.strategy.loss_scale(acc)
                (loss * scale if scale != 1.0 else loss).backward()
                hooks("on_after_backward", trainer=self)
                self._log.add_loss(seen.array)
                contributed += 1
            micro += 1
            if micro == acc:
                skipped = self._finish_update(contributed) or skipped
                micro = contributed = 0
            hooks("on_batch_end", trainer=self, batch_idx=batch_idx, loss=seen.detach(), skipped=skipped)
            if not micro:  # an update was completed: the state is whole
                self._signals.check()
            if self._done():
                return False
        if micro:
            self._finish_update(contributed)
        return True

    def _to_device(self, batch) -> tuple:
        return batch_to_device(batch, self.device)

    def _forward(self, batch: tuple):
        return self.loss_fn(self.model(*batch[:-1]), batch[-1])

    def _finish_update(self, contributed: int) -> bool:
        """Transforms, optimizer step, step schedulers, counters. Returns True if skipped."""
        hooks = self.hooks
        skipped = contributed == 0
        norm = None
        if not skipped:
            self.strategy.reduce_gradients(self.optimizer)  # ddp: the global gradient, once per update
        if not skipped and self.grad_transforms:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            for t in self.grad_transforms:
                go_on = t(params)
                norm = getattr(t, "last_norm", None) if getattr(t, "last_norm", None) is not None else norm
                if go_on is False:
                    skipped = True
                    break
            skipped = self.agree(skipped)
        if norm is not None and skipped:
            self._log.last_grad_norm = norm
        if not skipped:
            self._log.before_step(self, norm)
        if skipped:
            self.skipped_steps += 1
        else:
            hooks("on_before_optimizer_step", trainer=self, optimizer=self.optimizer)
            if self._needs_closure:
                self.optimizer.step(self._closure)
            else:
                self.optimizer.step()
            hooks("on_after_optimizer_step", trainer=self, optimizer=self.optimizer)
            self._schedules.after_update()
        self.global_step += 1
        self._grads_zeroed = False
        if self.global_step % self.log_every == 0:
            self._log_train()
        hooks("on_step_end", trainer=self, step=self.global_step, skipped=skipped)
        return skipped

    def _closure(self):
        """Zero the gradients, recompute the current batch's loss and its gradients (LBFGS)."""
        self.optimizer.zero_grad()
        loss = self._forward(self._batch)
        seen = self.strategy.batch_loss(loss, self._batch)
        scale = self.strategy.loss_scale(1)
        (loss * scale if scale != 1.0 else loss).backward()
        self.strategy.reduce_gradients(self.optimizer)
        return seen

    def _log_train(self) -> None:
        metrics = self._log.report(self)
        self.metrics.update(metrics)
        self.hooks("on_log", trainer=self, step=self.global_step, metrics=metrics)

    @property
    def last_grad_norm(self):
        """The last computed global gradient 2-norm (a device scalar; None before the first)."""
        return self._log.last_grad_norm

    def _end_epoch(self) -> None:
        if self._log.pending:
            self._log_train()
        metrics: dict[str, float] = {"time/epoch": time.perf_counter() - self._epoch_t0}
        self.metrics.update(metrics)
        validated = self.val_loader is not None and (self.epoch + 1) % self.val_every == 0
        if validated:
            metrics.update(self.validate())
        self._schedules.at_epoch_end(self.metrics, validated, self.val_loader is not None)
        finished = self.epoch
        self.epoch += 1
        self.hooks("on_log", trainer=self, step=self.global_step, metrics=metrics)
        self.hooks("on_epoch_end", trainer=self, epoch=finished, metrics=self.metrics)

    # ------------------------------------------------------------------ validation
    def validate(self) -> dict[str, float]:
        """One pass over ``val_loader`` in eval mode: ``val/loss`` (+ ``val/accuracy``).

        Results are accumulated on the device and transferred once; they are
        merged into ``trainer.metrics`` and passed to ``on_validation_end``.
        """
        if self.val_loader is None:
            raise ValueError("Trainer.validate: no val_loader was given")
        metrics = evaluate(self.model, self.loss_fn, self.val_loader, self._to_device, self.strategy.reduce_sums)
        self.metrics.update(metrics)
        self._validated_at = self.global_step
        if self.hooks is not None:
            self.hooks("on_validation_end", trainer=self, metrics=metrics)
        return metrics

    def _final_metrics(self) -> dict[str, float]:
        if self._log.pending:
            self._log_train()
        if self.val_loader is not None and self._validated_at != self.global_step and self.global_step:
            val = self.validate()
            self.hooks("on_log", trainer=self, step=self.global_step, metrics=val)
        return dict(self.metrics)

    # ------------------------------------------------------------------ lr range test
    def lr_find(self, min_lr: float = 1e-7, max_lr: float = 10.0, num_steps: int = 100, **options):
        """The learning-rate range test on this run, leaving every state as it was
        (:func:`trainkit.lr_finder.lr_find`; ``options``: ``smooth``, ``diverge``, ``method``)."""
        return lr_find(self, min_lr=min_lr, max_lr=max_lr, num_steps=num_steps, **options)

    def __repr__(self) -> str:
        return (
            f"Trainer(model={type(self.model).__name__}, optimizer={type(self.optimizer).__name__}, "
            f"device={self.device}, epoch={self.epoch}, global_step={self.global_step})"
        )
