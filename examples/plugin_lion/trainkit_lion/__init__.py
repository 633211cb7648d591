"""trainkit-lion: a third-party trainkit plugin.

Loaded through the ``trainkit`` entry point declared in ``pyproject.toml``. The
plugin is this module: pluggy finds the functions marked ``@trainkit.hookimpl``
below (they are imported here from the modules that define them).

* ``register_optimizers``: adds :class:`Lion` as ``optimizer=lion``; its keyword
  defaults (``lr``, ``betas``, ``weight_decay``) become the config's defaults.
* ``on_epoch_end``: logs the L2 norm of every weight to the run's TensorBoard.
"""
from .optimizer import Lion, register_optimizers
from .weight_norms import on_epoch_end, weight_norms

__all__ = ["Lion", "register_optimizers", "on_epoch_end", "weight_norms"]
__version__ = "0.1.0"
