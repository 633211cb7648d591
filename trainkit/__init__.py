"""trainkit: PyTorch's training API (autograd, nn, optim) on numpy and cupy arrays.

The public surface is re-exported here; ``tests/test_import_surface.py`` pins it.
Importing trainkit does not import Hydra, tensorboardX or cupy.
"""

import numpy as _np

from .autograd import (
    GraphFreedError,
    ShapeError,
    Tensor,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .autograd.creation import (
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from .autograd.ops import (
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    clone,
    concat,
    div,
    eq,
    exp,
    flatten,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    log,
    log_softmax,
    logsumexp,
    lt,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    ne,
    neg,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    softmax,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    transpose,
    unbind,
    unsqueeze,
    var,
    where,
)
from .hookspecs import hookimpl
from .backend import (
    CudaUnavailableError,
    Device,
    DeviceMismatchError,
    cuda_available,
    cuda_unavailable_reason,
)
from .random import get_rng_state, manual_seed, set_rng_state

__version__ = "0.1.0"

float32 = _np.float32
float64 = _np.float64
int64 = _np.int64
int32 = _np.int32
bool = _np.bool_  # noqa: A001 - torch.bool
float16 = _np.float16
long = _np.int64


def device(spec="cpu") -> Device:
    """``trainkit.device("cuda:0" if trainkit.cuda_available() else "cpu")``, as torch.device."""
    return Device(spec)
