"""Registration hooks: fill the name registries (``optimizer=adam`` on the command line).

Each is called once per registry, the first time ``trainkit.plugins.registry(kind)``
is asked for it, with a ``register(name, obj)`` callback. A name registered
twice (by two plugins, or twice by one) is an error naming both providers.
"""
from __future__ import annotations

from .markers import Register, spec


@spec
def register_optimizers(register: Register) -> None:
    """Called once when the plugin manager builds its optimizer registry.

    Args:
        register: ``register(name, cls)`` adds optimizer class ``cls`` (a
            ``trainkit.optim.Optimizer`` subclass taking ``params`` first) under
            the lowercase ``name`` used on the command line (``optimizer=name``).
            Its keyword defaults become the config defaults.
    """


@spec
def register_schedulers(register: Register) -> None:
    """Called once when the LR-scheduler registry is built.

    Args:
        register: ``register(name, cls)`` adds a scheduler class taking the
            optimizer first (``scheduler=name``). Instances carry ``.interval``
            ("epoch" or "step"); plateau schedulers also ``.monitor``/``.mode``.
    """


@spec
def register_models(register: Register) -> None:
    """Called once when the model registry is built.

    Args:
        register: ``register(name, factory)`` where ``factory(**options)``
            returns a ``trainkit.nn.Module`` (``model=name``).
    """


@spec
def register_datasets(register: Register) -> None:
    """Called once when the dataset registry is built.

    Args:
        register: ``register(name, factory)`` where ``factory(**options)``
            returns the dataset(s) for ``data=name``.
    """


@spec
def register_losses(register: Register) -> None:
    """Called once when the loss registry is built.

    Args:
        register: ``register(name, cls)`` adds a loss module class
            (``loss=name``), called as ``loss(output, target) -> Tensor``.
    """


@spec
def register_grad_transforms(register: Register) -> None:
    """Called once when the gradient-transform registry is built.

    Args:
        register: ``register(name, factory)`` where ``factory(**options)``
            returns a callable ``transform(parameters) -> bool`` run after
            backward (True: go on to the optimizer step; False: skip it).
    """


@spec
def register_callbacks(register: Register) -> None:
    """Called once when the callback registry (per-fit lifecycle plugins) is built.

    Args:
        register: ``register(name, cls)`` adds a class whose instances
            implement lifecycle hooks (TensorBoard, progress, checkpointing, ...).
            ``cls(**options)`` builds one for a run. A class attribute
            ``default = True`` makes ``Trainer`` add an instance with default
            options when the user did not pass one of that name;
            ``needs_run_dir = True`` restricts that to runs with a ``run_dir``.
    """
