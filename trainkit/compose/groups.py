"""``params`` config -> frozen parameters, torch-style param groups, the group table, ``unfreeze``.

:func:`build_groups` is the one builder of param groups from a config: ``trainkit
train``, ``trainkit groups``, the Python API and the tests all call it.
"""
from __future__ import annotations

from ..builtin_plugins.param_rules import Unfreezer
from ..config.schema import ConfigError
from ..params import ParamRuleError, build_param_groups, format_param_groups, optimizer_keys, pending_unfreeze_rows
from .values import as_node, lookup, plain

__all__ = ["build_groups"]


def build_groups(node, model, base_lr, optimizer=None):
    """Apply the ``params`` rules to ``model``: freeze, then torch-style param groups.

    Args:
        node: the ``params`` config (freeze, unfreeze, param_groups, no_decay,
            layer_decay, lr_slice), a config node or a plain mapping.
        model: the model (frozen parameters get ``requires_grad=False``).
        base_lr: the run's lr (``lr_mult`` is relative to it); None keeps the
            optimizer's default.
        optimizer: the ``optimizer`` config node; its ``weight_decay`` (when the
            optimizer takes one) becomes every group's default, so the table
            shows the value the run uses (a rule's own ``weight_decay`` and
            ``no_decay`` still win), and its hyperparameter names are the keys a
            ``param_groups`` rule may set besides params/lr/lr_mult/weight_decay/name.

    Returns:
        ``(groups, table, plugins)``: the groups for the optimizer, the printed
        table (with a row per group ``unfreeze`` adds later, ``unfreeze:<pattern>
        (epoch e)``), and the per-run plugins the rules need (``unfreeze`` at an epoch).

    Raises:
        ConfigError: a rule matching nothing, a parameter matched twice, a rule
            key the optimizer does not take, a rule matching only frozen
            parameters that nothing unfreezes, an unfreeze rule matching nothing
            or trainable parameters, everything frozen (the message of ``trainkit.params``).
    """
    node = as_node(node)
    rules = plain(node.get("param_groups")) or None
    unfreeze = plain(node.get("unfreeze")) or {}
    allowed = None
    if optimizer is not None and optimizer.get("name") is not None:
        allowed = optimizer_keys(lookup("optimizers", "optimizer", optimizer.get("name")))
    lr = None if base_lr is None else float(base_lr)
    options = dict(
        weight_decay=_optimizer_weight_decay(optimizer),
        no_decay=bool(node.get("no_decay", False)),
        layer_decay=plain(node.get("layer_decay")),
        lr_slice=plain(node.get("lr_slice")),
        allowed_keys=allowed,
    )
    try:
        groups = build_param_groups(
            model, rules, base_lr=lr, freeze=list(plain(node.get("freeze")) or []) or None,
            unfreeze=unfreeze or None, **options,
        )
        pending = pending_unfreeze_rows(model, unfreeze, rules, base_lr=lr, **options)
    except ParamRuleError as exc:
        raise ConfigError(f"params: {exc}") from None
    plugins = []
    if unfreeze:
        try:
            plugins.append(Unfreezer(unfreeze, lr=lr, param_groups=rules, **options))
        except (TypeError, ValueError) as exc:  # ParamRuleError is a ValueError
            raise ConfigError(f"params.unfreeze: {exc}") from None
    return groups, format_param_groups(groups, model, pending=pending), plugins


def _optimizer_weight_decay(optimizer) -> float | None:
    """The optimizer node's ``weight_decay`` as a float (None when it has none or it is null)."""
    if optimizer is None or "weight_decay" not in optimizer:
        return None
    value = plain(optimizer.get("weight_decay"))
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"optimizer.weight_decay={value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"optimizer.weight_decay={value!r} is not a number (e.g. 1e-4)") from None
