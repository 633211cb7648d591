"""``trainkit groups`` (the param-group and ``init_from`` mapping tables of a config), ``trainkit export``
(a checkpoint's weights as safetensors) and ``trainkit plugins`` (what is installed)."""
from __future__ import annotations

import warnings

from .common import error, load_plugins

__all__ = ["cmd_export", "cmd_groups", "cmd_plugins"]


def cmd_groups(argv: list[str]) -> int:
    """``trainkit groups <overrides>``: compose, build the model, print the group table, exit."""
    from ..compose import ConfigError, build_data, build_groups, build_model
    from ..overrides import validate

    if any(a in ("-h", "--help") for a in argv):
        print("usage: trainkit groups [overrides]\n\nPrint the parameter-group table "
              "(group, parameters, elements, lr, weight_decay) of a config and exit; with init_from=<file>\n"
              "also the table mapping the file's weights onto the model (init_map applied), without loading.\n"
              "Example: trainkit groups model=cnn data=shapes params=finetune init_from=cnn.safetensors")
        return 0
    try:
        load_plugins()
        cfg = validate(argv)[0]
        _, _, info = build_data(cfg.data, seed=int(cfg.trainer.seed))
        model = build_model(cfg.model, info)
        lr = cfg.optimizer.get("lr") if "lr" in cfg.optimizer else None
        _, table, _ = build_groups(cfg.params, model, lr, optimizer=cfg.optimizer)
        mapping = _init_mapping(cfg, model)
    except ConfigError as exc:
        return error(f"config: {exc}")
    print(table)
    if mapping is not None:
        print(f"\ninit_from={cfg.init_from}:\n{mapping}")
    return 0


def _init_mapping(cfg, model):
    """The dry run of ``init_from``: what would load where, or None without ``init_from``."""
    from ..compose import ConfigError
    from ..compose.values import plain
    from ..weights import KeyMapError, WeightsFileError, plan

    if cfg.get("init_from") is None:
        return None
    try:
        return plan(model, str(cfg.init_from), key_map=plain(cfg.get("init_map")))
    except (WeightsFileError, KeyMapError, FileNotFoundError) as exc:
        raise ConfigError(f"init_from={cfg.init_from}: {exc}") from None


def cmd_export(argv: list[str]) -> int:
    """``trainkit export <checkpoint or run dir> <out.safetensors> [--ema]``: weights with torch's names."""
    from pathlib import Path

    from ..checkpoint import CheckpointError, resume_candidates
    from ..weights import export_checkpoint

    usage = ("usage: trainkit export <checkpoint.npz | run dir> <out.safetensors> [--ema]\n\n"
             "Write a checkpoint's model weights (--ema: its averaged weights) as safetensors with\n"
             "PyTorch's names: torch_model.load_state_dict(safetensors.torch.load_file(out)).")
    if any(a in ("-h", "--help") for a in argv):
        print(usage)
        return 0
    ema = "--ema" in argv
    paths = [a for a in argv if a != "--ema"]
    if len(paths) != 2 or any(a.startswith("-") for a in paths):
        return error(f"export takes a checkpoint and an output file, got: {' '.join(argv) or 'nothing'}\n{usage}")
    source, out = paths
    try:
        if Path(source).is_dir():
            source = str(resume_candidates(source)[0])  # the newest
        written = export_checkpoint(source, out, ema=ema)
    except (CheckpointError, FileNotFoundError, ValueError) as exc:
        return error(str(exc), 1)
    print(f"trainkit: wrote {written}")
    return 0


def _class_hooks(pm, cls) -> list[str]:
    """Hooks a plugin class implements (its ``@hookimpl`` methods), via pluggy's public parser."""
    return sorted(name for name in dir(cls) if pm.parse_hookimpl_opts(cls, name) is not None)


def cmd_plugins(argv: list[str]) -> int:
    """``trainkit plugins``: name, version, registrations and hooks of every plugin.

    For plugins that register callbacks (per-run plugin classes such as the
    TensorBoard logger) the lifecycle hooks of each class are listed as well.
    """
    from ..plugins import (
        DuplicateNameError,
        PluginHookError,
        PluginLoadError,
        PluginLoadWarning,
        get_plugin_manager,
        plugin_info,
        registry,
    )

    if argv:
        return error(f"`trainkit plugins` takes no arguments, got: {' '.join(argv)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PluginLoadWarning)  # listed below as one line each
            pm = get_plugin_manager()
            callbacks = registry("callbacks")
            infos = plugin_info()
    except (DuplicateNameError, PluginLoadError, PluginHookError) as exc:
        return error(f"plugins: {' '.join(str(exc).split())}", 1)
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
