"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from .module import Module


def _check_module(value, where: str) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{where}: {type(value).__name__} is not a trainkit.nn.Module")
    return value


class _IndexedModules(Module):
    """Modules named '0', '1', ... kept in order (shared by Sequential and ModuleList)."""

    def _index(self, idx: int) -> int:
        n = len(self._modules)
        if not isinstance(idx, int):
            raise TypeError(f"{type(self).__name__} indices must be integers or slices, got {type(idx).__name__}")
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of length {n}")
        return idx % n

    def _renumber(self, modules) -> None:
        self._modules.clear()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(*list(self._modules.values())[idx]) if isinstance(self, Sequential) else \
                ModuleList(list(self._modules.values())[idx])
        return self._modules[str(self._index(idx))]

    def __setitem__(self, idx, module) -> None:
        self._modules[str(self._index(idx))] = _check_module(module, f"{type(self).__name__}[{idx}]")

    def __delitem__(self, idx) -> None:
        items = list(self._modules.values())
        if isinstance(idx, slice):
            del items[idx]
        else:
            del items[self._index(idx)]
        self._renumber(items)

    def append(self, module: Module):
        self._modules[str(len(self._modules))] = _check_module(module, f"{type(self).__name__}.append")
        return self

    def extend(self, modules: Iterable[Module]):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, _check_module(module, f"{type(self).__name__}.insert"))
        self._renumber(items)

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]


class Sequential(_IndexedModules):
    """Calls its children in order: ``Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 1))``.

    Children are named '0', '1', ... (or by the keys of a single dict argument),
    so parameter names are ``0.weight``, ``2.bias``, ... exactly as torch.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            for name, m in args[0].items():
                self.add_module(str(name), _check_module(m, f"Sequential[{name!r}]"))
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), _check_module(m, f"Sequential argument {i}"))

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            out = Sequential()
            for name, m in list(self._modules.items())[idx]:
                out.add_module(name, m)
            return out
        return list(self._modules.values())[self._index(idx)]

    def __setitem__(self, idx, module) -> None:
        key = list(self._modules)[self._index(idx)]
        self._modules[key] = _check_module(module, f"Sequential[{idx}]")

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleList(_IndexedModules):
    """A list of modules whose parameters are registered (names '0', '1', ...); it has no forward."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __add__(self, other: "ModuleList") -> "ModuleList":
        return ModuleList(list(self) + list(other))


class ModuleDict(Module):
    """An ordered dict of modules whose parameters are registered under their keys."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no key {key!r}; keys are {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict keys must be strings, got {type(key).__name__}")
        self.add_module(key, _check_module(module, f"ModuleDict[{key!r}]"))

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key: str) -> Module:
        m = self[key]
        del self._modules[key]
        return m

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules) -> None:
        items = modules.items() if isinstance(modules, Mapping) else modules
        for key, m in items:
            self[key] = m
