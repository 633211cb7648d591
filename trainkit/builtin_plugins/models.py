"""Built-in models as a plugin: ``mlp``, ``linear`` and ``cnn`` (see ``trainkit.models``)."""
from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_models(register):
    """Register the built-in model classes under their ``model=`` names."""
    from ..models import CNN, MLP, LinearModel

    register("mlp", MLP)
    register("linear", LinearModel)
    register("cnn", CNN)
