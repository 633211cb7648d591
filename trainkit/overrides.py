"""Check ``trainkit train`` overrides before Hydra runs anything (and creates a run directory).

Hydra reports a misspelt key as "Key 'lrr' is not in struct" and an unknown
option as a missing file, and only once it has started a run or a sweep. This
module composes every job of the command line first, with Hydra's compose API
and the same config search path, and turns each problem into a
:class:`~trainkit.config.ConfigError` that names the key and value and
suggests what was probably meant:

* an unknown optimizer/scheduler/loss/model/dataset name lists the registered
  names and the plugin providing each;
* an unknown key suggests the closest existing keys (``difflib``);
* a value of the wrong type, a required value left ``???`` or a value a
  constructor rejects names the key.

A sweep (``-m``) is checked job by job (every combination, up to ``MAX_JOBS``;
beyond that each swept value once).
"""
from __future__ import annotations

import difflib
import itertools
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from .compose import check_config
from .config import LIGHTNING_KEYS, MOVED_KEYS, REGISTRY_GROUPS, ConfigError

__all__ = ["validate", "compose_one", "Jobs", "MAX_JOBS"]

#: Sweeps with more combinations than this are checked one swept value at a time.
MAX_JOBS = 64

_CONFIG_MODULE = "trainkit.conf"


def _parse(overrides: list[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        return OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as exc:
        raise ConfigError(f"cannot parse the overrides: {exc}") from None


class _Hydra:
    """Hydra's compose API initialised on trainkit's configs (plus ``--config-dir``)."""

    def __init__(self, config_name: str = "config", config_dir: str | None = None, config_path: str | None = None):
        self.config_name = config_name
        self.extra = []
        self.hydra_mode = None
        self.config_dir = Path(config_dir).resolve() if config_dir else None
        if self.config_dir is not None:
            self.extra.append(f"hydra.searchpath=[file://{self.config_dir}]")
        self.config_path = config_path

    def __enter__(self):
        from hydra import initialize_config_dir, initialize_config_module

        if self.config_path:
            self._ctx = initialize_config_dir(str(Path(self.config_path).resolve()), version_base="1.3")
        else:
            self._ctx = initialize_config_module(_CONFIG_MODULE, version_base="1.3")
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)

    def compose(self, overrides: list[str], hydra_config: bool = False) -> DictConfig:
        """The composed config (with its ``hydra`` node when ``hydra_config``); ``self.hydra_mode`` is then
        ``hydra.mode`` as the config and overrides set it (None unless they do)."""
        from hydra import compose
        from omegaconf import open_dict

        cfg = compose(self.config_name, overrides=self.extra + list(overrides), return_hydra_config=True)
        self.hydra_mode = cfg.hydra.mode
        if not hydra_config:
            with open_dict(cfg):
                del cfg["hydra"]  # what compose(return_hydra_config=False) does
        return cfg

    def groups(self) -> set[str]:
        from hydra.core.global_hydra import GlobalHydra

        found = set(GlobalHydra.instance().config_loader().list_groups(""))
        if self.config_dir is not None:
            found.update(p.name for p in self.config_dir.iterdir() if p.is_dir())
        return found

    def options(self, group: str) -> list[str]:
        """The options of ``group``: trainkit's, the ConfigStore's and those in ``--config-dir``."""
        from hydra.core.global_hydra import GlobalHydra

        found = set(GlobalHydra.instance().config_loader().get_group_options(group))
        if self.config_dir is not None and (self.config_dir / group).is_dir():
            found.update(p.stem for p in (self.config_dir / group).glob("*.yaml"))
        return sorted(found)


def _strip_hint(exc: BaseException) -> str:
    """Hydra's message and its causes', without advice about HYDRA_FULL_ERROR (there is no traceback)."""
    parts = []
    seen = exc
    while seen is not None and len(parts) < 4:
        text = str(seen).strip()
        if text and text not in parts:
            parts.append(text)
        seen = seen.__cause__ or seen.__context__
    lines = []
    for ln in "\n".join(parts).splitlines():
        noise = "HYDRA_FULL_ERROR" in ln or "$VALUE" in ln or ln.strip().startswith("object_type=")
        if ln.strip() and not noise and ln not in lines:
            lines.append(ln)
    return "\n".join(lines).strip()


def _values(override, hydra: _Hydra) -> list[str]:
    """The string form of every value a (possibly swept) override takes."""
    from hydra.core.override_parser.types import Glob, ValueType

    if not override.is_sweep_override():
        return [override.get_value_element_as_str()]
    if override.value_type == ValueType.GLOB_CHOICE_SWEEP:
        glob = override.value()
        assert isinstance(glob, Glob)
        return list(glob.filter(hydra.options(override.key_or_group)))
    try:
        return list(override.sweep_string_iterator())
    except Exception:  # interval sweeps (for optimising sweepers) have no finite list
        return [override.get_value_element_as_str()] if not override.is_sweep_override() else []


def _jobs(parsed, hydra: _Hydra, multirun: bool) -> list[list[str]]:
    """One override list per job of the command line."""
    if not multirun:
        return [[o.input_line for o in parsed]]
    choices = []
    for o in parsed:
        if o.is_sweep_override():
            values = _values(o, hydra)
            if not values:
                continue  # not enumerable; the sweeper checks it
            choices.append([f"{o.get_key_element()}={v}" for v in values])
        else:
            choices.append([o.input_line])
    total = 1
    for c in choices:
        total *= len(c)
    if total <= MAX_JOBS:
        return [list(job) for job in itertools.product(*choices)]
    first = [c[0] for c in choices]
    jobs = [first]
    for i, c in enumerate(choices):
        for v in c[1:]:
            jobs.append(first[:i] + [v] + first[i + 1 :])
    return jobs


def _registry_listing(group: str, name: str, yaml_options: list[str]) -> str:
    from .plugins import UnknownNameError, registry

    reg = registry(REGISTRY_GROUPS[group])
    available = dict(reg.providers)
    for opt in yaml_options:
        available.setdefault(opt, "config file")
    return str(UnknownNameError(REGISTRY_GROUPS[group], name, available))


def _check_choices(parsed_job, hydra: _Hydra, groups: set[str]) -> None:
    """An unknown option of a config group: list the options (and the plugin providing each)."""
    for o in parsed_job:
        key = o.key_or_group
        if o.is_delete() or key not in groups or "." in key:
            continue
        value = o.get_value_element_as_str()
        if value in ("null", "None"):
            continue
        options = hydra.options(key)
        if value in options:
            continue
        if key in REGISTRY_GROUPS:
            raise ConfigError(f"{key}={value}: {_registry_listing(key, value, options)}")
        close = difflib.get_close_matches(value, options, n=3)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(f"{key}={value}: no such option of config group {key!r}.{hint} Options: {', '.join(options)}")


def _check_moved(key: str, line: str) -> None:
    """A key from before the ``callbacks`` group: say where it lives now."""
    for old, new in MOVED_KEYS.items():
        if key == old or key.startswith(old + "."):
            moved = new + key[len(old):]
            raise ConfigError(f"{key} has moved: write `{line.replace(key, moved, 1)}` ({old} is now {new})")


#: Nodes typed by trainkit's schema, whose keys nothing reads unless the schema has them.
_SCHEMA_NODES = ("", "trainer", "trainer.grad_clip", "params")


def _lightning_hint(key: str) -> str:
    hint = LIGHTNING_KEYS.get(key.lstrip("+"))
    return f" (Lightning's {key.lstrip('+')}: in trainkit, {hint})" if hint else ""


def _check_added_keys(parsed_job) -> None:
    """``+key=`` under a node of trainkit's schema (``trainer``, ``params``, ``callbacks.<name>``, the top
    level) adds a value nothing reads: an error, not silence. Under ``model``/``optimizer``/... it adds a
    constructor argument, which the builders check."""
    for o in parsed_job:
        key = o.key_or_group
        if not (o.is_add() or o.is_force_add()) or "/" in key or key.startswith("hydra."):
            continue
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        if parent in _SCHEMA_NODES or (parent.startswith("callbacks.") and parent.count(".") == 1):
            if "." not in key and o.is_add() and o.get_value_element_as_str() and parent == "" \
                    and key not in LIGHTNING_KEYS:
                raise ConfigError(f"`{o.input_line}` adds a top-level key that nothing reads; "
                                  "trainkit's top-level keys: lr, device, resume, init_from, init_strict, init_map")
            raise ConfigError(
                f"`{o.input_line}` adds {key}, which nothing reads: {parent or 'the top level'} has a fixed "
                f"set of keys{_lightning_hint(key)}"
            )


def _check_keys(parsed_job, base: DictConfig, groups: set[str]) -> None:
    """A key that does not exist (without ``+``): suggest the closest keys at the level it fails."""
    for o in parsed_job:
        key = o.key_or_group
        if o.is_add() or o.is_force_add() or "/" in key or key.startswith("hydra."):
            continue
        if "." not in key and key in groups:
            continue
        _check_moved(key, o.input_line)
        node = base
        walked = []
        for part in key.split("."):
            if isinstance(node, DictConfig) and part in node:
                walked.append(part)
                node = node._get_node(part)
                if not isinstance(node, DictConfig):
                    node = node._dereference_node() if hasattr(node, "_dereference_node") else node
                continue
            if not isinstance(node, DictConfig):
                break  # indexing into a list or a scalar: let Hydra judge
            where = ".".join(walked)
            siblings = [str(k) for k in node.keys()]
            close = difflib.get_close_matches(part, siblings, n=3, cutoff=0.6)
            prefix = f"{where}." if where else ""
            hint = f" Did you mean {' or '.join(repr(prefix + c) for c in close)}?" if close else ""
            listing = ", ".join(siblings)
            fixed = where in _SCHEMA_NODES or (where.startswith("callbacks.") and where.count(".") == 1)
            add = "" if fixed else f" (To add a new key on purpose, write +{o.input_line})"
            raise ConfigError(
                f"unknown config key {key!r} in `{o.input_line}`.{hint}{_lightning_hint(key)} "
                f"Keys of {where or 'the config'}: {listing}.{add}"
            )


def _closest_key_hint(message: str, hydra: _Hydra) -> str:
    """For a misspelt key inside a config file (Hydra: ``Key 'max_epoch' not in ...``, ``full_key:
    trainer.max_epoch``): the closest keys at that level of the default config, or ''."""
    import re

    found = re.search(r"full_key: (\S+)", message)
    if found is None or "not in" not in message:
        return ""
    *parents, key = found.group(1).split(".")
    try:
        node = hydra.compose([], hydra_config=False)
        for part in parents:
            node = node[part]
        siblings = [str(k) for k in node.keys()]
    except Exception:  # noqa: BLE001 - no hint rather than a second error
        return ""
    close = difflib.get_close_matches(key, siblings, n=3, cutoff=0.6)
    prefix = ".".join(parents) + "." if parents else ""
    if not close:
        return f"\nKeys of {prefix.rstrip('.') or 'the config'}: {', '.join(siblings)}"
    return f"\nDid you mean {' or '.join(repr(prefix + c) for c in close)}?"


def compose_one(hydra: _Hydra, job: list[str], groups: set[str]) -> DictConfig:
    """Compose one job's config, turning every failure into a ConfigError.

    The job is composed once; only when that fails is it taken apart (group
    options, then key spelling against the config without the value
    overrides) to say precisely what is wrong.
    """
    parsed = _parse(job)
    _check_choices(parsed, hydra, groups)
    _check_added_keys(parsed)
    try:
        cfg = hydra.compose(job, hydra_config=False)
    except Exception as exc:
        message = _strip_hint(exc)
        group_overrides = [o.input_line for o in parsed if o.key_or_group in groups or "/" in o.key_or_group]
        try:
            base = hydra.compose(group_overrides, hydra_config=False)
        except Exception:
            raise ConfigError(message + _closest_key_hint(message, hydra)) from None
        _check_keys(parsed, base, groups)
        raise ConfigError(message) from None
    try:
        # resolve every interpolation now (a bad ${...} fails here, not mid-run)
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    except Exception as exc:
        raise ConfigError(_strip_hint(exc)) from None
    check_config(cfg)
    return cfg


class Jobs(list):
    """The composed config of each job of a command line (a list), and ``hydra_mode``: ``hydra.mode`` as
    the first job's config and overrides set it (None unless they do; Hydra's ``RunMode`` otherwise)."""

    hydra_mode = None


def validate(
    overrides: list[str],
    *,
    multirun: bool = False,
    config_name: str | None = None,
    config_dir: str | None = None,
    config_path: str | None = None,
) -> Jobs:
    """Compose and check every job of a ``trainkit train`` command line.

    Args:
        overrides: the Hydra overrides as typed (``optimizer=adam``, ``lr=1e-3``).
        multirun: the command line has ``-m``: sweeps are expanded into jobs.
        config_name, config_dir, config_path: Hydra's ``-cn``, ``-cd``, ``-cp``.

    Returns:
        The composed config of each job checked (:class:`Jobs`, a list that
        also carries ``hydra.mode``, which ``hydra.main`` would compose the
        config once more to read).

    Raises:
        ConfigError: the first problem found, naming the key and value.
    """
    parsed = _parse(list(overrides))
    if not multirun:
        sweeps = [o.input_line for o in parsed if o.is_sweep_override()]
        if sweeps:
            raise ConfigError(
                f"{', '.join(sweeps)} gives several values: add -m (--multirun) to sweep over them, "
                "or give one value"
            )
    with _Hydra(config_name or "config", config_dir, config_path) as hydra:
        groups = hydra.groups()
        jobs = _jobs(parsed, hydra, multirun)
        configs = Jobs()
        for job in jobs:
            try:
                configs.append(compose_one(hydra, job, groups))
            except ConfigError as exc:
                if len(jobs) > 1:
                    raise ConfigError(f"{exc}\n(in the sweep job: {' '.join(job)})") from None
                raise
            if len(configs) == 1:
                configs.hydra_mode = hydra.hydra_mode
        return configs
