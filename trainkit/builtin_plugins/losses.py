"""Built-in losses as a plugin, under the ``loss=`` names of the command line.

Each name maps to the ``trainkit.nn`` loss class with PyTorch's name and arguments;
the config node for each is generated from the class signature.
"""
from __future__ import annotations

from ..hookspecs import hookimpl

#: ``loss=`` name -> class name in ``trainkit.nn``.
LOSSES = {
    "cross_entropy": "CrossEntropyLoss",
    "nll": "NLLLoss",
    "mse": "MSELoss",
    "l1": "L1Loss",
    "smooth_l1": "SmoothL1Loss",
    "huber": "HuberLoss",
    "bce": "BCELoss",
    "bce_with_logits": "BCEWithLogitsLoss",
}


@hookimpl
def register_losses(register):
    """Register every loss of ``LOSSES`` (each a ``trainkit.nn`` class)."""
    from .. import nn

    for name, cls_name in LOSSES.items():
        register(name, getattr(nn, cls_name))
