"""``ElementwiseOptimizer``: optimizers whose update is one element-wise rule.

Subclasses declare ``rule`` (a :class:`~trainkit.optim.kernels.Rule`) and say
how to initialise state, which per-parameter scalars they keep (``step``, ...),
and how to turn a group's hyperparameters and those scalars into the rule's
scalars and flags. This class lays each group out in flat buffers
(:class:`~trainkit.optim.flat.FlatBucket`, one per dtype/device) and runs the
rule over contiguous runs of parameters that have a gradient and share their
scalar state: one kernel launch per group in the usual case, several only when
some parameters were skipped on earlier steps (their step counts differ).
State arrays live in the buckets' flat buffers (:mod:`.flat_state`).

The usual case (gradients written by autograd into the flat gradient buffer,
every parameter with the same step count) takes a short path: a few identity
checks per parameter and one kernel prepared on the first step
(:func:`~trainkit.optim.kernels.bind_rule`) and reused, so the fixed cost of a
step stays around ten microseconds. Anything else (skipped or reassigned
gradients, fresh state, a parameter whose array was replaced) goes through the
general path, which produces the same numbers; both are in :mod:`.flat_step`.

Execution flags: ``fused=True`` runs the fused kernel (numba on CPU, one cupy
ElementwiseKernel on GPU); ``fused=False`` runs the plain array path.
``fused=None`` (default) is the fused kernel too, except that on CPU a bucket
smaller than ``PLAIN_WARMUP_NUMEL`` elements starts on the plain path and
moves to the fused kernel once its plain steps have taken as long as the move
costs (:func:`fused_switch_cost`: ``NUMBA_START_SECONDS`` while this process
has not loaded a fused kernel yet, numba's import and start-up; then
``KERNEL_LOAD_SECONDS``, one kernel from numba's cache). That is the
rent-or-buy rule: a run never spends more than about twice what the better of
the two choices made in hindsight would have cost, so short runs of small models
(tests, smoke runs, the default ``trainkit train`` job, a few hundred steps of
tens of microseconds) never pay numba's start-up, and long ones move within a
few thousand steps. The numbers are identical either way (tested).
``TRAINKIT_OPTIM_BACKEND=numba`` skips that warm-up,
``TRAINKIT_OPTIM_BACKEND=numpy`` forces the plain path everywhere; the variable
is read when a kernel is prepared. ``foreach`` is accepted and has no effect
(both paths already work on whole flat buffers); ``capturable`` is accepted and
ignored (no CUDA graphs); ``differentiable=True`` is rejected (trainkit does not
differentiate through optimizer steps).
"""
from __future__ import annotations

import numpy as np

from .flat import FlatBucket
from .flat_state import FlatStateStore
from .flat_step import step_bucket
from .kernels import Rule
from .kernels.numba_backend import kernels_loaded
from .kernels.rule import default_backend, forced_backend
from .optimizer import Optimizer

# fused=None on CPU: buckets smaller than this start on the plain numpy path (identical numbers) and
# move to the fused kernel once their plain steps have taken fused_switch_cost() seconds.
PLAIN_WARMUP_NUMEL = 65_536
#: what the first fused kernel of a process costs: numba's import and start-up, the kernel from its cache
#: (about half a second on the 2-core development machine; see :mod:`.kernels.numba_backend`).
NUMBA_START_SECONDS = 0.5
#: what one more fused kernel costs once numba runs (loaded from numba's on-disk cache).
KERNEL_LOAD_SECONDS = 0.02


def fused_switch_cost() -> float:
    """Seconds of plain-path steps after which a small bucket moves to the fused kernel."""
    return KERNEL_LOAD_SECONDS if kernels_loaded() else NUMBA_START_SECONDS


def check_execution_flags(name: str, foreach=None, fused=None, differentiable=False, capturable=False) -> None:
    """Validate torch's execution flags the way torch does, minus what cannot apply."""
    if differentiable:
        raise ValueError(
            f"{name}: differentiable=True is not supported (trainkit does not build a graph "
            "through optimizer steps); use differentiable=False"
        )
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


class ElementwiseOptimizer(Optimizer):
    """Base for optimizers driven by one element-wise :class:`Rule` over flat buffers."""

    rule: Rule
    scalar_state: tuple[str, ...] = ("step",)
    state_store_class = FlatStateStore

    def __init__(self, params, defaults: dict):
        self._buckets: list[list[FlatBucket]] = []
        self._where: list[list[tuple[int, int]]] = []
        self._flat_list: list | None = None  # flat_buckets(), until the layout changes
        super().__init__(params, defaults)

    # ------------------------------------------------------------ subclass hooks
    def _init_state(self, group: dict) -> dict:
        """State array name -> initial fill value, or None for arrays this group does not use."""
        raise NotImplementedError

    def _init_scalars(self, group: dict) -> dict:
        """Initial per-parameter scalar state (``{"step": 0.0}`` by default)."""
        return {"step": 0.0}

    def _begin_step(self, state: dict, group: dict) -> None:
        """Advance scalar state before the update (torch increments ``step`` first)."""
        state["step"] += 1.0

    def _end_step(self, state: dict, group: dict) -> None:
        """Advance scalar state after the update (ASGD's eta and mu)."""

    def _segment_key(self, state: dict) -> tuple:
        return tuple(state[name] for name in self.scalar_state)

    def _is_fresh(self, state: dict, group: dict) -> bool:
        """Whether a parameter that has state must still take its first-step update (SGD's momentum)."""
        return False

    def _mark_present(self, state: dict, key: str) -> None:
        """Hook: state array ``key`` of a parameter was set by hand (SGD records its momentum buffer)."""

    def _mark_absent(self, state: dict, key: str) -> None:
        """Hook: optional state array ``key`` of a parameter was deleted by hand."""

    def _arguments(self, group: dict, state: dict, fresh: bool) -> tuple[dict, dict]:
        """The rule's scalars (Python floats) and flags for one run of parameters.

        ``fresh`` is True when the parameters' state was created in this step
        (SGD's momentum buffer starts as a copy of the gradient).
        """
        raise NotImplementedError

    # ------------------------------------------------------------ layout
    def _on_group_added(self, gi: int) -> None:
        self._flat_list = None
        group = self.param_groups[gi]
        by_kind: dict = {}
        for j, p in enumerate(group["params"]):
            key = (str(p.array.dtype), str(getattr(p, "device", "cpu")))
            by_kind.setdefault(key, []).append(j)
        buckets, where = [], [None] * len(group["params"])
        for indices in by_kind.values():
            bucket = FlatBucket([group["params"][j] for j in indices], indices, gi, len(group["params"]))
            for k, j in enumerate(indices):
                where[j] = (len(buckets), k)
            buckets.append(bucket)
        if gi < len(self._buckets):
            self._buckets[gi], self._where[gi] = buckets, where
        else:
            self._buckets.append(buckets)
            self._where.append(where)

    def _reset_layout(self) -> None:
        self._buckets, self._where, self._flat_list = [], [], None

    def flat_buckets(self) -> list[tuple[FlatBucket, list]]:
        """Every ``(bucket, its parameters)``, after picking up hand-edited param groups.

        Data-parallel training reduces each bucket's flat gradient buffer in one
        collective (:func:`trainkit.distributed.all_reduce_gradients`).
        """
        self._sync_groups()
        if self._flat_list is None:
            out = []
            for gi, buckets in enumerate(self._buckets):
                group_params = self.param_groups[gi]["params"]
                for bucket in buckets:
                    out.append((bucket, group_params if bucket.whole else [group_params[j] for j in bucket.indices]))
            self._flat_list = out
        return self._flat_list

    # ------------------------------------------------------------ state hooks
    def _state_shape_must_match(self, key: str) -> bool:
        return key in self.rule.arrays

    def _required_state(self, group: dict, param) -> tuple:
        arrays = tuple(name for name, value in self._init_state(group).items() if value is not None)
        return tuple(self.scalar_state) + arrays

    # ------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: to None (default, as torch) or to zeros in place.

        With ``set_to_none=True`` the next backward pass writes each gradient
        into the optimizer's flat gradient buffer again (no allocation per
        step). A gradient array kept from before (``g = w.grad``, or a view of
        it) would then be overwritten, while torch gives each backward pass a
        fresh tensor; so when any gradient of a bucket is still referenced from
        outside (counted with ``sys.getrefcount``, against the references the
        optimizer itself holds), that bucket gets a fresh gradient buffer and
        the kept arrays keep their values, as in torch. The usual loop keeps no
        reference and reuses the buffer. ``set_to_none=False`` zeroes in place,
        as torch does (kept references see the zeros).
        """
        super().zero_grad(set_to_none)
        if set_to_none:
            for gi, buckets in enumerate(self._buckets):
                group_params = self.param_groups[gi]["params"]
                for bucket in buckets:
                    if bucket.grads_referenced(group_params):
                        params = group_params if bucket.whole else [group_params[j] for j in bucket.indices]
                        bucket.fresh_grad(params)

    # ------------------------------------------------------------ step
    @staticmethod
    def _warming_up(group: dict, bucket: FlatBucket) -> bool:
        """Whether ``bucket`` is still in its plain-path warm-up (``fused=None``, small, CPU, its plain
        steps so far shorter than :func:`fused_switch_cost`)."""
        return (
            group.get("fused") is None
            and bucket.numel < PLAIN_WARMUP_NUMEL
            and bucket.xp is np
            and bucket.plain_seconds < fused_switch_cost()
        )

    def _backend(self, group: dict, bucket: FlatBucket) -> str:
        """The backend for this step of ``bucket`` (see the module docstring on ``fused``)."""
        if group.get("fused") is False:
            return "numpy"
        if self._warming_up(group, bucket) and forced_backend() != "numba":
            return "numpy"
        return default_backend(bucket.xp)

    def step(self, closure=None):
        """Perform a single optimization step (``closure`` re-evaluates the loss, optional)."""
        loss = self._run_closure(closure)
        for gi, group in enumerate(self.param_groups):
            for b in range(len(self._buckets[gi])):
                step_bucket(self, gi, group, b)
        return loss
