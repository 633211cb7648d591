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
    forced = os.environ.get("TRAINKIT_OPTIM_BACKEND", "").strip().lower()
    if xp is np:
        if forced == "numpy":
            return "numpy"
        from .numba_backend import numba_available

        return "numba" if numba_available() else "numpy"
    return "numpy" if forced == "numpy" else "cupy"


def run_rule(rule: Rule, arrays: dict, scalars: dict, flags: dict, backend: str | None = None) -> None:
    """Apply ``rule`` in place to flat 1-D ``arrays`` (dict name -> array or None).

    Args:
        rule: the rule.
        arrays: flat contiguous arrays of one dtype and device; optional ones may be None.
        scalars: Python floats; they are cast to the arrays' dtype here, once.
        flags: Python bools.
        backend: ``"numpy"`` (plain), ``"numba"`` (fused CPU), ``"cupy"`` (fused GPU)
            or None for the fastest available one.
    """
    param = arrays[rule.arrays[0]]
    xp = get_array_module(param)
    if backend is None:
        backend = default_backend(xp)
    dtype = param.dtype.type
    cast = {k: dtype(scalars[k]) for k in rule.scalars}
    flag_values = {k: bool(flags[k]) for k in rule.flags}
    if backend == "numpy":
        from .numpy_backend import run_numpy

        run_numpy(rule, arrays, cast, flag_values)
    elif backend == "numba":
        if xp is not np:
            raise ValueError("the numba backend runs on numpy (CPU) arrays only")
        from .numba_backend import run_numba

        run_numba(rule, arrays, cast, flag_values)
    elif backend == "cupy":
        from .cupy_backend import run_cupy

        run_cupy(rule, arrays, cast, flag_values)
    else:
        raise ValueError(f"unknown optimizer backend {backend!r}; expected 'numpy', 'numba' or 'cupy'")
