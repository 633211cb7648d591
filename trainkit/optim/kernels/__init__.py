"""The element-wise update rules of trainkit's optimizers and their backends.

Each algorithm's arithmetic is written once, in :mod:`.rules`, as a plain Python
function over scalars or arrays that calls math through a namespace ``M``.
:class:`.rule.Rule` describes its inputs; the backends compile it:

* :mod:`.numpy_backend` calls the rule on whole flat arrays (the "plain" path);
* :mod:`.numba_backend` generates a module with one ``numba.njit(parallel=True)``
  loop that calls the rule per element (the fused single-pass CPU path);
* :mod:`.cupy_backend` translates the rule into one ``cupy.ElementwiseKernel``
  (a single launch per parameter group on GPU).

:func:`run_rule` picks the backend for a set of flat arrays.
"""
from __future__ import annotations

from .rule import Rule, run_rule

__all__ = ["Rule", "run_rule"]
