"""``Rule``: an element-wise update rule plus the description its backends need.

A rule's function (its *body*) is ``fn(*arrays, *scalars, *flags)``; its source
uses only arithmetic operators, comparisons, ``if`` on flags, and math through
the global name ``M`` (``M.sqrt``, ``M.maximum``, ``M.minimum``, ``M.abs``,
``M.sign``, ``M.where``; :data:`M` below is numpy's, each backend binds its
own). It returns the new values of ``outputs`` as a tuple. Numeric literals are
avoided inside rules (they would promote float32 to float64 in numba); every
constant the rule needs arrives as a scalar already cast to the parameter
dtype, exactly as numpy casts a Python float against a float32 array.

A rule may start with the shared prologue (:mod:`.prologue`: maximize, decoupled
weight decay, L2 weight decay): ``prologue=("maximize", "l2")`` adds those flags
and their scalars in front of the body's own, and the body sees ``param`` and
``grad`` after those lines. :attr:`Rule.source` is the combined function every
backend compiles (the plain path runs it too), so the prologue is written once
and inlined everywhere.

Flags are compile-time constants for the fused backends (each combination gets
its own kernel, so loops contain no branches and vectorise). Arrays listed in
``optional`` may be absent (e.g. ``max_exp_avg_sq`` without amsgrad): the rule
then receives the parameter's value as a stand-in and must not use it, and the
matching output is discarded.

Each optimizer declares its rule in its own module with :func:`update_rule`
(``trainkit.optim.adam.RULE``); this package never imports the optimizers.
"""
from __future__ import annotations

import ast
import inspect
import os
import textwrap
from typing import Callable

import numpy as np

from ...backend import get_array_module
from .prologue import prologue_signature, prologue_statements
from .cupy_backend import bind_cupy
from .numba_backend import bind_numba, numba_available
from .numpy_backend import bind_numpy, math_namespace

# The math namespace rules see by default (numpy); each backend rebinds it.
M = math_namespace(np)


class Rule:
    """An element-wise rule and its signature.

    Args:
        name: identifier used for generated kernels.
        fn: the rule's body (see the module docstring); its arguments are
            ``arrays`` + ``scalars`` + ``flags`` (the body's own, without the prologue's).
        arrays: names of the array arguments, in order (``param`` and ``grad`` first).
        outputs: names of the arrays the rule returns new values for, in order.
        scalars: the body's per-call scalar arguments (cast to the array dtype).
        flags: the body's boolean arguments (compile-time constants when fused).
        optional: arrays that may be absent.
        prologue: the :mod:`.prologue` flags the rule starts with (``maximize``,
            ``l2``, ``decoupled``).

    Attributes:
        scalars, flags: the full lists (prologue's first), as callers pass them.
        source: the combined function (prologue inlined), compiled by every backend.
        function: ``source`` compiled, with numpy's :data:`M`.
    """

    def __init__(self, name: str, fn: Callable, arrays: tuple[str, ...], outputs: tuple[str, ...],
                 scalars: tuple[str, ...], flags: tuple[str, ...] = (), optional: tuple[str, ...] = (),
                 prologue: tuple[str, ...] = ()):
        pro_scalars, pro_flags = prologue_signature(tuple(prologue))
        self.name, self.fn = name, fn
        self.arrays, self.outputs, self.optional = tuple(arrays), tuple(outputs), tuple(optional)
        self.prologue = pro_flags
        self.scalars = pro_scalars + tuple(scalars)
        self.flags = pro_flags + tuple(flags)
        params = tuple(inspect.signature(fn).parameters)
        expected = self.arrays + tuple(scalars) + tuple(flags)
        if params != expected:
            raise TypeError(
                f"rule {name!r}: function arguments {params} do not match "
                f"arrays + scalars + flags {expected}"
            )
        missing = [o for o in self.outputs if o not in self.arrays]
        if missing:
            raise TypeError(f"rule {name!r}: outputs {missing} are not arrays")
        self.source = self._combined_source()
        namespace = {"M": M}
        exec(compile(self.source, f"<trainkit rule {name}>", "exec"), namespace)  # noqa: S102 - our own source
        self.function = namespace[fn.__name__]

    def _combined_source(self) -> str:
        """The body's source with the prologue's statements in front and the full argument list."""
        tree = ast.parse(textwrap.dedent(inspect.getsource(self.fn)))
        fn = tree.body[0]
        body = fn.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # docstring
        fn.decorator_list, fn.returns = [], None
        fn.args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=a) for a in self.arrays + self.scalars + self.flags],
                                kwonlyargs=[], kw_defaults=[], defaults=[])
        fn.body = prologue_statements(self.prologue) + body
        return ast.unparse(ast.fix_missing_locations(tree)) + "\n"

    def __repr__(self) -> str:
        return f"Rule({self.name!r}, arrays={self.arrays}, scalars={self.scalars}, flags={self.flags})"


def update_rule(fn: Callable, state: tuple[str, ...], optional: tuple[str, ...] = (),
                prologue: tuple[str, ...] = ()) -> Rule:
    """The :class:`Rule` of an optimizer's update function, read from its signature.

    ``fn(param, grad, *state, *scalars, *, *flags)``: the state arrays named in
    ``state`` follow ``param`` and ``grad``, the remaining positional arguments
    are the scalars and the keyword-only ones the flags; ``fn`` returns the new
    ``param`` and state arrays, in that order. The rule is named after ``fn``
    without its ``_update`` suffix (``adam_update`` -> ``"adam"``).
    """
    arguments = inspect.signature(fn).parameters.values()
    positional = tuple(a.name for a in arguments if a.kind is a.POSITIONAL_OR_KEYWORD)
    flags = tuple(a.name for a in arguments if a.kind is a.KEYWORD_ONLY)
    arrays = ("param", "grad") + tuple(state)
    if positional[:len(arrays)] != arrays:
        raise TypeError(f"update rule {fn.__name__}: arguments must start with {arrays}, got {positional}")
    name = fn.__name__.removesuffix("_update")
    return Rule(name, fn, arrays=arrays, outputs=("param",) + tuple(state), scalars=positional[len(arrays):],
                flags=flags, optional=optional, prologue=prologue)


def default_backend(xp) -> str:
    """The fastest available backend for arrays of module ``xp``.

    ``TRAINKIT_OPTIM_BACKEND`` (``numpy``, ``numba``, ``cupy``) overrides the
    choice for CPU arrays (``numpy``/``numba``) and GPU arrays (``cupy``/``numpy``):
    a selector for comparing the optimizer paths. The switch that turns numba off
    for all of trainkit is ``TRAINKIT_DISABLE_NUMBA`` (:func:`trainkit.backend.numba_available`);
    without numba, CPU arrays take ``numpy`` whatever is selected.
    """
    forced = forced_backend()
    if xp is np:
        if forced == "numpy":
            return "numpy"
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
        launch = bind_numpy(rule, arrays, flag_values)
    elif backend == "numba":
        if xp is not np:
            raise ValueError("the numba backend runs on numpy (CPU) arrays only")
        launch = bind_numba(rule, arrays, flag_values)
    elif backend == "cupy":
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
