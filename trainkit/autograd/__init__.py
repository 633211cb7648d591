"""Reverse-mode automatic differentiation over numpy and cupy arrays.

``Tensor`` holds an array; ops (``ops``: small ``Function`` classes) record a
graph when an input requires grad; ``Tensor.backward`` walks it iteratively.

The modules form a tree of imports, bottom up (``tests/test_import_graph.py``
keeps it free of cycles):

* core: ``errors``, ``grad_mode`` and ``engine`` (backward) import nothing
  above them; ``tensor`` (``Tensor``) needs only ``engine``; ``function``
  (``Function``, ``unbroadcast``) needs ``tensor``;
* ops, each a ``Function`` per op plus its functional form: ``conversion``
  (to/clone), ``promotion`` (torch's dtype rules), ``arithmetic``,
  ``elementwise``, ``dims``, ``reductions``, ``shaping``, ``indexing``;
  ``ops`` gathers them into one namespace;
* ``methods`` binds the ops onto ``Tensor`` as methods and operators; it is
  imported last, here, so ``Tensor`` is complete once ``trainkit.autograd`` is;
* ``creation`` (factories) and ``gradcheck`` sit beside the ops.
"""
from .errors import GraphFreedError, ShapeError
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import DEFAULT_DTYPE, Tensor
from .function import Function
from . import ops
from . import methods  # noqa: F401 - last: binds the ops onto Tensor

__all__ = [
    "Function",
    "GraphFreedError",
    "ShapeError",
    "Tensor",
    "DEFAULT_DTYPE",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "ops",
    "set_grad_enabled",
]
