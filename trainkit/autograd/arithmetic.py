"""Binary differentiable ops: + - * / ** and @, maximum/minimum, where.

They broadcast like numpy; their backward sums each gradient back down to its
input's shape (``unbroadcast``). The result dtype follows torch, not numpy
(``promotion``): Python scalars take the tensor's dtype, so ``float32 * 2.0``
stays float32, and float32 with int64 is float32.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from .errors import ShapeError
from .function import Function, unbroadcast
from .promotion import binary_operands, promote_for_scalar
from .tensor import DEFAULT_DTYPE, Tensor

__all__ = [
    "Add", "Div", "MatMul", "Maximum", "Minimum", "Mul", "Pow", "PowScalar", "Sub", "Where",
    "add", "div", "matmul", "maximum", "minimum", "mul", "pow", "sub", "where",
]


# ---------------------------------------------------------------- binary arithmetic
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
        gb = unbroadcast(-g, self.shapes[1]) if self.needs_input_grad[1] else None
        return unbroadcast(g, self.shapes[0]), gb


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
    """``a ** b`` with both operands arrays (tensor exponent or tensor base of a scalar)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a**b
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


class PowScalar(Function):
    """``a ** p`` for a Python number ``p`` (``x ** 2``): numpy's fast paths, no upcast."""

    name = "pow"

    def forward(self, a, exponent):
        self.a, self.exponent = a, exponent
        return a**exponent

    def backward(self, g):
        p = self.exponent
        if p == 0:
            return g * 0
        if p == 2:
            return g * (self.a * 2)
        return g * (p * self.a ** (p - 1))


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
                # a (K,) against b (..., K, N): g is (..., N); each batch's gradient is the
                # outer product a x g, laid out (..., K, N) so unbroadcast sums batch axes only
                gb = a[:, None] * g[..., None, :] if b.ndim > 1 else g * a
            else:
                gg = g if b.ndim > 1 else g[..., :, None]
                gb = xp.swapaxes(a, -1, -2) @ gg
                if b.ndim == 1:
                    gb = gb[..., 0]
            gb = unbroadcast(gb, b.shape)
        return ga, gb


class Maximum(Function):
    """Element-wise max; at ties each side gets half the gradient (as torch)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return get_array_module(a).maximum(a, b)

    def backward(self, g):
        return _tie_split(self, g, self.a > self.b)


class Minimum(Function):
    """Element-wise min; at ties each side gets half the gradient (as torch)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return get_array_module(a).minimum(a, b)

    def backward(self, g):
        return _tie_split(self, g, self.a < self.b)


def _tie_split(fn, g, wins):
    xp = get_array_module(g)
    a, b = fn.a, fn.b
    half = g.dtype.type(0.5)
    weight = xp.where(a == b, half, wins.astype(g.dtype))
    ga = unbroadcast(g * weight, a.shape) if fn.needs_input_grad[0] else None
    gb = unbroadcast(g * (1 - weight), b.shape) if fn.needs_input_grad[1] else None
    return ga, gb


class Where(Function):
    """``where(condition, a, b)``; ``condition`` (bool) gets no gradient."""

    def forward(self, condition, a, b):
        self.condition, self.shapes = condition, (a.shape, b.shape)
        return get_array_module(a, b).where(condition, a, b)

    def backward(self, g):
        xp = get_array_module(g)
        zero = g.dtype.type(0)
        ga = gb = None
        if self.needs_input_grad[1]:
            ga = unbroadcast(xp.where(self.condition, g, zero), self.shapes[0])
        if self.needs_input_grad[2]:
            gb = unbroadcast(xp.where(self.condition, zero, g), self.shapes[1])
        return None, ga, gb


# ---------------------------------------------------------------- functional API
def add(input, other, *, alpha=1):  # noqa: A002 - torch's argument names
    """``input + alpha * other`` with broadcasting (``torch.add``)."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return Add.apply(*binary_operands(input, other))


def sub(input, other, *, alpha=1):  # noqa: A002
    """``input - alpha * other`` with broadcasting (``torch.sub``)."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return Sub.apply(*binary_operands(input, other))


def mul(input, other):  # noqa: A002
    return Mul.apply(*binary_operands(input, other))


def div(input, other):  # noqa: A002
    return Div.apply(*binary_operands(input, other))


def pow(input, exponent):  # noqa: A001,A002 - mirrors torch.pow
    """``input ** exponent``; a Python-number exponent keeps the tensor's dtype."""
    if isinstance(input, Tensor) and isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
        input = promote_for_scalar(input, exponent)
        return PowScalar.apply(input, exponent=exponent)
    return Pow.apply(*binary_operands(input, exponent))


def matmul(input, other):  # noqa: A002
    """Matrix product with numpy's (and torch's) broadcasting rules."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(
            f"matmul expects two Tensors, got {type(input).__name__} and {type(other).__name__}"
        )
    if input.ndim == 0 or other.ndim == 0:
        raise ShapeError(
            f"matmul: both arguments need at least 1 dimension, got shapes "
            f"{input.shape} and {other.shape}"
        )
    return MatMul.apply(input, other)


def maximum(input, other):  # noqa: A002
    return Maximum.apply(*binary_operands(input, other))


def minimum(input, other):  # noqa: A002
    return Minimum.apply(*binary_operands(input, other))


def where(condition, input=None, other=None):  # noqa: A002
    """``input`` where ``condition`` is true, else ``other`` (scalars allowed on either side).

    With only ``condition``, returns the tuple of index tensors of its true
    elements, like ``torch.where(condition)``.
    """
    cond = condition.array if isinstance(condition, Tensor) else condition
    if input is None and other is None:
        xp = get_array_module(cond)
        return tuple(Tensor._wrap(i.astype(np.int64), False) for i in xp.nonzero(cond))
    if input is None or other is None:
        raise TypeError("where(condition, input, other) needs both input and other (or neither)")
    if isinstance(input, Tensor) or isinstance(other, Tensor):
        a, b = binary_operands(input, other)
    else:
        xp = get_array_module(cond)
        a = xp.asarray(input, dtype=DEFAULT_DTYPE if isinstance(input, float) else None)
        b = xp.asarray(other, dtype=a.dtype)
        a, b = Tensor._wrap(a), b
    if cond.dtype != np.bool_:
        raise TypeError(f"where expected condition to be a boolean tensor, got dtype {cond.dtype}")
    return Where.apply(cond, a, b)
