"""The error function on numpy arrays, accurate to float64 round-off, without scipy.

Exact GELU needs ``erf``; numpy has none and scipy is no dependency of
trainkit. This is the numpy path (numba switched off or missing; the numba
GELU kernels use their own polynomial, see :mod:`._fast_math`):

* ``|u| < 1``: ``erf(u) = u * P(2u^2 - 1)``, P a degree-16 Chebyshev series;
* ``1 <= |u| < 6``: ``erf(u) = 1 - exp(-u^2) * Q(1/u) / u`` (``Q`` the scaled
  complementary error function ``u * erfc(u) * exp(u^2)``, a degree-26
  Chebyshev series in ``1/u``), with ``u^2`` split exactly into ``p + e``
  (Dekker) so that ``exp(-u^2)`` loses nothing to rounding ``u^2``;
* ``|u| >= 6``: ``+-1`` (``erfc(6) = 2e-17`` is below float64's half-ulp of 1).

The two series are least-squares fits at 600 Chebyshev nodes to the standard
library's ``math.erf``/``math.erfc``, computed once on first use (a few ms),
so no table of magic numbers lives here. Measured: relative error below
5e-16 against ``math.erf`` over ``[-7, 7]`` (tested). Work is done in float64
on cache-sized chunks (about 40 ns an element); the result has the input's dtype.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numpy.polynomial import chebyshev as cheb

_CHUNK = 16384
_TAIL_LO, _TAIL_HI = 1.0 / 6.0, 1.0  # the tail series' range of 1/u
_BIG = 6.0


def chebyshev_nodes(n: int):
    """The ``n`` Chebyshev points of the first kind on ``[-1, 1]``."""
    return np.cos(np.pi * (np.arange(n) + 0.5) / n)


def square_split(u):
    """``u * u`` as ``p + e`` exactly (Dekker's product: ``p`` the rounded square, ``e`` its error)."""
    c = 134217729.0 * u  # 2**27 + 1 splits a double into two 26-bit halves
    hi = c - (c - u)
    lo = u - hi
    p = u * u
    return p, ((hi * hi - p) + 2.0 * hi * lo) + lo * lo


@functools.lru_cache(maxsize=None)
def _series():
    s = chebyshev_nodes(600)
    u = np.sqrt((s + 1.0) / 2.0)
    small = cheb.chebfit(s, [math.erf(v) / v for v in u], 16)
    ut = 1.0 / ((s + 1.0) / 2.0 * (_TAIL_HI - _TAIL_LO) + _TAIL_LO)
    p, e = square_split(ut)
    erfc = np.array([math.erfc(v) for v in ut])
    tail = cheb.chebfit(s, erfc * np.exp(p) * (1.0 + e) * ut, 26)
    return small, tail


def _erf_chunk(u, out):
    small, tail = _series()
    a = np.abs(u)
    m = a < 1.0
    if m.any():
        us = u[m]
        out[m] = us * cheb.chebval(2.0 * us * us - 1.0, small)
    m = (a >= 1.0) & (a < _BIG)
    if m.any():
        am = a[m]
        p, e = square_split(am)
        q = cheb.chebval((2.0 / am - (_TAIL_HI + _TAIL_LO)) / (_TAIL_HI - _TAIL_LO), tail) / am
        out[m] = np.copysign(1.0 - np.exp(-p) * (1.0 - e) * q, u[m])
    m = ~(a < _BIG)  # also NaN, handled below
    if m.any():
        out[m] = np.copysign(1.0, u[m])
        out[np.isnan(u)] = np.nan


def erf(x):
    """``erf`` of a numpy array (any float dtype), computed in float64, returned in ``x``'s dtype."""
    x = np.asarray(x)
    flat = x.reshape(-1)
    out = np.empty(flat.shape, dtype=np.float64)
    for lo in range(0, flat.size, _CHUNK):
        _erf_chunk(flat[lo:lo + _CHUNK].astype(np.float64), out[lo:lo + _CHUNK])
    out = out.reshape(x.shape)
    return out if x.dtype == np.float64 else out.astype(x.dtype)


def fit_fast_erf(degree: int = 18, bound: float = 4.0):
    """Monomial coefficients ``c`` with ``erf(u) ~= u * sum(c[k] * (u*u)**k)`` for ``|u| <= bound``.

    How the constants of the numba float32 GELU kernel (``_fast_math.ERF_POLY``)
    were made, kept so a test can check they still match: a least-squares
    Chebyshev fit in ``s = 2 u^2 / bound^2 - 1`` at 600 nodes, then expanded to
    powers of ``u^2``. Evaluated in float64 its error is below 1e-9 on
    ``[-4, 4]``, far under float32's half-ulp of 1 (6e-8), and one branch-free
    Horner chain vectorises (erf has no SIMD form in numba).
    """
    s = chebyshev_nodes(600)
    u = np.sqrt((s + 1.0) / 2.0) * bound
    series = cheb.chebfit(s, [math.erf(v) / v for v in u], degree)
    in_s = cheb.cheb2poly(series)
    # substitute s = v * (2 / bound^2) - 1 (v = u^2) by Horner on polynomials
    out = np.zeros(1)
    for c in in_s[::-1]:
        out = np.polynomial.polynomial.polyadd(np.polynomial.polynomial.polymul(out, [-1.0, 2.0 / bound**2]), [c])
    return tuple(float(c) for c in out)
