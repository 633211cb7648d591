"""``LRScheduler``: the base class every learning-rate scheduler builds on.

It keeps torch's contract exactly: constructing a scheduler records
``group["initial_lr"]`` (when ``last_epoch == -1``), takes the *initial step*
(``last_epoch`` goes from -1 to 0 and the epoch-0 rates are written into the
groups), and each later ``step()`` advances ``last_epoch`` by one. Schedulers
only touch ``optimizer.param_groups`` (a list of dicts with ``"lr"`` and, for
momentum-cycling schedulers, ``"momentum"`` or ``"betas"``) and
``optimizer.defaults``, so any torch-style optimizer works.

Unlike torch, trainkit does not monkey-patch ``optimizer.step`` to detect a
scheduler stepped before its optimizer (STYLE: no monkey-patching); the
Trainer owns the step order instead.

State dicts hold only plain values (numbers, strings, lists, dicts with str/int
keys), never callables, so they go into pickle-free checkpoints.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available."
)

INTERVALS = ("epoch", "step")


def check_optimizer(optimizer) -> None:
    """Raise ``TypeError`` unless ``optimizer`` looks like a torch-style optimizer."""
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise TypeError(
            f"{type(optimizer).__name__} is not an Optimizer: a scheduler needs an object "
            "with a `param_groups` list of dicts (e.g. trainkit.optim.SGD)"
        )


def format_param(name: str, optimizer, param) -> list:
    """One value per param group: a scalar is repeated, a list must match in length."""
    n = len(optimizer.param_groups)
    if isinstance(param, (list, tuple)):
        if len(param) != n:
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(param)} values, param_groups has {n}."
            )
        return list(param)
    return [param] * n


def group_values(optimizer, key: str) -> list:
    """``[group[key] for group in optimizer.param_groups]`` (KeyError if missing)."""
    return [group[key] for group in optimizer.param_groups]


def plain(value):
    """Convert a state value to checkpoint-safe plain types (tuples -> lists, numpy scalars -> floats)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()
    return value


class LRScheduler:
    """Base class of all learning-rate schedulers (torch.optim.lr_scheduler.LRScheduler).

    Subclasses implement :meth:`get_lr` (the chainable, recursive form used by
    ``step()``) and, where torch has one, ``_get_closed_form_lr`` (used by the
    deprecated ``step(epoch)``).

    Attributes:
        interval: ``"epoch"`` (default) or ``"step"``: when the Trainer calls
            ``step()`` (after every optimizer step, or at the end of each epoch).
            Assign to override, e.g. ``sched.interval = "step"``.
        last_epoch: index of the last scheduler step (0 right after construction).
        base_lrs: the groups' ``initial_lr`` values.

    Args:
        optimizer: the optimizer whose ``param_groups[i]["lr"]`` are set.
        last_epoch: ``-1`` to start fresh; a non-negative value only when
            resuming, in which case every group must already have ``initial_lr``.
    """

    interval: str = "epoch"
    _is_initial: bool = False
    # Attributes saved by state_dict() besides the common ones; subclasses extend.
    _state_keys: tuple[str, ...] = ()
    _common_keys: tuple[str, ...] = ("base_lrs", "last_epoch", "_step_count", "_last_lr")

    def __init__(self, optimizer, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                        f"scheduler with last_epoch={last_epoch} >= 0; load the optimizer state "
                        "first, or use last_epoch=-1 for a fresh run"
                    )
        self.base_lrs: list = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    # ------------------------------------------------------------------ stepping
    def _initial_step(self) -> None:
        """Reset the step count and take the construction-time step (epoch 0)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        """The next learning rate of each param group (chainable form)."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr()")

    def get_last_lr(self) -> list:
        """The learning rates this scheduler last wrote, one per param group."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance one step (call after ``optimizer.step()``).

        Args:
            epoch: deprecated, as in torch: sets ``last_epoch`` and uses the
                closed form where the scheduler has one (with a UserWarning).
        """
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        groups = self.optimizer.param_groups
        if len(values) != len(groups):
            raise ValueError(
                f"{type(self).__name__} computed {len(values)} learning rates for "
                f"{len(groups)} param groups; was a group added after the scheduler was built?"
            )
        for group, lr in zip(groups, values):
            group["lr"] = lr
        self._last_lr = group_values(self.optimizer, "lr")

    # ------------------------------------------------------------------ groups added later
    def follow_new_group(self, group: dict) -> None:
        """Take a param group appended to the optimizer after construction into the schedule.

        trainkit's extension for fine-tuning (``unfreeze``): call it right after
        ``optimizer.add_param_group(group)``, with that group. Here the group's
        ``lr`` becomes its ``initial_lr`` and base lr, and the schedule goes on
        from it (a chainable scheduler such as ``StepLR`` scales it from the next
        step). Schedulers whose rates come from other per-group values
        (``CyclicLR``, ``OneCycleLR``, ``LambdaLR``...) override this.
        """
        group.setdefault("initial_lr", group["lr"])
        self.base_lrs.append(group["initial_lr"])
        self._last_lr = group_values(self.optimizer, "lr")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state: plain values only (no optimizer, no callables)."""
        keys = self._common_keys + self._state_keys
        return {k: plain(getattr(self, k)) for k in keys if k in self.__dict__}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state saved by :meth:`state_dict` (unknown keys are an error)."""
        allowed = set(self._common_keys + self._state_keys)
        unknown = sorted(set(state_dict) - allowed)
        if unknown:
            raise KeyError(
                f"{type(self).__name__}.load_state_dict got unexpected keys {unknown}; "
                f"expected a subset of {sorted(allowed)}"
            )
        for k, v in state_dict.items():
            setattr(self, k, list(v) if isinstance(v, tuple) else v)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={getattr(self, '_last_lr', None)})"


def cos_factor(t: float, T: float) -> float:
    """``(1 + cos(pi * t / T)) / 2``: the cosine annealing factor in [0, 1]."""
    return (1 + math.cos(math.pi * t / T)) / 2
