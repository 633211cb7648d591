"""Metric values as plain floats, for everything that prints or logs them.

Why: any plugin can put anything into ``trainer.metrics`` or the dict an
``on_log``/``on_validation_end`` hook receives (``None`` for "not computed",
a string, a numpy or cupy scalar, a 0-d array, a trainkit ``Tensor``).
TensorBoard, the progress log and ``trainkit train``'s final metrics line read
them through :func:`numeric_metrics`: numbers and 0-d numeric arrays become
``float``; anything else is left out with one warning naming the key, once per
key per ``fit()`` (the keys warned about are ``trainer.skipped_metrics``), so a
stray value costs a line in the log instead of the run.
"""
from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping

__all__ = ["numeric_metrics", "to_float"]

log = logging.getLogger("trainkit.metrics")


def to_float(value) -> float | None:
    """``value`` as a float: a real number (bool, int, float, numpy scalar) or a 0-d numeric
    array/tensor (numpy, cupy: one device transfer); None for anything else."""
    if isinstance(value, numbers.Real):
        return float(value)
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape == () and getattr(dtype, "kind", None) in ("b", "i", "u", "f"):
        return float(value)
    return None


def _describe(value) -> str:
    if value is None or isinstance(value, str):
        return repr(value)
    shape = getattr(value, "shape", None)
    return f"a {type(value).__name__!r}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def numeric_metrics(metrics: Mapping, trainer=None) -> dict[str, float]:
    """The entries of ``metrics`` that are numbers, as floats; the others are left out.

    Each key left out is warned about once per fit of ``trainer`` (recorded in
    ``trainer.skipped_metrics``); without a trainer, every time.
    """
    out: dict[str, float] = {}
    for name, value in metrics.items():
        number = to_float(value)
        if number is not None:
            out[name] = number
            continue
        warned = getattr(trainer, "skipped_metrics", None)
        if warned is not None:
            if name in warned:
                continue
            warned.add(name)
        log.warning("metric %r is %s, not a number: it is not logged", name, _describe(value))
    return out
