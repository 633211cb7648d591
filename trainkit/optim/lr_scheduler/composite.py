"""Schedulers made of schedulers: ``SequentialLR`` (one after another) and ``ChainedScheduler`` (all at once)."""
from __future__ import annotations

from bisect import bisect_right

from .base import INTERVALS, LRScheduler, check_optimizer, group_values
from .plateau import ReduceLROnPlateau


def _check_children(owner: str, optimizer, schedulers) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{owner} expects at least one scheduler, but got no scheduler.")
    for i, sched in enumerate(schedulers):
        if not hasattr(sched, "optimizer"):
            raise TypeError(f"{owner} at index {i} should have `optimizer` as its attribute.")
        if isinstance(sched, ReduceLROnPlateau):
            raise ValueError(
                f"{owner} does not support `ReduceLROnPlateau` scheduler as it requires additional "
                f"kwargs to be specified when calling `step`, but got one at index {i} in the given "
                "schedulers sequence."
            )
        if sched.optimizer is not optimizer:
            raise ValueError(
                f"{owner} expects all schedulers to belong to the same optimizer, but got scheduler "
                f"{type(sched).__name__} at index {i} with a different optimizer than "
                f"{type(optimizer).__name__}."
            )


def _declared_interval(sched):
    """A child's interval, or None when it cannot tell (a composite of mixed children)."""
    try:
        return getattr(sched, "interval", "epoch")
    except ValueError:
        return None


class _Nested:
    """interval, groups added later and state_dict/load_state_dict for schedulers holding ``_schedulers``.

    The composite's ``interval`` is its children's when they agree. Children of
    different intervals (``warmup_linear`` steps per batch, ``cosine`` per epoch)
    leave it undecided: give ``interval=`` (or assign ``.interval``; in a config,
    ``scheduler.interval=step``), otherwise reading ``.interval``, as the Trainer
    does when it is built, raises a ValueError naming the children.
    """

    _schedulers: list
    _interval: str | None = None

    def _init_interval(self, interval) -> None:
        if interval is not None:
            self.interval = interval
            return
        found = [_declared_interval(s) for s in self._schedulers]
        self._interval = found[0] if len(set(found)) == 1 else None

    @property
    def interval(self) -> str:
        """When the Trainer steps this composite: ``"epoch"`` or ``"step"``."""
        if self._interval is None:
            children = ", ".join(
                f"{type(s).__name__}: {_declared_interval(s) or 'mixed'!r}" for s in self._schedulers
            )
            raise ValueError(
                f"{type(self).__name__} has children with different intervals ({children}), so it cannot "
                "tell whether to step per batch or per epoch. Choose one explicitly: "
                f"{type(self).__name__}(..., interval='step') or 'epoch' (in a config: scheduler.interval=step)"
            )
        return self._interval

    @interval.setter
    def interval(self, value: str) -> None:
        if value not in INTERVALS:
            raise ValueError(f"{type(self).__name__} interval must be one of {INTERVALS}, got {value!r}")
        self._interval = value

    def follow_new_group(self, group: dict) -> None:
        """Every child follows a param group added later (see ``LRScheduler.follow_new_group``)."""
        for sched in self._schedulers:
            sched.follow_new_group(group)
        if "base_lrs" in self.__dict__:
            self.base_lrs.append(group.get("initial_lr", group["lr"]))
        self._last_lr = group_values(self.optimizer, "lr")

    def state_dict(self):
        state = LRScheduler.state_dict(self)
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        children = state.pop("_schedulers")
        if len(children) != len(self._schedulers):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: state has {len(children)} schedulers, "
                f"this one has {len(self._schedulers)}"
            )
        LRScheduler.load_state_dict(self, state)
        for sched, child in zip(self._schedulers, children):
            sched.load_state_dict(child)


class SequentialLR(_Nested, LRScheduler):
    """Run ``schedulers[i]`` until ``milestones[i]``, then hand over to the next.

    At a milestone the next scheduler restarts from its closed form at epoch 0
    (torch's behaviour), e.g. ``LinearLR`` warmup then ``ExponentialLR``.

    Args:
        optimizer: wrapped optimizer.
        schedulers: the schedulers, in order (all on ``optimizer``).
        milestones: ``len(schedulers) - 1`` increasing step indices.
        last_epoch: index of the last epoch (-1 to start).
        interval: ``"step"`` or ``"epoch"``; default: the children's, which must agree.
    """

    _state_keys = ("_milestones",)

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1, *, interval: str | None = None) -> None:
        check_optimizer(optimizer)
        schedulers = list(schedulers)
        _check_children(type(self).__name__, optimizer, schedulers)
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more than the "
                f"number of milestone points, but got number of schedulers {len(schedulers)} and the "
                f"number of milestones to be equal to {len(milestones)}"
            )
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        self._init_interval(interval)
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo(self)
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def _undo(self, sched) -> None:
        """Take back the initial step every (nested) child took at its construction."""
        if hasattr(sched, "_schedulers"):
            for child in sched._schedulers:
                self._undo(child)
        elif hasattr(sched, "last_epoch"):
            sched.last_epoch -= 1

    # torch's public name
    recursive_undo = _undo

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()


class ChainedScheduler(_Nested, LRScheduler):
    """Step every scheduler in the list at each ``step()``; their (chainable) effects multiply.

    Args:
        schedulers: the schedulers, all on the same optimizer.
        optimizer: that optimizer (default: the first scheduler's).
        interval: ``"step"`` or ``"epoch"``; default: the children's, which must agree.
    """

    _common_keys = ("_last_lr",)

    def __init__(self, schedulers, optimizer=None, *, interval: str | None = None) -> None:
        schedulers = list(schedulers)
        if len(schedulers) < 1:
            raise ValueError(
                "ChainedScheduler expects at least one scheduler to be chained, but got no scheduler."
            )
        optimizer = optimizer or schedulers[0].optimizer
        _check_children(type(self).__name__, optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._init_interval(interval)
        self._last_lr = group_values(schedulers[-1].optimizer, "lr")

    def step(self) -> None:
        for sched in self._schedulers:
            sched.step()
        self._last_lr = group_values(self._schedulers[-1].optimizer, "lr")
