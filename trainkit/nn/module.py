"""``Module``: the container of parameters, buffers and submodules.

Registration order is kept (plain dicts), names are torch's dotted paths
(``features.0.weight``) so state dicts move between trainkit and PyTorch as
plain arrays. This module is registration, traversal and modes; saving and
loading state is :mod:`.state`, moving between devices and dtypes is
:mod:`.placement` (``Module``'s methods for them are thin wrappers).
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..autograd.errors import InputTypeError
from ..autograd.tensor import Tensor
from ..backend import DeviceMismatchError
from . import input_errors, placement, state
from .parameter import Parameter, clear_grad
from .state import StateDictMismatchError

__all__ = ["Module", "StateDictMismatchError"]


class Module:
    """Base class of every layer and model; subclasses define ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # ----------------------------------------------------------- registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called; "
                "call super().__init__() first in your module's __init__"
            )
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            self.__dict__.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            self.__dict__.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    "(trainkit.nn.Parameter or None expected)"
                )
            params[name] = None
        elif name in buffers:
            buffers[name] = value if value is None or isinstance(value, Tensor) else Tensor(value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} as parameter {name!r} (Parameter or None expected)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, value, persistent: bool = True) -> None:
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value)
        self._buffers[name] = value
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    # ----------------------------------------------------------- calling
    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        try:
            return self.forward(*args, **kwargs)
        except DeviceMismatchError as exc:
            # error path only: the op said *that* devices differ; name *which* parameter
            placement.name_misplaced_parameter(self, exc, args, kwargs)
            raise
        except InputTypeError as exc:  # a Device, a list...: name the layer and what it expects
            input_errors.name_layer(self, exc)
            raise

    # ----------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "", memo=None) -> Iterator[tuple[str, "Module"]]:
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in memo:
                continue
            memo.add(id(module))
            yield name, module
            children = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in module._modules.items()
                if child is not None
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ----------------------------------------------------------- modes
    def train(self, mode: bool = True) -> "Module":
        """Set training mode here and, through each child's own ``train``, below.

        Recursing via ``child.train(mode)`` (as torch does) lets a submodule that
        overrides ``train`` (say, to keep a frozen BatchNorm in eval) stay in charge.
        """
        if not isinstance(mode, (bool, np.bool_)):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (``None`` by default, or zeros in place).

        Also drops ``grad_indices`` (the rows of a row-sparse Embedding gradient),
        so the next backward starts a fresh set of rows.
        """
        for p in self.parameters():
            clear_grad(p, set_to_none)

    def apply(self, fn) -> "Module":
        """Call ``fn(module)`` on every submodule (children first) and on self, e.g. custom init."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def get_submodule(self, target: str) -> "Module":
        """The submodule at dotted path ``target`` (``""`` is self); a clear error names the missing part."""
        module = self
        if target == "":
            return module
        for part in target.split("."):
            if part not in module._modules or module._modules[part] is None:
                raise AttributeError(
                    f"{type(module).__name__} has no submodule {part!r} (in {target!r}); "
                    f"children are {list(module._modules)}"
                )
            module = module._modules[part]
        return module

    # ----------------------------------------------------------- devices / dtypes
    def to(self, *args, **kwargs) -> "Module":
        """Move and/or cast every parameter and buffer in place (the Parameter objects are kept).

        Accepts torch's forms: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        ``to(tensor)`` (its device and dtype) and the keywords ``device=``,
        ``dtype=`` and ``non_blocking=`` (ignored). Only floating point parameters
        and buffers are cast; integer buffers (``num_batches_tracked``) keep their
        dtype, and the target dtype itself must be floating point, as in torch.
        """
        device, dtype = placement.parse_to_args(args, kwargs)
        placement.move_tensors(list(self.parameters()) + list(self.buffers()), device, dtype)
        return self

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, index: int = 0) -> "Module":
        return self.to(f"cuda:{index}")

    def float(self) -> "Module":
        return self.to(dtype=np.float32)

    def double(self) -> "Module":
        return self.to(dtype=np.float64)

    # ----------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Dotted name -> array (parameters and persistent buffers, registration order)."""
        return state.state_dict(self)

    def load_state_dict(self, state_dict: dict, strict: bool = True):
        """Copy arrays into parameters/buffers in place; validate everything first.

        With ``strict=True`` any missing, unexpected or wrongly shaped key raises
        ``StateDictMismatchError`` listing all of them, and nothing is changed.
        With ``strict=False`` matching keys are loaded and the rest reported in
        the returned ``(missing_keys, unexpected_keys)``; wrong shapes still raise.
        """
        return state.load_state_dict(self, state_dict, strict)

    # ----------------------------------------------------------- repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        head = f"{type(self).__name__}({extra}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

