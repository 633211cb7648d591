"""The plain path: call the rule once on whole flat arrays (numpy or cupy).

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


def run_numpy(rule, arrays, scalars, flags) -> None:
    """Evaluate ``rule`` on whole arrays and write its outputs back in place."""
    param = arrays[rule.arrays[0]]
    xp = get_array_module(param)
    args = [arrays[a] if arrays.get(a) is not None else param for a in rule.arrays]
    args += [scalars[s] for s in rule.scalars]
    args += [flags[f] for f in rule.flags]
    results = bind(rule.fn, xp)(*args)
    for name, value in zip(rule.outputs, results):
        target = arrays.get(name)
        if target is None:
            continue
        if value is not target:
            target[...] = value
