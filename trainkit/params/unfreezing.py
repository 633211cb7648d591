"""The param groups ``unfreeze`` rules add at a later epoch, built like the initial ones.

An unfrozen parameter must train exactly as if it had never been frozen, so
these groups come from the same rules and the same :class:`GroupMaker` as
:func:`trainkit.params.build_param_groups`; :func:`pending_unfreeze_rows` lists
them for the group table before training starts.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .errors import ParamRuleError
from .maker import GroupMaker
from .resolve import match_unfreeze, resolve
from .rules import check_options, normalise_rules, normalise_unfreeze

__all__ = ["build_unfreeze_groups", "pending_unfreeze_rows"]


def build_unfreeze_groups(
    model,
    unfreeze: Mapping,
    rules=None,
    *,
    base_lr: float | None = None,
    weight_decay: float | None = None,
    no_decay: bool = False,
    layer_decay: float | None = None,
    lr_slice: Sequence[float] | None = None,
    active: Iterable[str] | None = None,
    only: Iterable[str] | None = None,
    allowed_keys: Iterable[str] | None = None,
) -> dict[str, list[dict]]:
    """The param groups each ``unfreeze`` rule adds, built exactly like :func:`build_param_groups`'s.

    An unfrozen parameter gets the group it would have had if it had never been
    frozen: its ``param_groups`` rule (lr, lr_mult, weight_decay, extra keys),
    ``no_decay``, ``layer_decay`` and ``lr_slice``; the unfreeze rule's ``lr``
    replaces the rate, its ``lr_mult`` multiplies it. Groups are named
    ``unfreeze:<pattern>``, plus ``/<rule name>`` when the pattern spans several
    rules, ``/layer<i>`` and ``/no_decay`` as in :func:`build_param_groups`; so one
    rule may add ``unfreeze:features.*`` and ``unfreeze:features.*/no_decay``.

    Args:
        model: the Module.
        unfreeze: ``{pattern: epoch | {epoch, lr | lr_mult}}`` (all the run's rules:
            ``lr_slice`` spreads over every group that trains at some point).
        rules, base_lr, weight_decay, no_decay, layer_decay, lr_slice, allowed_keys:
            as for :func:`build_param_groups` (pass the same values).
        active: names of the parameters being optimized now (default: those with
            ``requires_grad``); they are left out of the new groups.
        only: the patterns to build (default: all).

    Returns:
        ``{pattern: groups}``; an empty list when all its parameters are active.
    """
    check_options(layer_decay, lr_slice)
    rules = normalise_rules(rules, allowed_keys)
    unfreeze = normalise_unfreeze(unfreeze)
    named, _, owner_rule, _ = resolve(model, rules, None)
    names = [n for n, _ in named]
    active = {n for n, p in named if p.requires_grad} if active is None else set(active)
    hits = match_unfreeze(names, unfreeze)
    coming = {n for h in hits.values() for n in h}
    training = [n for n in names if n in active or n in coming]
    maker = GroupMaker(model, named, rules, owner_rule, base_lr=base_lr, weight_decay=weight_decay,
                       no_decay=no_decay, layer_decay=layer_decay, lr_slice=lr_slice, training=training)
    by_name = dict(named)
    out = {}
    for pat in (unfreeze if only is None else only):
        if pat not in unfreeze:
            raise ParamRuleError(f"{pat!r} is not one of the unfreeze rules {list(unfreeze)}")
        fresh = [(n, by_name[n]) for n in hits[pat] if n not in active]
        out[pat] = maker.groups(fresh, prefix=f"unfreeze:{pat}", override=unfreeze[pat]) if fresh else []
    return out



def pending_unfreeze_rows(model, unfreeze, rules=None, **options) -> list[tuple[int, dict]]:
    """``(epoch, group)`` for every group the ``unfreeze`` rules will add (for the table)."""
    if not unfreeze:
        return []
    spec = normalise_unfreeze(unfreeze)
    built = build_unfreeze_groups(model, spec, rules, **options)
    return [(spec[pat]["epoch"], g) for pat, groups in built.items() for g in groups]
