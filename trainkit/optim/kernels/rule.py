"""``Rule``: an element-wise update rule plus the description its backends need.

A rule is a function ``fn(*arrays, *scalars, *flags)`` whose body uses only
arithmetic operators, comparisons, ``if`` on flags, and math through the global
name ``M`` (``M.sqrt``, ``M.maximum``, ``M.minimum``, ``M.abs``, ``M.sign``,
``M.where``). It returns the new values of ``outputs`` as a tuple. Numeric
literals are avoided inside rules (they would promote float32 to float64 in
numba); every constant the rule needs arrives as a scalar already cast to the
parameter dtype, exactly as numpy casts a Python float against a float32 array.

Flags are compile-time constants for the fused backends (each combination gets
its own kernel, so loops contain no branches and vectorise). Arrays listed in
``optional`` may be absent (e.g. ``max_exp_avg_sq`` without amsgrad): the rule
then receives the parameter's value as a stand-in and must not use it, and the
matching output is discarded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ...backend import get_array_module


@dataclass(frozen=True)
class Rule:
    """An element-wise rule and its signature.

    Attributes:
        name: identifier used for generated kernels.
        fn: the rule function (see the module docstring).
        arrays: names of the array arguments, in order (``param`` and ``grad`` first).
        outputs: names of the arrays the rule returns new values for, in order.
        scalars: names of the per-call scalar arguments (cast to the array dtype).
        flags: names of the boolean arguments (compile-time constants when fused).
        optional: arrays that may be absent.
    """

    name: str
    fn: Callable
    arrays: tuple[str, ...]
    outputs: tuple[str, ...]
    scalars: tuple[str, ...]
    flags: tuple[str, ...] = ()
    optional: tuple[str, ...] = field(default=())

    def __post_init__(self):
        import inspect

        params = tuple(inspect.signature(self.fn).parameters)
        expected = self.arrays + self.scalars + self.flags
        if params != expected:
            raise TypeError(
                f"rule {self.name!r}: function arguments {params} do not match "
                f"arrays + scalars + flags {expected}"
            )
        missing = [o for o in self.outputs if o not in self.arrays]
        if missing:
            raise TypeError(f"rule {self.name!r}: outputs {missing} are not arrays")


def default_backend(xp) -> str:
    """The fastest available backend for arrays of module ``xp``.

    ``TRAINKIT_OPTIM_BACKEND`` (``numpy``, ``numba``, ``cupy``) overrides the
    choice for CPU arrays (``numpy``/``numba``) and GPU arrays (``cupy``/``numpy``).
    """
    forced = forced_backend()
    if xp is np:
        if forced == "numpy":
            return "numpy"
        from .numba_backend import numba_available

        return "numba" if numba_available() else "numpy"
    return "numpy" if forced == "numpy" else "cupy"


def forced_backend() -> str:
    """``$TRAINKIT_OPTIM_BACKEND`` lower-cased (``""`` when unset)."""
    return os.environ.get("TRAINKIT_OPTIM_BACKEND", "").strip().lower()


def bind_rule(rule: Rule, arrays: dict, flags: dict, backend: str | None = None) -> Callable[[dict], None]:
    """Prepare ``rule`` for repeated runs over the same flat arrays.

    Everything that does not change between steps (the backend, the compiled
    kernel, the argument order) is resolved here, once; the returned
    ``run(scalars)`` only casts the scalars and launches. Optimizers keep one
    per bucket, so a step of a small model costs microseconds.

    Args:
        rule: the rule.
        arrays: flat contiguous arrays of one dtype and device (name -> array;
            optional ones may be None or missing). They are updated in place by each run.
        flags: Python bools (compile-time constants of the fused kernels).
        backend: ``"numpy"`` (plain), ``"numba"`` (fused CPU), ``"cupy"`` (fused GPU)
            or None for the fastest available one.

    Returns:
        ``run(scalars)``, where ``scalars`` maps each of ``rule.scalars`` to a
        Python float; each is cast to the arrays' dtype (as numpy casts a Python
        float against an array) before the rule sees it.
    """
    param = arrays[rule.arrays[0]]
    xp = get_array_module(param)
    if backend is None:
        backend = default_backend(xp)
    flag_values = {k: bool(flags[k]) for k in rule.flags}
    names = rule.scalars
    if backend == "numpy":
        from .numpy_backend import bind_numpy

        launch = bind_numpy(rule, arrays, flag_values)
    elif backend == "numba":
        if xp is not np:
            raise ValueError("the numba backend runs on numpy (CPU) arrays only")
        from .numba_backend import bind_numba

        launch = bind_numba(rule, arrays, flag_values)
    elif backend == "cupy":
        from .cupy_backend import bind_cupy

        launch = bind_cupy(rule, arrays, flag_values)
    else:
        raise ValueError(f"unknown optimizer backend {backend!r}; expected 'numpy', 'numba' or 'cupy'")

    def run(scalars: dict) -> None:
        launch([scalars[k] for k in names])

    run.backend = backend
    return run


def run_rule(rule: Rule, arrays: dict, scalars: dict, flags: dict, backend: str | None = None) -> None:
    """Apply ``rule`` once, in place, to flat 1-D ``arrays`` (see :func:`bind_rule`).

    Args:
        rule: the rule.
        arrays: flat contiguous arrays of one dtype and device; optional ones may be None.
        scalars: Python floats; they are cast to the arrays' dtype here, once.
        flags: Python bools.
        backend: ``"numpy"`` (plain), ``"numba"`` (fused CPU), ``"cupy"`` (fused GPU)
            or None for the fastest available one.
    """
    bind_rule(rule, arrays, flags, backend)(scalars)
