"""Finite-difference gradient checking, in float64, for ops, layers and losses.

Used by the test suite (every op and layer passes it) and available to users
who write their own ``Function``.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from .tensor import Tensor


def numerical_grad(fn, inputs, index, eps=1e-6):
    """Central differences of ``sum(fn(*inputs) * w)`` w.r.t. ``inputs[index]``."""
    x = inputs[index]
    data = x.array
    xp = get_array_module(data)
    grad = xp.zeros_like(data)
    for idx in np.ndindex(*data.shape):  # element-wise, so any strides work
        orig = data[idx].item()
        data[idx] = orig + eps
        plus = _scalar(fn(*inputs))
        data[idx] = orig - eps
        minus = _scalar(fn(*inputs))
        data[idx] = orig
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


def _scalar(out):
    data = out.array if isinstance(out, Tensor) else out
    return float(data.sum())


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0):
    """Check autograd gradients of ``fn(*inputs)`` against central differences.

    ``inputs`` are float64 Tensors; those with ``requires_grad=True`` are
    checked. The output is contracted with fixed random weights so that every
    output element contributes. Raises ``AssertionError`` naming the input and
    the worst element on failure; returns True otherwise.
    """
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad:
            if t.dtype != np.float64:
                raise TypeError(f"gradcheck needs float64 inputs, input {i} is {t.dtype}")
            flags = getattr(t.array, "flags", None)
            if flags is not None and not getattr(flags, "writeable", True):
                raise ValueError(
                    f"gradcheck perturbs inputs in place, but input {i} is a read-only array "
                    "(e.g. a broadcast view); pass a copy"
                )
    out = fn(*inputs)
    xp = get_array_module(out.array)
    rng = np.random.default_rng(seed)
    weights = xp.asarray(rng.standard_normal(out.shape))
    w_t = Tensor(weights)

    def weighted(*args):
        return (fn(*args) * w_t).sum()

    for t in inputs:
        if isinstance(t, Tensor):
            t.grad_array = None
    weighted(*inputs).backward()
    for i, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        analytic = t.grad_array if t.grad_array is not None else xp.zeros_like(t.array)
        numeric = numerical_grad(weighted, list(inputs), i, eps)
        if not bool(xp.allclose(analytic, numeric, atol=atol, rtol=rtol)):
            err = xp.abs(analytic - numeric)
            worst = int(err.reshape(-1).argmax())
            raise AssertionError(
                f"gradcheck failed for input {i} (shape {t.shape}): element {worst} "
                f"analytic {analytic.reshape(-1)[worst]!r} vs numeric {numeric.reshape(-1)[worst]!r}; "
                f"max abs error {float(err.max()):.3e}"
            )
    return True
