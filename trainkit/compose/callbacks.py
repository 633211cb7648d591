"""``callbacks`` and ``trainer.grad_clip`` configs -> per-run plugins and gradient transforms.

Each callback is configured by its own node ``callbacks.<name>``, typed by the
``Config`` dataclass its class declares, and built by its class's
``from_config(node)``; ``enabled: false`` leaves it out. Nothing here names a
callback: adding one is a plugin that registers the class (``register_callbacks``)
and, for the command line, ``callbacks=[default,<name>]``.
"""
from __future__ import annotations

from ..config.schema import ConfigError
from ..plugins import registry
from .values import as_node, lookup

__all__ = ["build_callbacks", "build_grad_transforms", "callback_metrics", "callback_monitors"]


def build_callbacks(node) -> list:
    """The per-run plugins of the ``callbacks`` node, in its order.

    Raises:
        ConfigError: an unknown callback name (listing the registered ones), a
            callback class without ``from_config``, or a value it refuses.
    """
    node = as_node(node)
    plugins = []
    for name in node:
        conf = node[name]
        if conf is None or conf.get("enabled", True) is False:
            continue
        cls = lookup("callbacks", f"callbacks.{name}", name)
        from_config = getattr(cls, "from_config", None)
        if from_config is None:
            raise ConfigError(
                f"callbacks.{name}: {cls.__name__} has no from_config(node), so it cannot be configured; "
                "pass it to Trainer(plugins=[...]) from Python instead"
            )
        try:
            plugins.append(from_config(conf))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"callbacks.{name}: {exc}") from None
    return plugins


def callback_monitors(plugins) -> list[tuple[str, str, bool]]:
    """``(config key, metric, required)`` of every built callback that monitors a metric.

    ``required`` is False for callbacks whose class sets ``monitor_required =
    False`` (checkpointing: without the metric it writes no ``best.npz``).
    """
    out = []
    for plugin in plugins:
        metric = getattr(plugin, "monitor", None)
        if isinstance(metric, str):
            out.append((f"callbacks.{plugin.name}.monitor", metric, getattr(plugin, "monitor_required", True)))
    return out


def callback_metrics(plugins) -> tuple[str, ...]:
    """The validation metrics the built callbacks add (their ``metrics``, e.g. ``val_ema/loss``)."""
    return tuple(m for plugin in plugins for m in getattr(plugin, "metrics", ()) if isinstance(m, str))


def build_grad_transforms(node) -> list:
    """``trainer.grad_clip`` as a gradient transform (none while ``max`` is null)."""
    clip = node.grad_clip
    if clip.max is None:
        return []
    cls = registry("grad_transforms").get("grad_clip")
    try:
        return [cls(algorithm=str(clip.algorithm), max=float(clip.max), norm_type=float(clip.norm_type),
                    nonfinite=str(clip.nonfinite), max_consecutive_skips=int(clip.max_consecutive_skips))]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"trainer.grad_clip: {exc}") from None
