"""Differentiable operations, one small ``Function`` each.

Every op computes on raw arrays with ``xp = get_array_module(x)`` so the same
code runs on numpy and cupy. Lowercase wrappers at the bottom are the public
functional API (``trainkit.exp(t)``); ``Tensor``'s operators and methods are
attached at import time by ``_install_methods``.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module, to_device
from .function import Function, as_array_like, unbroadcast
from .tensor import Tensor


def _arr(x, like):
    """Operand as an array compatible with ``like`` (Python scalars take like's dtype)."""
    if isinstance(x, Tensor):
        return x
    return as_array_like(x, like.data if isinstance(like, Tensor) else like)


# ---------------------------------------------------------------- elementwise binary
class Add(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a + b

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(g, self.shapes[1])


class Sub(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(-g, self.shapes[1])


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        a, b = self.a, self.b
        ga = unbroadcast(g * b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        a, b = self.a, self.b
        ga = unbroadcast(g / b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a ** b
        return self.out

    def backward(self, g):
        a, b, out = self.a, self.b, self.out
        xp = get_array_module(a)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(g * b * a ** (b - 1), a.shape)
        if self.needs_input_grad[1]:
            safe = xp.where(a > 0, a, xp.ones_like(a))
            gb = unbroadcast(g * out * xp.log(safe), b.shape)
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class MatMul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        xp = get_array_module(a)
        ga = gb = None
        if self.needs_input_grad[0]:
            if b.ndim == 1:
                ga = xp.multiply.outer(g, b) if a.ndim > 1 else g * b
            else:
                gg = g if a.ndim > 1 else g[..., None, :]
                ga = gg @ xp.swapaxes(b, -1, -2)
                if a.ndim == 1:
                    ga = ga[..., 0, :]
            ga = unbroadcast(ga, a.shape)
        if self.needs_input_grad[1]:
            if a.ndim == 1:
                gb = xp.multiply.outer(a, g) if b.ndim > 1 else g * a
            else:
                gg = g if b.ndim > 1 else g[..., :, None]
                gb = xp.swapaxes(a, -1, -2) @ gg
                if b.ndim == 1:
                    gb = gb[..., 0]
            gb = unbroadcast(gb, b.shape)
        return ga, gb


# ---------------------------------------------------------------- elementwise unary
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
        xp = get_array_module(a)
        self.mask = a > 0
        return xp.where(self.mask, a, a.dtype.type(0))

    def backward(self, g):
        return g * self.mask


# ---------------------------------------------------------------- reductions
def _norm_axis(axis, ndim):
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return tuple(a % ndim for a in axis)
    return (axis % ndim,)


def _expand_reduced(g, shape, axis, keepdim):
    """Reshape a reduced gradient so it broadcasts back to ``shape``."""
    if axis is None:
        return g.reshape((1,) * len(shape)) if not keepdim else g
    if not keepdim:
        g = get_array_module(g).expand_dims(g, axis)
    return g


class Sum(Function):
    def forward(self, a, axis=None, keepdim=False):
        self.shape = a.shape
        self.axis = _norm_axis(axis, a.ndim)
        self.keepdim = keepdim
        return a.sum(axis=self.axis, keepdims=keepdim)

    def backward(self, g):
        xp = get_array_module(g)
        g = _expand_reduced(g, self.shape, self.axis, self.keepdim)
        return xp.broadcast_to(g, self.shape)


class Mean(Function):
    def forward(self, a, axis=None, keepdim=False):
        self.shape = a.shape
        self.axis = _norm_axis(axis, a.ndim)
        self.keepdim = keepdim
        out = a.mean(axis=self.axis, keepdims=keepdim)
        self.count = a.size // max(out.size, 1) if a.size else 1
        return out

    def backward(self, g):
        xp = get_array_module(g)
        g = _expand_reduced(g, self.shape, self.axis, self.keepdim)
        return xp.broadcast_to(g / g.dtype.type(self.count), self.shape)


# ---------------------------------------------------------------- shape
class Reshape(Function):
    def forward(self, a, shape):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return g.reshape(self.shape)


class Transpose(Function):
    """General axis permutation (``permute``); ``transpose(d0, d1)`` and ``.T`` use it."""

    def forward(self, a, axes=None):
        if axes is None:
            axes = tuple(reversed(range(a.ndim)))
        self.axes = tuple(ax % a.ndim for ax in axes)
        return get_array_module(a).transpose(a, self.axes)

    def backward(self, g):
        inverse = np.argsort(self.axes)
        return get_array_module(g).transpose(g, tuple(int(i) for i in inverse))


# ---------------------------------------------------------------- device / dtype / copies
class ToDevice(Function):
    def forward(self, a, device):
        from ..backend import device_of

        self.source = device_of(a)
        return to_device(a, device)

    def backward(self, g):
        return to_device(g, self.source)


class Cast(Function):
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


# ---------------------------------------------------------------- functional API
def add(a, b):
    return Add.apply(a, _arr(b, a)) if isinstance(a, Tensor) else Add.apply(_arr(a, b), b)


def sub(a, b):
    return Sub.apply(a, _arr(b, a)) if isinstance(a, Tensor) else Sub.apply(_arr(a, b), b)


def mul(a, b):
    return Mul.apply(a, _arr(b, a)) if isinstance(a, Tensor) else Mul.apply(_arr(a, b), b)


def div(a, b):
    return Div.apply(a, _arr(b, a)) if isinstance(a, Tensor) else Div.apply(_arr(a, b), b)


def pow(a, b):  # noqa: A001 - mirrors torch.pow
    return Pow.apply(a, _arr(b, a)) if isinstance(a, Tensor) else Pow.apply(_arr(a, b), b)


def matmul(a, b):
    return MatMul.apply(a, b)


def neg(a):
    return Neg.apply(a)


def exp(a):
    return Exp.apply(a)


def log(a):
    return Log.apply(a)


def tanh(a):
    return Tanh.apply(a)


def sigmoid(a):
    return Sigmoid.apply(a)


def relu(a):
    return ReLU.apply(a)


def sum(a, dim=None, keepdim=False):  # noqa: A001 - mirrors torch.sum
    return Sum.apply(a, axis=dim, keepdim=keepdim)


def mean(a, dim=None, keepdim=False):
    return Mean.apply(a, axis=dim, keepdim=keepdim)


def reshape(a, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape.apply(a, shape=shape)


def permute(a, *dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return Transpose.apply(a, axes=dims)


def transpose(a, dim0, dim1):
    axes = list(range(a.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Transpose.apply(a, axes=tuple(axes))


def _compare(op):
    def method(self, other):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self.data, other), False)

    return method


def _install_methods():
    T = Tensor
    T.__add__ = lambda s, o: add(s, o)
    T.__radd__ = lambda s, o: add(o, s)
    T.__sub__ = lambda s, o: sub(s, o)
    T.__rsub__ = lambda s, o: sub(o, s)
    T.__mul__ = lambda s, o: mul(s, o)
    T.__rmul__ = lambda s, o: mul(o, s)
    T.__truediv__ = lambda s, o: div(s, o)
    T.__rtruediv__ = lambda s, o: div(o, s)
    T.__pow__ = lambda s, o: pow(s, o)
    T.__rpow__ = lambda s, o: pow(o, s)
    T.__matmul__ = lambda s, o: matmul(s, o)
    T.__rmatmul__ = lambda s, o: matmul(o, s)
    T.__neg__ = lambda s: neg(s)
    T.__pos__ = lambda s: s
    T.__lt__ = _compare(lambda a, b: a < b)
    T.__le__ = _compare(lambda a, b: a <= b)
    T.__gt__ = _compare(lambda a, b: a > b)
    T.__ge__ = _compare(lambda a, b: a >= b)
    T.__eq__ = _compare(lambda a, b: a == b)
    T.__ne__ = _compare(lambda a, b: a != b)
    T.__hash__ = lambda s: id(s)
    T.exp = exp
    T.log = log
    T.tanh = tanh
    T.sigmoid = sigmoid
    T.relu = relu
    T.sum = sum
    T.mean = mean
    T.matmul = matmul
    T.reshape = reshape
    T.view = reshape
    T.permute = permute
    T.transpose = transpose
    T.T = property(lambda s: Transpose.apply(s))
    T.add = add
    T.sub = sub
    T.mul = mul
    T.div = div
    T.pow = pow


_install_methods()
