"""Config values -> constructor arguments: plain containers, number coercion, signature checks.

Every builder of :mod:`trainkit.compose` turns a config node into keyword
arguments through :func:`call_kwargs`, so a misspelt key, a required value left
``???`` or a string where a number belongs is one :class:`ConfigError` naming the
key, the value and what is accepted.
"""
from __future__ import annotations

import difflib
import inspect

from omegaconf import DictConfig, ListConfig, OmegaConf

from ..config.schema import ConfigError
from ..plugins import UnknownNameError, registry

__all__ = ["NODE_KEYS", "as_node", "call_kwargs", "lookup", "plain", "signature"]

#: Keys of generated nodes that are not constructor arguments.
NODE_KEYS = {"name", "_target_", "interval", "monitor"}


def plain(value):
    """OmegaConf containers -> plain dicts/lists (resolved); anything else unchanged."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True, throw_on_missing=False)
    return value


def as_node(node) -> DictConfig:
    """A config node from a DictConfig or a plain mapping (the Python API passes dicts)."""
    return node if isinstance(node, DictConfig) else OmegaConf.create(dict(node or {}))


def signature(target) -> inspect.Signature | None:
    """``inspect.signature`` of ``target``, or None for callables without one (builtins)."""
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def _is_number_param(param: inspect.Parameter) -> bool:
    default = param.default
    if isinstance(default, bool):
        return False
    if isinstance(default, (int, float)):
        return True
    return param.annotation in (float, int, "float", "int")


def coerce(section: str, key: str, value, param: inspect.Parameter | None):
    """Check and convert one value against the constructor parameter it feeds.

    A number given as a string (``"1e-3"``, from YAML without a dot) becomes a
    number; a bool where a number belongs is refused; a list where a tuple is
    the default becomes a tuple.
    """
    if param is None:
        return value
    if _is_number_param(param) and value is not None:
        if isinstance(value, bool):
            raise ConfigError(f"{section}.{key}={value!r} is not a number ({param.name} takes a number)")
        if isinstance(value, str):
            value = _number(section, key, value, param)
    if isinstance(param.default, tuple) and isinstance(value, list):
        value = tuple(value)
    return value


def _number(section: str, key: str, text: str, param: inspect.Parameter):
    try:
        number = float(text)
    except ValueError:
        raise ConfigError(
            f"{section}.{key}={text!r} is not a number ({param.name} takes a number, e.g. 1e-3)"
        ) from None
    whole = isinstance(param.default, int) and number.is_integer() and "." not in text and "e" not in text.lower()
    return int(number) if whole else number


def call_kwargs(section: str, node, target, *, skip_first: bool = False, extra_keys=()) -> dict:
    """The keyword arguments ``node`` gives ``target``, checked against its signature.

    Args:
        section: the config path of ``node`` (``optimizer``), used in messages.
        node: the config node (DictConfig or dict).
        target: the class or factory the arguments are for.
        skip_first: leave out the first parameter (an optimizer's ``params``,
            a scheduler's ``optimizer``): the builder passes it.
        extra_keys: node keys that are not arguments (e.g. loader settings).

    Raises:
        ConfigError: a required value is missing (``???``), a key is not an
            argument of ``target`` (with the closest names), or a value that must be
            a number is not one.
    """
    sig = signature(target)
    params = dict(sig.parameters) if sig is not None else {}
    if skip_first and params:
        params.pop(next(iter(params)))
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values()) or sig is None
    out = {}
    for key in list(node.keys()):
        key = str(key)
        if key in NODE_KEYS or key in extra_keys:
            continue
        if isinstance(node, DictConfig) and OmegaConf.is_missing(node, key):
            raise ConfigError(
                f"{section}.{key} is required and has no default: set it, e.g. `{section}.{key}=<value>`"
            )
        param = params.get(key)
        if param is None and not takes_any:
            close = difflib.get_close_matches(key, list(params), n=3)
            hint = f" Did you mean {' or '.join(f'{section}.{c}' for c in close)}?" if close else ""
            raise ConfigError(
                f"{section}.{key} is not an argument of {getattr(target, '__name__', target)}.{hint} "
                f"Accepted: {', '.join(params) or 'none'}"
            )
        out[key] = coerce(section, key, plain(node[key]), param)
    return out


def lookup(kind: str, section: str, name):
    """The registered object for ``name``, or ConfigError listing what exists (and who provides it)."""
    try:
        return registry(kind).get(str(name))
    except UnknownNameError as exc:
        raise ConfigError(f"{section}: {exc}") from None
