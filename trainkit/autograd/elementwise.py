"""Element-wise differentiable ops: arithmetic, unary maths, clamp, where.

Binary ops broadcast like numpy; their backward sums each gradient back down
to its input's shape (``unbroadcast``). Python scalars take the tensor's dtype
(``_arr``), so ``float32 * 2.0`` stays float32 instead of becoming float64.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from .function import Function, ShapeError, as_array_like, unbroadcast
from .tensor import DEFAULT_DTYPE, Tensor

_SCALARS = (int, float, bool, np.number)


def _arr(x, like):
    """Operand as an array compatible with ``like`` (Python scalars take like's dtype)."""
    if isinstance(x, Tensor):
        return x
    return as_array_like(x, like.data if isinstance(like, Tensor) else like)


def _promote_int(t, scalar):
    """An integer tensor meeting a float scalar becomes float32 (torch's default dtype)."""
    if isinstance(scalar, (float, np.floating)) and t.data.dtype.kind in "iub":
        return t.to(dtype=DEFAULT_DTYPE)
    return t


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _promote_dtypes(a, b):
    """torch's ``promote_types``: across categories (bool < int < float < complex) the
    higher category's dtype wins unchanged (float32 with int64 is float32); within one
    category the wider dtype (numpy's rule)."""
    ca, cb = _CATEGORY.get(a.kind, 2), _CATEGORY.get(b.kind, 2)
    if ca == cb:
        return np.promote_types(a, b)
    return a if ca > cb else b


def result_dtype(a, b):
    """The dtype torch gives a binary op on Tensors ``a`` and ``b`` (``torch.result_type``).

    Tensors with dimensions outrank 0-d tensors: a 0-d operand changes the result
    only when it is of a higher category (``float32 (3,)`` with ``float64 ()`` is
    float32, ``int64 (3,)`` with ``float64 ()`` is float64).
    """
    da, db = a.data.dtype, b.data.dtype
    if da == db:
        return da
    a_dims, b_dims = a.data.ndim > 0, b.data.ndim > 0
    if a_dims == b_dims:
        return _promote_dtypes(da, db)
    higher, lower = (da, db) if a_dims else (db, da)
    ch, cl = _CATEGORY.get(higher.kind, 2), _CATEGORY.get(lower.kind, 2)
    return _promote_dtypes(higher, lower) if cl > ch else higher


def promote_tensors(a, b):
    """``a`` and ``b`` cast (differentiably) to their torch result dtype, where they differ."""
    want = result_dtype(a, b)
    if a.data.dtype != want:
        a = a.to(dtype=want)
    if b.data.dtype != want:
        b = b.to(dtype=want)
    return a, b


def _pair(a, b):
    """Both operands of a binary op, the non-Tensor one converted to match the other.

    Two Tensors of different dtypes follow torch's promotion (``result_dtype``),
    not numpy's: float32 + int64 stays float32.
    """
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a.data.dtype is b.data.dtype or a.data.dtype == b.data.dtype:
                return a, b
            return promote_tensors(a, b)
        a = _promote_int(a, b)
        return a, _arr(b, a)
    if isinstance(b, Tensor):
        b = _promote_int(b, a)
        return _arr(a, b), b
    raise TypeError(
        f"expected at least one Tensor operand, got {type(a).__name__} and {type(b).__name__}"
    )


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
def add(input, other, *, alpha=1):  # noqa: A002 - torch's argument names
    """``input + alpha * other`` with broadcasting (``torch.add``)."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return Add.apply(*_pair(input, other))


def sub(input, other, *, alpha=1):  # noqa: A002
    """``input - alpha * other`` with broadcasting (``torch.sub``)."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return Sub.apply(*_pair(input, other))


def mul(input, other):  # noqa: A002
    return Mul.apply(*_pair(input, other))


def div(input, other):  # noqa: A002
    return Div.apply(*_pair(input, other))


def pow(input, exponent):  # noqa: A001,A002 - mirrors torch.pow
    """``input ** exponent``; a Python-number exponent keeps the tensor's dtype."""
    if isinstance(input, Tensor) and isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
        if input.data.dtype.kind in "iub" and isinstance(exponent, float):
            input = input.to(dtype=DEFAULT_DTYPE)
        return PowScalar.apply(input, exponent=exponent)
    return Pow.apply(*_pair(input, exponent))


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
    return Maximum.apply(*_pair(input, other))


def minimum(input, other):  # noqa: A002
    return Minimum.apply(*_pair(input, other))


def where(condition, input=None, other=None):  # noqa: A002
    """``input`` where ``condition`` is true, else ``other`` (scalars allowed on either side).

    With only ``condition``, returns the tuple of index tensors of its true
    elements, like ``torch.where(condition)``.
    """
    cond = condition.data if isinstance(condition, Tensor) else condition
    if input is None and other is None:
        xp = get_array_module(cond)
        return tuple(Tensor._wrap(i.astype(np.int64), False) for i in xp.nonzero(cond))
    if input is None or other is None:
        raise TypeError("where(condition, input, other) needs both input and other (or neither)")
    if isinstance(input, Tensor) or isinstance(other, Tensor):
        a, b = _pair(input, other)
    else:
        xp = get_array_module(cond)
        a = xp.asarray(input, dtype=DEFAULT_DTYPE if isinstance(input, float) else None)
        b = xp.asarray(other, dtype=a.dtype)
        a, b = Tensor._wrap(a), b
    if cond.dtype != np.bool_:
        raise TypeError(f"where expected condition to be a boolean tensor, got dtype {cond.dtype}")
    return Where.apply(cond, a, b)


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
    dtype_type = input.data.dtype.type
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
        a = input.data if isinstance(input, Tensor) else input
        b = other.data if isinstance(other, Tensor) else other
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
    return Tensor._wrap(get_array_module(input.data).isfinite(input.data), False)


def isnan(input):  # noqa: A002
    return Tensor._wrap(get_array_module(input.data).isnan(input.data), False)


def logical_not(input):  # noqa: A002
    return Tensor._wrap(get_array_module(input.data).logical_not(input.data), False)

