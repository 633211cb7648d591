"""Which rule owns each parameter, and who froze it: the model-dependent half of the rules.

Both group builders start here. A parameter belongs to at most one
``param_groups`` rule and at most one ``unfreeze`` rule; two rules sharing a
parameter, or a rule matching nothing, is an error naming them, so groups
never overlap (an optimizer given one parameter twice would update it twice).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import ParamRuleError
from .patterns import match_names, pattern_list

__all__ = ["resolve", "match_unfreeze"]


def resolve(model, rules: list[dict], freeze_patterns):
    """Freeze, then ``(named, frozen_by, owner_rule, rule_hits)``: who froze what, which rule owns what.

    Args:
        model: the Module.
        rules: normalised ``param_groups`` rules (:func:`trainkit.params.rules.normalise_rules`).
        freeze_patterns: patterns to freeze first, or None.

    Returns:
        ``named``: the ``(name, parameter)`` pairs; ``frozen_by``: frozen name ->
        the pattern that froze it (or a note that it was frozen before the rules);
        ``owner_rule``: name -> index of its rule; ``rule_hits``: rule index ->
        the names it matched, in model order.
    """
    named = list(model.named_parameters())
    names = [n for n, _ in named]
    if not named:
        raise ParamRuleError(f"{type(model).__name__} has no parameters to group")
    frozen_by: dict[str, str] = {}
    if freeze_patterns:
        for pat in pattern_list(freeze_patterns):
            for n in match_names(names, pat, what="freeze rule"):
                frozen_by.setdefault(n, pat)
        for n, p in named:
            if n in frozen_by:
                p.requires_grad = False
    for n, p in named:
        if not p.requires_grad and n not in frozen_by:
            frozen_by[n] = "(requires_grad=False before the rules)"

    # assign each parameter to at most one rule
    owner_rule: dict[str, int] = {}
    rule_hits: dict[int, list[str]] = {}
    for i, rule in enumerate(rules):
        for pat in rule["_patterns"]:
            for n in match_names(names, pat, what=f"param_groups[{i}] rule"):
                j = owner_rule.get(n)
                if j is not None and j != i:
                    raise ParamRuleError(
                        f"parameter {n!r} is matched by two rules: param_groups[{j}] "
                        f"({rules[j]['params']!r}) and param_groups[{i}] ({rule['params']!r}); "
                        "make the patterns disjoint"
                    )
                owner_rule[n] = i
                if n not in rule_hits.setdefault(i, []):
                    rule_hits[i].append(n)
    return named, frozen_by, owner_rule, rule_hits


def match_unfreeze(names: Sequence[str], unfreeze: Mapping[str, dict]) -> dict[str, list[str]]:
    """Each unfreeze pattern's parameter names; a pattern matching nothing, or two sharing one, is an error."""
    hits: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for pat in unfreeze:
        hits[pat] = match_names(names, pat, what="unfreeze rule")
        for n in hits[pat]:
            if n in owner:
                raise ParamRuleError(
                    f"parameter {n!r} is matched by two unfreeze rules: {owner[n]!r} and {pat!r}; "
                    "make the patterns disjoint"
                )
            owner[n] = pat
    return hits
