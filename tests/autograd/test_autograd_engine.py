"""The backward engine: ordering, accumulation, freeing, grad mode and dtypes."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import trainkit
from trainkit.autograd import Function, GraphFreedError


def test_ten_thousand_op_chain_backpropagates_without_recursion(device):
    x = trainkit.tensor([1.0], dtype=np.float64, device=device, requires_grad=True)
    y = x
    n = 10_000
    assert n > sys.getrecursionlimit() / 2
    for _ in range(n):
        y = y * 1.0001
    y.sum().backward()
    expected = 1.0001**n
    assert float(trainkit.tensor(x.grad).cpu().item()) == pytest.approx(expected, rel=1e-9)


def test_tensor_used_twice_accumulates(device):
    x = trainkit.tensor([2.0, -3.0], device=device, requires_grad=True)
    y = x * x + x  # x used three times: d/dx = 2x + 1
    y.sum().backward()
    np.testing.assert_allclose(trainkit.tensor(x.grad).numpy(), [5.0, -5.0])


def test_diamond_graph_sums_both_paths(device):
    x = trainkit.tensor([1.5], dtype=np.float64, device=device, requires_grad=True)
    a = x.exp()
    b = a * 3.0
    c = a.log()  # = x
    (b + c).sum().backward()
    np.testing.assert_allclose(trainkit.tensor(x.grad).numpy(), [3 * np.exp(1.5) + 1.0])


def test_backward_twice_accumulates_into_leaf_grad(device):
    x = trainkit.tensor([1.0, 2.0], device=device, requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(trainkit.tensor(x.grad).numpy(), [6.0, 6.0])


def test_second_backward_through_freed_graph_raises_clearly(device):
    x = trainkit.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(GraphFreedError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward(device):
    x = trainkit.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(trainkit.tensor(x.grad).numpy(), [4.0, 8.0])


def test_no_grad_records_nothing(device):
    x = trainkit.tensor([1.0, 2.0], device=device, requires_grad=True)
    with trainkit.no_grad():
        y = (x * 2.0).exp().sum()
    assert not y.requires_grad and y.grad_fn is None
    assert trainkit.is_grad_enabled()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_as_decorator_and_enable_grad_inside():
    x = trainkit.tensor([1.0], requires_grad=True)

    @trainkit.no_grad()
    def f():
        with trainkit.enable_grad():
            inner = x * 2.0
        return x * 2.0, inner

    @trainkit.no_grad
    def g():
        return x * 2.0

    outer, inner = f()
    assert not outer.requires_grad and inner.requires_grad
    assert not g().requires_grad
    assert trainkit.is_grad_enabled()


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(KeyError), trainkit.no_grad():
        raise KeyError("boom")
    assert trainkit.is_grad_enabled()


def test_backward_on_non_scalar_needs_a_gradient(device):
    x = trainkit.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*shape \(2,\)"):
        y.backward()
    y.backward(trainkit.tensor([1.0, 10.0], device=device))
    np.testing.assert_allclose(trainkit.tensor(x.grad).numpy(), [2.0, 20.0])


def test_backward_gradient_of_wrong_shape_names_both(device):
    y = trainkit.tensor([1.0, 2.0], device=device, requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(trainkit.ones(3, device=device))


def test_leaf_without_requires_grad_gets_no_grad(device):
    x = trainkit.tensor([1.0, 2.0], device=device)
    w = trainkit.tensor([3.0, 4.0], device=device, requires_grad=True)
    (x * w).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(trainkit.tensor(w.grad).numpy(), [1.0, 2.0])


def test_detach_cuts_the_graph(device):
    x = trainkit.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (x * 2.0).detach() * x
    y.sum().backward()
    np.testing.assert_allclose(trainkit.tensor(x.grad).numpy(), [2.0, 4.0])


def test_first_gradient_is_copied_never_aliased():
    x = trainkit.tensor([1.0, 2.0], requires_grad=True)
    g = np.array([1.0, 1.0], dtype=np.float32)
    x.backward(g)
    g[:] = 100.0
    np.testing.assert_allclose(x.grad, [1.0, 1.0])


def test_gradient_goes_into_parameter_grad_view():
    from trainkit.nn import Parameter

    p = Parameter(np.ones(3, dtype=np.float32))
    buffer = np.zeros(5, dtype=np.float32)
    p._grad_view = buffer[1:4]
    (p * 2.0).sum().backward()
    assert p.grad_array is p._grad_view
    np.testing.assert_allclose(buffer, [0, 2, 2, 2, 0])


def test_generation_order_runs_each_node_once():
    calls = []

    class Spy(Function):
        def forward(self, a):
            return a * 1.0

        def backward(self, g):
            calls.append(1)
            return g

    x = trainkit.tensor([1.0], requires_grad=True)
    s = Spy.apply(x)
    (s * 2.0 + s * 3.0 + s).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(x.grad, [6.0])


def test_function_needs_input_grad_is_known_in_forward():
    seen = {}

    class Probe(Function):
        def forward(self, a, b):
            seen["needs"] = list(self.needs_input_grad)
            return a + b

        def backward(self, g):
            return g, g

    a = trainkit.tensor([1.0], requires_grad=True)
    b = trainkit.tensor([1.0])
    Probe.apply(a, b)
    assert seen["needs"] == [True, False]
    with trainkit.no_grad():
        Probe.apply(a, b)
    assert seen["needs"] == [False, False]


# ---------------------------------------------------------------- in-place updates
def test_hand_written_sgd_update_keeps_the_leaf():
    w = trainkit.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    before = w
    with trainkit.no_grad():
        w -= 0.1 * w.grad
    assert w is before and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.data, [0.8, 1.6], rtol=1e-6)


def test_in_place_on_leaf_requiring_grad_raises_while_recording():
    w = trainkit.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w += 1.0
    with pytest.raises(RuntimeError, match="in-place"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w[0] = 3.0


def test_assigning_a_value_that_requires_grad_records_it():
    w = trainkit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = trainkit.zeros(2, 3)
    out[0] = w * 2
    assert out.requires_grad and not out.is_leaf
    (out * trainkit.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    np.testing.assert_allclose(w.grad, [2.0, 4.0, 6.0])
    np.testing.assert_allclose(out.data, [[2.0, 4.0, 6.0], [0.0, 0.0, 0.0]])


def test_assignment_into_graph_keeps_earlier_consumers_on_the_old_values():
    x = trainkit.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    v = trainkit.tensor([10.0, 20.0], requires_grad=True)
    out = x * 2.0
    squared = out * out  # saved its inputs before the assignment
    out[0] = v
    (squared.sum() + out.sum()).backward()
    # d/dx sum((2x)^2) = 8x everywhere; out's row 1 still comes from x (2 per element)
    np.testing.assert_allclose(x.grad, 8.0 * x.data + np.array([[0.0, 0.0], [2.0, 2.0]]))
    np.testing.assert_allclose(v.grad, [1.0, 1.0])
    np.testing.assert_allclose(squared.data, (2.0 * x.data) ** 2)


def test_assignment_without_gradients_stays_in_place():
    buf = trainkit.zeros(2, 2)
    array = buf.array
    buf[0] = trainkit.tensor([1.0, 2.0])
    assert buf.array is array and not buf.requires_grad
    np.testing.assert_allclose(array, [[1.0, 2.0], [0.0, 0.0]])


def test_assigning_a_grad_value_into_an_integer_tensor_is_refused():
    labels = trainkit.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="only floating point tensors can carry gradients"):
        labels[0] = trainkit.tensor(1.0, requires_grad=True) * 2


def test_in_place_methods_under_no_grad():
    w = trainkit.tensor([1.0, -2.0], requires_grad=True)
    with trainkit.no_grad():
        w.add_(trainkit.tensor([1.0, 1.0]), alpha=2.0).mul_(0.5)
        w.clamp_(min=-0.25)
        w[1] = 7.0
    np.testing.assert_allclose(w.data, [1.5, 7.0])
    assert w.dtype == np.float32


# ---------------------------------------------------------------- dtypes
_FLOAT32_EXPRESSIONS = {
    "mul_scalar": lambda x: x * 2.0,
    "rmul_scalar": lambda x: 2.0 * x,
    "pow_int": lambda x: x**2,
    "pow_float": lambda x: x.abs() ** 1.5,
    "rpow": lambda x: 2.0**x,
    "rsub": lambda x: 1 - x,
    "div_scalar": lambda x: x / 3.0,
    "rdiv": lambda x: 1.0 / (x.abs() + 1),
    "add_numpy_float64_scalar": lambda x: x + np.float64(0.5),
    "mul_numpy_float64_scalar": lambda x: np.float64(3.0) * x,
    "clamp": lambda x: x.clamp(min=-0.5, max=0.5),
    "where_scalar": lambda x: trainkit.where(x > 0, x, 0.0),
    "masked_fill": lambda x: x.masked_fill(x > 0, 1.5),
    "maximum_scalar": lambda x: trainkit.maximum(x, 0.1),
    "var": lambda x: x.var(dim=0),
    "std": lambda x: x.std(),
    "mean": lambda x: x.mean(dim=1),
    "softmax": lambda x: x.softmax(-1),
    "log_softmax": lambda x: x.log_softmax(1),
    "logsumexp": lambda x: trainkit.logsumexp(x, 1),
    "sigmoid": lambda x: x.sigmoid(),
    "tanh": lambda x: x.tanh(),
    "relu": lambda x: x.relu(),
    "exp_log": lambda x: x.exp().log(),
    "sqrt": lambda x: (x * x + 1.0).sqrt(),
    "max_dim": lambda x: x.max(dim=1).values,
    "max_all": lambda x: x.max(),
    "amin": lambda x: trainkit.amin(x, 0),
    "index": lambda x: x[[0, 0, 1], 1:],
    "cat_stack": lambda x: trainkit.stack([trainkit.cat([x, x], 1), trainkit.cat([x, x], 1)]),
    "matmul": lambda x: x @ x.T,
    # a float tensor meeting an integer (or 0-d wider float) tensor keeps its dtype, as torch
    "add_int64_tensor": lambda x: x + trainkit.tensor([1, 2, 3, 4], device=x.device),
    "rmul_int64_tensor": lambda x: trainkit.arange(4, device=x.device) * x,
    "div_int32_tensor": lambda x: x / trainkit.tensor([1, 2, 3, 4], dtype=np.int32, device=x.device),
    "where_int_tensor": lambda x: trainkit.where(x > 0, x, trainkit.zeros(3, 4, dtype=np.int64, device=x.device)),
    "sub_zero_dim_float64": lambda x: x - trainkit.tensor(0.5, dtype=np.float64, device=x.device),
    "mse_int64_target": lambda x: trainkit.nn.functional.mse_loss(
        x, trainkit.ones(3, 4, dtype=np.int64, device=x.device), reduction="none"
    ),
}


@pytest.mark.parametrize("expr", list(_FLOAT32_EXPRESSIONS.values()), ids=list(_FLOAT32_EXPRESSIONS))
def test_float32_stays_float32_through_ops_and_gradients(expr, device):
    x = trainkit.randn(3, 4, device=device, requires_grad=True)
    assert x.dtype == np.float32
    out = expr(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("expr", list(_FLOAT32_EXPRESSIONS.values()), ids=list(_FLOAT32_EXPRESSIONS))
def test_float64_works_through_ops_and_gradients(expr, device):
    x = trainkit.randn(3, 4, dtype=trainkit.float64, device=device, requires_grad=True)
    out = expr(x)
    assert out.dtype == np.float64
    out.sum().backward()
    assert x.grad.dtype == np.float64


def test_default_dtype_is_float32():
    assert trainkit.tensor([1.0, 2.0]).dtype == np.float32
    assert trainkit.zeros(2).dtype == np.float32
    assert trainkit.randn(2).dtype == np.float32
    assert trainkit.arange(3).dtype == np.int64
    assert trainkit.tensor([1, 2]).dtype == np.int64


def test_int_tensor_times_float_scalar_becomes_float32():
    out = trainkit.arange(3) * 2.5
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), [0.0, 2.5, 5.0])


@pytest.mark.parametrize(
    "left, right, expected",
    [
        (("int64", (3,)), ("int64", (3,)), "int64"),  # int with int stays int
        (("int32", (3,)), ("int64", ()), "int32"),  # a 0-d operand of the same category ranks lower
        (("int32", (3,)), ("int64", (3,)), "int64"),
        (("int64", (3,)), ("float64", ()), "float64"),  # ... unless it is of a higher category
        (("float32", (3,)), ("int64", (3,)), "float32"),
        (("bool", (3,)), ("int64", (3,)), "int64"),
        (("uint8", (3,)), ("int8", (3,)), "int16"),
        (("float32", (3,)), ("float64", (3,)), "float64"),
    ],
)
def test_tensor_tensor_promotion_follows_torch(left, right, expected, device):
    a = trainkit.tensor(np.ones(left[1], dtype=left[0]), device=device)
    b = trainkit.tensor(np.ones(right[1], dtype=right[0]), device=device)
    assert (a + b).dtype == np.dtype(expected)
    assert (b * a).dtype == np.dtype(expected)


def test_int_tensor_with_python_float_is_float32_and_with_int_stays_int():
    assert (trainkit.tensor([1, 2]) + 0.5).dtype == np.float32
    assert (trainkit.tensor([1, 2]) * 3).dtype == np.int64


@pytest.mark.torch
def test_result_dtypes_match_torch_result_type(torch):
    names = ["bool", "uint8", "int8", "int32", "int64", "float32", "float64"]
    for ln in names:
        for rn in names:
            for lshape, rshape in [((2,), (2,)), ((2,), ()), ((), (2,))]:
                a = trainkit.tensor(np.ones(lshape, dtype=ln))
                b = trainkit.tensor(np.ones(rshape, dtype=rn))
                want = torch.result_type(torch.from_numpy(np.ones(lshape, dtype=ln)),
                                         torch.from_numpy(np.ones(rshape, dtype=rn)))
                got = trainkit.maximum(a, b).dtype
                assert str(want).replace("torch.", "") == str(got), (ln, lshape, rn, rshape)


def test_only_float_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        trainkit.tensor([1, 2], requires_grad=True)


def test_scalar_results_of_indexing_and_comparison_are_full_tensors():
    """x[0], a == b and dataset items are 0-d tensors that print, convert and list like torch's."""
    import trainkit as tk
    from trainkit.data import TensorDataset

    x = tk.tensor([1, 2, 3])
    assert x[0].numpy().shape == () and int(x[0]) == 1
    assert "tensor(" in repr(x[0]) and x[0].tolist() == 1
    assert [int(v) for v in x] == [1, 2, 3]
    assert bool((tk.tensor(1.0) == tk.tensor(1.0)).numpy())
    _, y = TensorDataset(tk.randn(3, 2), tk.tensor([0, 1, 2]))[1]
    assert y.numpy().shape == () and "tensor(" in repr(y)
