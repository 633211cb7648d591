"""The functional API of trainkit's autograd: every differentiable op, in one namespace.

Ops are small ``Function`` classes grouped by concern, each module listing its
public names in ``__all__``: ``arithmetic`` (binary ops), ``elementwise``
(unary maths, clamp, comparisons), ``reductions``, ``shaping``, ``indexing``
and ``conversion`` (device/dtype/copy). This module gathers them so that code
can write ``ops.softmax(x, -1)``; ``methods`` attaches the same functions to
``Tensor``, and ``trainkit/__init__.py`` re-exports the top-level ones.
"""
from .arithmetic import *  # noqa: F401,F403
from .conversion import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .shaping import *  # noqa: F401,F403
