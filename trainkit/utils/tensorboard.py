"""``torch.utils.tensorboard.SummaryWriter`` for trainkit: tensorboardX underneath.

``from trainkit.utils.tensorboard import SummaryWriter`` is torch's import with
the package renamed. tensorboardX is imported when the first writer is made
(``import trainkit`` never pays for it), and every method takes trainkit
Tensors where tensorboardX takes numpy arrays or torch tensors
(``writer.add_scalar("loss", loss, step)`` with a 0-d Tensor ``loss``); they are
handed over as numpy arrays. Everything else is tensorboardX's ``SummaryWriter``.
"""
from __future__ import annotations

import functools

from ..autograd.interop import unwrap
from ..autograd.tensor import Tensor

__all__ = ["SummaryWriter"]


def _host(value):
    """``value`` with Tensors (also inside lists, tuples and dicts) as numpy arrays."""
    return unwrap(value, Tensor.numpy)


class SummaryWriter:
    """tensorboardX's ``SummaryWriter`` (same arguments: ``log_dir``, ``comment``, ...), taking Tensors."""

    def __init__(self, *args, **kwargs):
        try:
            from ..tensorboardx import tensorboardx

            _Writer = tensorboardx().SummaryWriter  # tensorboardX is optional: loaded on use
        except ImportError as exc:
            raise ImportError(
                f"trainkit.utils.tensorboard.SummaryWriter needs tensorboardX ({exc}); "
                "pip install tensorboardX"
            ) from exc
        self._writer = _Writer(*args, **kwargs)

    def __getattr__(self, name):
        if name == "_writer":  # not set yet: __init__ failed
            raise AttributeError(name)
        attr = getattr(self._writer, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args, **kwargs):
            return attr(*_host(args), **_host(kwargs))

        return call

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc) -> None:
        self._writer.close()
