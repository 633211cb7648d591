"""Weight averaging with torch.optim.swa_utils' names, arguments and numerics.

* :class:`AveragedModel`: SWA / EMA copy of a model (:mod:`.averaged_model`);
  the built-in averages run over flat buffers, one fused pass per run (:mod:`.flat_average`);
* :func:`get_ema_multi_avg_fn`, :func:`get_swa_multi_avg_fn`, :func:`get_ema_avg_fn`,
  :func:`get_swa_avg_fn`: the averaging functions (:mod:`.averaging`);
* :class:`SWALR`: anneal the learning rate to a fixed value (:mod:`.swalr`);
* :func:`update_bn`: recompute BatchNorm statistics (:mod:`.batchnorm`).
"""
from __future__ import annotations

from .averaged_model import AveragedModel
from .averaging import get_ema_avg_fn, get_ema_multi_avg_fn, get_swa_avg_fn, get_swa_multi_avg_fn
from .batchnorm import update_bn
from .swalr import SWALR

__all__ = [
    "AveragedModel", "SWALR", "get_ema_avg_fn", "get_ema_multi_avg_fn", "get_swa_avg_fn", "get_swa_multi_avg_fn",
    "update_bn",
]
