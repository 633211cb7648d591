"""The averaging functions of ``torch.optim.swa_utils`` and the element-wise rules they run.

Each ``get_*`` function has torch's name, argument and numerics:

* ``get_ema_multi_avg_fn(decay)`` / ``get_swa_multi_avg_fn()`` return a
  :class:`MultiAverage`: a callable ``fn(averaged_list, current_list, num_averaged)``
  updating the averaged tensors in place, as torch's ``_foreach_lerp_`` does,
  which :class:`~.averaged_model.AveragedModel` recognises and runs over its
  flat buffers, one fused pass per buffer (numpy, numba or cupy, from the
  rules below through :func:`trainkit.optim.kernels.bind_rule`);
* ``get_ema_avg_fn(decay)`` / ``get_swa_avg_fn()`` return per-tensor
  functions returning the new value (torch's expressions, on Tensors or arrays).

Rounding follows torch's CPU kernels. ``lerp`` computes
``start + w * (end - start)`` when ``|w| < 0.5`` and ``end + (w - 1) * (end - start)``
otherwise, with ``w`` cast to the tensor's dtype first (:func:`lerp_scalars`);
torch fuses that multiply-add (one rounding), trainkit rounds twice, so an
update may differ by one unit in the last place. The SWA weight torch passes
from ``AveragedModel`` is ``1 / (n_averaged + 1)`` computed on a ``long`` tensor,
i.e. rounded to float32 (kept here, see :func:`swa_weight`); on the CPU torch's
default average is the division ``avg + (cur - avg) / (n + 1)`` instead
(:data:`SWA_DIVIDE_RULE`).
"""
from __future__ import annotations

import numpy as np

from ...autograd import no_grad
from ...autograd.tensor import Tensor
from ...backend import get_array_module
from ..kernels import Rule, run_rule

__all__ = [
    "LERP_RULE", "SWA_DIVIDE_RULE", "MultiAverage", "get_ema_avg_fn", "get_ema_multi_avg_fn", "get_swa_avg_fn",
    "get_swa_multi_avg_fn", "lerp_scalars", "swa_weight",
]


def lerp_update(averaged, current, coeff, *, small):
    """torch's lerp of ``averaged`` towards ``current``; ``coeff`` is ``w`` (small) or ``w - 1``."""
    if small:
        averaged = averaged + coeff * (current - averaged)
    else:
        averaged = current + coeff * (current - averaged)
    return (averaged,)


def swa_divide_update(averaged, current, count):
    """torch's ``get_swa_avg_fn``: ``averaged + (current - averaged) / (n_averaged + 1)``."""
    averaged = averaged + (current - averaged) / count
    return (averaged,)


LERP_RULE = Rule("average_lerp", lerp_update, arrays=("averaged", "current"), outputs=("averaged",),
                 scalars=("coeff",), flags=("small",))
SWA_DIVIDE_RULE = Rule("average_swa", swa_divide_update, arrays=("averaged", "current"), outputs=("averaged",),
                       scalars=("count",))


def lerp_scalars(weight: float, dtype) -> tuple[dict, dict]:
    """``(scalars, flags)`` of :data:`LERP_RULE` for ``weight`` on arrays of ``dtype``.

    The weight is cast to the dtype first (torch's opmath for float32 and
    float64), and ``w - 1`` is computed in that dtype (exact for ``w >= 0.5``).
    """
    w = np.dtype(dtype).type(weight)
    small = bool(abs(w) < 0.5)
    coeff = w if small else w - np.dtype(dtype).type(1)
    return {"coeff": float(coeff)}, {"small": small}


def _count(num_averaged) -> int:
    data = num_averaged.array if isinstance(num_averaged, Tensor) else num_averaged
    return int(data)


def swa_weight(num_averaged) -> float:
    """torch's ``1 / (num_averaged + 1)``: float32 when ``num_averaged`` is a tensor, else a Python float."""
    n = _count(num_averaged)
    if isinstance(num_averaged, (int, np.integer)):
        return 1.0 / (n + 1)
    return float(np.float32(1) / np.float32(n + 1))


def _array(value):
    return value.array if isinstance(value, Tensor) else value


class MultiAverage:
    """A multi-tensor averaging function (``multi_avg_fn``) backed by an element-wise rule.

    Call it as torch's: ``fn(averaged_list, current_list, num_averaged)``; the
    averaged tensors (Tensors or arrays, floating point) are updated in place.
    ``AveragedModel`` runs :meth:`arguments` over its flat buffers instead.

    Attributes:
        kind: ``"ema"`` or ``"swa"``.
        decay: the EMA decay (None for SWA).
    """

    def __init__(self, kind: str, decay: float | None = None):
        self.kind, self.decay = kind, decay

    def weight(self, num_averaged) -> float:
        """The lerp weight of this update."""
        return 1 - self.decay if self.kind == "ema" else swa_weight(num_averaged)

    def arguments(self, num_averaged, dtype) -> tuple[Rule, dict, dict]:
        """``(rule, scalars, flags)`` for one update of arrays of ``dtype``."""
        scalars, flags = lerp_scalars(self.weight(num_averaged), dtype)
        return LERP_RULE, scalars, flags

    def __call__(self, averaged_list, current_list, num_averaged) -> None:
        if len(averaged_list) != len(current_list):
            raise ValueError(f"{len(averaged_list)} averaged tensors but {len(current_list)} current ones")
        with no_grad():
            for avg, cur in zip(averaged_list, current_list):
                a, c = _array(avg), _array(cur)
                if a.dtype.kind != "f":
                    integer_update(self, a, c, num_averaged)
                    continue
                rule, scalars, flags = self.arguments(num_averaged, a.dtype)
                xp = get_array_module(a)
                contiguous = a.flags.c_contiguous
                flat = a.reshape(-1) if contiguous else xp.ascontiguousarray(a).reshape(-1)
                current = xp.ascontiguousarray(c, dtype=a.dtype).reshape(-1)
                run_rule(rule, {"averaged": flat, "current": current}, scalars, flags, backend="numpy")
                if not contiguous:
                    a[...] = flat.reshape(a.shape)

    def __repr__(self) -> str:
        return f"MultiAverage({self.kind!r}" + (f", decay={self.decay})" if self.kind == "ema" else ")")


def integer_update(fn, averaged, current, num_averaged) -> None:
    """torch's average of an integer tensor (``num_batches_tracked`` with ``use_buffers``), in place.

    The value is computed in float32 (torch's default dtype) and truncated back,
    as torch's ``copy_`` does: EMA ``avg * decay + cur * (1 - decay)``, the
    default SWA ``avg + (cur - avg) / (n + 1)``; torch refuses the explicit SWA
    ``multi_avg_fn`` on integers (``addcdiv``), and so does this.
    """
    if fn is not None and fn.kind == "swa":
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported (torch's get_swa_multi_avg_fn on an integer "
            "tensor); average integer buffers with the default average (no multi_avg_fn) or use_buffers=False"
        )
    f32 = np.float32
    a = averaged.astype(f32)
    if fn is not None and fn.kind == "ema":
        new = a * f32(fn.decay) + current.astype(f32) * f32(1 - fn.decay)
    else:
        new = a + (current - averaged).astype(f32) / f32(_count(num_averaged) + 1)
    averaged[...] = new.astype(averaged.dtype)


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def get_ema_multi_avg_fn(decay: float = 0.999) -> MultiAverage:
    """The EMA over lists of tensors: ``ema = lerp(ema, current, 1 - decay)`` (torch's ``_foreach_lerp_``)."""
    _check_decay(decay)
    return MultiAverage("ema", float(decay))


def get_swa_multi_avg_fn() -> MultiAverage:
    """The equal-weight running average over lists of tensors: ``lerp(avg, current, 1 / (n + 1))``."""
    return MultiAverage("swa")


def get_ema_avg_fn(decay: float = 0.999):
    """The EMA of one tensor: returns ``decay * ema + (1 - decay) * current``."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    """The equal-weight running average of one tensor: returns ``avg + (current - avg) / (n + 1)``."""

    def swa_update(averaged_param, current_param, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update
