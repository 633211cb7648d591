"""Where a Module's tensors live: ``Module.to``'s arguments, the move itself, and device-mismatch errors.

``Module.to`` accepts torch's forms (device, dtype, a tensor, keywords) and
moves parameters in place, so optimizers holding them keep working. When a
forward pass fails because a parameter and its input sit on different
devices, :func:`name_misplaced_parameter` rewrites the error to name the
parameter by its ``state_dict`` key instead of leaving the user with an
anonymous op error.
"""
from __future__ import annotations

import numpy as np

from ..autograd.conversion import looks_like_dtype
from ..autograd.tensor import Tensor
from ..backend import Device, device_of, to_device
from .parameter import Parameter

__all__ = ["parse_to_args", "move_tensors", "name_misplaced_parameter"]


def parse_to_args(args, kwargs):
    """``Module.to``'s arguments as ``(device, dtype)`` (either may be None)."""
    unknown = sorted(set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"})
    if unknown:
        raise TypeError(f"Module.to() got unexpected keyword arguments {unknown}; "
                        "accepted: device, dtype, non_blocking")
    if len(args) > 2:
        raise TypeError(f"Module.to() takes at most 2 positional arguments (device, dtype), got {len(args)}")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    for i, arg in enumerate(args):
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif arg is not None and looks_like_dtype(arg):
            dtype = arg
        elif i == 0:
            device = arg
        else:
            raise TypeError(f"Module.to(): expected a dtype as the second argument, got {arg!r}")
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind not in "fc":
            raise TypeError(
                f"Module.to only accepts floating point or complex dtypes, but got dtype={dtype}"
            )
    return device, dtype


def move_tensors(tensors, device, dtype) -> None:
    """Move ``tensors`` (and their gradients) to ``device`` and cast floating ones to ``dtype``, in place.

    Either may be None (leave as is). The Tensor objects are kept, only their
    ``data`` replaced, so an optimizer holding them keeps working.
    """
    target = Device(device) if device is not None else None
    for t in tensors:
        data = t.array
        if target is not None and device_of(data) != target:
            data = to_device(data, target)
            if t.grad_array is not None:
                t.grad_array = to_device(t.grad_array, target)
        if dtype is not None and data.dtype.kind == "f":
            data = data.astype(dtype)
            if t.grad_array is not None:
                t.grad_array = t.grad_array.astype(dtype)
        t.array = data
        if isinstance(t, Parameter):
            t._grad_view = None


def name_misplaced_parameter(module, exc, args, kwargs) -> None:
    """Rewrite a DeviceMismatchError raised inside ``module`` to name the parameter at fault.

    The innermost module whose own parameters/buffers sit on another device than
    its input records itself on the exception (``exc.module``, ``exc.parameter``);
    every enclosing module's ``__call__`` passes by here too and rewrites the
    message with the dotted path from itself (``0.weight``), so the outermost
    call (the user's ``model(x)``) reports the full ``state_dict`` key.
    """
    owner = getattr(exc, "module", None)
    if owner is None:
        inputs = [a for a in list(args) + list(kwargs.values()) if isinstance(a, Tensor)]
        if not inputs:
            return
        input_device = device_of(inputs[0].array)
        own = list(module._parameters.items()) + list(module._buffers.items())
        for name, t in own:
            if t is not None and device_of(t.array) != input_device:
                exc.module, exc.parameter = module, name
                exc.parameter_device, exc.input_device = device_of(t.array), input_device
                exc.op_message = str(exc)
                break
        else:
            return
        owner = module
    path = next((n for n, m in module.named_modules() if m is owner), None)
    if path is None:
        return
    key = f"{path}.{exc.parameter}" if path else exc.parameter
    where = f"{type(owner).__name__} '{path}'" if path else type(owner).__name__
    exc.parameter_name = key
    exc.args = (
        f"parameter '{key}' ({where}) is on {exc.parameter_device} but its input is on "
        f"{exc.input_device}; move the input with x.to('{exc.parameter_device}') or the model with "
        f"model.to('{exc.input_device}') [{exc.op_message}]",
    )
