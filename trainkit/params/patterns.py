"""Name patterns over a model's dotted parameter names: globs and ``re:`` regular expressions.

A pattern is a glob (``features.*``; ``*`` also crosses dots) or, with the
``re:`` prefix, a regular expression that must match the whole name
(``re:.*seg.*`` = "contains seg"). Every rule (freeze, param_groups, unfreeze)
selects parameters through :func:`match_names`, so a pattern matching nothing
is always an error naming the closest parameters, never a silent no-op.
"""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence

from .errors import ParamRuleError, no_match_error

__all__ = ["compile_pattern", "pattern_list", "match_names"]


def compile_pattern(pattern: str):
    """A predicate ``name -> bool`` for a glob or ``re:`` pattern."""
    if not isinstance(pattern, str) or not pattern:
        raise ParamRuleError(f"a parameter pattern must be a non-empty string, got {pattern!r}")
    if pattern.startswith("re:"):
        try:
            rx = re.compile(pattern[3:])
        except re.error as exc:
            raise ParamRuleError(f"invalid regular expression in pattern {pattern!r}: {exc}") from None
        return lambda name: rx.fullmatch(name) is not None
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def pattern_list(spec) -> list[str]:
    """A rule's ``params`` (one pattern or a list of them) as a list of patterns."""
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, Iterable):
        out = list(spec)
        if out and all(isinstance(p, str) for p in out):
            return out
    raise ParamRuleError(f"`params` must be a pattern string or a list of them, got {spec!r}")


def match_names(names: Sequence[str], pattern: str, *, what: str = "pattern") -> list[str]:
    """The names matching ``pattern``, in order; a pattern matching nothing is an error."""
    pred = compile_pattern(pattern)
    hits = [n for n in names if pred(n)]
    if not hits:
        raise no_match_error(what, pattern, names)
    return hits
