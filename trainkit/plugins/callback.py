"""The base of callbacks configured from the command line (``callbacks.<name>.*``).

A per-run plugin class is configurable when it declares ``Config``, a dataclass
with an ``enabled: bool`` field and its other settings; trainkit registers that
dataclass as the node ``callbacks.<name>`` (typed and typo-checked by Hydra) and
builds the plugin with :meth:`ConfiguredCallback.from_config` when ``enabled``
is not false. Subclass it, or give a class of your own a ``Config`` and a
``from_config`` classmethod.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

__all__ = ["ConfiguredCallback"]


class ConfiguredCallback:
    """A per-run plugin whose constructor takes the fields of its ``Config`` (all but ``enabled``)."""

    #: the registered name; the config node is ``callbacks.<name>``
    name: ClassVar[str] = ""
    #: added to every ``Trainer`` built from Python unless left out (``default_plugins``)
    default: ClassVar[bool] = False
    #: needs the Trainer's ``run_dir`` (left out of Python runs without one)
    needs_run_dir: ClassVar[bool] = False
    #: runs on rank 0 only under data-parallel training (it writes files or the terminal)
    rank_zero_only: ClassVar[bool] = False
    #: the dataclass of ``callbacks.<name>``
    Config: ClassVar[Any] = None

    @classmethod
    def from_config(cls, conf):
        """The plugin of a ``callbacks.<name>`` node: its fields, ``enabled`` aside, as keyword arguments."""
        names = [f.name for f in dataclasses.fields(cls.Config) if f.name != "enabled"]
        return cls(**{n: conf[n] for n in names})
