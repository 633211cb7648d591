"""trainkit: PyTorch's training API (autograd, nn, optim) on numpy and cupy arrays.

The public surface is re-exported here; ``tests/test_import_surface.py`` pins it.
Importing trainkit does not import Hydra, tensorboardX or cupy.
"""
from __future__ import annotations

import numpy as _np

from .autograd import Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.creation import arange, from_numpy, ones, rand, randn, tensor, zeros
from .autograd.ops import (
    add,
    div,
    exp,
    log,
    matmul,
    mean,
    mul,
    neg,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sub,
    sum,
    tanh,
    transpose,
)
from .backend import Device, DeviceMismatchError, cuda_available, cuda_unavailable_reason
from .random import manual_seed

__version__ = "0.1.0"

float32 = _np.float32
float64 = _np.float64
int64 = _np.int64
long = _np.int64


def device(spec="cpu") -> Device:
    """``trainkit.device("cuda:0" if trainkit.cuda_available() else "cpu")``, as torch.device."""
    return Device(spec)
