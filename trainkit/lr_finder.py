"""The learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural Networks", 2015/2017).

:func:`lr_find` (``Trainer.lr_find``, ``trainkit lr-find``) trains the run's
model with its optimizer, loss and data for up to ``num_steps`` batches while
the learning rate grows exponentially from ``min_lr`` to ``max_lr``, records
the loss of every batch and its exponentially smoothed, bias-corrected value
(``smooth``, as fastai and Lightning), and stops early when the smoothed loss
exceeds ``diverge`` times its best or a loss is not finite. Groups keep their lr
ratios (group 0 gets the tested lr).

The suggestions are read from a *centred* moving average of the losses
(:func:`centred_average`, a window of about a seventh of the steps): the
exponential average lags about ``1 / (1 - smooth)`` steps (50 at 0.98), which
on a 100-step curve moves fastai's and Lightning's steepest point to lrs that
are already too large (on the spirals MLP: 0.2 instead of 0.01). Suggestions
(fastai's names):

* ``steep``: the lr where the averaged loss falls fastest against ``log(lr)``
  before its lowest point (the default suggestion);
* ``valley``: fastai's: the middle of the longest falling stretch of the curve;
* ``minimum``: a tenth of the lr with the lowest averaged loss.

It leaves nothing changed: the model's weights, buffers, gradients and modes,
the optimizer's state and param groups, the gradient transforms, the RNG
(:class:`~trainkit.snapshot.TrainingSnapshot`) are put back, batches come from
a copy of the train loader (its position is never moved), and no hook is
called (plugins, schedulers and counters are untouched; no checkpoint, log or
directory is written).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .autograd.tensor import Tensor
from .png_plot import line_plot
from .snapshot import TrainingSnapshot
from .trainer_inputs import batch_to_device

__all__ = ["LRFinderResult", "centred_average", "lr_find", "suggestions"]

METHODS = ("steep", "valley", "minimum")


@dataclass
class LRFinderResult:
    """The range test's curve and its suggestions.

    Attributes:
        lrs, losses, smoothed: per step, the lr (group 0), the batch loss, its exponential average.
        averaged: the centred moving average of ``losses`` the suggestions are read from.
        stopped: why the test ended before ``num_steps`` (None when it ran them all).
        suggestions: ``{"steep": lr, "valley": lr, "minimum": lr}`` (None when the curve is too short).
        method: which suggestion :attr:`suggestion` is.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    stopped: str | None = None
    method: str = "steep"
    averaged: list[float] = field(init=False)
    suggestions: dict = field(init=False)

    def __post_init__(self):
        self.averaged = centred_average(self.losses)
        self.suggestions = suggestions(self.lrs, self.averaged)

    @property
    def suggestion(self) -> float | None:
        """The suggested lr (``suggestions[method]``)."""
        return self.suggestions.get(self.method)

    def table(self, rows: int = 20) -> str:
        """About ``rows`` evenly spaced steps (and the suggested ones): step, lr, loss, averaged loss."""
        n = len(self.lrs)
        marks = {}
        for name, lr in self.suggestions.items():
            if lr is not None:
                at = lr * 10 if name == "minimum" else lr
                label = "lowest (minimum: its lr/10)" if name == "minimum" else name
                marks.setdefault(int(np.argmin(np.abs(np.log(self.lrs) - math.log(at)))), []).append(label)
        shown = sorted(set(np.linspace(0, n - 1, min(rows, n)).round().astype(int).tolist()) | set(marks))
        lines = [f"{'step':>5} {'lr':>11} {'loss':>11} {'averaged':>11}"]
        for i in shown:
            note = f"  <- {', '.join(marks[i])}" if i in marks else ""
            lines.append(f"{i:>5} {self.lrs[i]:>11.4g} {self.losses[i]:>11.5g} {self.averaged[i]:>11.5g}{note}")
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """Loss (grey) and averaged loss (blue) against lr on a log axis; the suggestions as vertical
        lines (steep red, valley green, minimum orange); the y range is the averaged curve's."""
        colors = {"steep": "red", "valley": "green", "minimum": "orange"}
        markers = [(lr, colors[name]) for name, lr in self.suggestions.items() if lr is not None]
        low, high = min(self.averaged), max(self.averaged)
        margin = 0.1 * (high - low)
        return line_plot(path, [(self.lrs, self.losses, "grey"), (self.lrs, self.averaged, "blue")], markers,
                         y_range=(low - margin, high + margin))


def centred_average(losses, window: int | None = None) -> list[float]:
    """The mean of each loss and its ``window // 2`` neighbours on each side (ends padded with the end values);
    ``window`` defaults to the odd number nearest a seventh of the curve (at least 3)."""
    values = np.asarray(losses, dtype=float)
    if window is None:
        window = 2 * (len(values) // 14) + 1
    window = max(3, window | 1)
    if len(values) == 0:
        return []
    half = window // 2
    padded = np.pad(values, (half, half), mode="edge")
    return np.convolve(padded, np.ones(window) / window, mode="valid").tolist()


def suggestions(lrs, averaged, skip_start: int = 10, skip_end: int = 1) -> dict:
    """``steep``, ``valley`` and ``minimum`` suggestions of an averaged loss curve (see the module docstring)."""
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(averaged, dtype=float)
    n = len(losses)
    if n < 3:
        return {m: None for m in METHODS}
    lo = min(skip_start, n // 4)
    lowest = int(np.argmin(losses))
    hi = max(lo + 2, min(n - skip_end, lowest + 1))  # the descent before the lowest point, not the blow-up
    window = slice(lo, hi)
    slope = np.gradient(losses[window], np.log(lrs[window]))
    steep = float(lrs[window][int(np.argmin(slope))])
    minimum = float(lrs[int(np.argmin(losses))] / 10)
    return {"steep": steep, "valley": float(lrs[_valley(losses)]), "minimum": minimum}


def _valley(losses) -> int:
    """fastai's valley: the longest decreasing subsequence; the point 1/2 of its way past its first third."""
    n = len(losses)
    lds = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end, max_start = i, i - lds[i]
    sections = (max_end - max_start) / 3
    return max_start + int(sections) + int(sections / 2)


def _check(min_lr, max_lr, num_steps, smooth, diverge, method, trainer) -> None:
    if not (isinstance(min_lr, (int, float)) and isinstance(max_lr, (int, float)) and 0 < min_lr < max_lr):
        raise ValueError(f"lr_find: need 0 < min_lr < max_lr, got min_lr={min_lr!r}, max_lr={max_lr!r}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 2:
        raise ValueError(f"lr_find: num_steps must be an int >= 2, got {num_steps!r}")
    if not 0 <= smooth < 1:
        raise ValueError(f"lr_find: smooth must be in [0, 1), got {smooth!r}")
    if not diverge > 1:
        raise ValueError(f"lr_find: diverge must be > 1, got {diverge!r}")
    if method not in METHODS:
        raise ValueError(f"lr_find: method must be one of {', '.join(METHODS)}, got {method!r}")
    if getattr(trainer.optimizer, "requires_closure", False):
        raise ValueError(f"lr_find: {type(trainer.optimizer).__name__} steps with a closure (line search); "
                         "a range test needs an optimizer that follows its lr")


def _batches(loader):
    """Batches of a copy of ``loader``, epoch after epoch (the loader itself is never advanced)."""
    loader = copy.copy(loader)
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("lr_find: the train loader yielded no batches")


def lr_find(trainer, min_lr: float = 1e-7, max_lr: float = 10.0, num_steps: int = 100, smooth: float = 0.98,
            diverge: float = 4.0, method: str = "steep") -> LRFinderResult:
    """Run the range test on ``trainer``'s run and put everything back (see the module docstring).

    Args:
        trainer: a :class:`~trainkit.trainer.Trainer` (its model, loss, optimizer, train loader,
            device and gradient transforms are used; one batch per step, no accumulation).
        min_lr, max_lr: the range of group 0's lr (other groups keep their ratio to it).
        num_steps: steps (batches) at most.
        smooth: the smoothing factor of the loss (0: none).
        diverge: stop once the smoothed loss exceeds this many times its best.
        method: which suggestion :attr:`LRFinderResult.suggestion` is.
    """
    _check(min_lr, max_lr, num_steps, smooth, diverge, method, trainer)
    model, optimizer = trainer.model, trainer.optimizer
    groups = optimizer.param_groups
    base = groups[0]["lr"]
    ratios = [(g["lr"] / base) if base else 1.0 for g in groups]
    params = [p for g in groups for p in g["params"]]
    lrs, losses, smoothed = [], [], []
    stopped, average, best = None, 0.0, math.inf
    snapshot = TrainingSnapshot(trainer)
    try:
        model.train()
        batches = _batches(trainer.train_loader)
        for i in range(num_steps):
            lr = min_lr * (max_lr / min_lr) ** (i / (num_steps - 1))
            for group, ratio in zip(groups, ratios):
                group["lr"] = lr * ratio
            batch = batch_to_device(next(batches), trainer.device)
            optimizer.zero_grad()
            loss = trainer.loss_fn(model(*batch[:-1]), batch[-1])
            value = float(loss.array if isinstance(loss, Tensor) else loss)
            if not math.isfinite(value):
                stopped = f"the loss is {value} at lr {lr:.4g}"
                break
            average = smooth * average + (1 - smooth) * value
            current = average / (1 - smooth ** (i + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(current)
            best = min(best, current)
            if current > diverge * best:
                stopped = f"the smoothed loss diverged ({current:.4g} > {diverge:g} x best {best:.4g}) at lr {lr:.4g}"
                break
            loss.backward()
            if all(t(params) is not False for t in trainer.grad_transforms):
                optimizer.step()
    finally:
        snapshot.restore()
    return LRFinderResult(lrs, losses, smoothed, stopped, method)
