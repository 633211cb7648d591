"""trainkit: PyTorch's training API (autograd, nn, optim) on numpy and cupy arrays.

The public surface is re-exported here; ``tests/test_import_surface.py`` pins it.
Importing trainkit does not import Hydra, tensorboardX or cupy.
"""

from . import _process_env  # noqa: F401, I001 - before numpy: OpenBLAS reads its idle-thread timeout at load

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

from ._version import __version__

float32 = _np.float32
float64 = _np.float64
int64 = _np.int64
int32 = _np.int32
bool = _np.bool_  # noqa: A001 - torch.bool
float16 = _np.float16
long = _np.int64


#: ``trainkit.device("cuda:0" if trainkit.cuda.is_available() else "cpu")``, as ``torch.device``
#: (the class itself, so ``isinstance(d, trainkit.device)`` works too).
device = Device


# Submodules load on first use (``trainkit.nn.Linear`` after a bare ``import trainkit``, as
# with torch) without making ``import trainkit`` pay for optim, data or the Trainer up front.
_LAZY_SUBMODULES = (
    "nn", "optim", "data", "params", "plugins", "checkpoint", "models", "trainer", "weights",
    "cuda", "utils",  # torch.cuda and torch.utils.data / torch.utils.tensorboard
)


def __getattr__(name):
    import importlib

    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "Trainer":
        return importlib.import_module(".trainer", __name__).Trainer
    if name == "save_safetensors":  # imports safetensors only when a file is written
        return importlib.import_module(".weights", __name__).save_safetensors
    raise AttributeError(f"module 'trainkit' has no attribute {name!r}")


def save(obj: dict, f) -> None:
    """``torch.save(model.state_dict(), f)`` for trainkit: atomic, pickle-free ``.npz``.

    ``obj`` is plain data (dicts, lists, numbers, strings) and arrays, such as a
    module's or optimizer's ``state_dict()``; anything else is rejected with an
    error naming where it sits. See ``trainkit.checkpoint``.
    """
    from .checkpoint import save as _save

    _save(f, obj)


def load(f) -> dict:
    """Read what :func:`save` wrote (arrays come back as numpy arrays)."""
    from .checkpoint import load as _load

    return _load(f)
