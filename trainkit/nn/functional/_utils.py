"""Small helpers shared by the functional kernels: argument normalisation and checks."""
from __future__ import annotations

from ...autograd.tensor import Tensor


def pair(value, name: str) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(2, 3) -> (2, 3)``; anything else is a clear ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")


def raw(x):
    """The array behind a Tensor (or the value itself)."""
    return x.array if isinstance(x, Tensor) else x


def check_reduction(reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def check_ndim(x, allowed: tuple[int, ...], op: str, name: str = "input") -> None:
    if x.ndim not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        raise ValueError(f"{op}: expected {name} to be {want}, got shape {tuple(x.shape)}")


def as_tensor_like(value, like: Tensor) -> Tensor:
    """Wrap a raw array / scalar as a Tensor with ``like``'s dtype and array module."""
    if isinstance(value, Tensor):
        return value
    xp = like.xp
    return Tensor._wrap(xp.asarray(value, dtype=like.dtype), False)
