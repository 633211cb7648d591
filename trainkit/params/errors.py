"""``ParamRuleError`` and the messages that explain a rule that does not fit the model.

Every mistake in a freeze / param-group / unfreeze rule is a
:class:`ParamRuleError` raised before training, with a message that says how
to fix it: the closest parameter names for a pattern matching nothing, the
closest key for a misspelt one, and who froze what when nothing is left to train.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence

__all__ = ["ParamRuleError", "no_match_error", "unknown_key_error", "all_frozen_error"]


class ParamRuleError(ValueError):
    """A freeze / param-group rule is wrong for this model (the message says how)."""


def closest_names(pattern: str, names: Sequence[str], n: int = 3) -> list[str]:
    probe = pattern[3:] if pattern.startswith("re:") else pattern
    probe = re.sub(r"[\^\$\*\?\[\]\\\(\)\+]|\.\*", "", probe)
    found = difflib.get_close_matches(probe, names, n=n, cutoff=0.3)
    return found or list(names[:n])


def no_match_error(what: str, pattern: str, names: Sequence[str]) -> ParamRuleError:
    """The error for ``pattern`` (a ``what``: "freeze rule", ...) matching none of ``names``."""
    close = ", ".join(closest_names(pattern, names)) or "(the model has no parameters)"
    return ParamRuleError(
        f"{what} {pattern!r} matches no parameter. Closest parameter names: {close}. "
        "Patterns are globs over dotted names ('features.*') or regular expressions "
        "matching the whole name ('re:.*seg.*')."
    )


def unknown_key_error(where: str, key, accepted: Sequence[str]) -> ParamRuleError:
    """The error for a rule key not in ``accepted``, suggesting the closest one."""
    close = difflib.get_close_matches(str(key), list(accepted), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ParamRuleError(f"{where} has unknown key {key!r}{hint}. Accepted: {', '.join(accepted)}")


def all_frozen_error(named, frozen_by: Mapping[str, str]) -> ParamRuleError:
    """The error when nothing is left to train: how many parameters (and elements) each rule froze."""
    counts: dict[str, list[int]] = {}
    sizes = {n: int(p.array.size) for n, p in named}
    for n, rule in frozen_by.items():
        c = counts.setdefault(rule, [0, 0])
        c[0] += 1
        c[1] += sizes[n]
    detail = "; ".join(f"{rule!r} froze {c[0]} parameters ({c[1]} elements)" for rule, c in counts.items())
    total = sum(sizes.values())
    return ParamRuleError(
        f"every parameter is frozen: {len(named)} parameters ({total} elements), nothing left to "
        f"optimize. {detail}. Narrow the freeze patterns or unfreeze some layers."
    )
