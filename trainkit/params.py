"""Name-pattern rules over a model's parameters: select, freeze, group, layer decay, no-decay.

Rules match torch's dotted parameter names (``features.0.weight``) with a glob
(``features.*``; ``*`` also crosses dots) or, with the ``re:`` prefix, a
regular expression that must match the whole name (``re:.*seg.*`` = "contains
seg"). Frozen parameters get ``requires_grad=False`` and are left out of every
group, so they never reach the optimizer and stay bit-identical whatever the
weight decay. This replaces the hand-written ``id()`` filters of the usual
fine-tuning recipes (and the positional-argument mistake of passing a
``filter(...)`` *and* param groups to an optimizer).

>>> # groups = build_param_groups(model, [{"params": "classifier.*", "lr": 1e-2}], base_lr=1e-5)
>>> # opt = trainkit.optim.SGD(groups, lr=1e-5, momentum=0.9)
"""
from __future__ import annotations

import difflib
import fnmatch
import inspect
import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "ParamRuleError",
    "compile_pattern",
    "match_names",
    "freeze",
    "unfreeze",
    "build_param_groups",
    "build_unfreeze_groups",
    "normalise_rules",
    "normalise_unfreeze",
    "optimizer_keys",
    "builtin_optimizer_keys",
    "layer_keys",
    "format_param_groups",
    "is_no_decay",
    "geometric_lrs",
]

NORM_MODULE_HINTS = ("Norm",)  # BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm, RMSNorm, ...


class ParamRuleError(ValueError):
    """A freeze / param-group rule is wrong for this model (the message says how)."""


# --------------------------------------------------------------------------- matching
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


def _patterns(spec) -> list[str]:
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, Iterable):
        out = list(spec)
        if out and all(isinstance(p, str) for p in out):
            return out
    raise ParamRuleError(f"`params` must be a pattern string or a list of them, got {spec!r}")


def _closest(pattern: str, names: Sequence[str], n: int = 3) -> list[str]:
    probe = pattern[3:] if pattern.startswith("re:") else pattern
    probe = re.sub(r"[\^\$\*\?\[\]\\\(\)\+]|\.\*", "", probe)
    found = difflib.get_close_matches(probe, names, n=n, cutoff=0.3)
    return found or list(names[:n])


def _no_match_error(what: str, pattern: str, names: Sequence[str]) -> ParamRuleError:
    close = ", ".join(_closest(pattern, names)) or "(the model has no parameters)"
    return ParamRuleError(
        f"{what} {pattern!r} matches no parameter. Closest parameter names: {close}. "
        "Patterns are globs over dotted names ('features.*') or regular expressions "
        "matching the whole name ('re:.*seg.*')."
    )


def match_names(names: Sequence[str], pattern: str, *, what: str = "pattern") -> list[str]:
    """The names matching ``pattern``, in order; a pattern matching nothing is an error."""
    pred = compile_pattern(pattern)
    hits = [n for n in names if pred(n)]
    if not hits:
        raise _no_match_error(what, pattern, names)
    return hits


# --------------------------------------------------------------------------- freezing
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
    for pat in _patterns(patterns):
        hit.update(match_names(names, pat, what=what))
    for n, p in named:
        if n in hit:
            p.requires_grad = flag
    return [n for n in names if n in hit]


# --------------------------------------------------------------------------- helpers
def _owners(model) -> dict[str, str]:
    """Parameter name -> class name of the module that owns it."""
    out = {}
    for mod_name, module in model.named_modules():
        for pname, p in module._parameters.items():
            if p is not None:
                out[f"{mod_name}.{pname}" if mod_name else pname] = type(module).__name__
    return out


def is_no_decay(name: str, param, owner: str | None = None) -> bool:
    """Whether weight decay should be off: biases, 1-d parameters and normalisation weights."""
    if param.data.ndim <= 1 or name.endswith(".bias") or name == "bias":
        return True
    return owner is not None and any(h in owner for h in NORM_MODULE_HINTS)


def layer_keys(names: Sequence[str]) -> list[str]:
    """Ordered layer keys for layer-wise lr decay, from input to head.

    A parameter's key is its first name component, or the first two when the
    second is a number (``blocks.3``, ``features.7``): the top-level blocks.
    Keys are ordered by first appearance in the model, so the last is the head.
    """
    keys: list[str] = []
    for n in names:
        k = _layer_key(n)
        if k not in keys:
            keys.append(k)
    return keys


def _layer_key(name: str) -> str:
    parts = name.split(".")
    if len(parts) > 2 and parts[1].isdigit():
        return ".".join(parts[:2])
    return parts[0] if len(parts) > 1 else name


def geometric_lrs(low: float, high: float, n: int) -> list[float]:
    """``n`` rates spread geometrically from ``low`` to ``high`` (fastai's ``slice(low, high)``)."""
    if low <= 0 or high <= 0:
        raise ParamRuleError(f"lr_slice bounds must be positive, got ({low}, {high})")
    if n == 1:
        return [float(high)]
    ratio = (high / low) ** (1.0 / (n - 1))
    return [low * ratio**i for i in range(n - 1)] + [float(high)]


# --------------------------------------------------------------------------- groups
_RULE_KEYS = ("params", "lr", "lr_mult", "weight_decay", "name")
UNFREEZE_KEYS = ("epoch", "lr", "lr_mult")
_BUILTIN_KEYS: tuple[str, ...] | None = None


def optimizer_keys(optimizer) -> tuple[str, ...] | None:
    """The hyperparameter names ``optimizer`` accepts in a param group, for ``allowed_keys``.

    Args:
        optimizer: an optimizer instance (its ``defaults``), or a class/factory
            (its signature after the first, ``params``, argument).

    Returns:
        The names, or None when they cannot be known (a factory taking ``**kwargs``).
    """
    defaults = getattr(optimizer, "defaults", None)
    if isinstance(defaults, Mapping):
        return tuple(defaults)
    try:
        sig = inspect.signature(optimizer)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())[1:]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind is not p.VAR_POSITIONAL)


def builtin_optimizer_keys() -> tuple[str, ...]:
    """Every hyperparameter name of trainkit's built-in optimizers (rule keys when the optimizer is unknown)."""
    global _BUILTIN_KEYS
    if _BUILTIN_KEYS is None:
        from . import optim
        from .optim.optimizer import Optimizer

        keys: list[str] = []
        for name in optim.__all__:
            obj = getattr(optim, name, None)
            if isinstance(obj, type) and issubclass(obj, Optimizer) and obj is not Optimizer:
                keys += [k for k in optimizer_keys(obj) or () if k not in keys]
        _BUILTIN_KEYS = tuple(sorted(keys))
    return _BUILTIN_KEYS


def _unknown_key_error(where: str, key, accepted: Sequence[str]) -> ParamRuleError:
    close = difflib.get_close_matches(str(key), list(accepted), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ParamRuleError(f"{where} has unknown key {key!r}{hint}. Accepted: {', '.join(accepted)}")


def _normalise_rules(rules, allowed_keys=None) -> list[dict]:
    if rules is None:
        return []
    if isinstance(rules, Mapping):
        rules = [rules]
    extra = builtin_optimizer_keys() if allowed_keys is None else tuple(allowed_keys)
    accepted = list(_RULE_KEYS) + [k for k in extra if k not in _RULE_KEYS]
    out = []
    for i, r in enumerate(rules):
        if not isinstance(r, Mapping):
            raise ParamRuleError(
                f"param_groups[{i}] must be a mapping like {{params: 'features.*', lr: 1e-5}}, got {r!r}"
            )
        r = dict(r)
        if "params" not in r:
            raise ParamRuleError(f"param_groups[{i}] has no `params` pattern (keys: {sorted(r)})")
        for key in r:
            if key not in accepted:
                raise _unknown_key_error(f"param_groups[{i}] ({r['params']!r})", key, accepted)
        if "lr" in r and "lr_mult" in r:
            raise ParamRuleError(f"param_groups[{i}] ({r['params']!r}) sets both `lr` and `lr_mult`; give one")
        r["_patterns"] = _patterns(r["params"])
        r.setdefault("name", r["params"] if isinstance(r["params"], str) else "+".join(r["_patterns"]))
        out.append(r)
    return out


def normalise_rules(rules, allowed_keys: Iterable[str] | None = None) -> list[dict]:
    """Check ``param_groups`` rules (keys, patterns, lr vs lr_mult) without a model; see :func:`build_param_groups`."""
    return _normalise_rules(rules, allowed_keys)


def normalise_unfreeze(rules) -> dict[str, dict]:
    """``{pattern: epoch}`` or ``{pattern: {epoch, lr | lr_mult}}`` as ``{pattern: {"epoch": ..., ...}}``.

    Raises:
        ParamRuleError: not a non-empty mapping, an unknown key (with the closest
            one), a negative or non-integer epoch, or both ``lr`` and ``lr_mult``.
    """
    if not isinstance(rules, Mapping) or not rules:
        raise ParamRuleError(f"unfreeze expects a non-empty mapping {{pattern: epoch}}, got {rules!r}")
    out: dict[str, dict] = {}
    for pattern, spec in rules.items():
        compile_pattern(pattern)
        spec = dict(spec) if isinstance(spec, Mapping) else {"epoch": spec}
        unknown = [k for k in spec if k not in UNFREEZE_KEYS]
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), UNFREEZE_KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParamRuleError(
                f"unfreeze[{pattern!r}] has unknown keys {sorted(map(str, unknown))}{hint}; use epoch, lr, lr_mult"
            )
        epoch = spec.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ParamRuleError(f"unfreeze[{pattern!r}] epoch must be an int >= 0, got {epoch!r}")
        if "lr" in spec and "lr_mult" in spec:
            raise ParamRuleError(f"unfreeze[{pattern!r}] sets both lr and lr_mult; give one")
        out[pattern] = spec
    return out


def _resolve(model, rules: list[dict], freeze_patterns):
    """Freeze, then ``(named, frozen_by, owner_rule, rule_hits)``: who froze what, which rule owns what."""
    named = list(model.named_parameters())
    names = [n for n, _ in named]
    if not named:
        raise ParamRuleError(f"{type(model).__name__} has no parameters to group")
    frozen_by: dict[str, str] = {}
    if freeze_patterns:
        for pat in _patterns(freeze_patterns):
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


def _match_unfreeze(names: Sequence[str], unfreeze: Mapping[str, dict]) -> dict[str, list[str]]:
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


class _GroupMaker:
    """Turns parameters into groups by (rule, layer, no_decay): shared by the initial and the unfrozen groups."""

    def __init__(self, model, named, rules, owner_rule, *, base_lr, weight_decay, no_decay, layer_decay,
                 lr_slice, training: Sequence[str]) -> None:
        names = [n for n, _ in named]
        self.rules, self.owner_rule = rules, owner_rule
        self.base_lr, self.weight_decay = base_lr, weight_decay
        self.no_decay, self.layer_decay = bool(no_decay), layer_decay
        self.owners = _owners(model) if no_decay else {}
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
            layer = self.keys.index(_layer_key(n)) if self.keys else -1
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
            group = {k: v for k, v in rule.items() if k not in _RULE_KEYS and not k.startswith("_")}
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


def _check_options(layer_decay, lr_slice) -> None:
    if layer_decay is not None and lr_slice is not None:
        raise ParamRuleError("layer_decay and lr_slice both set the per-layer lr; use one of them")
    if layer_decay is not None and not 0 < float(layer_decay) <= 1:
        raise ParamRuleError(f"layer_decay must be in (0, 1], got {layer_decay}")
    if lr_slice is not None and (len(lr_slice) != 2):
        raise ParamRuleError(f"lr_slice must be two values (low, high), got {lr_slice!r}")


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
    _check_options(layer_decay, lr_slice)
    rules = _normalise_rules(rules, allowed_keys)
    unfreeze = normalise_unfreeze(unfreeze) if unfreeze else {}
    named, frozen_by, owner_rule, rule_hits = _resolve(model, rules, freeze)
    names = [n for n, _ in named]

    trainable = [(n, p) for n, p in named if p.requires_grad]
    if not trainable:
        raise _all_frozen_error(named, frozen_by)

    pending = _match_unfreeze(names, unfreeze)
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
    maker = _GroupMaker(model, named, rules, owner_rule, base_lr=base_lr, weight_decay=weight_decay,
                        no_decay=no_decay, layer_decay=layer_decay, lr_slice=lr_slice, training=training)
    return maker.groups(trainable)


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
    _check_options(layer_decay, lr_slice)
    rules = _normalise_rules(rules, allowed_keys)
    unfreeze = normalise_unfreeze(unfreeze)
    named, _, owner_rule, _ = _resolve(model, rules, None)
    names = [n for n, _ in named]
    active = {n for n, p in named if p.requires_grad} if active is None else set(active)
    hits = _match_unfreeze(names, unfreeze)
    coming = {n for h in hits.values() for n in h}
    training = [n for n in names if n in active or n in coming]
    maker = _GroupMaker(model, named, rules, owner_rule, base_lr=base_lr, weight_decay=weight_decay,
                        no_decay=no_decay, layer_decay=layer_decay, lr_slice=lr_slice, training=training)
    by_name = dict(named)
    out = {}
    for pat in (unfreeze if only is None else only):
        if pat not in unfreeze:
            raise ParamRuleError(f"{pat!r} is not one of the unfreeze rules {list(unfreeze)}")
        fresh = [(n, by_name[n]) for n in hits[pat] if n not in active]
        out[pat] = maker.groups(fresh, prefix=f"unfreeze:{pat}", override=unfreeze[pat]) if fresh else []
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


def _all_frozen_error(named, frozen_by: Mapping[str, str]) -> ParamRuleError:
    counts: dict[str, list[int]] = {}
    sizes = {n: int(p.data.size) for n, p in named}
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


# --------------------------------------------------------------------------- table
def format_param_groups(groups: Sequence[Mapping], model=None, pending: Sequence[tuple[int, Mapping]] = ()) -> str:
    """The resolved groups as a text table: group, parameters, elements, lr, weight_decay.

    Args:
        groups: the optimizer's (or :func:`build_param_groups`') groups.
        model: with it, a last row counts the frozen parameters (in no group
            and not pending).
        pending: ``(epoch, group)`` pairs of groups ``unfreeze`` adds later
            (:func:`build_unfreeze_groups`), listed as ``<name> (epoch <e>)``.
    """
    rows = [("group", "parameters", "elements", "lr", "weight_decay")]

    def row(name, g):
        params = g["params"]
        return (name, str(len(params)), str(sum(int(p.data.size) for p in params)),
                _fmt(g.get("lr")), _fmt(g.get("weight_decay")))

    for i, g in enumerate(groups):
        rows.append(row(str(g.get("name", i)), g))
    for epoch, g in pending:
        rows.append(row(f"{g.get('name', 'unfreeze')} (epoch {epoch})", g))
    if model is not None:
        placed = {id(p) for g in groups for p in g["params"]} | {id(p) for _, g in pending for p in g["params"]}
        frozen = [p for p in model.parameters() if id(p) not in placed]
        if frozen:
            rows.append(("(frozen)", str(len(frozen)), str(sum(int(p.data.size) for p in frozen)), "-", "-"))
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    lines = [
        "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v) -> str:
    if v is None:
        return "(default)"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
