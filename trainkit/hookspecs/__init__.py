"""Every hook a trainkit plugin can implement, grouped by lifecycle phase.

A plugin is any object (a module, a class instance) whose functions carry the
``@trainkit.hookimpl`` marker and are named after a hook below. Plugins come
from three places, all registered with one ``pluggy.PluginManager``
(:func:`trainkit.plugins.get_plugin_manager`):

* trainkit's own modules under ``trainkit.builtin_plugins`` (``DEFAULT_PLUGINS``);
* third-party distributions exposing an entry point in the ``trainkit`` group;
* objects passed to ``Trainer(plugins=[...])``, registered for one ``fit()``.

Registration hooks fill the name registries (``optimizer=adam`` on the command
line). Lifecycle hooks are called by :class:`trainkit.trainer.Trainer` with
keyword arguments, ``trainer`` first, in the fixed order documented on the
Trainer. Where order between plugins matters (clip, then step, then schedule)
it is a stage of the Trainer, never pluggy's call order: do not rely on the
order in which two plugins' implementations of one hook run.

An exception raised inside any implementation is re-raised as
:class:`trainkit.plugins.PluginHookError` naming the plugin and the hook.

The specifications live in one module per phase (:mod:`.registration`,
:mod:`.fit`, :mod:`.epoch`, :mod:`.batch`, :mod:`.checkpoints`) and are all
imported here, so ``pm.add_hookspecs(trainkit.hookspecs)`` finds every one;
:data:`PHASES` is read off those modules, in definition order.
"""
from __future__ import annotations

import inspect
from types import ModuleType

from . import batch, checkpoints, epoch, fit, registration
from .batch import (
    on_after_backward,
    on_after_optimizer_step,
    on_batch_end,
    on_batch_start,
    on_before_optimizer_step,
    on_log,
    on_step_end,
    on_train_loss,
)
from .checkpoints import on_load_checkpoint, on_save_checkpoint
from .epoch import on_epoch_end, on_epoch_start, on_validation_end
from .fit import on_exception, on_fit_end, on_fit_start, on_teardown
from .markers import PROJECT_NAME, Checkpoint, Metrics, Register, hookimpl, hookspec
from .registration import (
    register_callbacks,
    register_datasets,
    register_grad_transforms,
    register_losses,
    register_models,
    register_optimizers,
    register_schedulers,
)

__all__ = [
    "PROJECT_NAME",
    "PHASES",
    "REGISTRY_KINDS",
    "hookspec",
    "hookimpl",
    "Register",
    "Metrics",
    "Checkpoint",
    # registration
    "register_optimizers", "register_schedulers", "register_models", "register_datasets",
    "register_losses", "register_grad_transforms", "register_callbacks",
    # fit
    "on_fit_start", "on_fit_end", "on_exception", "on_teardown",
    # epoch
    "on_epoch_start", "on_validation_end", "on_epoch_end",
    # batch
    "on_batch_start", "on_train_loss", "on_after_backward", "on_before_optimizer_step",
    "on_after_optimizer_step", "on_step_end", "on_batch_end", "on_log",
    # checkpoints
    "on_save_checkpoint", "on_load_checkpoint",
]


def _specs_of(module: ModuleType) -> tuple[str, ...]:
    """The names of the hook specifications defined in ``module``, in definition order."""
    marker = f"{PROJECT_NAME}_spec"
    return tuple(
        name for name, obj in vars(module).items()
        if inspect.isfunction(obj) and obj.__module__ == module.__name__ and hasattr(obj, marker)
    )


#: Hook names by lifecycle phase (documentation and tests use it).
PHASES: dict[str, tuple[str, ...]] = {
    "registration": _specs_of(registration),
    "fit": _specs_of(fit),
    "epoch": _specs_of(epoch),
    "batch": _specs_of(batch),
    "checkpoints": _specs_of(checkpoints),
}

#: The registry kinds, each filled by ``register_<kind>``.
REGISTRY_KINDS: tuple[str, ...] = tuple(name.removeprefix("register_") for name in PHASES["registration"])
