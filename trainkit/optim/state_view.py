"""``optimizer.state``: torch's ``state[param]`` mapping over trainkit's positional state.

trainkit keeps optimizer state by parameter position (and element-wise
optimizers keep the arrays in flat buffers), so ``optimizer.state`` is a view,
not a dict of its own. It behaves like torch's ``defaultdict``:

* ``state[p]`` is a dict of that parameter's state (``{}`` when it has none).
  Its arrays are live (in-place edits reach the optimizer); assigning a key
  (``state[p]["step"] = 100``, ``state[p]["exp_avg"] = arr``) writes through.
  Scalars in the dict are read when ``state[p]`` is taken: take it again
  after a ``step()`` to see the new step count.
* ``del state[p]``, ``state[p] = {}``, ``state[p].clear()``: that parameter
  starts fresh at its next step (as if it had never been stepped).
* ``state[p] = {...}`` (complete contents) is validated like
  ``load_state_dict``; ``state.clear()`` and ``optimizer.state = {}`` reset all.

Lookups are O(1): the optimizer caches ``id(param) -> (group, index)`` and
verifies the hit against ``param_groups``. The view and each ``state[p]`` talk
only to the optimizer's :class:`~.state_store.StateStore` (its public methods).
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping


class ParamState(dict):
    """One parameter's state: a plain dict whose writes and deletions reach the optimizer."""

    __slots__ = ("_store", "_param")

    def __init__(self, store, param, entry: Mapping):
        dict.__init__(self, entry)
        self._store = store
        self._param = param

    def __setitem__(self, key, value) -> None:
        dict.__setitem__(self, key, self._store.set_value(self._param, key, value))

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other):
        self.update(other)
        return self

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def __delitem__(self, key) -> None:
        if key not in self:
            raise KeyError(key)
        self._store.delete_value(self._param, key)
        dict.__delitem__(self, key)

    def pop(self, key, *default):
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        value = dict.__getitem__(self, key)
        del self[key]
        return value

    def popitem(self):
        if not self:
            raise KeyError("popitem(): parameter state is empty")
        key = next(reversed(self))
        return key, self.pop(key)

    def clear(self) -> None:
        """Reset this parameter's state: it starts fresh at its next step."""
        self._store.reset(self._param)
        dict.clear(self)

    # Copies are plain dicts (not tied to the optimizer).
    def copy(self) -> dict:
        return dict(self)

    def __copy__(self) -> dict:
        return dict(self)

    def __deepcopy__(self, memo) -> dict:
        return copy.deepcopy(dict(self), memo)

    def __reduce__(self):
        return (dict, (dict(self),))


class StateView(MutableMapping):
    """``optimizer.state``: parameter -> :class:`ParamState` (see the module docstring)."""

    def __init__(self, store):
        self._store = store

    def __getitem__(self, param) -> ParamState:
        gi, j = self._store.locate(param)
        return ParamState(self._store, param, self._store.live(gi, j) or {})

    def __setitem__(self, param, entry) -> None:
        self._store.assign(param, entry)

    def __delitem__(self, param) -> None:
        gi, j = self._store.locate(param)
        if not self._store.has(gi, j):
            raise KeyError(f"{self._store.describe(gi, j)} has no optimizer state")
        self._store.reset(param)

    def __iter__(self):
        return self._store.params_with_state()

    def __len__(self) -> int:
        return sum(1 for _ in self._store.params_with_state())

    def __contains__(self, param) -> bool:
        try:
            gi, j = self._store.locate(param)
        except KeyError:
            return False
        return self._store.has(gi, j)

    def clear(self) -> None:
        self._store.clear()

    def __repr__(self) -> str:
        items = []
        for p in self:
            gi, j = self._store.locate(p)
            items.append(f"{self._store.describe(gi, j)}: {dict(self[p])!r}")
        return "{" + ", ".join(items) + "}"
