"""Compiling trainkit's element-wise update rules for each backend.

Each algorithm's arithmetic is written once, beside its optimizer class
(``trainkit.optim.adam.RULE``, ...), as a plain Python function over scalars or
arrays that calls math through a namespace ``M``; the lines most rules share
(maximize, weight decay) are written once in :mod:`.prologue`.
:class:`.rule.Rule` describes a rule's inputs and combines prologue and body
into one source; the backends compile that source:

* :mod:`.numpy_backend` calls the rule on whole flat arrays (the "plain" path);
* :mod:`.numba_backend` generates a module with a serial and a ``prange``
  numba loop that call the rule per element (the fused single-pass CPU path;
  small buffers run serially, large ones on numba's thread pool);
* :mod:`.cupy_backend` translates the rule into one ``cupy.ElementwiseKernel``
  (a single launch per parameter group on GPU).

:func:`bind_rule` prepares a rule for repeated runs over one set of flat arrays
(backend, compiled kernel and argument order resolved once); :func:`run_rule`
runs it once. This package never imports the optimizer modules (they import it).
"""
from __future__ import annotations

from .rule import M, Rule, bind_rule, run_rule, update_rule

__all__ = ["M", "Rule", "bind_rule", "run_rule", "update_rule"]
