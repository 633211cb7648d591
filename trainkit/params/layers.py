"""Per-parameter properties the group builders split on: layer position and no-decay.

``layer_decay`` and ``lr_slice`` give each top-level block its own rate, so
they need the blocks in input-to-head order (:func:`layer_keys`) and a
geometric spread (:func:`geometric_lrs`); ``no_decay`` needs to know which
parameters weight decay should not touch (:func:`is_no_decay`).
"""
from __future__ import annotations

from collections.abc import Sequence

from .errors import ParamRuleError

__all__ = ["NORM_MODULE_HINTS", "is_no_decay", "layer_keys", "layer_key", "geometric_lrs", "owners"]

NORM_MODULE_HINTS = ("Norm",)  # BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm, RMSNorm, ...


def owners(model) -> dict[str, str]:
    """Parameter name -> class name of the module that owns it."""
    out = {}
    for mod_name, module in model.named_modules():
        for pname, p in module._parameters.items():
            if p is not None:
                out[f"{mod_name}.{pname}" if mod_name else pname] = type(module).__name__
    return out


def is_no_decay(name: str, param, owner: str | None = None) -> bool:
    """Whether weight decay should be off: biases, 1-d parameters and normalisation weights."""
    if param.array.ndim <= 1 or name.endswith(".bias") or name == "bias":
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
        k = layer_key(n)
        if k not in keys:
            keys.append(k)
    return keys


def layer_key(name: str) -> str:
    """The layer key of one parameter name (see :func:`layer_keys`)."""
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
