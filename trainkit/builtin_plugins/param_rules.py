"""Freeze / param-group rules from the config, and the ``unfreeze`` plugin.

Config keys (all optional)::

    freeze: ["re:.*seg.*"]
    param_groups:
      - {params: "features.*", lr: 1e-5}
      - {params: "classifier.*", lr: 1e-2, weight_decay: 0}
    no_decay: true
    layer_decay: 0.75          # or lr_slice: [1e-5, 1e-3]
    unfreeze: {"features.*": 5}            # or {"features.*": {epoch: 5, lr_mult: 0.1}}

:func:`trainkit.compose.build_groups` turns them into torch-style groups plus the
resolved table (printed at the start of a run and logged; ``trainkit groups``
prints it and exits), with a row per group that ``unfreeze`` adds later.
:class:`Unfreezer` adds frozen parameters back at a given epoch, in groups
built by the same rules (``no_decay``, ``param_groups``, ``layer_decay``).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from ..hookspecs import hookimpl
from ..params import (
    ParamRuleError,
    build_unfreeze_groups,
    match_names,
    normalise_rules,
    normalise_unfreeze,
)

__all__ = ["Unfreezer"]

log = logging.getLogger("trainkit.param_rules")


def _is_group_of(name, prefix: str) -> bool:
    return isinstance(name, str) and (name == prefix or name.startswith(prefix + "/"))


class Unfreezer:
    """Unfreezes parameters at given epochs; each rule adds its param group(s) exactly once.

    At ``on_epoch_start(trainer, epoch)``, every rule whose epoch has come sets
    ``requires_grad=True`` on its parameters and adds them to
    ``trainer.optimizer`` in groups built like the initial ones
    (:func:`trainkit.params.build_unfreeze_groups`): named ``unfreeze:<pattern>``
    (plus ``/no_decay``, ``/layer<i>``, ``/<rule>`` suffixes where the rules split
    them), with the lr / weight_decay they would have had if never frozen (their
    ``param_groups`` rule, ``no_decay``, ``layer_decay``), the unfreeze rule's
    ``lr`` replacing or its ``lr_mult`` multiplying that rate. Every scheduler of
    the trainer then follows the new groups (``LRScheduler.follow_new_group``:
    ``OneCycleLR``/``CyclicLR`` take the group's lr as its peak and join the
    cycle where the other groups are).

    The rules are checked at ``on_fit_start`` (a pattern matching nothing, or
    parameters the optimizer already has, is a ParamRuleError before training);
    with the config, ``build_groups`` checks them even before the run starts.

    Args:
        rules: ``{pattern: epoch}`` or ``{pattern: {epoch: int, lr: float | lr_mult: float}}``.
        lr: the base lr of unfrozen groups (``lr_mult`` is relative to it;
            default: the optimizer's ``defaults["lr"]``).
        param_groups, no_decay, layer_decay, lr_slice, weight_decay, allowed_keys:
            the same options the initial groups were built with
            (:func:`trainkit.params.build_param_groups`); ``weight_decay=None``
            leaves the optimizer's default.
    """

    name = "unfreeze"
    default = False

    def __init__(self, rules: Mapping, lr: float | None = None, *, param_groups=None, no_decay: bool = False,
                 layer_decay: float | None = None, lr_slice=None, weight_decay: float | None = None,
                 allowed_keys: Iterable[str] | None = None) -> None:
        self.rules: dict[str, dict] = normalise_unfreeze(rules)
        normalise_rules(param_groups, allowed_keys)  # key typos fail now, not at the unfreeze epoch
        self.lr = lr
        self.options = dict(no_decay=bool(no_decay), layer_decay=layer_decay, lr_slice=lr_slice,
                            weight_decay=weight_decay, allowed_keys=allowed_keys)
        self.param_groups = param_groups
        self.applied: list[str] = []

    def group_name(self, pattern: str) -> str:
        """The name of the group ``pattern`` adds (the prefix of all of them when the rules split it)."""
        return f"unfreeze:{pattern}"

    def _active_names(self, trainer) -> set[str]:
        by_id = {id(p): n for n, p in trainer.model.named_parameters()}
        return {by_id[id(p)] for g in trainer.optimizer.param_groups for p in g["params"] if id(p) in by_id}

    def _groups(self, trainer, patterns) -> dict[str, list[dict]]:
        base = self.lr if self.lr is not None else trainer.optimizer.defaults.get("lr")
        return build_unfreeze_groups(trainer.model, self.rules, self.param_groups, base_lr=base,
                                     active=self._active_names(trainer), only=patterns, **self.options)

    def _apply(self, trainer, pattern: str) -> None:
        optimizer = trainer.optimizer
        named = list(trainer.model.named_parameters())
        names = match_names([n for n, _ in named], pattern, what="unfreeze rule")
        by_name = dict(named)
        prefix = self.group_name(pattern)
        if not any(_is_group_of(g.get("name"), prefix) for g in optimizer.param_groups):
            groups = self._groups(trainer, [pattern])[pattern]
            if not groups:
                raise ParamRuleError(
                    f"unfreeze rule {pattern!r}: all {len(names)} matching parameters are already "
                    "in the optimizer; nothing to add"
                )
            for group in groups:
                optimizer.add_param_group(group)
                _follow(trainer, optimizer.param_groups[-1])
                g = optimizer.param_groups[-1]
                log.info("unfroze %d parameters matching %r as group %r (lr %g, weight_decay %s)",
                         len(g["params"]), pattern, g.get("name"), g["lr"], g.get("weight_decay"))
        for n in names:
            by_name[n].requires_grad = True
        if pattern not in self.applied:
            self.applied.append(pattern)

    @hookimpl
    def on_fit_start(self, trainer):
        """Check the rules still to come against the model and optimizer, before the first epoch."""
        waiting = [p for p in self.rules if p not in self.applied]
        if not waiting:
            return
        built = self._groups(trainer, waiting)  # patterns/rules matching nothing, overlaps
        for pattern in waiting:
            if not built[pattern]:
                raise ParamRuleError(
                    f"unfreeze rule {pattern!r} matches only parameters the optimizer already has; "
                    "it can only add frozen parameters back (check params.freeze and the pattern)"
                )

    @hookimpl
    def on_epoch_start(self, trainer, epoch):
        for pattern, spec in self.rules.items():
            if pattern not in self.applied and epoch >= spec["epoch"]:
                self._apply(trainer, pattern)

    @hookimpl
    def on_load_checkpoint(self, trainer, checkpoint):
        """Re-add the groups of the rules applied before the checkpoint (``load_state_dict`` ran first),
        so the optimizer state, restored next, finds the same param groups."""
        for pattern in list(self.applied):  # idempotent: adds a group only if missing
            self._apply(trainer, pattern)

    def state_dict(self) -> dict:
        return {"applied": list(self.applied)}

    def load_state_dict(self, state: Mapping) -> None:
        unknown = [p for p in state["applied"] if p not in self.rules]
        if unknown:
            raise ValueError(
                f"unfreeze checkpoint names rules {unknown} that this run does not have: {sorted(self.rules)}"
            )
        self.applied = list(state["applied"])


def _follow(trainer, group: dict) -> None:
    """Let the trainer's schedulers follow a param group added to their optimizer."""
    for sched in list(getattr(trainer, "schedulers", None) or []):
        follow = getattr(sched, "follow_new_group", None)
        if follow is not None:
            follow(group)
        elif hasattr(sched, "base_lrs"):  # a scheduler from elsewhere: at least grow its base lrs
            sched.base_lrs.append(group.setdefault("initial_lr", group["lr"]))


@hookimpl
def register_callbacks(register):
    """``unfreeze``: :class:`Unfreezer`, built as ``Unfreezer(rules, lr=None)`` from the config."""
    register("unfreeze", Unfreezer)
