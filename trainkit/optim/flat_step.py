"""One step of an element-wise optimizer over a :class:`~.flat.FlatBucket`: the two paths.

:func:`step_bucket` tries the short path first, :func:`step_uniform`: every
parameter of the bucket still views the buffers, has its gradient in the flat
gradient buffer (where autograd writes it) and the same scalar state, so one
prepared kernel (:func:`runner`) runs over the whole bucket and the fixed cost
of a step is a few identity checks per parameter. While the bucket's
parameters step together they share one scalar-state dict, advanced once per
step. Anything else (skipped or reassigned gradients, fresh state, differing
step counts, a parameter whose array was replaced) goes through
:func:`step_segments`, the general path, which produces the same numbers: it
re-attaches what users reassigned (:meth:`.FlatBucket.sync`), gives each
parameter its own scalar state again and runs the rule over each maximal run of
parameters that have a gradient and share their scalar state.

The optimizer (an :class:`~.elementwise.ElementwiseOptimizer`) supplies the
algorithm through its hooks (``_init_state``, ``_begin_step``, ``_arguments``,
...) and the backend choice (``_backend``, ``_warming_up``).
"""
from __future__ import annotations

from time import perf_counter

from .flat import FlatBucket, LayoutChanged
from .kernels import bind_rule


def step_bucket(opt, gi: int, group: dict, b: int) -> None:
    """One step of bucket ``b`` of group ``gi``: the short path when it applies, else the general one."""
    bucket = opt._buckets[gi][b]
    group_params = group["params"]
    params = group_params if bucket.whole else [group_params[j] for j in bucket.indices]
    init = opt._init_state(group)
    used = tuple(name for name, value in init.items() if value is not None)
    warming = opt._warming_up(group, bucket)
    start = perf_counter() if warming else 0.0
    if not (bucket.ready(params) and step_uniform(opt, group, bucket, used)):
        step_segments(opt, gi, group, bucket, params, init, used)
    if warming:  # what the plain path has cost so far: when it reaches the fused kernel's cost, it moves
        bucket.plain_seconds += perf_counter() - start
    bucket.steps += 1


def step_uniform(opt, group: dict, bucket: FlatBucket, used: tuple) -> bool:
    """The usual step: every parameter has a gradient in the buffer and the same scalar state.

    One prepared kernel runs over the whole bucket. Returns False (having
    changed nothing) when the general path is needed.
    """
    for name in used:
        if name not in bucket.initialised:
            return False
    state = opt.state_store.entries
    keys = bucket.state_keys
    first = state.get(keys[0])
    if first is None or opt._is_fresh(first, group):
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
    opt._begin_step(first, group)
    scalars, flags = opt._arguments(group, first, False)
    runner(opt, group, bucket, 0, len(keys), used, flags)(scalars)
    opt._end_step(first, group)
    return True


def runner(opt, group: dict, bucket: FlatBucket, k: int, end: int, used: tuple, flags: dict):
    """The prepared rule over parameters ``k:end`` of ``bucket`` (cached on the bucket).

    The backend is resolved (environment read, kernel compiled or loaded
    from numba's cache) on a cache miss only.
    """
    key = (k, end, group.get("fused"), opt._warming_up(group, bucket), used, tuple(flags.items()))
    run = bucket.runners.get(key)
    if run is None:
        def prepare():
            a, e = bucket.offsets[k], bucket.offsets[end]
            arrays = {"param": bucket.data[a:e], "grad": bucket.grad[a:e]}
            for name in opt.rule.arrays[2:]:
                arrays[name] = bucket.state[name][a:e] if name in used else None
            return bind_rule(opt.rule, arrays, flags, backend=opt._backend(group, bucket))

        run = bucket.add_runner(key, prepare)
    return run


def step_segments(opt, gi: int, group: dict, bucket: FlatBucket, params: list, init: dict,
                  used: tuple) -> None:
    """The general step: skipped parameters, fresh state, differing step counts, reassigned arrays.

    The rule runs over each maximal run of parameters that have a gradient
    and share their scalar state.
    """
    try:
        valid = bucket.sync(params, describe=lambda k: opt.describe_param(gi, bucket.indices[k]))
    except LayoutChanged:
        opt._layout.relayout(gi)
        for bb in range(len(opt._buckets[gi])):
            step_bucket(opt, gi, group, bb)
        return
    if not any(valid):
        return
    state = opt.state_store.entries
    for key in bucket.state_keys:  # un-share the scalar state the short path may have shared
        st = state.get(key)
        if st is not None:
            state[key] = dict(st)
    for name in used:
        if name not in bucket.initialised:
            opt.state_store.fill_new_buffer(gi, bucket, name)
    states, fresh = [], []
    for k, j in enumerate(bucket.indices):
        fresh.append(False)
        if not valid[k]:
            states.append(None)
            continue
        st = state.get((gi, j))
        if st is None:
            fresh[k] = True
            st = opt._init_scalars(group)
            state[(gi, j)] = st
            a, e = bucket.span(k)
            for name in used:
                bucket.state[name][a:e] = init[name]
        else:
            fresh[k] = opt._is_fresh(st, group)
        opt._begin_step(st, group)
        states.append(st)
    k = 0
    n = len(states)
    while k < n:
        if states[k] is None:
            k += 1
            continue
        key = (fresh[k],) + opt._segment_key(states[k])
        end = k + 1
        while end < n and states[end] is not None and (fresh[end],) + opt._segment_key(states[end]) == key:
            end += 1
        scalars, flags = opt._arguments(group, states[k], fresh[k])
        runner(opt, group, bucket, k, end, used, flags)(scalars)
        k = end
    for st in states:
        if st is not None:
            opt._end_step(st, group)
