"""numpy interoperability: Tensors where numpy-style code expects arrays.

Code written when ``.data`` and ``.grad`` were arrays (custom optimizers,
plugins: ``xp.sign(beta1 * m + (1 - beta1) * p.grad)``, ``m += c * p.grad``,
``xp.zeros_like(p.data)``, ``np.sum(p.data.astype(np.float64) ** 2)``) keeps
working now that they are Tensors sharing memory:

* numpy ufuncs accept Tensors (``__array_ufunc__``). The arithmetic and
  comparison ufuncs that ``array + tensor`` triggers (``add``, ``subtract``,
  ``multiply``, ``true_divide``, ``power``, ``matmul``, ``maximum``,
  ``minimum``, the comparisons) run as trainkit ops and return Tensors, so
  gradients flow as before; every other ufunc (``np.sign``, ``np.sqrt``), and
  any call with ``out=`` (``array += tensor`` writes into ``array``, in place,
  as it should), computes on the arrays and returns arrays.
* numpy functions accept Tensors (``__array_function__``): ``np.zeros_like``,
  ``np.sum``, ``np.linalg.norm``, ``np.concatenate`` and the rest run on the
  arrays underneath and return arrays.
* ``x.astype(dtype, copy=True)`` and ``x.copy()`` are numpy's cast and copy,
  returning Tensors (torch code writes ``.to(dtype)`` and ``.clone()``). On the GPU, ``__cuda_array_interface__``
  exposes the cupy array to cupy functions.

``methods.install`` attaches these to ``Tensor``.
"""
from __future__ import annotations

import numpy as np

from . import arithmetic as A
from . import conversion as C
from . import elementwise as E
from .tensor import Tensor

__all__ = ["array_function", "array_ufunc", "astype", "copy", "cuda_array_interface", "unwrap"]


def _matmul(a, b):
    return A.matmul(a if isinstance(a, Tensor) else Tensor._wrap(a), b if isinstance(b, Tensor) else Tensor._wrap(b))


# ufunc -> trainkit op, for the ufuncs that Python operators between an array and a Tensor call
_AS_OPS = {
    np.add: A.add, np.subtract: A.sub, np.multiply: A.mul, np.true_divide: A.div,
    np.power: A.pow, np.matmul: _matmul, np.maximum: A.maximum, np.minimum: A.minimum,
    np.equal: E.eq, np.not_equal: E.ne, np.less: E.lt, np.less_equal: E.le,
    np.greater: E.gt, np.greater_equal: E.ge,
}


def _array(t: Tensor):
    return t.array


def unwrap(value, get=_array):
    """``value`` with every Tensor (also inside tuples, lists and dicts) replaced by ``get(tensor)``.

    ``get`` defaults to the Tensor's array; ``Tensor.numpy`` gives host arrays.
    """
    if isinstance(value, Tensor):
        return get(value)
    if type(value) in (tuple, list):
        return type(value)(unwrap(v, get) for v in value)
    if type(value) is dict:
        return {k: unwrap(v, get) for k, v in value.items()}
    return value


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """``Tensor.__array_ufunc__``: operators as trainkit ops, everything else on the arrays."""
    if method == "__call__" and not kwargs:
        op = _AS_OPS.get(ufunc)
        if op is not None:
            return op(*inputs)
    out = kwargs.get("out")
    result = getattr(ufunc, method)(*unwrap(inputs), **unwrap(kwargs))
    if out is not None:  # written in place: hand back what the caller passed as out=
        return out[0] if len(out) == 1 else out
    return result


def array_function(self, func, types, args, kwargs):
    """``Tensor.__array_function__``: numpy functions run on the arrays underneath."""
    return func(*unwrap(args), **unwrap(kwargs))


def astype(self, dtype, copy: bool = True) -> Tensor:
    """numpy's ``astype``, returning a Tensor (``copy=False`` returns ``self`` when the dtype matches)."""
    if np.dtype(dtype) == self.array.dtype:
        return C.clone(self) if copy else self
    return C.to(self, dtype=np.dtype(dtype))


def copy(self) -> Tensor:
    """numpy's ``copy()``: a Tensor with its own memory, outside the graph (torch: ``.clone().detach()``)."""
    return Tensor._wrap(self.array.copy(), False)


def cuda_array_interface(self):
    """``__cuda_array_interface__`` of a cupy-backed Tensor (AttributeError on the CPU)."""
    return self.array.__cuda_array_interface__
