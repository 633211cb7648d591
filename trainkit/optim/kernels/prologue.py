"""The lines most update rules start with (maximize, weight decay), written once.

Nearly every torch.optim algorithm first negates the gradient when maximizing,
then applies weight decay, either decoupled (AdamW: the parameter is scaled by
``1 - lr * weight_decay``) or as an L2 penalty added to the gradient. Those
lines are :func:`prologue` below; a :class:`~.rule.Rule` names which of its
flags it uses (``prologue=("maximize", "l2")``, ...), and the rule's own
function (its "body") receives ``param`` and ``grad`` after them.

:func:`prologue_statements` hands the code generators the prologue's statements for a
rule, so the numba and CUDA kernels (and the plain path, which compiles the
same combined source) inline them ahead of the body: one source, every backend,
and the operation order of torch's single-tensor code (negate, decay the
parameter, add the penalty), so round-off is unchanged.
"""
from __future__ import annotations

import ast
import inspect
import textwrap

# The prologue's flags, in the order rules list them, and the scalar each one needs.
FLAGS = ("maximize", "l2", "decoupled")
_SCALAR_OF = {"maximize": None, "l2": "weight_decay", "decoupled": "decay_factor"}


def prologue(param, grad, weight_decay, decay_factor, maximize, l2, decoupled):
    """Shared first lines of a rule; only the ``if`` blocks of the rule's declared flags are inlined."""
    if maximize:
        grad = -grad
    if decoupled:
        param = param * decay_factor
    if l2:
        grad = grad + weight_decay * param
    return param, grad


def prologue_signature(flags: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(scalars, flags)`` a rule gains from the prologue ``flags``, in canonical order.

    Raises:
        ValueError: a flag that is not one of :data:`FLAGS`.
    """
    unknown = [f for f in flags if f not in FLAGS]
    if unknown:
        raise ValueError(f"unknown prologue flags {unknown}; expected some of {FLAGS}")
    ordered = tuple(f for f in FLAGS if f in flags)
    scalars = tuple(_SCALAR_OF[f] for f in ordered if _SCALAR_OF[f] is not None)
    return scalars, ordered


def prologue_statements(flags: tuple[str, ...]) -> list[ast.stmt]:
    """Fresh AST statements of :func:`prologue` for a rule using ``flags`` (their ``if`` blocks only)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(prologue)))
    body = tree.body[0].body
    return [s for s in body if isinstance(s, ast.If) and s.test.id in flags]
