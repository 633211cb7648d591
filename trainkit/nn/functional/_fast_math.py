"""Branch-free float64 ``erf`` and ``exp(-v)`` for numba loops that must vectorise (float32 kernels).

numba's ``math.erf``/``math.exp`` are scalar libm calls (8 and 2-4 ns an
element, measured), which stop LLVM from vectorising a loop; with AVX-512 a
vectorised polynomial costs a fraction of that. These are accurate far below
float32's rounding (6e-8) but not to float64's, so the float32 kernels of GELU
and cross-entropy use them and the float64 kernels keep libm:

* ``erf_poly(u)``: ``u * P(u^2)`` for ``|u| < 4`` with ``P`` of degree 18
  (``ERF_POLY``, made by :func:`._erf.fit_fast_erf`; error < 1e-9), ``+-1``
  beyond (where float32's erf is 1 after rounding);
* ``exp_neg(v)`` for ``v >= 0``: ``exp(-v / 128)`` by its Taylor series to
  degree 13, squared seven times (relative error < 2e-9), 0 past ``v = 128``
  (below float32's smallest number). NaN in, NaN out.
"""
from __future__ import annotations

import functools

from ...backend import numba_available

#: ``erf(u) ~= u * sum(ERF_POLY[k] * u**(2k))`` on ``|u| <= 4`` (see :func:`._erf.fit_fast_erf`)
ERF_POLY = (
    1.1283791669249348, -0.37612638115328006, 0.11283785604426112, -0.026865984668791594,
    0.005223675120872356, -0.0008545309604167306, 0.00012035207608424495, -1.4830647601741877e-05,
    1.6131875467181086e-06, -1.549574380497476e-07, 1.303100151240977e-08, -9.431516983246901e-10,
    5.7379301255016083e-11, -2.850439712965127e-12, 1.11631972277115e-13, -3.292637752414569e-15,
    6.837995800513238e-17, -8.877542370267148e-19, 5.404121602901061e-21,
)
(E0, E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13, E14, E15, E16, E17, E18) = ERF_POLY


@functools.lru_cache(maxsize=None)
def scalars():
    """``{"erf_poly": f, "exp_neg": f}`` as numba functions inlined into their callers; None without numba."""
    if not numba_available():
        return None
    import numba  # noqa: PLC0415 - optional accelerator, already imported by the probe

    @numba.njit(inline="always")
    def erf_poly(u):
        a = abs(u)
        a = min(a, 4.0)
        v = a * a
        r = a * (E0 + v * (E1 + v * (E2 + v * (E3 + v * (E4 + v * (E5 + v * (E6 + v * (E7 + v * (E8 + v * (
            E9 + v * (E10 + v * (E11 + v * (E12 + v * (E13 + v * (E14 + v * (E15 + v * (E16 + v * (
                E17 + v * E18))))))))))))))))))
        r = 1.0 if a >= 4.0 else r
        return r if u >= 0.0 else -r

    @numba.njit(inline="always")
    def exp_neg(v):
        w = v * (1.0 / 128.0)
        p = 1.0 - w * (1.0 - w * (1.0 / 2 - w * (1.0 / 6 - w * (1.0 / 24 - w * (1.0 / 120 - w * (
            1.0 / 720 - w * (1.0 / 5040 - w * (1.0 / 40320 - w * (1.0 / 362880 - w * (
                1.0 / 3628800 - w * (1.0 / 39916800 - w * (1.0 / 479001600 - w * (1.0 / 6227020800)))))))))))))
        p = p * p  # seven squarings: exp(-w)**128, unrolled so that the loop vectorises
        p = p * p
        p = p * p
        p = p * p
        p = p * p
        p = p * p
        p = p * p
        return 0.0 if v > 128.0 else p

    return {"erf_poly": erf_poly, "exp_neg": exp_neg}
