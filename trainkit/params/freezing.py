"""Freeze and unfreeze parameters by name pattern, in place, before or between runs.

Frozen parameters get ``requires_grad=False``; the group builders leave them
out of every group, so they never reach the optimizer and stay bit-identical
whatever the weight decay.
"""
from __future__ import annotations

from .patterns import match_names, pattern_list

__all__ = ["freeze", "unfreeze"]


def freeze(model, patterns) -> list[str]:
    """Set ``requires_grad=False`` on every parameter matching any of ``patterns``.

    Returns:
        The frozen parameter names, in model order.

    Raises:
        ParamRuleError: a pattern matches no parameter (the closest names are listed).
    """
    return _set_requires_grad(model, patterns, False, "freeze rule")


def unfreeze(model, patterns) -> list[str]:
    """Set ``requires_grad=True`` on every parameter matching any of ``patterns``."""
    return _set_requires_grad(model, patterns, True, "unfreeze rule")


def _set_requires_grad(model, patterns, flag: bool, what: str) -> list[str]:
    named = list(model.named_parameters())
    names = [n for n, _ in named]
    hit: set[str] = set()
    for pat in pattern_list(patterns):
        hit.update(match_names(names, pat, what=what))
    for n, p in named:
        if n in hit:
            p.requires_grad = flag
    return [n for n in names if n in hit]
