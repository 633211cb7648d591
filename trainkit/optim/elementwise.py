"""``ElementwiseOptimizer``: optimizers whose update is one element-wise rule.

Subclasses declare ``rule`` (a :class:`~trainkit.optim.kernels.Rule`) and say
how to initialise state, which per-parameter scalars they keep (``step``, ...),
and how to turn a group's hyperparameters and those scalars into the rule's
scalars and flags. This class lays each group out in flat buffers
(:class:`~trainkit.optim.flat.FlatBucket`, one per dtype/device) and runs the
rule over contiguous runs of parameters that have a gradient and share their
scalar state: one kernel launch per group in the usual case, several only when
some parameters were skipped on earlier steps (their step counts differ).

The usual case (gradients written by autograd into the flat gradient buffer,
every parameter with the same step count) takes a short path: a few identity
checks per parameter and one kernel prepared on the first step
(:func:`~trainkit.optim.kernels.bind_rule`) and reused, so the fixed cost of a
step stays around ten microseconds. Anything else (skipped or reassigned
gradients, fresh state, a parameter whose array was replaced) goes through the
general path, which produces the same numbers.

Execution flags: ``fused=True`` runs the fused kernel (numba on CPU, one cupy
ElementwiseKernel on GPU); ``fused=False`` runs the plain array path.
``fused=None`` (default) is the fused kernel too, except that on CPU a bucket
smaller than ``PLAIN_WARMUP_NUMEL`` elements runs its first
``PLAIN_WARMUP_STEPS`` steps on the plain path: the numbers are identical
(tested), and short runs of small models (tests, smoke runs, ``trainkit``
subprocesses) never pay numba's import and cache load (about one second once
per process). ``TRAINKIT_OPTIM_BACKEND=numba`` skips that warm-up,
``TRAINKIT_OPTIM_BACKEND=numpy`` forces the plain path everywhere; the variable
is read when a kernel is prepared. ``foreach`` is accepted and has no effect
(both paths already work on whole flat buffers); ``capturable`` is accepted and
ignored (no CUDA graphs); ``differentiable=True`` is rejected (trainkit does not
differentiate through optimizer steps).
"""
from __future__ import annotations

import numpy as np

from ..backend import to_device
from .flat import FlatBucket, LayoutChanged
from .kernels import Rule, bind_rule
from .kernels.rule import default_backend, forced_backend
from .optimizer import Optimizer

# fused=None on CPU: buckets smaller than this run their first PLAIN_WARMUP_STEPS steps on the
# plain numpy path (identical numbers), so short runs of small models never pay numba's ~1 s import.
PLAIN_WARMUP_NUMEL = 65_536
PLAIN_WARMUP_STEPS = 100


def _scalar(value):
    """A loaded scalar state value (a number, 0-d array or Tensor-like) as a Python float."""
    if hasattr(value, "dtype") or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return float(value)
    return value


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
        group = self.param_groups[gi]
        by_kind: dict = {}
        for j, p in enumerate(group["params"]):
            key = (str(p.data.dtype), str(getattr(p, "device", "cpu")))
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
        self._buckets, self._where = [], []

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
            if entry is not None and not self._check_state(gi, j, entry, complete=False):
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

    def _required_state(self, group: dict, param) -> tuple:
        arrays = tuple(name for name, value in self._init_state(group).items() if value is not None)
        return tuple(self.scalar_state) + arrays

    def _import_state(self, gi: int, j: int, entry: dict) -> None:
        b, k = self._where[gi][j]
        bucket = self._buckets[gi][b]
        scalars = {}
        for key, value in entry.items():
            if key in self.rule.arrays:
                if value is not None:
                    self._write_state_array(gi, bucket, k, key, value)
            else:
                scalars[key] = _scalar(value)
        self._state[(gi, j)] = scalars

    def _write_state_array(self, gi: int, bucket: FlatBucket, k: int, key: str, value):
        """Copy ``value`` into parameter ``k``'s slice of state buffer ``key``; returns the view."""
        bucket.state_buffer(key)
        if key not in self._allocated(bucket):
            self._fill_new_buffer(gi, bucket, key)
        view = bucket.state_view(key, k)
        view[...] = bucket.xp.asarray(to_device(value, bucket.device)).reshape(view.shape)
        return view

    def _own_scalars(self, gi: int, j: int) -> dict:
        """Parameter ``(gi, j)``'s scalar state, no longer shared with the rest of its bucket."""
        st = dict(self._state[(gi, j)])
        self._state[(gi, j)] = st
        return st

    def _set_state_value(self, param, key, value):
        gi, j = self._position(param)
        if (gi, j) not in self._state:
            return super()._set_state_value(param, key, value)  # validated as a whole new entry
        if key not in self.rule.arrays[2:]:
            value = _scalar(value)
            self._own_scalars(gi, j)[key] = value
            return value
        if value is None:
            self._delete_state_value(param, key)
            return None
        p = self.param_groups[gi]["params"][j]
        shape = tuple(getattr(value, "shape", ()))
        if shape != tuple(p.shape):
            raise ValueError(
                f"state {key!r} of {self.describe_param(gi, j)} must have the parameter's shape "
                f"{tuple(p.shape)}, got {shape}"
            )
        b, k = self._where[gi][j]
        view = self._write_state_array(gi, self._buckets[gi][b], k, key, value)
        self._mark_present(self._own_scalars(gi, j), key)
        return view

    def _delete_state_value(self, param, key) -> None:
        gi, j = self._deletable(param, key)
        if (gi, j) in self._state:
            st = self._own_scalars(gi, j)
            if key in self.rule.arrays:
                self._mark_absent(st, key)
            else:
                st.pop(key, None)

    def _allocated(self, bucket) -> set:
        return getattr(bucket, "_initialised", set())

    def _fill_new_buffer(self, gi, bucket, name) -> None:
        """A state buffer appeared: give every parameter that already has state its initial value."""
        init = self._init_state(self.param_groups[gi]).get(name) or 0.0
        bucket.state_buffer(name)[...] = init
        if not hasattr(bucket, "_initialised"):
            bucket._initialised = set()
        bucket._initialised.add(name)

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
        """Whether ``bucket`` is still in its plain-path warm-up (``fused=None``, small, CPU)."""
        return (
            group.get("fused") is None
            and bucket.steps < PLAIN_WARMUP_STEPS
            and bucket.numel < PLAIN_WARMUP_NUMEL
            and bucket.xp is np
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
                self._step_bucket(gi, group, b)
        return loss

    def _step_bucket(self, gi: int, group: dict, b: int) -> None:
        bucket = self._buckets[gi][b]
        group_params = group["params"]
        params = group_params if bucket.whole else [group_params[j] for j in bucket.indices]
        init = self._init_state(group)
        used = tuple(name for name, value in init.items() if value is not None)
        if not (bucket.ready(params) and self._step_uniform(group, bucket, used)):
            self._step_segments(gi, group, bucket, params, init, used)
        bucket.steps += 1

    def _step_uniform(self, group: dict, bucket: FlatBucket, used: tuple) -> bool:
        """The usual step: every parameter has a gradient in the buffer and the same scalar state.

        One prepared kernel runs over the whole bucket. Returns False (having
        changed nothing) when the general path is needed.
        """
        allocated = self._allocated(bucket)
        for name in used:
            if name not in allocated:
                return False
        state = self._state
        keys = bucket.state_keys
        first = state.get(keys[0])
        if first is None or self._is_fresh(first, group):
            return False
        shared = True
        for key in keys[1:]:
            st = state.get(key)
            if st is not first:
                if st is None or st != first:
                    return False
                shared = False
        if not shared:
            # Equal scalar state: the parameters now share one dict, advanced once per step
            # (the general path gives each its own copy again before touching any).
            for key in keys:
                state[key] = first
        self._begin_step(first, group)
        scalars, flags = self._arguments(group, first, False)
        self._runner(group, bucket, 0, len(keys), used, flags)(scalars)
        self._end_step(first, group)
        return True

    def _runner(self, group: dict, bucket: FlatBucket, k: int, end: int, used: tuple, flags: dict):
        """The prepared rule over parameters ``k:end`` of ``bucket`` (cached on the bucket).

        The backend is resolved (environment read, kernel compiled or loaded
        from numba's cache) on a cache miss only.
        """
        key = (k, end, group.get("fused"), self._warming_up(group, bucket), used, tuple(flags.items()))
        run = bucket.runners.get(key)
        if run is None:
            def prepare():
                a, e = bucket.offsets[k], bucket.offsets[end]
                arrays = {"param": bucket.data[a:e], "grad": bucket.grad[a:e]}
                for name in self.rule.arrays[2:]:
                    arrays[name] = bucket.state[name][a:e] if name in used else None
                return bind_rule(self.rule, arrays, flags, backend=self._backend(group, bucket))

            run = bucket.add_runner(key, prepare)
        return run

    def _step_segments(self, gi: int, group: dict, bucket: FlatBucket, params: list, init: dict,
                       used: tuple) -> None:
        """The general step: skipped parameters, fresh state, differing step counts, reassigned arrays.

        The rule runs over each maximal run of parameters that have a gradient
        and share their scalar state.
        """
        try:
            valid = bucket.sync(params, describe=lambda k: self.describe_param(gi, bucket.indices[k]))
        except LayoutChanged:
            self._relayout(gi)
            for bb in range(len(self._buckets[gi])):
                self._step_bucket(gi, group, bb)
            return
        if not any(valid):
            return
        for key in bucket.state_keys:  # un-share the scalar state the short path may have shared
            st = self._state.get(key)
            if st is not None:
                self._state[key] = dict(st)
        for name in used:
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
                for name in used:
                    bucket.state[name][a:e] = init[name]
            else:
                fresh[k] = self._is_fresh(st, group)
            self._begin_step(st, group)
            states.append(st)
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
            scalars, flags = self._arguments(group, states[k], fresh[k])
            self._runner(group, bucket, k, end, used, flags)(scalars)
            k = end
        for st in states:
            if st is not None:
                self._end_step(st, group)
