"""The plain path: call the rule once on whole flat arrays (numpy or cupy).

The rule's combined function (:attr:`~.rule.Rule.function`, prologue included)
runs with ``M`` bound to the arrays' module.

Every operation makes one pass over memory, so a step costs a handful of
passes; this is the reference the fused backends are tested against.
"""
from __future__ import annotations

import types

from ...backend import get_array_module


def math_namespace(xp) -> types.SimpleNamespace:
    """The ``M`` namespace a rule sees on the plain path for array module ``xp``."""
    return types.SimpleNamespace(
        sqrt=xp.sqrt,
        maximum=xp.maximum,
        minimum=xp.minimum,
        abs=xp.abs,
        sign=xp.sign,
        where=xp.where,
    )


_BOUND: dict = {}


def bind(fn, xp):
    """``fn`` with its global ``M`` bound to ``xp``'s math (cached)."""
    key = (fn, xp.__name__)
    bound = _BOUND.get(key)
    if bound is None:
        globs = dict(fn.__globals__)
        globs["M"] = math_namespace(xp)
        bound = types.FunctionType(fn.__code__, globs, fn.__name__, fn.__defaults__)
        _BOUND[key] = bound
    return bound


def bind_numpy(rule, arrays, flags):
    """A callable ``run(values)`` evaluating ``rule`` on whole arrays, in place.

    ``values`` are the rule's scalars in order (Python floats); each is cast to
    the arrays' dtype first, exactly as numpy would cast it against the array.
    """
    param = arrays[rule.arrays[0]]
    dtype = param.dtype.type
    fn = bind(rule.function, get_array_module(param))
    inputs = [arrays[a] if arrays.get(a) is not None else param for a in rule.arrays]
    flag_values = [flags[f] for f in rule.flags]
    targets = [arrays.get(name) for name in rule.outputs]

    def run(values) -> None:
        results = fn(*inputs, *[dtype(v) for v in values], *flag_values)
        for target, value in zip(targets, results):
            if target is not None and value is not target:
                target[...] = value

    return run

