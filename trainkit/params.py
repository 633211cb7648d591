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
import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "ParamRuleError",
    "compile_pattern",
    "match_names",
    "freeze",
    "unfreeze",
    "build_param_groups",
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


def _normalise_rules(rules) -> list[dict]:
    if rules is None:
        return []
    if isinstance(rules, Mapping):
        rules = [rules]
    out = []
    for i, r in enumerate(rules):
        if not isinstance(r, Mapping):
            raise ParamRuleError(
                f"param_groups[{i}] must be a mapping like {{params: 'features.*', lr: 1e-5}}, got {r!r}"
            )
        r = dict(r)
        if "params" not in r:
            raise ParamRuleError(f"param_groups[{i}] has no `params` pattern (keys: {sorted(r)})")
        if "lr" in r and "lr_mult" in r:
            raise ParamRuleError(f"param_groups[{i}] ({r['params']!r}) sets both `lr` and `lr_mult`; give one")
        r["_patterns"] = _patterns(r["params"])
        r.setdefault("name", r["params"] if isinstance(r["params"], str) else "+".join(r["_patterns"]))
        out.append(r)
    return out


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
) -> list[dict]:
    """Torch-style param groups from name rules.

    Args:
        model: a Module (``named_parameters()`` gives dotted names).
        rules: ``[{params: 'features.*', lr: 1e-5}, {params: 'classifier.*', lr_mult: 10,
            weight_decay: 0}, ...]``. Any other key (``momentum``, ``betas``...) is
            copied into the group. Trainable parameters no rule matches form
            the ``default`` group (first), at ``base_lr``.
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
            rule ``lr`` wins, ``lr_mult`` multiplies.

    Returns:
        A list of dicts with ``params`` (Parameters), ``param_names``, ``name``,
        and ``lr`` / ``weight_decay`` where known, ready for an optimizer.

    Raises:
        ParamRuleError: a parameter matched by two rules, a rule matching
            nothing, everything frozen, or an invalid option.
    """
    if layer_decay is not None and lr_slice is not None:
        raise ParamRuleError("layer_decay and lr_slice both set the per-layer lr; use one of them")
    if layer_decay is not None and not 0 < float(layer_decay) <= 1:
        raise ParamRuleError(f"layer_decay must be in (0, 1], got {layer_decay}")
    if lr_slice is not None and (len(lr_slice) != 2):
        raise ParamRuleError(f"lr_slice must be two values (low, high), got {lr_slice!r}")
    rules = _normalise_rules(rules)
    named = list(model.named_parameters())
    names = [n for n, _ in named]
    if not named:
        raise ParamRuleError(f"{type(model).__name__} has no parameters to group")

    frozen_by: dict[str, str] = {}
    if freeze:
        for pat in _patterns(freeze):
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

    trainable = [(n, p) for n, p in named if p.requires_grad]
    if not trainable:
        raise _all_frozen_error(named, frozen_by)

    owners = _owners(model) if no_decay else {}
    keys = layer_keys(names) if layer_decay is not None else []
    # (rule index or -1 for default, layer index or -1, no_decay) -> list of (name, param)
    buckets: dict[tuple[int, int, bool], list] = {}
    for n, p in trainable:
        rule_idx = owner_rule.get(n, -1)
        layer = keys.index(_layer_key(n)) if keys else -1
        nd = bool(no_decay) and is_no_decay(n, p, owners.get(n))
        buckets.setdefault((rule_idx, layer, nd), []).append((n, p))

    position = {n: k for k, n in enumerate(names)}
    order = sorted(buckets, key=lambda k: (k[0], position[buckets[k][0][0]]))
    slice_lrs: dict[int, float] = {}
    if lr_slice is not None:
        first_seen: dict[int, int] = {}  # rule -> position of its first parameter in the model
        for (rule_idx, _, _), members in buckets.items():
            pos = min(position[n] for n, _ in members)
            first_seen[rule_idx] = min(pos, first_seen.get(rule_idx, pos))
        rule_ids = sorted(first_seen, key=first_seen.get)
        spread = geometric_lrs(float(lr_slice[0]), float(lr_slice[1]), len(rule_ids))
        slice_lrs = dict(zip(rule_ids, spread))

    groups = []
    for key in order:
        rule_idx, layer, nd = key
        rule = rules[rule_idx] if rule_idx >= 0 else {}
        members = buckets[key]
        group = {k: v for k, v in rule.items() if k not in _RULE_KEYS and not k.startswith("_")}
        group["params"] = [p for _, p in members]
        group["param_names"] = [n for n, _ in members]
        name = rule.get("name", "default")
        if layer >= 0:
            name += f"/layer{layer}"
        if nd:
            name += "/no_decay"
        group["name"] = name
        lr = _group_lr(rule, base_lr, slice_lrs.get(rule_idx), rule_idx)
        if lr is not None and layer >= 0:
            lr = lr * float(layer_decay) ** (len(keys) - 1 - layer)
        if lr is not None:
            group["lr"] = lr
        wd = rule.get("weight_decay", weight_decay)
        if nd:
            wd = 0.0
        if wd is not None:
            group["weight_decay"] = wd
        groups.append(group)
    return groups


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
def format_param_groups(groups: Sequence[Mapping], model=None) -> str:
    """The resolved groups as a text table: group, parameters, elements, lr, weight_decay.

    With ``model``, a last row counts the frozen parameters (in no group).
    """
    rows = [("group", "parameters", "elements", "lr", "weight_decay")]
    for i, g in enumerate(groups):
        params = g["params"]
        rows.append((
            str(g.get("name", i)),
            str(len(params)),
            str(sum(int(p.data.size) for p in params)),
            _fmt(g.get("lr")),
            _fmt(g.get("weight_decay")),
        ))
    if model is not None:
        in_groups = {id(p) for g in groups for p in g["params"]}
        frozen = [p for p in model.parameters() if id(p) not in in_groups]
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
