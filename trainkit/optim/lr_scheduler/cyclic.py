"""Per-iteration cyclical schedules: ``CyclicLR`` and ``OneCycleLR``.

Both also cycle momentum inversely to the lr: ``group["momentum"]`` for
SGD-style optimizers, or ``betas[0]`` when ``optimizer.defaults`` has ``betas``
(Adam-style). Their ``interval`` is ``"step"``: they are meant to be stepped
after every batch.

Smith, "Cyclical Learning Rates for Training Neural Networks" (WACV 2017);
Smith & Topin, "Super-Convergence" (2018).
"""
from __future__ import annotations

import math

from .base import LRScheduler, check_optimizer, format_param


def _set_momentum(group: dict, value: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (value, *tuple(group["betas"])[1:])
    else:
        group["momentum"] = value


def _init_momentum(sched, optimizer, base_momentum, max_momentum, last_epoch) -> tuple[list, list]:
    defaults = getattr(optimizer, "defaults", {}) or {}
    if "momentum" not in defaults and "betas" not in defaults:
        raise ValueError(
            "optimizer must support momentum or beta1 with `cycle_momentum` option enabled "
            f"({type(optimizer).__name__}.defaults has neither 'momentum' nor 'betas'); "
            "pass cycle_momentum=False"
        )
    sched.use_beta1 = "betas" in defaults
    max_ms = format_param("max_momentum", optimizer, max_momentum)
    base_ms = format_param("base_momentum", optimizer, base_momentum)
    if last_epoch == -1:
        for m_max, m_base, group in zip(max_ms, base_ms, optimizer.param_groups):
            _set_momentum(group, m_max, sched.use_beta1)
            group["max_momentum"] = m_max
            group["base_momentum"] = m_base
    return base_ms, max_ms


class CyclicLR(LRScheduler):
    """Cycle the lr between ``base_lr`` and ``max_lr`` (triangular, triangular2 or exp_range).

    Args:
        optimizer: wrapped optimizer.
        base_lr: lower lr bound (per group or one value); written into the groups.
        max_lr: upper lr bound.
        step_size_up: iterations in the increasing half of a cycle.
        step_size_down: iterations in the decreasing half (default: ``step_size_up``).
        mode: ``"triangular"``, ``"triangular2"`` (amplitude halves each cycle)
            or ``"exp_range"`` (amplitude scaled by ``gamma ** iteration``).
        gamma: the ``exp_range`` base.
        scale_fn: custom amplitude function (overrides ``mode``); never saved
            in the state dict (like torch, a callable object's ``__dict__`` is).
        scale_mode: ``"cycle"`` or ``"iterations"``: the argument of ``scale_fn``.
        cycle_momentum: cycle momentum/beta1 between ``max_momentum`` and ``base_momentum``.
        base_momentum: lower momentum bound.
        max_momentum: upper momentum bound.
        last_epoch: index of the last batch (-1 to start).
    """

    interval = "step"
    _state_keys = (
        "max_lrs", "total_size", "step_ratio", "mode", "gamma", "scale_mode",
        "cycle_momentum", "use_beta1", "base_momentums", "max_momentums",
    )

    def __init__(
        self,
        optimizer,
        base_lr,
        max_lr,
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn=None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = format_param("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = format_param("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        if up <= 0 or down < 0:
            raise ValueError(
                f"CyclicLR step sizes must be positive, got step_size_up={step_size_up}, "
                f"step_size_down={step_size_down}"
            )
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(
                f"CyclicLR mode {mode!r} is invalid and scale_fn is None; "
                "use 'triangular', 'triangular2' or 'exp_range', or pass scale_fn"
            )
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"CyclicLR scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_mode()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.base_momentums, self.max_momentums = _init_momentum(
                self, optimizer, base_momentum, max_momentum, last_epoch
            )
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def follow_new_group(self, group: dict) -> None:
        """A group added later cycles too: its ``lr`` is its upper bound (``max_lr``).

        Its lower bound keeps the first group's ``base_lr / max_lr`` ratio and its
        momentum bounds are the first group's; its lr is set to the cycle's current
        value, so it joins the schedule where the other groups are.
        """
        peak = float(group["lr"])
        ratio = self.base_lrs[0] / self.max_lrs[0] if self.max_lrs[0] else 1.0
        self.max_lrs.append(peak)
        self.base_lrs.append(peak * ratio)
        group["initial_lr"] = peak * ratio
        if self.cycle_momentum:
            self.base_momentums.append(self.base_momentums[0])
            self.max_momentums.append(self.max_momentums[0])
            group["base_momentum"] = self.base_momentums[0]
            group["max_momentum"] = self.max_momentums[0]
        group["lr"] = self.get_lr()[-1]  # closed form in last_epoch: the other groups keep their values
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _init_scale_mode(self) -> None:
        if self._scale_fn_custom is not None:
            return
        self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x) -> float:
        """The amplitude factor at cycle number / iteration ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [b + (m - b) * scale_factor * scale for b, m in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, b, m in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _set_momentum(group, m - (m - b) * scale_factor * scale, self.use_beta1)
        return lrs

    def state_dict(self):
        state = super().state_dict()
        fn = self._scale_fn_custom
        state["_scale_fn_custom"] = None
        if fn is not None and not isinstance(fn, type(lambda: None)):
            state["_scale_fn_custom"] = dict(fn.__dict__)
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        fn_state = state.pop("_scale_fn_custom", None)
        super().load_state_dict(state)
        if fn_state is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(fn_state)
        self._init_scale_mode()


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up to ``max_lr``, then anneal far below the start.

    The lr starts at ``max_lr / div_factor``, reaches ``max_lr`` after
    ``pct_start`` of ``total_steps``, and ends at ``initial_lr / final_div_factor``
    (with ``three_phase``, it first comes back to the start lr symmetrically).
    Momentum (or beta1) moves inversely between ``max_momentum`` and ``base_momentum``.

    Args:
        optimizer: wrapped optimizer.
        max_lr: peak lr (per group or one value).
        total_steps: number of steps in the cycle; or give ``epochs`` and ``steps_per_epoch``.
        epochs: number of epochs (with ``steps_per_epoch``).
        steps_per_epoch: steps per epoch (with ``epochs``).
        pct_start: fraction of the cycle spent increasing the lr (float in [0, 1]).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: cycle momentum/beta1.
        base_momentum: momentum at the lr peak.
        max_momentum: momentum at the start and end.
        div_factor: ``initial_lr = max_lr / div_factor``.
        final_div_factor: ``min_lr = initial_lr / final_div_factor``.
        three_phase: use the three-phase variant (fastai's original).
        last_epoch: index of the last batch (-1 to start).

    Raises:
        ValueError: when stepped more than ``total_steps`` times.
    """

    interval = "step"
    _state_keys = ("total_steps", "_schedule_phases", "_anneal_func_type", "cycle_momentum", "use_beta1")

    def __init__(
        self,
        optimizer,
        max_lr,
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum=0.85,
        max_momentum=0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or isinstance(total_steps, bool) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or pct_start < 0 or pct_start > 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_func_type = anneal_strategy
        up_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                _phase(up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                       "base_momentum", "max_momentum"),
                _phase(self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._schedule_phases = [
                _phase(up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor
        max_lrs = format_param("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for m, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            _init_momentum(self, optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def follow_new_group(self, group: dict) -> None:
        """A group added later follows the 1cycle too: its ``lr`` is its peak (``max_lr``).

        Its start and final rates use this scheduler's ``div_factor`` and
        ``final_div_factor`` (``initial_lr = max_lr / div_factor``, ``min_lr =
        initial_lr / final_div_factor``), its momentum bounds are the first
        group's, and its lr is set to the curve's value at the current step, so it
        joins the schedule where the other groups are instead of starting at the peak.
        """
        peak = float(group["lr"])
        group["max_lr"] = peak
        group["initial_lr"] = peak / self.div_factor
        group["min_lr"] = group["initial_lr"] / self.final_div_factor
        if self.cycle_momentum:
            first = self.optimizer.param_groups[0]
            group["max_momentum"] = first["max_momentum"]
            group["base_momentum"] = first["base_momentum"]
        self.base_lrs.append(group["initial_lr"])
        group["lr"] = self.get_lr()[-1]  # closed form in last_epoch: the other groups keep their values
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"Tried to step {step} times. The specified number of total steps is {self.total_steps}"
            )
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == last:
                    pct = (step - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        mom = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                _set_momentum(group, mom, self.use_beta1)
        return lrs


def _phase(end_step, start_lr, end_lr, start_momentum, end_momentum) -> dict:
    return {
        "end_step": end_step,
        "start_lr": start_lr,
        "end_lr": end_lr,
        "start_momentum": start_momentum,
        "end_momentum": end_momentum,
    }
