"""Gradient utilities with torch.nn.utils' names and arithmetic.

``clip_grad_norm_`` follows torch exactly: the total norm is the ``norm_type``
norm of the per-tensor norms (each returned in the gradient's dtype, but
accumulated in float32 for float16 gradients, as torch's CPU and CUDA kernels
do), the clip coefficient is ``max_norm / (total_norm + 1e-6)`` clamped to 1.0
(computed as torch evaluates that Python expression: the reciprocal of
``total_norm + 1e-6`` rounded to the norm's dtype, then times ``max_norm``), and
every gradient is multiplied by it in place (so optimizer-owned gradient
buffers stay aliased; float16 gradients are multiplied in float32 and rounded
once). Gradients too large for their dtype give an ``inf`` norm without numpy
overflow warnings, as in torch. Works on numpy and cupy gradients alike.
Large float32/64 CPU gradients (from about 262,144 elements) take the 2-norm
and the scaling on numba's threads (:mod:`._clip_kernels`: the same multiply;
the sum of squares accumulated in float64).

>>> # total = clip_grad_norm_(model.parameters(), max_norm=1.0)  # after backward, before step
"""
from __future__ import annotations

import math
import types
import warnings

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import device_of, get_array_module, to_device
from . import _clip_kernels

__all__ = [
    "grad_norm",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "get_total_norm",
    "parameters_to_vector",
    "vector_to_parameters",
]


def _as_list(parameters) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _grads(parameters) -> list:
    return [p.grad_array for p in parameters if p.grad_array is not None]


def _norm_type(norm_type) -> float:
    try:
        value = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(
            f"norm_type must be a number (1, 2, any p, 'inf' or float('inf')), got {norm_type!r}"
        ) from None
    if math.isnan(value):
        raise ValueError("norm_type must not be NaN")
    return value


def _opmath(dtype):
    """The dtype torch computes in for ``dtype``: float32 for 16-bit floats, else ``dtype`` itself."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype.kind == "f" and dtype.itemsize < 4 else dtype


def _vector_norm(x, p: float, fused_min: int | None = None):
    """``torch.linalg.vector_norm(x, p)`` over all elements, as a 0-d array of x's dtype.

    16-bit floats are accumulated in float32 and the result rounded back (torch's
    accumulation type). Call it under ``np.errstate(over="ignore")``: a norm past
    the dtype's range is ``inf``, as in torch, not a warning. A 2-norm of at least
    ``fused_min`` elements (:func:`._clip_kernels.min_size`) runs on numba's threads.
    """
    xp = get_array_module(x)
    flat = x.ravel()
    if flat.size == 0:
        return xp.zeros((), dtype=x.dtype)
    low = x.dtype.itemsize < 4 and x.dtype.kind == "f"  # float16 (bfloat16): accumulate in float32
    acc = np.dtype(np.float32) if low else x.dtype
    if low:
        flat = flat.astype(acc)
    if p == 2 and fused_min is not None and _clip_kernels.eligible(x, fused_min):
        # a large float32/64 gradient: the sum of squares on numba's threads, accumulated in float64
        out = x.dtype.type(math.sqrt(_clip_kernels.kernels()["sumsq"](flat)))
    elif p == 2:
        # the common case: one BLAS dot, no |x| temporary (x.x == |x|.|x| exactly)
        out = xp.sqrt(xp.dot(flat, flat))
    elif p == 0:
        out = xp.asarray(xp.count_nonzero(flat), dtype=acc)
    else:
        a = xp.abs(flat)
        if p == math.inf:
            out = a.max()
        elif p == -math.inf:
            out = a.min()
        elif p == 1:
            out = a.sum()
        else:
            out = (a**p).sum() ** (1.0 / p)
    return xp.asarray(out).astype(x.dtype) if low else out


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The ``norm_type`` norm of the per-tensor norms of ``tensors`` (arrays or Tensors).

    Args:
        tensors: gradients (arrays), Tensors, or one of them.
        norm_type: 1, 2, any p, ``inf``/``-inf`` or 0 (count of non-zeros).
        error_if_nonfinite: raise when the total is NaN or infinite.

    Returns:
        A 0-d Tensor in the dtype of the gradients, on the first one's device.
    """
    if isinstance(tensors, Tensor) or hasattr(tensors, "shape"):
        tensors = [tensors]
    arrays = [t.array if isinstance(t, Tensor) else t for t in tensors]
    p = _norm_type(norm_type)
    if not arrays:
        return Tensor(np.zeros((), dtype=np.float32))
    first = device_of(arrays[0])
    with np.errstate(over="ignore", invalid="ignore"):  # huge gradients: inf, as torch, without warnings
        fused_min = _clip_kernels.min_size() if p == 2 else None
        norms = [to_device(_vector_norm(a, p, fused_min), first) for a in arrays]
        xp = get_array_module(norms[0])
        dtype = np.result_type(*[n.dtype for n in norms])
        total = _vector_norm(xp.stack([n.astype(dtype, copy=False) for n in norms]), p)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite "
            "norm anyway, set `error_if_nonfinite=False`"
        )
    return Tensor(total)


def grad_norm(parameters):
    """The 2-norm of all gradients of ``parameters`` as a device scalar, or None without gradients.

    For logging inside a loop: one BLAS dot per gradient and no host transfer
    (nothing synchronises until the caller converts the result). Use
    :func:`get_total_norm` for other norms and for a Tensor result.
    """
    total = None
    for p in parameters:
        g = p.grad_array
        if g is None:
            continue
        flat = g.reshape(-1)
        sq = get_array_module(flat).vdot(flat, flat)
        total = sq if total is None else total + sq
    if total is None:
        return None
    return get_array_module(total).sqrt(total)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm) -> None:
    """Scale gradients in place by ``min(1, max_norm / (total_norm + 1e-6))``."""
    parameters = _as_list(parameters)
    grads = _grads(parameters)
    if not grads:
        return
    total = total_norm.array if isinstance(total_norm, Tensor) else total_norm
    xp = get_array_module(total)
    total = xp.asarray(total)
    dtype = total.dtype
    op = _opmath(dtype).type
    # torch evaluates ``max_norm / (total + 1e-6)`` as (total + 1e-6).reciprocal() * max_norm,
    # each op computed in the opmath type and rounded to the norm's dtype
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if xp is np:  # numpy scalars: the same roundings, a fraction of the 0-d array overhead
            cast = dtype.type
            den = cast(op(total[()]) + op(1e-6))
            coef = xp.asarray(cast(op(cast(op(1.0) / op(den))) * op(float(max_norm))))
        else:
            den = (total.astype(op) + op(1e-6)).astype(dtype)
            recip = (op(1.0) / den.astype(op)).astype(dtype)
            coef = (recip.astype(op) * op(float(max_norm))).astype(dtype)
    one = dtype.type(1.0)
    coef = xp.minimum(coef, one)
    if xp is np and coef == one:
        return  # nothing to clip: g * 1.0 == g bit for bit, so skip the pass (not on cupy: no sync)
    fused_min = _clip_kernels.min_size()
    with np.errstate(over="ignore", invalid="ignore"):
        for g in grads:
            c = to_device(coef, device_of(g)).astype(_opmath(g.dtype), copy=False)
            if c.dtype == g.dtype and _clip_kernels.eligible(g, fused_min):
                _clip_kernels.kernels()["scale"](g.reshape(-1), c[()])  # the same multiply, on numba's threads
            elif c.dtype == g.dtype:
                g *= c
            else:  # 16-bit gradient: multiply in float32, round once (torch's opmath)
                xp.multiply(g, c, out=g, dtype=c.dtype, casting="unsafe")


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Clip the gradients of ``parameters`` so their total norm is at most ``max_norm``.

    Call after ``loss.backward()`` and before ``optimizer.step()``.

    Args:
        parameters: Parameters (an iterable, or one); those without ``.grad`` are skipped.
        max_norm: the largest allowed total norm.
        norm_type: 1, 2 (default), any p, or ``inf``.
        error_if_nonfinite: raise ``RuntimeError`` if the total norm is NaN or
            infinite (otherwise the gradients are scaled by it anyway, as torch does).

    Returns:
        The total norm before clipping (a 0-d Tensor).
    """
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = _as_list(parameters)
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element of ``parameters`` into ``[-clip_value, clip_value]`` in place."""
    parameters = _as_list(parameters)
    v = float(clip_value)
    for g in _grads(parameters):
        xp = get_array_module(g)
        xp.clip(g, -v, v, out=g)


def parameters_to_vector(parameters) -> Tensor:
    """One flat Tensor holding every parameter's values, in order (a copy)."""
    arrays = [p.array.ravel() for p in _as_list(parameters)]
    if not arrays:
        raise ValueError("parameters_to_vector got no parameters")
    xp = get_array_module(arrays[0])
    return Tensor(xp.concatenate(arrays))


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the flat ``vec`` into ``parameters`` (in place)."""
    data = vec.array if isinstance(vec, Tensor) else vec
    if getattr(data, "ndim", None) != 1:
        raise TypeError(f"expected vec to be a 1-D array or Tensor, got shape {getattr(data, 'shape', None)}")
    params = _as_list(parameters)
    needed = sum(int(p.array.size) for p in params)
    if needed != data.shape[0]:
        raise ValueError(f"vec has {data.shape[0]} elements, the parameters need {needed}")
    offset = 0
    for p in params:
        n = int(p.array.size)
        p.array[...] = to_device(data[offset : offset + n], device_of(p.array)).reshape(p.array.shape)
        offset += n
