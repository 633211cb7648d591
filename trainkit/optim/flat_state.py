"""``FlatStateStore``: the state of element-wise optimizers, split between dicts and flat buffers.

An element-wise optimizer keeps each parameter's *scalar* state (``step``,
ASGD's ``eta``/``mu``, ...) in ``entries`` like every optimizer, but its state
*arrays* live in the flat state buffers of the parameter's
:class:`~.flat.FlatBucket`, so one kernel updates a whole group. This store
assembles a parameter's state dict from both places (views of the buffers when
``copy=False``, which is how ``optimizer.state[p]`` stays live) and writes
loaded or hand-set arrays into the buffers. The parameters of a bucket may
share one scalar dict while they step together (see :mod:`.flat_step`);
:meth:`FlatStateStore.own_scalars` gives a parameter its own again before a
hand edit.
"""
from __future__ import annotations

from ..backend import to_device
from .flat import FlatBucket
from .state_store import StateStore


def scalar(value):
    """A loaded scalar state value (a number, 0-d array or Tensor-like) as a Python float."""
    if hasattr(value, "dtype") or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return float(value)
    return value


class FlatStateStore(StateStore):
    """:class:`~.state_store.StateStore` for an :class:`~.elementwise.ElementwiseOptimizer`."""

    def _slot(self, gi: int, j: int) -> tuple[FlatBucket, int]:
        b, k = self.opt._where[gi][j]
        return self.opt._buckets[gi][b], k

    def export(self, gi: int, j: int, copy: bool = True) -> dict | None:
        st = self.entries.get((gi, j))
        if st is None:
            return None
        bucket, k = self._slot(gi, j)
        out = dict(st)
        for name in bucket.state:
            view = bucket.state_view(name, k)
            out[name] = view.copy() if copy else view
        return out

    def load(self, gi: int, j: int, entry: dict) -> None:
        bucket, k = self._slot(gi, j)
        arrays = self.opt.rule.arrays
        scalars = {}
        for key, value in entry.items():
            if key in arrays:
                if value is not None:
                    self.write_array(gi, bucket, k, key, value)
            else:
                scalars[key] = scalar(value)
        self.entries[(gi, j)] = scalars

    def write_array(self, gi: int, bucket: FlatBucket, k: int, key: str, value):
        """Copy ``value`` into parameter ``k``'s slice of state buffer ``key``; returns the view."""
        bucket.state_buffer(key)
        if key not in bucket.initialised:
            self.fill_new_buffer(gi, bucket, key)
        view = bucket.state_view(key, k)
        view[...] = bucket.xp.asarray(to_device(value, bucket.device)).reshape(view.shape)
        return view

    def fill_new_buffer(self, gi: int, bucket: FlatBucket, name: str) -> None:
        """A state buffer appeared: give every parameter that already has state its initial value."""
        init = self.opt._init_state(self.opt.param_groups[gi]).get(name) or 0.0
        bucket.state_buffer(name)[...] = init
        bucket.initialised.add(name)

    def own_scalars(self, gi: int, j: int) -> dict:
        """Parameter ``(gi, j)``'s scalar state, no longer shared with the rest of its bucket."""
        st = dict(self.entries[(gi, j)])
        self.entries[(gi, j)] = st
        return st

    def set_value(self, param, key, value):
        gi, j = self.locate(param)
        if (gi, j) not in self.entries:
            return super().set_value(param, key, value)  # validated as a whole new entry
        opt = self.opt
        if key not in opt.rule.arrays[2:]:
            value = scalar(value)
            self.own_scalars(gi, j)[key] = value
            return value
        if value is None:
            self.delete_value(param, key)
            return None
        p = opt.param_groups[gi]["params"][j]
        shape = tuple(getattr(value, "shape", ()))
        if shape != tuple(p.shape):
            raise ValueError(
                f"state {key!r} of {self.describe(gi, j)} must have the parameter's shape "
                f"{tuple(p.shape)}, got {shape}"
            )
        bucket, k = self._slot(gi, j)
        view = self.write_array(gi, bucket, k, key, value)
        opt._mark_present(self.own_scalars(gi, j), key)
        return view

    def delete_value(self, param, key) -> None:
        gi, j = self.deletable(param, key)
        if (gi, j) in self.entries:
            st = self.own_scalars(gi, j)
            if key in self.opt.rule.arrays:
                self.opt._mark_absent(st, key)
            else:
                st.pop(key, None)
