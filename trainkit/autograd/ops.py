"""The functional API of trainkit's autograd: every differentiable op, in one namespace.

Ops are small ``Function`` classes grouped by concern (``elementwise``,
``reductions``, ``shaping``); this module re-exports them with the
copy/device/dtype ops, and ``methods`` attaches them to ``Tensor`` under
torch's method names. ``trainkit/__init__.py`` re-exports the public names.
"""
from __future__ import annotations

from ..backend import device_of, to_device
from .elementwise import (  # noqa: F401 - re-exported
    Abs,
    Add,
    Clamp,
    Div,
    Exp,
    Log,
    MatMul,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    PowScalar,
    ReLU,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
    Where,
    _arr,
    abs,
    add,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    div,
    eq,
    exp,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    log,
    logical_not,
    lt,
    matmul,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
    where,
)
from .function import Function
from .reductions import (  # noqa: F401 - re-exported
    AMax,
    LogSoftmax,
    LogSumExp,
    MaxDim,
    Mean,
    Softmax,
    Sum,
    ValuesIndices,
    Var,
    amax,
    amin,
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    softmax,
    std,
    sum,
    var,
)
from .shaping import (  # noqa: F401 - re-exported
    Cat,
    Expand,
    GetItem,
    Reshape,
    Stack,
    Transpose,
    broadcast_to,
    cat,
    chunk,
    concat,
    concatenate,
    expand,
    expand_as,
    flatten,
    getitem,
    permute,
    reshape,
    setitem,
    split,
    squeeze,
    stack,
    swapaxes,
    t,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
    view,
)


# ---------------------------------------------------------------- device / dtype / copies
class ToDevice(Function):
    name = "to"

    def forward(self, a, device):
        self.source = device_of(a)
        return to_device(a, device)

    def backward(self, g):
        return to_device(g, self.source)


class Cast(Function):
    name = "to"

    def forward(self, a, dtype):
        self.source = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.source)


class Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


def clone(input):  # noqa: A002
    """A copy of ``input`` that stays in the graph (gradients flow back)."""
    return Clone.apply(input)


from . import methods as _methods  # noqa: E402,F401 - attaches Tensor methods
