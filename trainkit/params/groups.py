"""The initial param groups of a run, built from name rules (``build_param_groups``).

This replaces the hand-written ``id()`` filters of the usual fine-tuning
recipes (and the positional-argument mistake of passing a ``filter(...)``
*and* param groups to an optimizer): freeze, rules, ``no_decay``,
``layer_decay`` and ``lr_slice`` give torch-style groups in one call, and
every rule that does not fit the model is an error before training.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .errors import ParamRuleError, all_frozen_error
from .maker import GroupMaker
from .resolve import match_unfreeze, resolve
from .rules import check_options, normalise_rules, normalise_unfreeze

__all__ = ["build_param_groups"]


def build_param_groups(
    model,
    rules=None,
    *,
    base_lr: float | None = None,
    weight_decay: float | None = None,
    freeze=None,  # noqa: A002 - the config key
    no_decay: bool = False,
    layer_decay: float | None = None,
    lr_slice: Sequence[float] | None = None,
    unfreeze: Mapping | None = None,
    allowed_keys: Iterable[str] | None = None,
) -> list[dict]:
    """Torch-style param groups from name rules.

    Args:
        model: a Module (``named_parameters()`` gives dotted names).
        rules: ``[{params: 'features.*', lr: 1e-5}, {params: 'classifier.*', lr_mult: 10,
            weight_decay: 0}, ...]``. Other keys must be hyperparameters of the
            optimizer (``momentum``, ``betas``...; see ``allowed_keys``) and are
            copied into the group. Trainable parameters no rule matches form
            the ``default`` group (first), at ``base_lr``. A rule whose
            parameters are all frozen forms no group now: it applies when
            ``unfreeze`` adds them back.
        base_lr: the run's lr; ``lr_mult`` is relative to it. When ``None``,
            groups without an explicit lr leave ``lr`` out (the optimizer's default applies).
        weight_decay: default weight decay of every group (left out when ``None``).
        freeze: patterns frozen first (``requires_grad=False``); frozen parameters
            are in no group.
        no_decay: biases, 1-d and normalisation-layer parameters go to
            ``<group>/no_decay`` groups with ``weight_decay=0``.
        layer_decay: timm/BEiT layer-wise decay: with layer keys from
            :func:`layer_keys` (head last), a parameter in layer ``i`` of ``L``
            gets ``lr * layer_decay ** (L - 1 - i)``.
        lr_slice: ``(low, high)``: the groups, ordered by where their first
            parameter sits in the model, get rates spread geometrically from
            ``low`` to ``high`` (fastai's discriminative ``slice``); an explicit
            rule ``lr`` wins, ``lr_mult`` multiplies. Groups that ``unfreeze``
            adds later count in the spread.
        unfreeze: the ``{pattern: epoch | {epoch, lr | lr_mult}}`` rules that will
            add frozen parameters back (see :func:`build_unfreeze_groups`); checked
            here, before training: each must match frozen parameters only.
        allowed_keys: the optimizer's hyperparameter names (:func:`optimizer_keys`);
            a rule key that is neither one of them nor ``params``, ``lr``,
            ``lr_mult``, ``weight_decay``, ``name`` is an error naming the closest
            key. Default: the hyperparameters of trainkit's built-in optimizers.

    Returns:
        A list of dicts with ``params`` (Parameters), ``param_names``, ``name``,
        and ``lr`` / ``weight_decay`` where known, ready for an optimizer.

    Raises:
        ParamRuleError: a parameter matched by two rules, a rule matching
            nothing, a rule key that is not a hyperparameter, a rule matching only
            frozen parameters that nothing unfreezes, everything frozen, an
            unfreeze rule matching nothing or trainable parameters, or an invalid option.
    """
    check_options(layer_decay, lr_slice)
    rules = normalise_rules(rules, allowed_keys)
    unfreeze = normalise_unfreeze(unfreeze) if unfreeze else {}
    named, frozen_by, owner_rule, rule_hits = resolve(model, rules, freeze)
    names = [n for n, _ in named]

    trainable = [(n, p) for n, p in named if p.requires_grad]
    if not trainable:
        raise all_frozen_error(named, frozen_by)

    pending = match_unfreeze(names, unfreeze)
    for pat, hits in pending.items():
        live = [n for n in hits if n not in frozen_by]
        if live:
            more = f" and {len(live) - 5} more" if len(live) > 5 else ""
            raise ParamRuleError(
                f"unfreeze rule {pat!r} matches {len(live)} parameters that are not frozen "
                f"({', '.join(live[:5])}{more}); it can only add frozen parameters back. "
                "Narrow the pattern, or freeze them first (freeze: [...])"
            )
    coming = {n for hits in pending.values() for n in hits}
    for i, hits in rule_hits.items():
        if all(n in frozen_by for n in hits) and not any(n in coming for n in hits):
            by = ", ".join(dict.fromkeys(repr(frozen_by[n]) for n in hits))
            raise ParamRuleError(
                f"rule param_groups[{i}] ({rules[i]['params']!r}) matches only frozen parameters "
                f"(frozen by {by}), so it would form no group. Drop the rule, narrow the freeze "
                "patterns, or add them back at an epoch with unfreeze (the rule's lr and "
                "weight_decay then apply to them)"
            )

    training = [n for n, p in named if p.requires_grad or n in coming]
    maker = GroupMaker(model, named, rules, owner_rule, base_lr=base_lr, weight_decay=weight_decay,
                       no_decay=no_decay, layer_decay=layer_decay, lr_slice=lr_slice, training=training)
    return maker.groups(trainable)
