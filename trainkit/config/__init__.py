"""Configs of ``trainkit train``: the schema (with :class:`ConfigError`), generated nodes, registration.

* :mod:`.schema`: the typed run schema and the error every config check raises;
* :mod:`.nodes`: nodes generated from the signatures of registered objects;
* :mod:`.store`: registration in Hydra's ConfigStore and the run id.
"""
from __future__ import annotations


from . import nodes, schema, store
from .nodes import *  # noqa: F403 - the package re-exports its modules' public names
from .schema import *  # noqa: F403
from .store import *  # noqa: F403

__all__ = [*schema.__all__, *nodes.__all__, *store.__all__]
