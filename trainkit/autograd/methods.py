"""Attach the ops to ``Tensor`` under torch's operator and method names.

The one place that binds op functions onto ``Tensor``: ``trainkit.autograd``
imports this module last, and ``install()`` runs once, at that import. Kept
apart from ``tensor.py`` so the Tensor class stays a small data holder below
every op in the import graph, and every op is written once, as a function;
``x.softmax(-1)`` is just ``softmax(x, -1)``.
"""
from __future__ import annotations

import numpy as np

from .. import random as _random
from ..backend import get_array_module
from . import arithmetic as A
from . import conversion as C
from . import elementwise as E
from . import indexing
from . import interop
from . import reductions as R
from . import shaping as S
from .grad_mode import is_grad_enabled
from .tensor import Tensor


def _reflected(fn):
    return lambda self, other: fn(other, self)


def _apply_ufunc_in_place(self, other, ufunc_name):
    """Write ``ufunc(self, other)`` into ``self.array`` (the shared tail of ``+=`` and ``add_``)."""
    data = self.array
    value = other.array if isinstance(other, Tensor) else other
    getattr(get_array_module(data), ufunc_name)(data, value, out=data)
    return self


def _inplace(name, fn, ufunc_name):
    """``x += y`` etc.: in place on ``.array`` outside the graph, out of place inside it.

    Inside ``no_grad()`` (the hand-written SGD update ``w -= lr * w.grad``)
    the parameter's array is updated in place and ``w`` stays the same leaf.
    A leaf that requires grad cannot be changed in place while recording (as
    in torch); a non-leaf gets the out-of-place result, which is
    mathematically the same.
    """

    def method(self, other):
        other_grad = isinstance(other, Tensor) and other.requires_grad
        if is_grad_enabled() and (self.requires_grad or other_grad):
            if self.requires_grad and self._ctx is None:
                raise RuntimeError(
                    f"a leaf Variable that requires grad is being used in an in-place operation "
                    f"({name}); wrap the update in trainkit.no_grad() or change x.data"
                )
            return fn(self, other)
        return _apply_ufunc_in_place(self, other, ufunc_name)

    method.__name__ = name
    return method


def _legacy_alpha(name, other, args, alpha):
    """``(other, alpha)`` of ``x.add_(y, alpha=a)``, or of torch's deprecated ``x.add_(a, y)`` form.

    Old tutorials write ``p.data.add_(-lr, p.grad.data)``; torch still accepts it.
    """
    if not args:
        return other, alpha
    if len(args) > 1 or alpha != 1 or isinstance(other, Tensor) or not isinstance(args[0], Tensor):
        raise TypeError(
            f"{name}() takes (other, *, alpha=1) or the deprecated (alpha: Number, other: Tensor), "
            f"got {len(args) + 1} positional arguments"
        )
    return args[0], other


def _with_alpha(name, fn):
    """``x.add(y, alpha=a)`` / ``x.sub(...)`` accepting the deprecated ``x.add(a, y)`` as well."""

    def method(self, other, *args, alpha=1):
        other, alpha = _legacy_alpha(name, other, args, alpha)
        return fn(self, other, alpha=alpha)

    method.__name__ = name
    return method


def _method_inplace(name, ufunc_name, alpha_arg=False):
    """``x.add_(y)`` etc.: always in place on ``.array``, so never on a tensor in the graph."""

    def method(self, other, *args, alpha=1):
        if alpha_arg:
            other, alpha = _legacy_alpha(name, other, args, alpha)
        elif args:
            raise TypeError(f"{name}() takes 1 positional argument, got {len(args) + 1}")
        if alpha_arg and alpha != 1:
            other = other * alpha
        if is_grad_enabled() and (
            self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)
        ):
            raise RuntimeError(
                f"{name}: in-place operation on a tensor that requires grad while recording the "
                f"graph; wrap it in trainkit.no_grad() or use the out-of-place {name[:-1]}()"
            )
        return _apply_ufunc_in_place(self, other, ufunc_name)

    method.__name__ = name
    return method


def _clamp_(self, min=None, max=None):  # noqa: A002
    if self.requires_grad and is_grad_enabled():
        raise RuntimeError("clamp_ on a tensor that requires grad; use clamp() or no_grad()")
    xp = get_array_module(self.array)
    xp.clip(self.array, min, max, out=self.array)
    return self


def _fill_(self, value):
    _check_writable(self, "fill_")
    self.array[...] = value.array if isinstance(value, Tensor) else value
    return self


def _copy_(self, src):
    _check_writable(self, "copy_")
    src = src.array if isinstance(src, Tensor) else src
    self.array[...] = get_array_module(self.array).asarray(src)
    return self


def _normal_(self, mean=0.0, std=1.0):
    _check_writable(self, "normal_")
    xp = get_array_module(self.array)
    gen = _random.generator_for(xp)
    self.array[...] = gen.standard_normal(self.array.shape) * std + mean
    return self


def _uniform_(self, a=0.0, b=1.0):  # noqa: D401 - torch's argument names
    _check_writable(self, "uniform_")
    xp = get_array_module(self.array)
    gen = _random.generator_for(xp)
    self.array[...] = gen.random(self.array.shape) * (b - a) + a
    return self


def _check_writable(self, name):
    if self.requires_grad and self._ctx is None and is_grad_enabled():
        raise RuntimeError(
            f"a leaf Variable that requires grad is being used in an in-place operation ({name}); "
            "wrap it in trainkit.no_grad()"
        )


def _iter(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(self.array.shape[0]))


def _masked_fill(self, mask, value):
    return A.where(mask, value, self)


def install() -> None:
    """Attach operators and methods to Tensor (called once, when ``methods`` is imported)."""
    T = Tensor
    # operators: ``x + y`` and the reflected ``2 + x``
    for name, fn in (
        ("add", A.add), ("sub", A.sub), ("mul", A.mul), ("truediv", A.div), ("pow", A.pow),
        ("matmul", A.matmul),
    ):
        setattr(T, f"__{name}__", fn)
        setattr(T, f"__r{name}__", _reflected(fn))
    T.__neg__ = E.neg
    T.__pos__ = lambda s: s
    T.__abs__ = E.abs
    for name, fn, ufunc_name in (
        ("__iadd__", A.add, "add"), ("__isub__", A.sub, "subtract"),
        ("__imul__", A.mul, "multiply"), ("__itruediv__", A.div, "divide"),
    ):
        setattr(T, name, _inplace(name, fn, ufunc_name))
    for name in ("lt", "le", "gt", "ge", "eq", "ne"):
        setattr(T, f"__{name}__", getattr(E, name))
    T.__hash__ = lambda s: id(s)
    T.__getitem__ = indexing.getitem
    T.__setitem__ = indexing.setitem
    T.__iter__ = _iter
    # arithmetic and maths
    for name in ("mul", "div", "pow", "matmul", "maximum", "minimum"):
        setattr(T, name, getattr(A, name))
    T.add, T.sub = _with_alpha("add", A.add), _with_alpha("sub", A.sub)
    for name in (
        "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clamp", "clip",
        "clamp_min", "clamp_max", "eq", "ne", "lt", "le", "gt", "ge", "isfinite", "isnan",
        "logical_not", "all", "any",
    ):
        setattr(T, name, getattr(E, name))
    T.mm = A.matmul
    T.subtract, T.multiply, T.divide = T.sub, A.mul, A.div
    T.square = lambda s: A.pow(s, 2)
    T.where = lambda s, condition, other: A.where(condition, s, other)
    T.masked_fill = _masked_fill
    # reductions
    for name in (
        "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin",
        "softmax", "log_softmax", "logsumexp",
    ):
        setattr(T, name, getattr(R, name))
    # shapes
    for name in (
        "reshape", "view", "flatten", "unflatten", "squeeze", "unsqueeze", "permute",
        "transpose", "swapaxes", "t", "expand", "expand_as", "broadcast_to", "split", "chunk",
        "unbind",
    ):
        setattr(T, name, getattr(S, name))
    T.view_as = lambda s, other: S.reshape(s, other.shape)
    T.reshape_as = T.view_as
    T.T = property(lambda s: S.Transpose.apply(s))
    T.mT = property(lambda s: S.transpose(s, -2, -1))
    T.contiguous = lambda s: s
    # device, dtype and copies (differentiable)
    for name in ("to", "cpu", "cuda", "float", "double", "type_as", "clone"):
        setattr(T, name, getattr(C, name))
    # in place, outside the graph
    T.add_ = _method_inplace("add_", "add", alpha_arg=True)
    T.sub_ = _method_inplace("sub_", "subtract", alpha_arg=True)
    T.mul_ = _method_inplace("mul_", "multiply")
    T.div_ = _method_inplace("div_", "divide")
    T.clamp_ = _clamp_
    T.fill_ = _fill_
    T.copy_ = _copy_
    T.normal_ = _normal_
    T.uniform_ = _uniform_
    T.bool = lambda s: Tensor._wrap(s.array.astype(np.bool_), False)
    # numpy-style code on Tensors (custom optimizers written when .data/.grad were arrays)
    T.__array_ufunc__ = interop.array_ufunc
    T.__array_function__ = interop.array_function
    T.astype = interop.astype
    T.copy = interop.copy
    T.__cuda_array_interface__ = property(interop.cuda_array_interface)


install()
