"""``FlatBucket``: the parameters of one group with one dtype and device, in one buffer.

Each parameter's ``.array`` is rebound to a view of a contiguous flat buffer and
its ``_grad_view`` to a view of a flat gradient buffer (autograd writes the
first gradient there), so a fused kernel updates a whole group in one pass.
State arrays are flat buffers of the same layout. At step time :meth:`sync`
detects what users may have done in the meantime: ``.grad = None`` (skipped),
``.grad``/``.data`` reassigned to other arrays or Tensors (copied back into the buffer and
re-viewed), or a changed shape/dtype/device (the caller rebuilds the bucket).

Gradient arrays kept by the user across ``zero_grad()`` are detected by
reference counting (:meth:`FlatBucket.grads_referenced`): the bucket knows how
many references it and its parameters hold to each gradient view and to the
flat gradient buffer (every view of it, e.g. a prepared kernel's slice, holds
one), so any surplus is a reference from outside.
"""
from __future__ import annotations

import sys

from ..backend import device_of, get_array_module


def _refcounts(arrays) -> list[int]:
    """``sys.getrefcount`` of each item of the list ``arrays``, all measured the same way."""
    return list(map(sys.getrefcount, arrays))


# What _refcounts reports for an object referenced by nothing but the list it is in
# (measured rather than assumed, as the count of temporary references differs between
# Python versions).
_ONLY_IN_LIST = _refcounts([object()])[0]


class LayoutChanged(Exception):
    """A parameter's ``.array`` changed shape, dtype or device; the group must be re-laid out."""


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
        plain_seconds: time its steps took during the plain-path warm-up
            (:meth:`.elementwise.ElementwiseOptimizer._warming_up`).
        initialised: names of the state buffers whose every slot holds a value (a
            buffer appearing for some parameters gets the initial value everywhere
            first; see :meth:`.flat_state.FlatStateStore.fill_new_buffer`).
    """

    def __init__(self, params: list, indices: list[int], group_index: int = 0, group_size: int | None = None):
        first = params[0].array
        self.xp = get_array_module(first)
        self.dtype = first.dtype
        self.device = device_of(first)
        self.indices = list(indices)
        self.shapes = [tuple(p.array.shape) for p in params]
        offsets = [0]
        for p in params:
            offsets.append(offsets[-1] + int(p.array.size))
        self.offsets = offsets
        self.numel = offsets[-1]
        self.data = self.xp.empty(self.numel, dtype=self.dtype)
        self.grad = None
        self.state: dict = {}
        self.state_keys = [(group_index, j) for j in self.indices]
        self.whole = self.indices == list(range(len(params) if group_size is None else group_size))
        self.runners: dict = {}
        self.steps = 0
        self.plain_seconds = 0.0
        self.initialised: set[str] = set()
        self.data_views = []
        for k, p in enumerate(params):
            a, b = offsets[k], offsets[k + 1]
            self.data[a:b] = p.array.reshape(-1)
            view = self.data[a:b].reshape(self.shapes[k])
            p.array = view
            self.data_views.append(view)
        self._new_grad_buffer(params)
        for p, gview in zip(params, self.grad_views):
            if p.grad_array is not None:
                gview[...] = p.grad_array
                p.grad_array = gview

    def _new_grad_buffer(self, params: list) -> None:
        """Allocate the flat gradient buffer and point every parameter's ``_grad_view`` into it."""
        self.grad = self.xp.zeros(self.numel, dtype=self.dtype)
        self.grad_views = [self.grad[a:b].reshape(shape)
                           for a, b, shape in zip(self.offsets, self.offsets[1:], self.shapes)]
        for p, gview in zip(params, self.grad_views):
            p._grad_view = gview
        self.runners.clear()  # they are bound to the old buffer
        # References to the flat buffer held here: the attribute and each view's base.
        self._grad_refs = _refcounts([self.grad])[0]

    def add_runner(self, key, prepare):
        """Cache ``prepare()`` (a kernel bound to slices of the buffers) under ``key``; returns it.

        The references the runner holds to the gradient buffer are counted as
        the bucket's own (see :meth:`grads_referenced`).
        """
        before = _refcounts([self.grad])[0]
        run = prepare()
        self.runners[key] = run
        self._grad_refs += _refcounts([self.grad])[0] - before
        return run

    def grads_referenced(self, group_params: list) -> bool:
        """True when a gradient view or the gradient buffer is referenced from outside.

        The bucket's own references are its list of views, each parameter's
        ``_grad_view`` and ``.grad_array`` (when they are the view), the views' bases
        and the prepared kernels' slices; anything more is a user's ``g = w.grad``
        (or a view of it) that the next backward pass must not overwrite.
        Cheapest right after the gradients were set to None (then every view
        has at most one reference besides the list: ``_grad_view``).

        Args:
            group_params: the parameters of the bucket's group (``indices`` index it).
        """
        counts = _refcounts(self.grad_views)
        if _refcounts([self.grad])[0] > self._grad_refs:
            return True
        if max(counts, default=0) <= _ONLY_IN_LIST + 1:
            return False
        for j, gview, count in zip(self.indices, self.grad_views, counts):
            p = group_params[j]
            if count > _ONLY_IN_LIST + (p.grad_array is gview) + (p._grad_view is gview):
                return True
        return False

    def fresh_grad(self, params: list) -> None:
        """Give the bucket a new gradient buffer, leaving the old one (and its values) to its holders.

        Gradients are copied over, so it can be called with gradients present.
        """
        old = [(p, p.grad_array) for p in params]
        self._new_grad_buffer(params)
        for (p, grad), gview in zip(old, self.grad_views):
            if grad is not None:
                gview[...] = grad
                p.grad_array = gview

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
            if p.grad_array is not grad or p.array is not data or not p.requires_grad:
                return False
        return True

    def sync(self, params: list, describe=None) -> list[bool]:
        """Re-attach reassigned ``.array``/``.grad_array``; return which parameters have a gradient.

        Args:
            describe: ``describe(k)`` names parameter ``k`` in error messages.

        Raises:
            LayoutChanged: a parameter's data changed shape, dtype or device.
            ValueError: a gradient's shape differs from its parameter's (naming it).
        """
        valid = []
        for k, p in enumerate(params):
            data = p.array
            if data is not self.data_views[k]:
                if (
                    tuple(data.shape) != self.shapes[k]
                    or data.dtype != self.dtype
                    or device_of(data) != self.device
                ):
                    raise LayoutChanged(k)
                self.data_views[k][...] = data
                p.array = self.data_views[k]
            g = p.grad_array
            if g is None or not p.requires_grad:
                valid.append(False)
                continue
            if g is not self.grad_views[k]:
                if tuple(g.shape) != self.shapes[k]:
                    name = describe(k) if describe is not None else f"parameter {k} of the bucket"
                    raise ValueError(
                        f"gradient of shape {tuple(g.shape)} for a parameter of shape {self.shapes[k]}: "
                        f"{name}; a parameter's .grad must have its shape"
                    )
                self.grad_views[k][...] = g
                p.grad_array = self.grad_views[k]
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
