"""How a set of parameters becomes optimizer groups: one group per (rule, layer, no_decay).

:class:`GroupMaker` is shared by the initial groups
(:func:`trainkit.params.build_param_groups`) and the groups ``unfreeze`` adds
later (:func:`trainkit.params.build_unfreeze_groups`), so an unfrozen
parameter gets exactly the lr and weight decay it would have had if it had
never been frozen.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import ParamRuleError
from .layers import geometric_lrs, is_no_decay, layer_key, layer_keys, owners
from .rules import RULE_KEYS

__all__ = ["GroupMaker"]


class GroupMaker:
    """Turns parameters into groups by (rule, layer, no_decay): shared by the initial and the unfrozen groups.

    Args:
        model: the Module (for the owners of parameters, with ``no_decay``).
        named, owner_rule: from :func:`trainkit.params.resolve.resolve`.
        rules: the normalised ``param_groups`` rules.
        base_lr, weight_decay, no_decay, layer_decay, lr_slice: as for
            :func:`trainkit.params.build_param_groups`.
        training: the names of every parameter that trains at some point
            (now or after an unfreeze): ``lr_slice`` spreads over their rules.
    """

    def __init__(self, model, named, rules, owner_rule, *, base_lr, weight_decay, no_decay, layer_decay,
                 lr_slice, training: Sequence[str]) -> None:
        names = [n for n, _ in named]
        self.rules, self.owner_rule = rules, owner_rule
        self.base_lr, self.weight_decay = base_lr, weight_decay
        self.no_decay, self.layer_decay = bool(no_decay), layer_decay
        self.owners = owners(model) if no_decay else {}
        self.keys = layer_keys(names) if layer_decay is not None else []
        self.position = {n: k for k, n in enumerate(names)}
        self.slice_lrs: dict[int, float] = {}
        if lr_slice is not None:
            first_seen: dict[int, int] = {}  # rule -> position of its first trained parameter in the model
            for n in training:
                first_seen.setdefault(owner_rule.get(n, -1), self.position[n])
            rule_ids = sorted(first_seen, key=first_seen.get)
            spread = geometric_lrs(float(lr_slice[0]), float(lr_slice[1]), len(rule_ids))
            self.slice_lrs = dict(zip(rule_ids, spread))

    def groups(self, members, *, prefix: str | None = None, override: Mapping | None = None) -> list[dict]:
        """Groups of ``members`` (``(name, param)`` pairs), named after their rule, or ``prefix/...``.

        ``override``: an unfreeze rule's ``lr`` (replaces the rule's rate) or
        ``lr_mult`` (multiplies it); layer decay applies on top.
        """
        buckets: dict[tuple[int, int, bool], list] = {}
        for n, p in members:
            rule_idx = self.owner_rule.get(n, -1)
            layer = self.keys.index(layer_key(n)) if self.keys else -1
            nd = self.no_decay and is_no_decay(n, p, self.owners.get(n))
            buckets.setdefault((rule_idx, layer, nd), []).append((n, p))
        order = sorted(buckets, key=lambda k: (k[0], self.position[buckets[k][0][0]]))
        several_rules = len({k[0] for k in buckets}) > 1
        override = override or {}
        out = []
        for key in order:
            rule_idx, layer, nd = key
            rule = self.rules[rule_idx] if rule_idx >= 0 else {}
            members_ = buckets[key]
            group = {k: v for k, v in rule.items() if k not in RULE_KEYS and not k.startswith("_")}
            group["params"] = [p for _, p in members_]
            group["param_names"] = [n for n, _ in members_]
            rule_name = rule.get("name", "default")
            if prefix is None:
                name = rule_name
            else:
                name = prefix + (f"/{rule_name}" if several_rules else "")
            if layer >= 0:
                name += f"/layer{layer}"
            if nd:
                name += "/no_decay"
            group["name"] = name
            if "lr" in override:
                lr = float(override["lr"])
            else:
                lr = _group_lr(rule, self.base_lr, self.slice_lrs.get(rule_idx), rule_idx)
                if lr is not None and "lr_mult" in override:
                    lr *= float(override["lr_mult"])
            if lr is not None and layer >= 0:
                lr = lr * float(self.layer_decay) ** (len(self.keys) - 1 - layer)
            if lr is not None:
                group["lr"] = lr
            wd = rule.get("weight_decay", self.weight_decay)
            if nd:
                wd = 0.0
            if wd is not None:
                group["weight_decay"] = wd
            out.append(group)
        return out


def _group_lr(rule: Mapping, base_lr, slice_lr, rule_idx: int):
    if "lr" in rule:
        return float(rule["lr"])
    start = slice_lr if slice_lr is not None else base_lr
    if "lr_mult" in rule:
        if start is None:
            raise ParamRuleError(
                f"param_groups[{rule_idx}] ({rule['params']!r}) uses lr_mult but no base_lr was given"
            )
        return float(start) * float(rule["lr_mult"])
    return None if start is None else float(start)
