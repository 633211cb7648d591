"""The element-wise update rules of trainkit's optimizers and their backends.

Each algorithm's arithmetic is written once, in :mod:`.rules`, as a plain Python
function over scalars or arrays that calls math through a namespace ``M``.
:class:`.rule.Rule` describes its inputs; the backends compile it:

* :mod:`.numpy_backend` calls the rule on whole flat arrays (the "plain" path);
* :mod:`.numba_backend` generates a module with a serial and a ``prange``
  numba loop that call the rule per element (the fused single-pass CPU path;
  small buffers run serially, large ones on numba's thread pool);
* :mod:`.cupy_backend` translates the rule into one ``cupy.ElementwiseKernel``
  (a single launch per parameter group on GPU).

:func:`bind_rule` prepares a rule for repeated runs over one set of flat arrays
(backend, compiled kernel and argument order resolved once); :func:`run_rule`
runs it once.
"""
from __future__ import annotations

from .rule import Rule, bind_rule, run_rule

__all__ = ["Rule", "bind_rule", "run_rule"]
