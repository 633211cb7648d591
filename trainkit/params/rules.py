"""Checking the rules themselves, before any model is seen: keys, patterns, options.

``param_groups`` rules and ``unfreeze`` rules come from a config or from
Python; a misspelt key (``lr_mul``), an optimizer hyperparameter the optimizer
does not take, ``lr`` with ``lr_mult``, or a bad epoch fail here, at
composition time, rather than at the epoch a rule would apply. The builders
in :mod:`trainkit.params.groups` and :mod:`trainkit.params.unfreezing` call these
first; :func:`normalise_rules` and :func:`normalise_unfreeze` let a plugin check
its rules when it is built.
"""
from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping

from .. import optim
from ..optim.optimizer import Optimizer
from .errors import ParamRuleError, unknown_key_error
from .patterns import compile_pattern, pattern_list

__all__ = [
    "RULE_KEYS",
    "UNFREEZE_KEYS",
    "optimizer_keys",
    "builtin_optimizer_keys",
    "normalise_rules",
    "normalise_unfreeze",
    "check_options",
]

#: the keys of a ``param_groups`` rule that are not optimizer hyperparameters.
RULE_KEYS = ("params", "lr", "lr_mult", "weight_decay", "name")
#: the keys of an ``unfreeze`` rule's ``{epoch, lr | lr_mult}`` form.
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
        keys: list[str] = []
        for name in optim.__all__:
            obj = getattr(optim, name, None)
            if isinstance(obj, type) and issubclass(obj, Optimizer) and obj is not Optimizer:
                keys += [k for k in optimizer_keys(obj) or () if k not in keys]
        _BUILTIN_KEYS = tuple(sorted(keys))
    return _BUILTIN_KEYS


def normalise_rules(rules, allowed_keys: Iterable[str] | None = None) -> list[dict]:
    """Check ``param_groups`` rules (keys, patterns, lr vs lr_mult) without a model.

    Returns:
        The rules as new dicts, each with its ``name`` (default: its pattern)
        and its patterns as a list under ``_patterns``; see
        :func:`trainkit.params.build_param_groups` for the rule format.
    """
    if rules is None:
        return []
    if isinstance(rules, Mapping):
        rules = [rules]
    extra = builtin_optimizer_keys() if allowed_keys is None else tuple(allowed_keys)
    accepted = list(RULE_KEYS) + [k for k in extra if k not in RULE_KEYS]
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
                raise unknown_key_error(f"param_groups[{i}] ({r['params']!r})", key, accepted)
        for key in list(r):
            if key not in ("params", "name"):
                r[key] = _number(f"param_groups[{i}] ({r['params']!r}) {key}", key, r[key])
        if "lr" in r and "lr_mult" in r:
            raise ParamRuleError(f"param_groups[{i}] ({r['params']!r}) sets both `lr` and `lr_mult`; give one")
        r["_patterns"] = pattern_list(r["params"])
        r.setdefault("name", r["params"] if isinstance(r["params"], str) else "+".join(r["_patterns"]))
        out.append(r)
    return out


#: rule keys that must be numbers (other keys are the optimizer's, e.g. a string ``line_search_fn``).
_NUMERIC_KEYS = ("lr", "lr_mult", "weight_decay")


def _number(where: str, key: str, value):
    """A number written as a string (``weight_decay: "1e-3"`` in YAML) as a float, as the top-level keys
    are coerced; a non-number where ``lr``/``lr_mult``/``weight_decay`` belongs is an error naming it."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            if key in _NUMERIC_KEYS:
                raise ParamRuleError(f"{where}={value!r} is not a number (e.g. 1e-3)") from None
            return value
    if key in _NUMERIC_KEYS and value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ParamRuleError(f"{where}={value!r} is not a number (e.g. 1e-3)")
    return value


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


def check_options(layer_decay, lr_slice) -> None:
    """Reject ``layer_decay`` with ``lr_slice`` (both set the per-layer lr) and out-of-range values."""
    if layer_decay is not None and lr_slice is not None:
        raise ParamRuleError("layer_decay and lr_slice both set the per-layer lr; use one of them")
    if layer_decay is not None and not 0 < float(layer_decay) <= 1:
        raise ParamRuleError(f"layer_decay must be in (0, 1], got {layer_decay}")
    if lr_slice is not None and (len(lr_slice) != 2):
        raise ParamRuleError(f"lr_slice must be two values (low, high), got {lr_slice!r}")
