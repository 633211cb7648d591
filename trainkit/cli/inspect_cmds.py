"""``trainkit groups`` (the param-group table of a config) and ``trainkit plugins`` (what is installed)."""
from __future__ import annotations

import warnings

from .common import error, load_plugins

__all__ = ["cmd_groups", "cmd_plugins"]


def cmd_groups(argv: list[str]) -> int:
    """``trainkit groups <overrides>``: compose, build the model, print the group table, exit."""
    from ..compose import ConfigError, build_data, build_groups, build_model
    from ..overrides import validate

    if any(a in ("-h", "--help") for a in argv):
        print("usage: trainkit groups [overrides]\n\nPrint the parameter-group table "
              "(group, parameters, elements, lr, weight_decay) of a config and exit.\n"
              "Example: trainkit groups model=cnn data=shapes params=finetune")
        return 0
    try:
        load_plugins()
        cfg = validate(argv)[0]
        _, _, info = build_data(cfg.data, seed=int(cfg.trainer.seed))
        model = build_model(cfg.model, info)
        lr = cfg.optimizer.get("lr") if "lr" in cfg.optimizer else None
        _, table, _ = build_groups(cfg.params, model, lr, optimizer=cfg.optimizer)
    except ConfigError as exc:
        return error(f"config: {exc}")
    print(table)
    return 0


def _class_hooks(pm, cls) -> list[str]:
    """Hooks a plugin class implements (its ``@hookimpl`` methods), via pluggy's public parser."""
    return sorted(name for name in dir(cls) if pm.parse_hookimpl_opts(cls, name) is not None)


def cmd_plugins(argv: list[str]) -> int:
    """``trainkit plugins``: name, version, registrations and hooks of every plugin.

    For plugins that register callbacks (per-run plugin classes such as the
    TensorBoard logger) the lifecycle hooks of each class are listed as well.
    """
    from ..plugins import get_plugin_manager, plugin_info, registry

    if argv:
        return error(f"`trainkit plugins` takes no arguments, got: {' '.join(argv)}")
    from ..plugins import PluginLoadWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)  # listed below as one line each
        pm = get_plugin_manager()
        callbacks = registry("callbacks")
        infos = plugin_info()
    for info in infos:
        origin = "built-in" if info.builtin else (info.distribution or "not from a distribution")
        print(f"{info.name} {info.version or '(no version)'} ({origin})")
        for kind, names in sorted(info.registered.items()):
            print(f"  registers {kind}: {', '.join(names)}")
        print(f"  hooks: {', '.join(info.hooks) if info.hooks else '(none)'}")
        for name in info.registered.get("callbacks", []):
            hooks = _class_hooks(pm, callbacks.get(name))
            print(f"  callback {name} hooks: {', '.join(hooks) if hooks else '(none)'}")
    for failure in pm.failures:
        print(f"skipped: {' '.join(failure.split())}")
    return 0
