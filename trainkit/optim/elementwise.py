"""``ElementwiseOptimizer``: optimizers whose update is one element-wise rule.

Subclasses declare ``rule`` (a :class:`~trainkit.optim.kernels.Rule`) and say
how to initialise state, which per-parameter scalars they keep (``step``, ...),
and how to turn a group's hyperparameters and those scalars into the rule's
scalars and flags. This class lays each group out in flat buffers
(:class:`~trainkit.optim.flat.FlatBucket`, one per dtype/device) and runs the
rule over contiguous runs of parameters that have a gradient and share their
scalar state: one kernel launch per group in the usual case, several only when
some parameters were skipped on earlier steps (their step counts differ).

Execution flags: ``fused=None`` (default) or ``True`` runs the fused kernel
(numba on CPU, one cupy ElementwiseKernel on GPU); ``fused=False`` runs the
plain array path. ``foreach`` is accepted and has no effect (both paths already
work on whole flat buffers); ``capturable`` is accepted and ignored (no CUDA
graphs); ``differentiable=True`` is rejected (trainkit does not differentiate
through optimizer steps).
"""
from __future__ import annotations

from .flat import FlatBucket, LayoutChanged
from .kernels import Rule, run_rule
from .kernels.rule import default_backend
from .optimizer import Optimizer


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

    def __init__(self, params, defaults: dict):
        self._buckets: list[list[FlatBucket]] = []
        self._where: list[list[tuple[int, int]]] = []
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

    def _arguments(self, group: dict, state: dict, fresh: bool) -> tuple[dict, dict]:
        """The rule's scalars (Python floats) and flags for one run of parameters.

        ``fresh`` is True when the parameters' state was created in this step
        (SGD's momentum buffer starts as a copy of the gradient).
        """
        raise NotImplementedError

    # ------------------------------------------------------------ layout
    def _on_group_added(self, gi: int) -> None:
        group = self.param_groups[gi]
        by_kind: dict = {}
        for j, p in enumerate(group["params"]):
            key = (str(p.data.dtype), str(getattr(p, "device", "cpu")))
            by_kind.setdefault(key, []).append(j)
        buckets, where = [], [None] * len(group["params"])
        for indices in by_kind.values():
            bucket = FlatBucket([group["params"][j] for j in indices], indices)
            for k, j in enumerate(indices):
                where[j] = (len(buckets), k)
            buckets.append(bucket)
        if gi < len(self._buckets):
            self._buckets[gi], self._where[gi] = buckets, where
        else:
            self._buckets.append(buckets)
            self._where.append(where)

    def _relayout(self, gi: int) -> None:
        """Rebuild group ``gi``'s buffers after a parameter changed shape/dtype/device.

        State is carried over (cast to the new dtype/device); a parameter whose
        shape changed loses its state, as its old state no longer fits.
        """
        group = self.param_groups[gi]
        saved = {j: self._export_state(gi, j) for j in range(len(group["params"]))}
        for j in range(len(group["params"])):
            self._state.pop((gi, j), None)
        self._on_group_added(gi)
        for j, entry in saved.items():
            if entry is not None and not self._check_state(gi, j, entry):
                self._import_state(gi, j, entry)

    # ------------------------------------------------------------ state hooks
    def _export_state(self, gi: int, j: int, copy: bool = True) -> dict | None:
        st = self._state.get((gi, j))
        if st is None:
            return None
        b, k = self._where[gi][j]
        bucket = self._buckets[gi][b]
        out = dict(st)
        for name in bucket.state:
            view = bucket.state_view(name, k)
            out[name] = view.copy() if copy else view
        return out

    def _state_shape_must_match(self, key: str) -> bool:
        return key in self.rule.arrays

    def _check_state(self, gi: int, j: int, entry: dict) -> list[str]:
        problems = super()._check_state(gi, j, entry)
        missing = [s for s in self.scalar_state if s not in entry]
        if missing:
            problems.append(f"state of {self.describe_param(gi, j)} lacks {missing}")
        return problems

    def _import_state(self, gi: int, j: int, entry: dict) -> None:
        b, k = self._where[gi][j]
        bucket = self._buckets[gi][b]
        scalars = {}
        for key, value in entry.items():
            if key in self.rule.arrays:
                buf = bucket.state_buffer(key)
                if key not in self._allocated(bucket):
                    self._fill_new_buffer(gi, bucket, key)
                a, e = bucket.span(k)
                from ..backend import to_device

                buf[a:e] = bucket.xp.asarray(to_device(value, bucket.device)).reshape(-1)
            else:
                scalars[key] = float(value) if hasattr(value, "dtype") or isinstance(value, (int, float)) else value
        self._state[(gi, j)] = scalars

    def _allocated(self, bucket) -> set:
        return getattr(bucket, "_initialised", set())

    def _fill_new_buffer(self, gi, bucket, name) -> None:
        """A state buffer appeared: give every parameter that already has state its initial value."""
        init = self._init_state(self.param_groups[gi]).get(name) or 0.0
        bucket.state_buffer(name)[...] = init
        if not hasattr(bucket, "_initialised"):
            bucket._initialised = set()
        bucket._initialised.add(name)

    # ------------------------------------------------------------ step
    def _backend(self, group: dict, xp) -> str:
        if group.get("fused") is False:
            return "numpy"
        return default_backend(xp)

    def step(self, closure=None):
        """Perform a single optimization step (``closure`` re-evaluates the loss, optional)."""
        loss = self._run_closure(closure)
        for gi, group in enumerate(self.param_groups):
            for b in range(len(self._buckets[gi])):
                self._step_bucket(gi, group, b)
        return loss

    def _step_bucket(self, gi: int, group: dict, b: int) -> None:
        bucket = self._buckets[gi][b]
        params = [group["params"][j] for j in bucket.indices]
        try:
            valid = bucket.sync(params)
        except LayoutChanged:
            self._relayout(gi)
            for bb in range(len(self._buckets[gi])):
                self._step_bucket(gi, group, bb)
            return
        if not any(valid):
            return
        init = self._init_state(group)
        arrays_used = {name: value for name, value in init.items() if value is not None}
        for name in arrays_used:
            if name not in self._allocated(bucket):
                self._fill_new_buffer(gi, bucket, name)
        states, fresh = [], []
        for k, j in enumerate(bucket.indices):
            fresh.append(False)
            if not valid[k]:
                states.append(None)
                continue
            st = self._state.get((gi, j))
            if st is None:
                fresh[k] = True
                st = self._init_scalars(group)
                self._state[(gi, j)] = st
                a, e = bucket.span(k)
                for name, value in arrays_used.items():
                    bucket.state[name][a:e] = value
            self._begin_step(st, group)
            states.append(st)
        backend = self._backend(group, bucket.xp)
        k = 0
        n = len(states)
        while k < n:
            if states[k] is None:
                k += 1
                continue
            key = (fresh[k],) + self._segment_key(states[k])
            end = k + 1
            while (
                end < n
                and states[end] is not None
                and (fresh[end],) + self._segment_key(states[end]) == key
            ):
                end += 1
            a, e = bucket.offsets[k], bucket.offsets[end]
            scalars, flags = self._arguments(group, states[k], fresh[k])
            arrays = {"param": bucket.data[a:e], "grad": bucket.grad[a:e]}
            for name in self.rule.arrays[2:]:
                arrays[name] = bucket.state[name][a:e] if name in arrays_used else None
            run_rule(self.rule, arrays, scalars, flags, backend=backend)
            k = end
        for st in states:
            if st is not None:
                self._end_step(st, group)
