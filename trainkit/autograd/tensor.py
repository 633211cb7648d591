"""``Tensor``: an array (numpy or cupy) plus what reverse-mode autograd needs.

The array is ``.array`` and the gradient array ``.grad_array`` (same shape and
dtype, or ``None``): the attributes trainkit's internals (ops, optimizers,
clipping) read and rebind. ``.data`` and ``.grad`` are what torch users know:
``x.data`` is a new Tensor sharing ``x``'s memory (outside the graph), ``x.grad``
a Tensor sharing the gradient's memory or ``None``; both are assignable (a
Tensor, an array, or ``None`` for ``.grad``) and rebind the array underneath,
so ``p.data.add_(...)``, ``p.grad.zero_()`` and ``p.data = t`` write through as
in torch. This class holds the data and the autograd bookkeeping only; every method that runs
an op (operators, ``x.softmax(-1)``, ``x[idx]``, and ``to``/``clone``, which
are differentiable too) is a function in an op module that ``methods``
attaches here once, when ``trainkit.autograd`` is imported. That keeps this
module below ``Function`` and the ops in the import graph.
"""
from __future__ import annotations

import numpy as np

from ..backend import Device, device_of, get_array_module
from .engine import run_backward

DEFAULT_DTYPE = np.float32


def as_array(value):
    """The array of a Tensor, an array itself, or ``np.asarray`` of anything else (lists, numbers)."""
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, np.generic):
        return value
    return np.asarray(value)


class Tensor:
    """An n-dimensional array that can record the operations applied to it."""

    __array_priority__ = 1000  # make ndarray (op) Tensor defer to Tensor's reflected ops

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.array
        xp = get_array_module(data)
        if isinstance(data, np.generic):  # a numpy scalar (np.float32(1.5)): a 0-d array
            data = np.asarray(data)
        elif not hasattr(data, "dtype") or not hasattr(data, "shape"):
            arr = np.asarray(data)
            if dtype is None and arr.dtype.kind == "f":
                dtype = DEFAULT_DTYPE
            data = arr
        if dtype is not None:
            data = xp.asarray(data, dtype=dtype)
        self.array = data
        self.grad_array = None
        self._ctx = None
        self.requires_grad = bool(requires_grad)
        if self.requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(
                f"only floating point tensors can require gradients, got dtype {self.array.dtype}"
            )

    @classmethod
    def _wrap(cls, array, requires_grad: bool = False) -> "Tensor":
        t = Tensor.__new__(Tensor)
        # numpy indexing, comparisons and reductions return scalars (np.int64, np.bool_):
        # keep .array an array so numpy()/print()/tolist() work on every tensor
        t.array = np.asarray(array) if isinstance(array, np.generic) else array
        t.grad_array = None
        t._ctx = None
        t.requires_grad = requires_grad
        return t

    # ----------------------------------------------------------- torch's .data and .grad
    @property
    def data(self) -> "Tensor":
        """A Tensor sharing this one's memory, outside the graph (``requires_grad=False``).

        In-place changes through it (``x.data.add_(...)``, ``x.data[0] = 1``)
        change ``x``; assigning ``x.data = t`` rebinds ``x``'s array to ``t``'s.
        """
        return Tensor._wrap(self.array, False)

    @data.setter
    def data(self, value) -> None:
        self.array = as_array(value)

    @property
    def grad(self) -> "Tensor | None":
        """The gradient as a Tensor sharing its memory, or ``None``; assign a Tensor, an array or None."""
        g = self.grad_array
        return None if g is None else Tensor._wrap(g, False)

    @grad.setter
    def grad(self, value) -> None:
        self.grad_array = None if value is None else as_array(value)

    # ----------------------------------------------------------- properties
    @property
    def xp(self):
        return get_array_module(self.array)

    @property
    def shape(self) -> tuple:
        return tuple(self.array.shape)

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def device(self) -> Device:
        return device_of(self.array)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.array.size)

    def dim(self) -> int:
        return self.array.ndim

    def __len__(self) -> int:
        return len(self.array)

    # ----------------------------------------------------------- autograd
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``."""
        run_backward(self, grad, retain_graph=retain_graph)

    def _accumulate_grad(self, g) -> None:
        """Add ``g`` into ``.grad``; the first gradient is copied, never aliased.

        A leaf may own a preallocated gradient slot (``_grad_view``, set by an
        optimizer that keeps gradients in one flat buffer); the first gradient
        is written there so the optimizer reads it without a gather.
        """
        if g.shape != self.array.shape:
            g = get_array_module(g).broadcast_to(g, self.array.shape)
        if self.grad_array is None:
            view = getattr(self, "_grad_view", None)
            if view is not None and view.shape == self.array.shape:
                view[...] = g
                self.grad_array = view
            else:
                self.grad_array = g.astype(self.array.dtype, copy=True)
        else:
            self.grad_array += g

    def detach(self) -> "Tensor":
        return Tensor._wrap(self.array, False)

    def detach_(self) -> "Tensor":
        self._ctx = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = bool(requires_grad)
        return self

    def zero_(self) -> "Tensor":
        self.array[...] = 0
        return self

    # ----------------------------------------------------------- conversion
    def item(self):
        if self.array.size != 1:
            raise ValueError(
                f"only one element tensors can be converted to Python scalars, shape is {self.shape}"
            )
        return self.array.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def numpy(self) -> np.ndarray:
        """The values as a numpy array (shared on CPU, copied from the GPU).

        Unlike torch, no ``detach()`` is needed first. Use ``.array`` for the
        array itself on either device.
        """
        return self.array if isinstance(self.array, np.ndarray) else self.array.get()

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def long(self) -> "Tensor":
        return Tensor._wrap(self.array.astype(np.int64), False)

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", precision=4, threshold=20)
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype != DEFAULT_DTYPE:
            extras.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{type(self._ctx).__name__}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"``: a 0-d tensor formats as its Python number, as in torch."""
        if self.array.ndim == 0:
            return format(self.item(), spec)
        if not spec:
            return str(self)
        raise TypeError(f"unsupported format string passed to Tensor.__format__ (shape {self.shape})")

    def __hash__(self):
        return id(self)

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(
                f"Boolean value of a tensor with {self.array.size} elements is ambiguous"
            )
        return bool(self.array)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        return int(self.item())
