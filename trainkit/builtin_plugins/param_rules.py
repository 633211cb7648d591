"""Freeze / param-group rules from the config, and the ``unfreeze`` plugin.

Config keys (all optional)::

    freeze: ["re:.*seg.*"]
    param_groups:
      - {params: "features.*", lr: 1e-5}
      - {params: "classifier.*", lr: 1e-2, weight_decay: 0}
    no_decay: true
    layer_decay: 0.75          # or lr_slice: [1e-5, 1e-3]
    unfreeze: {"features.*": 5}            # or {"features.*": {epoch: 5, lr_mult: 0.1}}

:func:`param_groups_from_config` turns them into torch-style groups plus the
resolved table (printed at the start of a run and logged; ``trainkit groups``
prints it and exits). :class:`Unfreezer` adds frozen parameters back as a new
param group at a given epoch.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

from ..hookspecs import hookimpl
from ..params import ParamRuleError, build_param_groups, format_param_groups, match_names

__all__ = ["Unfreezer", "param_groups_from_config", "GROUP_KEYS"]

log = logging.getLogger("trainkit.param_rules")

#: config keys read by :func:`param_groups_from_config`.
GROUP_KEYS = ("freeze", "param_groups", "no_decay", "layer_decay", "lr_slice")


def param_groups_from_config(model, cfg: Mapping, *, base_lr=None, weight_decay=None) -> tuple[list[dict], str]:
    """``(groups, table)`` from the config keys of :data:`GROUP_KEYS` (others are ignored).

    Args:
        model: the Module.
        cfg: a mapping (e.g. an OmegaConf node converted to a dict).
        base_lr: the run's lr (``lr_mult`` is relative to it).
        weight_decay: the run's default weight decay.
    """
    cfg = dict(cfg or {})
    groups = build_param_groups(
        model,
        cfg.get("param_groups"),
        base_lr=base_lr,
        weight_decay=weight_decay,
        freeze=cfg.get("freeze"),
        no_decay=bool(cfg.get("no_decay", False)),
        layer_decay=cfg.get("layer_decay"),
        lr_slice=cfg.get("lr_slice"),
    )
    return groups, format_param_groups(groups, model)


class Unfreezer:
    """Unfreezes parameters at given epochs, each rule adding one new param group exactly once.

    At ``on_epoch_start(trainer, epoch)``, every rule whose epoch has come sets
    ``requires_grad=True`` on its parameters and calls
    ``trainer.optimizer.add_param_group`` with them, named ``unfreeze:<pattern>``,
    at the rule's ``lr`` (or ``lr_mult`` times the optimizer's default lr).
    Schedulers of the trainer get the new group's ``initial_lr`` appended to
    their ``base_lrs`` so they keep stepping (schedulers with other per-group
    lists, e.g. ``CyclicLR``, cannot follow a new group and raise).

    Args:
        rules: ``{pattern: epoch}`` or ``{pattern: {epoch: int, lr: float | lr_mult: float}}``.
        lr: default lr of unfrozen groups (default: the optimizer's ``defaults["lr"]``).
    """

    name = "unfreeze"
    default = False

    def __init__(self, rules: Mapping, lr: float | None = None) -> None:
        if not isinstance(rules, Mapping) or not rules:
            raise ValueError(f"unfreeze expects a non-empty mapping {{pattern: epoch}}, got {rules!r}")
        self.rules: dict[str, dict] = {}
        for pattern, spec in rules.items():
            spec = dict(spec) if isinstance(spec, Mapping) else {"epoch": spec}
            unknown = set(spec) - {"epoch", "lr", "lr_mult"}
            if unknown:
                raise ValueError(f"unfreeze[{pattern!r}] has unknown keys {sorted(unknown)}; use epoch, lr, lr_mult")
            epoch = spec.get("epoch")
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
                raise ValueError(f"unfreeze[{pattern!r}] epoch must be an int >= 0, got {epoch!r}")
            if "lr" in spec and "lr_mult" in spec:
                raise ValueError(f"unfreeze[{pattern!r}] sets both lr and lr_mult; give one")
            self.rules[pattern] = spec
        self.lr = lr
        self.applied: list[str] = []

    def group_name(self, pattern: str) -> str:
        return f"unfreeze:{pattern}"

    def _group_lr(self, optimizer, spec) -> float:
        if "lr" in spec:
            return float(spec["lr"])
        base = self.lr if self.lr is not None else optimizer.defaults["lr"]
        return float(base) * float(spec.get("lr_mult", 1.0))

    def _apply(self, trainer, pattern: str) -> None:
        optimizer = trainer.optimizer
        named = list(trainer.model.named_parameters())
        names = match_names([n for n, _ in named], pattern, what="unfreeze rule")
        by_name = dict(named)
        gname = self.group_name(pattern)
        if not any(g.get("name") == gname for g in optimizer.param_groups):
            in_groups = {id(p) for g in optimizer.param_groups for p in g["params"]}
            fresh = [n for n in names if id(by_name[n]) not in in_groups]
            if not fresh:
                raise ParamRuleError(
                    f"unfreeze rule {pattern!r}: all {len(names)} matching parameters are already "
                    "in the optimizer; nothing to add"
                )
            lr = self._group_lr(optimizer, self.rules[pattern])
            optimizer.add_param_group({
                "params": [by_name[n] for n in fresh],
                "param_names": fresh,
                "name": gname,
                "lr": lr,
                "initial_lr": lr,
            })
            _extend_schedulers(trainer, lr)
            log.info("unfroze %d parameters matching %r as group %r (lr %g)", len(fresh), pattern, gname, lr)
        for n in names:
            by_name[n].requires_grad = True
        if pattern not in self.applied:
            self.applied.append(pattern)

    @hookimpl
    def on_epoch_start(self, trainer, epoch):
        for pattern, spec in self.rules.items():
            if pattern not in self.applied and epoch >= spec["epoch"]:
                self._apply(trainer, pattern)

    @hookimpl
    def on_save_checkpoint(self, trainer, checkpoint):
        checkpoint.setdefault("plugins", {})[self.name] = self.state_dict()

    @hookimpl
    def on_load_checkpoint(self, trainer, checkpoint):
        state = checkpoint.get("plugins", {}).get(self.name)
        if state:
            self.load_state_dict(state)
            for pattern in list(self.applied):  # idempotent: adds a group only if missing
                self._apply(trainer, pattern)

    def state_dict(self) -> dict:
        return {"applied": list(self.applied)}

    def load_state_dict(self, state: Mapping) -> None:
        unknown = [p for p in state["applied"] if p not in self.rules]
        if unknown:
            raise ValueError(f"unfreeze checkpoint names rules {unknown} that this run does not have: {sorted(self.rules)}")
        self.applied = list(state["applied"])


def _extend_schedulers(trainer, lr: float) -> None:
    """Let existing schedulers follow a new param group (base_lrs / lambdas grow by one)."""
    stack = list(getattr(trainer, "schedulers", None) or [])
    while stack:
        sched = stack.pop()
        stack.extend(getattr(sched, "_schedulers", []))
        if hasattr(sched, "base_lrs"):
            sched.base_lrs.append(lr)
        if hasattr(sched, "lr_lambdas"):
            sched.lr_lambdas.append(sched.lr_lambdas[-1])
        if hasattr(sched, "_last_lr"):
            sched._last_lr = [g["lr"] for g in sched.optimizer.param_groups]


@hookimpl
def register_callbacks(register):
    """``unfreeze``: :class:`Unfreezer`, built as ``Unfreezer(rules, lr=None)`` from the config."""
    register("unfreeze", Unfreezer)
