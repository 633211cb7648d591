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
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from .autograd.tensor import Tensor
    from .trainer import Trainer

PROJECT_NAME = "trainkit"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[[str, Any], None]
"""``register(name, obj)``: the callback every registration hook receives."""

Metrics = dict[str, float]
Checkpoint = dict[str, Any]

# =========================================================================== registration
# Called once per registry, the first time ``trainkit.plugins.registry(kind)``
# is asked for it. A name registered twice (by two plugins, or twice by one)
# is an error naming both providers.


@hookspec
def register_optimizers(register: Register) -> None:
    """Called once when the plugin manager builds its optimizer registry.

    Args:
        register: ``register(name, cls)`` adds optimizer class ``cls`` (a
            ``trainkit.optim.Optimizer`` subclass taking ``params`` first) under
            the lowercase ``name`` used on the command line (``optimizer=name``).
            Its keyword defaults become the config defaults.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def register_schedulers(register: Register) -> None:
    """Called once when the LR-scheduler registry is built.

    Args:
        register: ``register(name, cls)`` adds a scheduler class taking the
            optimizer first (``scheduler=name``). Instances carry ``.interval``
            ("epoch" or "step"); plateau schedulers also ``.monitor``/``.mode``.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def register_models(register: Register) -> None:
    """Called once when the model registry is built.

    Args:
        register: ``register(name, factory)`` where ``factory(**options)``
            returns a ``trainkit.nn.Module`` (``model=name``).

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Called once when the dataset registry is built.

    Args:
        register: ``register(name, factory)`` where ``factory(**options)``
            returns the dataset(s) for ``data=name``.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def register_losses(register: Register) -> None:
    """Called once when the loss registry is built.

    Args:
        register: ``register(name, cls)`` adds a loss module class
            (``loss=name``), called as ``loss(output, target) -> Tensor``.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def register_grad_transforms(register: Register) -> None:
    """Called once when the gradient-transform registry is built.

    Args:
        register: ``register(name, factory)`` where ``factory(**options)``
            returns a callable ``transform(parameters) -> bool`` run after
            backward (True: go on to the optimizer step; False: skip it).

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def register_callbacks(register: Register) -> None:
    """Called once when the callback registry (per-fit lifecycle plugins) is built.

    Args:
        register: ``register(name, cls)`` adds a class whose instances
            implement lifecycle hooks (TensorBoard, progress, checkpointing, ...).
            ``cls(**options)`` builds one for a run. A class attribute
            ``default = True`` makes ``Trainer`` add an instance with default
            options when the user did not pass one of that name;
            ``needs_run_dir = True`` restricts that to runs with a ``run_dir``.

    Returns:
        Nothing; the return value is ignored.
    """


# =========================================================================== fit
@hookspec
def on_fit_start(trainer: "Trainer") -> None:
    """Called once at the start of ``Trainer.fit()``, after a resume was restored.

    The model is on ``trainer.device``; ``trainer.global_step`` and
    ``trainer.epoch`` are where training will continue (0 on a fresh run).
    Not called (nor ``on_fit_end``) when a resumed run had already finished
    and ``fit()`` returns without training (``trainer.already_finished`` says why).

    Args:
        trainer: the running Trainer.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def on_fit_end(trainer: "Trainer", metrics: Metrics) -> None:
    """Called once when ``fit()`` finishes normally (not after an exception).

    Args:
        trainer: the running Trainer.
        metrics: the final metrics, the same dict ``fit()`` returns.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def on_exception(trainer: "Trainer", exception: BaseException) -> None:
    """Called for every plugin when ``fit()`` is left by an exception.

    Every implementation runs even when one of them fails (those failures are
    logged); the original exception is re-raised afterwards. Use it to flush
    logs or to record the failure, not to swallow it.

    Args:
        trainer: the running Trainer.
        exception: what was raised (including ``KeyboardInterrupt``).

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def on_teardown(trainer: "Trainer") -> None:
    """Called for every plugin in ``fit()``'s ``finally``, success or failure.

    The place to close files and writers. Every implementation runs even when
    one of them fails.

    Args:
        trainer: the running Trainer.

    Returns:
        Nothing; the return value is ignored.
    """


# =========================================================================== epoch
@hookspec
def on_epoch_start(trainer: "Trainer", epoch: int) -> None:
    """Called before the first batch of each epoch (after ``loader.set_epoch``).

    Args:
        trainer: the running Trainer.
        epoch: the 0-based epoch about to run (``trainer.epoch``).

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def on_validation_end(trainer: "Trainer", metrics: Metrics) -> None:
    """Called after each validation pass, before plateau schedulers step.

    Args:
        trainer: the running Trainer.
        metrics: ``{"val/loss": ..., "val/accuracy": ...}`` (accuracy only for
            classification: 2-D outputs and integer targets), host floats.

    Returns:
        Nothing; the return value is ignored. Set ``trainer.should_stop =
        True`` to end training after this epoch (early stopping).
    """


@hookspec
def on_epoch_end(trainer: "Trainer", epoch: int, metrics: Metrics) -> None:
    """Called at the end of each epoch, after validation and epoch schedulers.

    The training state is consistent here (a checkpoint written now resumes
    at the next epoch).

    Args:
        trainer: the running Trainer.
        epoch: the 0-based epoch that just finished.
        metrics: ``trainer.metrics`` (train, val and time metrics so far).

    Returns:
        Nothing; the return value is ignored.
    """


# =========================================================================== batch
@hookspec
def on_batch_start(trainer: "Trainer", batch_idx: int, batch: tuple) -> None:
    """Called for each training batch after it was moved to the device.

    Args:
        trainer: the running Trainer.
        batch_idx: 0-based index of the batch within the epoch.
        batch: the batch tuple (``(inputs, targets)``), already on the device.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec(firstresult=True)
def on_train_loss(trainer: "Trainer", batch_idx: int, loss: "Tensor") -> bool | None:
    """Called after the loss is computed and before ``zero_grad``/``backward``.

    This is the non-finite-loss check point (the NaN guard). Reading the
    loss value synchronises the device; only implement it when you must.

    Args:
        trainer: the running Trainer.
        batch_idx: 0-based index of the batch within the epoch.
        loss: the unscaled loss Tensor of this batch.

    Returns:
        ``False`` to skip this batch (no backward, no update; counted in
        ``trainer.skipped_steps`` when the whole update is skipped), ``None``
        to go on. The first non-None result wins. Raise to stop training.
    """


@hookspec
def on_after_backward(trainer: "Trainer") -> None:
    """Called after each ``loss.backward()``, before gradient transforms.

    With ``accumulate > 1`` it runs once per micro-batch; the gradients hold
    the sum so far of ``loss / accumulate``.

    Args:
        trainer: the running Trainer.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def on_before_optimizer_step(trainer: "Trainer", optimizer: Any) -> None:
    """Called after the gradient transforms accepted the update, before ``step()``.

    Gradients are final here (clipped, filtered). ``trainer.last_grad_norm``
    holds the norm a clipping transform reported, or None.

    Args:
        trainer: the running Trainer.
        optimizer: the optimizer about to step.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def on_after_optimizer_step(trainer: "Trainer", optimizer: Any) -> None:
    """Called right after ``optimizer.step()``, before step-interval schedulers.

    Args:
        trainer: the running Trainer.
        optimizer: the optimizer that stepped.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def on_step_end(trainer: "Trainer", step: int, skipped: bool) -> None:
    """Called once per update cycle (every ``accumulate`` batches), at its very end.

    ``trainer.global_step`` has been incremented and step-interval schedulers
    have stepped (unless skipped), so the state is consistent: this is where
    step-based checkpoints are written.

    Args:
        trainer: the running Trainer.
        step: ``trainer.global_step`` after this update (1-based count).
        skipped: True when the update was skipped (a transform returned False
            or every batch of the cycle was skipped by ``on_train_loss``).

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def on_batch_end(trainer: "Trainer", batch_idx: int, loss: "Tensor", skipped: bool) -> None:
    """Called at the end of every training batch.

    ``trainer.metrics["train/loss"]`` is refreshed every ``log_every`` steps
    (a host float); prefer it over ``float(loss)``, which synchronises the
    device every batch.

    Args:
        trainer: the running Trainer.
        batch_idx: 0-based index of the batch within the epoch.
        loss: the batch's detached, unscaled loss Tensor (still on the device).
        skipped: True when this batch did not contribute to an update.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def on_log(trainer: "Trainer", step: int, metrics: Metrics) -> None:
    """Called whenever the Trainer transfers new scalars to the host.

    That is every ``log_every`` steps (``train/loss``, ``train/lr/<group>``,
    ``train/grad_norm``, ``train/skipped_steps``) and after each validation
    (``val/*``) and epoch (``time/epoch``). Loggers write exactly these.

    Args:
        trainer: the running Trainer.
        step: ``trainer.global_step`` the values belong to.
        metrics: name -> host float, only the values that changed.

    Returns:
        Nothing; the return value is ignored.
    """


# =========================================================================== checkpoints
@hookspec
def on_save_checkpoint(trainer: "Trainer", checkpoint: Checkpoint) -> None:
    """Called while a checkpoint is assembled, before it is written.

    Args:
        trainer: the running Trainer.
        checkpoint: the state being saved. A plugin stores its own state under
            ``checkpoint["plugins"][<its name>]``, using only dicts with str
            keys, lists, str/int/float/bool/None and numpy/cupy arrays.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def on_load_checkpoint(trainer: "Trainer", checkpoint: Checkpoint) -> None:
    """Called when training resumes: after the model weights, the counters and the
    loader position were restored, and before the optimizer, the schedulers and
    the RNG are.

    A plugin restores its own state here and rebuilds any structure it added
    during training (the ``unfreeze`` plugin re-adds its param groups), so the
    saved optimizer and scheduler states fit. ``trainer.should_stop``,
    ``stop_reason`` and ``stopped_by`` are already restored: a plugin that
    stopped the run may clear them when its new settings let training go on
    (early stopping with a raised patience). Work that needs the fully
    restored state belongs in ``on_fit_start``, which runs after loading.

    Args:
        trainer: the running Trainer.
        checkpoint: the loaded state; a plugin reads
            ``checkpoint["plugins"].get(<its name>)`` (absent for a plugin that
            was not active when it was saved).

    Returns:
        Nothing; the return value is ignored.
    """


#: Hook names by lifecycle phase (documentation and tests use it).
PHASES: dict[str, tuple[str, ...]] = {
    "registration": (
        "register_optimizers",
        "register_schedulers",
        "register_models",
        "register_datasets",
        "register_losses",
        "register_grad_transforms",
        "register_callbacks",
    ),
    "fit": ("on_fit_start", "on_fit_end", "on_exception", "on_teardown"),
    "epoch": ("on_epoch_start", "on_validation_end", "on_epoch_end"),
    "batch": (
        "on_batch_start",
        "on_train_loss",
        "on_after_backward",
        "on_before_optimizer_step",
        "on_after_optimizer_step",
        "on_step_end",
        "on_batch_end",
        "on_log",
    ),
    "checkpoints": ("on_save_checkpoint", "on_load_checkpoint"),
}

#: The registry kinds, each filled by ``register_<kind>``.
REGISTRY_KINDS: tuple[str, ...] = (
    "optimizers",
    "schedulers",
    "models",
    "datasets",
    "losses",
    "grad_transforms",
    "callbacks",
)
