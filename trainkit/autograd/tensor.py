"""``Tensor``: an array (numpy or cupy) plus what reverse-mode autograd needs.

``.data`` is the raw array and ``.grad`` an array of the same shape and dtype
or ``None``; both are plain attributes users may assign, as in PyTorch. This
class holds the data and the autograd bookkeeping only; every method that runs
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


class Tensor:
    """An n-dimensional array that can record the operations applied to it."""

    __array_priority__ = 1000  # make ndarray (op) Tensor defer to Tensor's reflected ops

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        xp = get_array_module(data)
        if not hasattr(data, "dtype") or not hasattr(data, "shape"):
            arr = np.asarray(data)
            if dtype is None and arr.dtype.kind == "f":
                dtype = DEFAULT_DTYPE
            data = arr
        if dtype is not None:
            data = xp.asarray(data, dtype=dtype)
        self.data = data
        self.grad = None
        self._ctx = None
        self.requires_grad = bool(requires_grad)
        if self.requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only floating point tensors can require gradients, got dtype {self.data.dtype}"
            )

    @classmethod
    def _wrap(cls, array, requires_grad: bool = False) -> "Tensor":
        t = Tensor.__new__(Tensor)
        # numpy indexing, comparisons and reductions return scalars (np.int64, np.bool_):
        # keep .data an array so numpy()/print()/tolist() work on every tensor
        t.data = np.asarray(array) if isinstance(array, np.generic) else array
        t.grad = None
        t._ctx = None
        t.requires_grad = requires_grad
        return t

    # ----------------------------------------------------------- properties
    @property
    def xp(self):
        return get_array_module(self.data)

    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> Device:
        return device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        return len(self.data)

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
        if g.shape != self.data.shape:
            g = get_array_module(g).broadcast_to(g, self.data.shape)
        if self.grad is None:
            view = getattr(self, "_grad_view", None)
            if view is not None and view.shape == self.data.shape:
                view[...] = g
                self.grad = view
            else:
                self.grad = g.astype(self.data.dtype, copy=True)
        else:
            self.grad += g

    def detach(self) -> "Tensor":
        return Tensor._wrap(self.data, False)

    def detach_(self) -> "Tensor":
        self._ctx = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = bool(requires_grad)
        return self

    def zero_(self) -> "Tensor":
        self.data[...] = 0
        return self

    # ----------------------------------------------------------- conversion
    def item(self):
        if self.data.size != 1:
            raise ValueError(
                f"only one element tensors can be converted to Python scalars, shape is {self.shape}"
            )
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def numpy(self) -> np.ndarray:
        """The values as a numpy array (shared on CPU, copied from the GPU).

        Unlike torch, no ``detach()`` is needed first: the array is plain data.
        """
        return self.data if isinstance(self.data, np.ndarray) else self.data.get()

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def long(self) -> "Tensor":
        return Tensor._wrap(self.data.astype(np.int64), False)

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

    def __hash__(self):
        return id(self)

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of a tensor with {self.data.size} elements is ambiguous"
            )
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        return int(self.item())
