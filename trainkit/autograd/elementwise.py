"""Element-wise ops on one tensor: unary maths, clamp, comparisons and predicates.

The unary maths (exp, log, tanh, relu...) and ``clamp`` with scalar bounds are
differentiable ``Function`` classes; comparisons (``eq``, ``lt``...) and
predicates (``isfinite``, ``isnan``) return bool tensors outside the graph.
Binary arithmetic (+ - * / ** @, maximum/minimum, where) is in ``arithmetic``.
"""
from __future__ import annotations

from ..backend import get_array_module
from .dims import normalize_dims
from .arithmetic import maximum, minimum
from .function import Function
from .tensor import Tensor

__all__ = [
    "Abs", "Clamp", "Exp", "Log", "Neg", "ReLU", "Sigmoid", "Sqrt", "Tanh",
    "abs", "clamp", "clamp_max", "clamp_min", "clip", "eq", "exp", "ge", "gt", "isfinite",
    "isnan", "le", "log", "logical_not", "lt", "ne", "neg", "relu", "sigmoid", "sqrt", "tanh",
    "all", "any",
]


# ---------------------------------------------------------------- unary
class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Exp(Function):
    def forward(self, a):
        self.out = get_array_module(a).exp(a)
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return get_array_module(a).log(a)

    def backward(self, g):
        return g / self.a


class Sqrt(Function):
    def forward(self, a):
        self.out = get_array_module(a).sqrt(a)
        return self.out

    def backward(self, g):
        return g / (self.out * 2)


class Abs(Function):
    """``|a|``; the gradient at 0 is 0 (``sign(0)``), as in torch."""

    def forward(self, a):
        self.a = a
        return get_array_module(a).abs(a)

    def backward(self, g):
        return g * get_array_module(g).sign(self.a)


class Tanh(Function):
    def forward(self, a):
        self.out = get_array_module(a).tanh(a)
        return self.out

    def backward(self, g):
        return g * (1 - self.out * self.out)


class Sigmoid(Function):
    def forward(self, a):
        xp = get_array_module(a)
        # 0.5 * (1 + tanh(x/2)) never overflows, unlike 1 / (1 + exp(-x))
        half = a.dtype.type(0.5)
        self.out = half * (xp.tanh(a * half) + 1)
        return self.out

    def backward(self, g):
        return g * self.out * (1 - self.out)


class ReLU(Function):
    def forward(self, a):
        out = get_array_module(a).maximum(a, 0)
        self.out = out
        return out

    def backward(self, g):
        return g * (self.out > 0)


class Clamp(Function):
    """``clamp(a, min, max)`` with scalar bounds; gradient 1 where min <= a <= max."""

    def forward(self, a, min=None, max=None):  # noqa: A002 - torch's argument names
        xp = get_array_module(a)
        self.a, self.min, self.max = a, min, max
        if min is not None and max is not None:
            return xp.minimum(xp.maximum(a, min), max)
        if min is not None:
            return xp.maximum(a, min)
        return xp.minimum(a, max)

    def backward(self, g):
        a = self.a
        if self.min is not None and self.max is not None:
            mask = (a >= self.min) & (a <= self.max)
        elif self.min is not None:
            mask = a >= self.min
        else:
            mask = a <= self.max
        return g * mask


# ---------------------------------------------------------------- functional API
def neg(input):  # noqa: A002
    return Neg.apply(input)


def exp(input):  # noqa: A002
    return Exp.apply(input)


def log(input):  # noqa: A002
    return Log.apply(input)


def sqrt(input):  # noqa: A002
    return Sqrt.apply(input)


def abs(input):  # noqa: A001,A002 - mirrors torch.abs
    return Abs.apply(input)


def tanh(input):  # noqa: A002
    return Tanh.apply(input)


def sigmoid(input):  # noqa: A002
    return Sigmoid.apply(input)


def relu(input):  # noqa: A002
    return ReLU.apply(input)


def clamp(input, min=None, max=None):  # noqa: A001,A002 - torch's argument names
    """Limit ``input`` to ``[min, max]`` (either bound may be None; Tensors allowed).

    Gradient flows where ``min <= input <= max``, as in torch.
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given, got both None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    dtype_type = input.array.dtype.type
    lo = None if min is None else dtype_type(min)
    hi = None if max is None else dtype_type(max)
    return Clamp.apply(input, min=lo, max=hi)


clip = clamp


def clamp_min(input, min):  # noqa: A002
    return clamp(input, min=min)


def clamp_max(input, max):  # noqa: A002
    return clamp(input, max=max)


def _compare(name, op):
    def compare(input, other):  # noqa: A002
        a = input.array if isinstance(input, Tensor) else input
        b = other.array if isinstance(other, Tensor) else other
        return Tensor._wrap(op(a, b), False)

    compare.__name__ = name
    compare.__doc__ = f"Element-wise ``{name}``; returns a bool Tensor without gradient."
    return compare


eq = _compare("eq", lambda a, b: a == b)
ne = _compare("ne", lambda a, b: a != b)
lt = _compare("lt", lambda a, b: a < b)
le = _compare("le", lambda a, b: a <= b)
gt = _compare("gt", lambda a, b: a > b)
ge = _compare("ge", lambda a, b: a >= b)


def isfinite(input):  # noqa: A002
    return Tensor._wrap(get_array_module(input.array).isfinite(input.array), False)


def isnan(input):  # noqa: A002
    return Tensor._wrap(get_array_module(input.array).isnan(input.array), False)


def logical_not(input):  # noqa: A002
    return Tensor._wrap(get_array_module(input.array).logical_not(input.array), False)


def _truth(name, reduce):
    def test(input, dim=None, keepdim=False):  # noqa: A002
        data = input.array
        axis = normalize_dims(dim, data.ndim, name)
        if data.ndim == 0:
            axis = None
        return Tensor._wrap(get_array_module(data).asarray(reduce(data, axis=axis, keepdims=keepdim)), False)

    test.__name__ = name
    test.__doc__ = f"``torch.{name}``: whether {name} elements (over ``dim``) are non-zero; a bool Tensor."
    return test


all = _truth("all", lambda a, **kw: a.all(**kw))  # noqa: A001 - torch.all
any = _truth("any", lambda a, **kw: a.any(**kw))  # noqa: A001 - torch.any
