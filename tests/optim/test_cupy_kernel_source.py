"""The rule -> CUDA translation accepts every rule and flag combination (runs without a GPU)."""
from __future__ import annotations

import itertools

import pytest

from trainkit.optim import adadelta, adagrad, adam, adamax, asgd, nadam, radam, rmsprop, rprop, sgd
from trainkit.optim.kernels import Rule, cupy_backend

ALL_RULES = tuple(m.RULE for m in (sgd, adam, adamax, adadelta, adagrad, asgd, nadam, radam, rmsprop, rprop))


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.name)
def test_every_rule_translates(rule):
    for values in itertools.product([False, True], repeat=len(rule.flags)):
        flags = dict(zip(rule.flags, values))
        for present in (rule.arrays, tuple(a for a in rule.arrays if a not in rule.optional)):
            in_params, out_params, body = cupy_backend.translate(rule, flags, present)
            for out in rule.outputs:
                if out in present:
                    assert f"T {out}" in out_params
                    assert f"{out} = " in body
            assert "grad" in in_params
            assert all(f"T {s}" in in_params for s in rule.scalars)
            # every flag became a C constant
            assert not any(f"v_{f}" in body for f in rule.flags)


def test_unsupported_construct_is_named():
    def bad(param, grad, lr):
        return (param ** 2,)

    rule = Rule("bad", bad, arrays=("param", "grad"), outputs=("param",), scalars=("lr",))
    with pytest.raises(NotImplementedError, match="bad"):
        cupy_backend.translate(rule, {}, ("param", "grad"))


@pytest.mark.gpu
def test_one_kernel_launch_per_group(device):
    if device != "cuda":
        pytest.skip("needs a GPU")
    import cupy

    from trainkit.nn import Parameter
    from trainkit.optim import Adam

    params = [Parameter(cupy.ones((10, 10), dtype=cupy.float32)) for _ in range(20)]
    opt = Adam(params, lr=0.1)
    for p in params:
        p.grad = cupy.ones_like(p.data)
    calls = []
    kernel = cupy_backend.get_kernel(adam.RULE, dict(maximize=False, l2=False, decoupled=False, amsgrad=False),
                                     ("param", "grad", "exp_avg", "exp_avg_sq"))
    original = cupy_backend.run_cupy

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    cupy_backend.run_cupy = counting
    try:
        opt.step()
    finally:
        cupy_backend.run_cupy = original
    assert len(calls) == 1 and kernel is not None
