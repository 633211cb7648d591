"""``Parameter``: a leaf Tensor that a Module registers as trainable state."""
from __future__ import annotations

from ..autograd.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module's weight.

    ``.array`` is the numpy/cupy array and ``.grad_array`` the gradient array
    (same shape and dtype) or ``None``; ``.data`` and ``.grad`` are Tensors
    sharing them, as in torch (all assignable). ``.requires_grad`` is a bool
    (True by default). ``_grad_view`` is an optional preallocated slot for the
    gradient (an optimizer's flat buffer); autograd writes the first gradient
    there.
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            import numpy as np

            data = np.empty((0,), dtype=np.float32)
        super().__init__(data, requires_grad=requires_grad)
        self._grad_view = None

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def clear_grad(param: Tensor, set_to_none: bool = True) -> None:
    """Reset one parameter's gradient, as ``zero_grad`` does for every parameter.

    Shared by ``Module.zero_grad`` and ``Optimizer.zero_grad`` so both also drop
    ``grad_indices`` (the rows of a row-sparse Embedding gradient): otherwise
    rows from earlier steps would leak into the next SparseAdam update.
    """
    if getattr(param, "grad_indices", None) is not None:
        param.grad_indices = None
    if param.grad_array is None:
        return
    if set_to_none:
        param.grad_array = None
    else:
        param.grad_array[...] = 0
