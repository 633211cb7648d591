"""A Trainer's state in and out: checkpoint assembly, save, restore, the config diff, ``init_from``.

The Trainer owns the loop; this module owns what a checkpoint holds and the
order in which a resume puts it back (:func:`restore`). Every plugin object of
the fit that has ``state_dict()``/``load_state_dict(state)`` is saved under
``checkpoint["plugins"][<its name>]`` and restored before ``on_load_checkpoint``,
so a plugin keeps its state without writing checkpoint code of its own.

What a checkpoint holds and ``resume`` restores: model weights, optimizer
state, every scheduler and stateful gradient transform, the counters
(epoch, global_step, skipped_steps), metrics, the global RNG state
(``trainkit.random``), the train loader's position, every plugin's state
(``state_dict()``, then ``on_save_checkpoint``), whether the run had stopped (``should_stop``,
``stop_reason``) and the resolved config. A run resumed from a checkpoint
continues bit-identically on the CPU. The optimizer's and schedulers'
hyperparameters (lr, momentum, T_max, ...) come from the checkpoint, not
from a changed config (a warning lists such changes; ``init_from`` starts a
fresh run from the weights instead). Resuming a run that had finished
(``max_epochs``/``max_steps`` reached, or stopped early) trains nothing:
``fit()`` logs why and returns the saved metrics.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path

from . import checkpoint as ckpt
from . import random as tk_random
from .backend import Device, to_device
from .hparams import flatten_config
from .plugins import plugin_name_of
from .weights import load_into

__all__ = ["CheckpointMethods", "ResumeMismatchError", "RunDirectoryError", "begin", "check_new_run_dir", "checkpoint_state", "finished_reason",
           "init_weights", "restore", "save"]

log = logging.getLogger("trainkit.trainer")

#: Config keys whose values a resume takes from the checkpoint (optimizer/scheduler state, RNG).
RESTORED_PREFIXES = ("optimizer.", "scheduler.", "params.", "trainer.seed")


class CheckpointMethods:
    """The Trainer's checkpoint API (``Trainer`` inherits it): the methods plugins and users call to
    save, restore and load weights, each one of the functions below."""

    def checkpoint_state(self) -> dict:
        """The full training state as a plain nested dict (see this module's docstring)."""
        return checkpoint_state(self)

    def save_checkpoint(self, path: str | Path) -> Path | None:
        """Write the full state to ``path`` atomically; refuse non-finite state.

        Returns:
            The path written, or None when weights or optimizer state hold
            NaN/inf (a warning says so; ``last_checkpoint`` keeps the last good one).
        """
        return save(self, path)

    def load_checkpoint(self, target: str | Path) -> Path:
        """Restore the full state from a run directory (newest readable checkpoint) or a file
        (the order is :func:`restore`'s)."""
        return restore(self, target)

    def init_weights(self, source: str | Path, strict: bool = True) -> dict[str, list[str]]:
        """Load model weights only (fine-tuning) from a checkpoint, ``.npz`` or ``.safetensors``
        file, renamed by ``init_map`` (:func:`init_weights`)."""
        return init_weights(self.model, source, strict=strict, key_map=self.init_map)


class RunDirectoryError(ckpt.CheckpointError):
    """A fresh run was pointed at a run directory that holds another run's checkpoints."""


class ResumeMismatchError(ckpt.CheckpointError, ValueError):
    """The run being resumed is built differently from the saved one (schedulers, param groups)."""


_BLAS_HINT_SHOWN = False


def _hint_blas_spin_once(trainer) -> None:
    """Warn once per process, on CPU, when OpenBLAS came up without trainkit's thread timeout."""
    global _BLAS_HINT_SHOWN
    if _BLAS_HINT_SHOWN or str(getattr(trainer, "device", "cpu")).startswith("cuda"):
        return
    _BLAS_HINT_SHOWN = True
    from .threads import blas_spin_hint

    hint = blas_spin_hint()
    if hint is not None:
        log.warning("%s", hint)


def begin(trainer) -> bool:
    """What ``fit()`` does before its first epoch: restore ``trainer.resume`` (False when that run had
    already finished: ``trainer.already_finished`` says why), or else, on the first ``fit()``, check that
    the run directory is its own and load ``init_from``; a later ``fit()`` on the same Trainer goes on
    from where the last one stopped, and says so."""
    first = trainer._fits_started == 0
    trainer._fits_started += 1
    _hint_blas_spin_once(trainer)
    if trainer.resume is not None:
        trainer.load_checkpoint(trainer.resume)
        finished = finished_reason(trainer)
        if finished is not None:
            trainer.already_finished = "; ".join(finished)
            log.warning("run already finished (%s); %s", *finished)
            return False
        return True
    if first:
        check_new_run_dir(trainer)
        if trainer.init_from is not None:
            trainer.init_weights(trainer.init_from, strict=trainer.init_strict)
    else:
        log.warning("fit() again on the same Trainer: it goes on from epoch %d, step %d up to max_epochs=%d%s",
                    trainer.epoch, trainer.global_step, trainer.max_epochs,
                    "" if finished_reason(trainer) is None else
                    " (reached: nothing to train; raise trainer.max_epochs to train more)")
    return True


def check_new_run_dir(trainer) -> None:
    """A run that does not resume may not write into another run's directory.

    Its checkpoints would be mixed with the old ones, pruned by step number (the
    new, lower-step files first) and a later ``resume`` would pick the old run's.

    Raises:
        RunDirectoryError: naming the directory, its newest checkpoint and the two ways on.
    """
    if trainer.run_dir is None:
        return
    found = ckpt.find_checkpoints(Path(trainer.run_dir) / ckpt.CHECKPOINT_DIRNAME)
    if found:
        raise RunDirectoryError(
            f"run directory {trainer.run_dir} already holds checkpoints of an earlier run (newest {found[-1].name}); "
            f"continue that run with resume={trainer.run_dir}, or start this one in a new directory "
            "(the command line makes a new one per run unless hydra.run.dir is set)"
        )


def _stateful(plugins) -> list:
    return [p for p in plugins if callable(getattr(p, "state_dict", None))
            and callable(getattr(p, "load_state_dict", None))]


def tree_to_device(value, device: Device):
    """Every array in a nested dict/list/tuple moved to ``device`` (other leaves unchanged)."""
    if isinstance(value, dict):
        return {k: tree_to_device(v, device) for k, v in value.items()}
    if isinstance(value, list):
        return [tree_to_device(v, device) for v in value]
    if isinstance(value, tuple):
        return tuple(tree_to_device(v, device) for v in value)
    if hasattr(value, "dtype") and hasattr(value, "shape") and not isinstance(value, (int, float)):
        return to_device(value, device)
    return value


def checkpoint_state(trainer) -> dict:
    """The full training state of ``trainer`` as a plain nested dict (see ``Trainer``'s docstring)."""
    loader = trainer.train_loader
    state = {
        "model": dict(trainer.model.state_dict()),
        "optimizer": trainer.optimizer.state_dict(),
        "schedulers": [s.state_dict() for s in trainer.schedulers],
        "grad_transforms": [t.state_dict() if hasattr(t, "state_dict") else None for t in trainer.grad_transforms],
        "trainer": {
            "epoch": trainer.epoch,
            "global_step": trainer.global_step,
            "skipped_steps": trainer.skipped_steps,
            "metrics": dict(trainer.metrics),
            "should_stop": bool(trainer.should_stop),
            "stop_reason": trainer.stop_reason,
            "stopped_by": trainer.stopped_by,
            **trainer.strategy.checkpoint_info(trainer),
        },
        "loader": loader.state_dict() if hasattr(loader, "state_dict") else None,
        "rng": tk_random.get_rng_state(),
        "config": trainer.config,
        "plugins": {plugin_name_of(p): p.state_dict() for p in _stateful(trainer.active_plugins)},
    }
    if trainer.hooks is not None:
        trainer.hooks("on_save_checkpoint", trainer=trainer, checkpoint=state)
    return state


def save(trainer, path: str | Path) -> Path | None:
    """Write ``trainer``'s full state to ``path`` atomically; refuse non-finite state (None, with a warning).

    In a data-parallel run only rank 0 writes (the state is the same on every rank); the others return None.
    """
    if not trainer.strategy.is_main:
        return None
    state = checkpoint_state(trainer)
    if not (ckpt.is_finite_tree(state["model"]) and ckpt.is_finite_tree(state["optimizer"])):
        warnings.warn(
            f"not writing checkpoint {path} at step {trainer.global_step}: the model or optimizer "
            f"state is not finite; the last good checkpoint is {trainer.last_checkpoint}",
            ckpt.CheckpointWarning,
            stacklevel=3,
        )
        return None
    written = ckpt.save(path, state)
    trainer.last_checkpoint = written
    return written


def restore(trainer, target: str | Path) -> Path:
    """Restore ``trainer``'s full state from a run directory (newest readable checkpoint) or a file.

    The order matters and is fixed:

    1. model weights;
    2. counters (epoch, global_step, skipped_steps, metrics, should_stop)
       and the train loader's position; a changed config is warned about;
    3. every stateful plugin's ``load_state_dict``, then ``on_load_checkpoint``:
       plugins rebuild structure they added during training, such as the param
       groups of parameters unfrozen at an epoch (``unfreeze``), so that
    4. the optimizer state, the schedulers and the gradient transforms are
       loaded into an optimizer with the same param groups as when saved;
    5. the global RNG state, last, so nothing above can consume it.
    """
    path, state = ckpt.load_latest(target)
    trainer.model.load_state_dict(state["model"])
    counters = state["trainer"]
    trainer.epoch = int(counters["epoch"])
    trainer.global_step = int(counters["global_step"])
    trainer.skipped_steps = int(counters["skipped_steps"])
    trainer.metrics.update(counters.get("metrics", {}))
    trainer.should_stop = bool(counters.get("should_stop", False))
    trainer.stop_reason = counters.get("stop_reason")
    trainer.stopped_by = counters.get("stopped_by")
    if state.get("loader") is not None and hasattr(trainer.train_loader, "load_state_dict"):
        trainer.train_loader.load_state_dict(
            trainer.strategy.loader_state(trainer, state["loader"], counters, path))
    _warn_config_changes(trainer.config, path, state.get("config"))
    saved_plugins = state.get("plugins") or {}
    for plugin in _stateful(trainer.active_plugins):
        saved = saved_plugins.get(plugin_name_of(plugin))
        if saved is not None:
            plugin.load_state_dict(saved)
    if trainer.hooks is not None:
        trainer.hooks("on_load_checkpoint", trainer=trainer, checkpoint=state)
    if trainer.should_stop and trainer.stopped_by and trainer.active_plugins \
            and trainer.plugin(trainer.stopped_by) is None:
        log.info("the run was stopped by %s, which is not part of this run: continuing", trainer.stopped_by)
        trainer.should_stop, trainer.stop_reason, trainer.stopped_by = False, None, None
    _restore_optimizer(trainer, path, state["optimizer"])
    saved_schedulers = state.get("schedulers", [])
    if len(saved_schedulers) != len(trainer.schedulers):
        raise ResumeMismatchError(
            f"cannot resume from {path}: it holds {len(saved_schedulers)} scheduler state(s) but this run has "
            f"{len(trainer.schedulers)} scheduler(s); resume with the scheduler it was saved with, or start a "
            f"fresh run from its weights with the new one: init_from={path}"
        )
    for sched, sstate in zip(trainer.schedulers, saved_schedulers):
        try:
            sched.load_state_dict(sstate)
        except (KeyError, ValueError, TypeError) as exc:
            raise ResumeMismatchError(
                f"cannot restore {type(sched).__name__} from {path} (it was saved by another scheduler: {exc}); "
                f"resume with the scheduler it was saved with, or start a fresh run from its weights: "
                f"init_from={path}"
            ) from exc
    for t, tstate in zip(trainer.grad_transforms, state.get("grad_transforms", [])):
        if tstate is not None and hasattr(t, "load_state_dict"):
            t.load_state_dict(tstate)
    tk_random.set_rng_state(state["rng"])
    trainer.resumed_from = path
    trainer.last_checkpoint = path
    log.info("resumed from %s at epoch %d, step %d", path, trainer.epoch, trainer.global_step)
    return path


def _restore_optimizer(trainer, path: Path, saved_opt: dict) -> None:
    optimizer = trainer.optimizer
    try:
        optimizer.load_state_dict(tree_to_device(saved_opt, trainer.device))
    except ValueError as exc:
        saved_names = [g.get("name", i) for i, g in enumerate(saved_opt.get("param_groups", []))]
        own_names = [g.get("name", i) for i, g in enumerate(optimizer.param_groups)]
        hint = ""
        if len(saved_names) != len(own_names):
            hint = (f" (saved param groups {saved_names}, this run has {own_names}: a plugin that adds "
                    "param groups, such as unfreeze, must be configured as when the checkpoint was saved)")
        raise ResumeMismatchError(
            f"cannot restore the optimizer from checkpoint {path}{hint}: {exc}. Resume with the param groups "
            f"it was saved with (params.*), or start a fresh run from its weights: init_from={path}"
        ) from exc


def _warn_config_changes(config: Mapping | None, path: Path, saved: Mapping | None) -> None:
    if config is None or saved is None:
        return
    old, new = flatten_config(saved), flatten_config(config)
    changed = [
        k for k in sorted(set(old) | set(new))
        if k not in ("resume",) and old.get(k, "<unset>") != new.get(k, "<unset>")
    ]
    if not changed:
        return
    message = f"the config differs from the one saved in {path}: " + "; ".join(
        f"{k}: {old.get(k, '<unset>')!r} -> {new.get(k, '<unset>')!r}" for k in changed
    )
    restored = [k for k in changed if k == "lr" or k.startswith(RESTORED_PREFIXES)]
    if restored:
        message += (
            f". NOT applied, because resume restores them from the checkpoint: {', '.join(restored)}"
            f" (the run goes on with the saved optimizer/scheduler state). To train with the new values, "
            f"start a fresh run from these weights: init_from={path}"
        )
    warnings.warn(message, ckpt.CheckpointWarning, stacklevel=4)


def finished_reason(trainer) -> tuple[str, str] | None:
    """``(why, how to continue)`` when a (resumed) run has nothing left to train, else None."""
    if trainer.should_stop:
        how = (
            "turn early stopping off (callbacks.early_stopping.enabled=false) or raise "
            "callbacks.early_stopping.patience to continue"
            if trainer.stopped_by == "early_stopping"
            else "raise trainer.max_epochs to continue"
        )
        return trainer.stop_reason or "it was stopped", how
    if trainer.max_steps is not None and trainer.global_step >= trainer.max_steps:
        return (f"trainer.max_steps={trainer.max_steps} reached at step {trainer.global_step}",
                "raise trainer.max_steps to continue")
    if trainer.epoch >= trainer.max_epochs:
        return (f"trainer.max_epochs={trainer.max_epochs} reached at step {trainer.global_step}",
                "raise trainer.max_epochs to continue")
    return None


def init_weights(model, source: str | Path, strict: bool = True, key_map=None) -> dict[str, list[str]]:
    """Load model weights only (fine-tuning) from a checkpoint, an ``.npz`` or a ``.safetensors`` file.

    ``key_map`` (``init_map``) renames the file's keys first (strip ``module.``,
    rename a head). Returns ``{"loaded", "missing", "unexpected", "wrong_shape",
    "converted"}``. With ``strict=False`` mismatching keys are skipped and
    reported in a warning; with ``strict=True`` any of them raises
    ``StateDictMismatchError`` and nothing is loaded (:func:`trainkit.weights.load_into`).
    """
    return load_into(model, source, strict=strict, key_map=key_map, label=f"init_from={source}")
