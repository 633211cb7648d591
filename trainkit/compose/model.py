"""``model`` and ``loss`` configs -> the model (sized from the data) and the loss."""
from __future__ import annotations

import inspect
import logging

from omegaconf import OmegaConf

from ..config.schema import ConfigError
from ..nn.module import Module
from ..plugins import registry
from .data import DataInfo
from .values import NODE_KEYS, call_kwargs, lookup, signature

__all__ = ["build_loss", "build_model", "model_target"]

log = logging.getLogger("trainkit.compose")


def model_target(node):
    """``(class, from _target_?)``: the class a ``model`` node names, imported but not called."""
    target = node.get("_target_") if "_target_" in node else None
    if target:
        from hydra.utils import get_object

        try:
            obj = get_object(str(target))
        except Exception as exc:  # ImportError, AttributeError wrapped by Hydra
            raise ConfigError(f"model._target_={target!r} cannot be imported: {exc}") from None
        if not (inspect.isclass(obj) and issubclass(obj, Module)):
            what = f"the class {obj.__module__}.{obj.__qualname__}" if inspect.isclass(obj) else \
                f"a {type(obj).__name__}"
            raise ConfigError(
                f"model._target_={target!r} is {what}, not a trainkit.nn.Module subclass, so it was not called. "
                "Give a Module class (model._target_=mypkg.Net) or a registered model "
                f"(model={', model='.join(registry('models'))})"
            )
        return obj, True
    return lookup("models", "model", node.get("name")), False


def build_model(node, info: DataInfo | None = None):
    """Construct the model of ``node``: a registered name, or any class given as ``_target_``.

    Data-derived sizes (``in_features``, ``num_classes``, ...) left null are taken
    from ``info``. With ``_target_`` (``model._target_=mypkg.Net``) only the keys
    the class accepts are passed; the others (the replaced model's) are dropped
    with a log message.
    """
    target, user = model_target(node)
    sig = signature(target)
    params = dict(sig.parameters) if sig is not None else {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if user:
        accepted = {str(k): node[k] for k in node if str(k) not in NODE_KEYS and (takes_any or str(k) in params)}
        dropped = sorted(str(k) for k in node if str(k) not in NODE_KEYS and str(k) not in accepted)
        if dropped:
            log.info("model._target_=%s does not take %s; not passed", node["_target_"], ", ".join(dropped))
        node = OmegaConf.create(accepted)
    kwargs = call_kwargs("model", node, target)
    if info is not None:
        for key, value in info.derived().items():
            if key in params and kwargs.get(key) is None:
                kwargs[key] = value
    try:
        return target(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model ({getattr(target, '__name__', target)}): {exc}") from exc


def build_loss(node):
    """Construct the loss of ``node`` from the loss registry."""
    cls = lookup("losses", "loss", node.get("name"))
    kwargs = call_kwargs("loss", node, cls)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"loss={node.get('name')}: {exc}") from exc
