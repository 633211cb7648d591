"""``FlatBucket``: the parameters of one group with one dtype and device, in one buffer.

Each parameter's ``.data`` is rebound to a view of a contiguous flat buffer and
its ``_grad_view`` to a view of a flat gradient buffer (autograd writes the
first gradient there), so a fused kernel updates a whole group in one pass.
State arrays are flat buffers of the same layout. At step time :meth:`sync`
detects what users may have done in the meantime: ``.grad = None`` (skipped),
``.grad``/``.data`` reassigned to other arrays (copied back into the buffer and
re-viewed), or a changed shape/dtype/device (the caller rebuilds the bucket).
"""
from __future__ import annotations

from ..backend import device_of, get_array_module


class LayoutChanged(Exception):
    """A parameter's ``.data`` changed shape, dtype or device; the group must be re-laid out."""


class FlatBucket:
    """Parameters ``indices`` (positions in their group) sharing dtype and device.

    Attributes:
        indices: positions of the parameters in their group, in buffer order.
        offsets: start of each parameter in the flat buffers (``offsets[-1]`` = numel).
        data, grad: the flat parameter and gradient buffers.
        state: flat state buffers by name, allocated on first use.
        state_keys: the optimizer's state keys ``(group index, index)`` of the parameters.
        whole: True when the bucket holds all of its group's parameters, in order.
        runners: prepared kernels over the whole bucket (see ``kernels.bind_rule``), by
            backend, state arrays and flags.
        steps: how many steps the optimizer has taken on this bucket.
    """

    def __init__(self, params: list, indices: list[int], group_index: int = 0, group_size: int | None = None):
        first = params[0].data
        self.xp = get_array_module(first)
        self.dtype = first.dtype
        self.device = device_of(first)
        self.indices = list(indices)
        self.shapes = [tuple(p.data.shape) for p in params]
        offsets = [0]
        for p in params:
            offsets.append(offsets[-1] + int(p.data.size))
        self.offsets = offsets
        self.numel = offsets[-1]
        self.data = self.xp.empty(self.numel, dtype=self.dtype)
        self.grad = self.xp.zeros(self.numel, dtype=self.dtype)
        self.state: dict = {}
        self.state_keys = [(group_index, j) for j in self.indices]
        self.whole = self.indices == list(range(len(params) if group_size is None else group_size))
        self.runners: dict = {}
        self.steps = 0
        self.data_views, self.grad_views = [], []
        for k, p in enumerate(params):
            a, b = offsets[k], offsets[k + 1]
            self.data[a:b] = p.data.reshape(-1)
            view = self.data[a:b].reshape(self.shapes[k])
            gview = self.grad[a:b].reshape(self.shapes[k])
            p.data = view
            p._grad_view = gview
            if p.grad is not None:
                gview[...] = p.grad
                p.grad = gview
            self.data_views.append(view)
            self.grad_views.append(gview)

    def span(self, k: int) -> tuple[int, int]:
        return self.offsets[k], self.offsets[k + 1]

    def ready(self, params: list) -> bool:
        """True when every parameter still views the buffers and has its gradient in ``grad``.

        This is the state after a backward pass into the gradient views; then a
        step needs no :meth:`sync`.
        """
        if len(params) != len(self.data_views):
            return False
        for p, data, grad in zip(params, self.data_views, self.grad_views):
            if p.grad is not grad or p.data is not data or not p.requires_grad:
                return False
        return True

    def sync(self, params: list) -> list[bool]:
        """Re-attach reassigned ``.data``/``.grad``; return which parameters have a gradient.

        Raises:
            LayoutChanged: a parameter's data changed shape, dtype or device.
        """
        valid = []
        for k, p in enumerate(params):
            data = p.data
            if data is not self.data_views[k]:
                if (
                    tuple(data.shape) != self.shapes[k]
                    or data.dtype != self.dtype
                    or device_of(data) != self.device
                ):
                    raise LayoutChanged(k)
                self.data_views[k][...] = data
                p.data = self.data_views[k]
            g = p.grad
            if g is None or not p.requires_grad:
                valid.append(False)
                continue
            if g is not self.grad_views[k]:
                if tuple(g.shape) != self.shapes[k]:
                    raise ValueError(
                        f"gradient of shape {tuple(g.shape)} for a parameter of shape {self.shapes[k]}"
                    )
                self.grad_views[k][...] = g
                p.grad = self.grad_views[k]
            if p._grad_view is not self.grad_views[k]:
                p._grad_view = self.grad_views[k]
            valid.append(True)
        return valid

    def state_buffer(self, name: str):
        """The flat state buffer ``name`` (allocated uninitialised on first use)."""
        buf = self.state.get(name)
        if buf is None:
            buf = self.xp.empty(self.numel, dtype=self.dtype)
            self.state[name] = buf
        return buf

    def state_view(self, name: str, k: int):
        """Parameter ``k``'s slice of state buffer ``name``, in the parameter's shape."""
        a, b = self.span(k)
        return self.state[name][a:b].reshape(self.shapes[k])
