"""Op semantics beyond gradients: torch's conventions, broadcasting reduction, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import ShapeError


def _np(t):
    return trainkit.tensor(t).cpu().numpy() if not isinstance(t, np.ndarray) else t


def _grad(t):
    return trainkit.tensor(t.grad).cpu().numpy()


# ---------------------------------------------------------------- broadcasting gradients
@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((4,), (2, 3, 4)), ((), (2, 3)), ((1, 1), (5, 1))],
)
def test_broadcast_gradients_are_reduced_to_input_shapes(shape_a, shape_b, device):
    a = trainkit.ones(*shape_a, device=device, requires_grad=True)
    b = trainkit.ones(*shape_b, device=device, requires_grad=True)
    out = a * b + a - b
    out.sum().backward()
    n = out.numel()
    assert a.grad.shape == tuple(shape_a) and b.grad.shape == tuple(shape_b)
    # each element of a appears n / a.size times in the output, each with d/da = b + 1 = 2
    np.testing.assert_allclose(_grad(a), np.full(shape_a, 2.0 * n / max(a.numel(), 1)))
    np.testing.assert_allclose(_grad(b), np.zeros(shape_b))


# ---------------------------------------------------------------- indexing
def test_repeated_integer_indices_scatter_add(device):
    x = trainkit.zeros(4, device=device, requires_grad=True)
    x[[1, 1, 1, 3]].sum().backward()
    np.testing.assert_allclose(_grad(x), [0, 3, 0, 1])


def test_repeated_index_pairs_scatter_add(device):
    x = trainkit.zeros(2, 3, device=device, requires_grad=True)
    idx = trainkit.tensor([0, 0, 1], device=device)
    x[idx, trainkit.tensor([2, 2, 0], device=device)].sum().backward()
    np.testing.assert_allclose(_grad(x), [[0, 0, 2], [1, 0, 0]])


def test_boolean_mask_index_and_gradient(device):
    x = trainkit.tensor([[1.0, -2.0], [-3.0, 4.0]], device=device, requires_grad=True)
    picked = x[x > 0]
    np.testing.assert_allclose(_np(picked), [1.0, 4.0])
    (picked * 5.0).sum().backward()
    np.testing.assert_allclose(_grad(x), [[5, 0], [0, 5]])


def test_index_with_float_tensor_is_rejected():
    x = trainkit.zeros(3)
    with pytest.raises(IndexError, match="long or bool"):
        x[trainkit.tensor([0.0, 1.0])]


def test_index_out_of_range_raises_index_error():
    with pytest.raises(IndexError):
        trainkit.zeros(3, requires_grad=True)[5]


def test_iteration_yields_rows():
    x = trainkit.arange(6).reshape(3, 2)
    rows = [r.tolist() for r in x]
    assert rows == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(TypeError, match="0-d"):
        iter(trainkit.tensor(1.0))


# ---------------------------------------------------------------- reductions
def test_max_with_dim_returns_values_and_indices():
    x = trainkit.tensor([[1.0, 5.0, 5.0], [7.0, 2.0, 3.0]], requires_grad=True)
    result = x.max(dim=1)
    values, indices = result
    assert result.values is values and result.indices is indices
    np.testing.assert_allclose(values.numpy(), [5.0, 7.0])
    assert indices.tolist() == [1, 0] and indices.dtype == np.int64 and not indices.requires_grad
    values.sum().backward()
    # ties: the gradient goes to the index reported (the first maximum), as torch
    np.testing.assert_allclose(x.grad, [[0, 1, 0], [1, 0, 0]])


def test_max_keepdim_shapes():
    x = trainkit.randn(2, 3, 4)
    v, i = trainkit.max(x, 1, keepdim=True)
    assert v.shape == (2, 1, 4) and i.shape == (2, 1, 4)
    np.testing.assert_array_equal(i.numpy(), x.numpy().argmax(1)[:, None])


def test_full_max_splits_gradient_between_ties():
    x = trainkit.tensor([3.0, 1.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0.5, 0.0, 0.5])


def test_max_of_two_tensors_is_elementwise():
    a, b = trainkit.tensor([1.0, 4.0]), trainkit.tensor([3.0, 2.0])
    np.testing.assert_allclose(trainkit.max(a, b).numpy(), [3.0, 4.0])
    np.testing.assert_allclose(trainkit.min(a, b).numpy(), [1.0, 2.0])


def test_argmax_argmin():
    x = trainkit.tensor([[1.0, 9.0, 3.0], [8.0, 0.0, 2.0]])
    assert x.argmax().item() == 1
    assert x.argmax(dim=1).tolist() == [1, 0]
    assert x.argmin(dim=0, keepdim=True).tolist() == [[0, 1, 1]]
    assert not x.argmax().requires_grad


def test_var_correction_and_unbiased():
    data = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]])
    x = trainkit.tensor(data)
    np.testing.assert_allclose(x.var().item(), data.var(ddof=1), rtol=1e-6)
    np.testing.assert_allclose(x.var(dim=1, unbiased=False).numpy(), data.var(axis=1), rtol=1e-6)
    np.testing.assert_allclose(x.var(0, correction=0).numpy(), data.var(axis=0), rtol=1e-6)
    np.testing.assert_allclose(x.std(dim=1).numpy(), data.std(axis=1, ddof=1), rtol=1e-6)
    with pytest.raises(TypeError, match="either unbiased= or correction="):
        x.var(unbiased=True, correction=1)


def test_sum_mean_negative_and_tuple_dims():
    data = np.arange(24.0).reshape(2, 3, 4)
    x = trainkit.tensor(data)
    np.testing.assert_allclose(x.sum(dim=(-1, 0)).numpy(), data.sum(axis=(2, 0)))
    np.testing.assert_allclose(x.mean(-2, keepdim=True).numpy(), data.mean(axis=1, keepdims=True))


@pytest.mark.parametrize("op", ["sum", "mean", "softmax", "log_softmax", "argmax", "var"])
def test_dim_out_of_range_names_the_range(op):
    x = trainkit.zeros(2, 3)
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 2"):
        getattr(x, op)(2)


def test_mean_of_integer_tensor_is_rejected():
    with pytest.raises(TypeError, match="floating point"):
        trainkit.arange(3).mean()


def test_softmax_needs_dim():
    with pytest.raises(TypeError, match="dim"):
        trainkit.softmax(trainkit.zeros(2, 3))


def test_log_softmax_is_stable_for_huge_logits(device):
    x = trainkit.tensor([[1000.0, 0.0, -1000.0]], device=device, requires_grad=True)
    out = x.log_softmax(-1)
    values = _np(out)
    assert np.isfinite(values).all()
    np.testing.assert_allclose(values, [[0.0, -1000.0, -2000.0]], atol=1e-3)
    out[:, 0].sum().backward()
    assert np.isfinite(_grad(x)).all()
    probs = _np(x.softmax(-1))
    np.testing.assert_allclose(probs, [[1.0, 0.0, 0.0]], atol=1e-6)


def test_logsumexp_of_minus_inf_row_is_minus_inf():
    x = trainkit.tensor([[-np.inf, -np.inf], [0.0, 0.0]])
    out = trainkit.logsumexp(x, 1).numpy()
    assert out[0] == -np.inf and out[1] == pytest.approx(np.log(2.0))


# ---------------------------------------------------------------- shapes
def test_view_with_minus_one_and_bad_view_message():
    x = trainkit.arange(12)
    assert x.view(-1, 4).shape == (3, 4)
    assert x.view(2, -1, 3).shape == (2, 2, 3)
    with pytest.raises(ShapeError, match=r"shape \[5, -1\] is invalid for input of shape \(12,\)"):
        x.view(5, -1)


def test_flatten_squeeze_unsqueeze_semantics():
    x = trainkit.zeros(2, 1, 3, 1)
    assert x.flatten().shape == (6,)
    assert x.flatten(1).shape == (2, 3)
    assert x.flatten(1, 2).shape == (2, 3, 1)
    assert x.squeeze().shape == (2, 3)
    assert x.squeeze(1).shape == (2, 3, 1)
    assert x.squeeze(0).shape == (2, 1, 3, 1)  # size-2 dim: no-op, as torch
    assert x.squeeze((1, 3)).shape == (2, 3)
    assert x.unsqueeze(0).shape == (1, 2, 1, 3, 1)
    assert x.unsqueeze(-1).shape == (2, 1, 3, 1, 1)
    assert trainkit.tensor(5.0).flatten().shape == (1,)
    with pytest.raises(IndexError, match="range"):
        x.unsqueeze(6)


def test_size_T_and_transpose():
    x = trainkit.zeros(2, 3)
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.T.shape == (3, 2) and x.t().shape == (3, 2)
    assert trainkit.zeros(2, 3, 4).transpose(0, -1).shape == (4, 3, 2)
    with pytest.raises(ValueError, match="permute"):
        trainkit.zeros(2, 3).permute(0)


def test_expand_rules():
    x = trainkit.zeros(3, 1)
    assert x.expand(2, 3, 4).shape == (2, 3, 4)
    assert x.expand(-1, 5).shape == (3, 5)
    with pytest.raises(ShapeError, match="cannot expand"):
        x.expand(4, 4)


def test_cat_and_stack_errors_name_shapes():
    a, b = trainkit.zeros(2, 3), trainkit.zeros(2, 4)
    assert trainkit.cat([a, b], dim=1).shape == (2, 7)
    with pytest.raises(ShapeError, match=r"\(2, 3\).*\(2, 4\)"):
        trainkit.cat([a, b], dim=0)
    with pytest.raises(ShapeError, match=r"\(2, 3\).*\(2, 4\)"):
        trainkit.stack([a, b])
    with pytest.raises(TypeError, match="list or tuple"):
        trainkit.cat(a)


def test_split_chunk_unbind():
    x = trainkit.arange(10)
    assert [t.tolist() for t in x.split(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [t.shape for t in x.split([3, 7])] == [(3,), (7,)]
    assert [t.shape for t in x.chunk(3)] == [(4,), (4,), (2,)]
    assert len(trainkit.zeros(2, 5).unbind(1)) == 5
    with pytest.raises(ShapeError, match="sum to 9"):
        x.split([4, 5])


# ---------------------------------------------------------------- elementwise
def test_clamp_gradient_is_one_inside_inclusive_bounds():
    x = trainkit.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    y = x.clamp(min=-1.0, max=1.0)
    np.testing.assert_allclose(y.numpy(), [-1, -1, 0, 1, 1])
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [0, 1, 1, 1, 0])
    with pytest.raises(ValueError, match="min and max"):
        x.clamp()


def test_abs_and_relu_gradient_at_zero_is_zero():
    x = trainkit.tensor([0.0, -1.0, 2.0], requires_grad=True)
    (x.abs() + x.relu()).sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, -1.0, 2.0])


def test_maximum_splits_gradient_at_ties():
    a = trainkit.tensor([1.0, 2.0], requires_grad=True)
    b = trainkit.tensor([1.0, 0.0], requires_grad=True)
    trainkit.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad, [0.5, 1.0])
    np.testing.assert_allclose(b.grad, [0.5, 0.0])


def test_where_single_argument_gives_indices():
    rows, cols = trainkit.where(trainkit.tensor([[True, False], [False, True]]))
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1]


def test_where_needs_bool_condition():
    with pytest.raises(TypeError, match="boolean"):
        trainkit.where(trainkit.tensor([1, 0]), trainkit.zeros(2), 1.0)


@pytest.mark.parametrize("op", ["__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"])
def test_comparisons_return_bool_tensors_without_grad(op):
    x = trainkit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = getattr(x, op)(2.0)
    assert out.dtype == np.bool_ and not out.requires_grad and out.grad_fn is None
    expected = getattr(np.array([1.0, 2.0, 3.0]), op)(2.0)
    np.testing.assert_array_equal(out.numpy(), expected)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("fn", "shapes"),
    [
        (lambda a, b: a @ b, ((2, 3), (4, 5))),
        (lambda a, b: a + b, ((2, 3), (4, 5))),
        (lambda a, b: a * b, ((2, 3), (3, 2))),
        (lambda a, b: trainkit.where(a > 0, a, b), ((2, 3), (4,))),
        (lambda a, b: trainkit.maximum(a, b), ((2, 3), (2,))),
    ],
    ids=["matmul", "add", "mul", "where", "maximum"],
)
def test_shape_mismatch_names_both_shapes(fn, shapes, device):
    a = trainkit.zeros(*shapes[0], device=device, requires_grad=True)
    b = trainkit.zeros(*shapes[1], device=device)
    with pytest.raises(ShapeError) as info:
        fn(a, b)
    message = str(info.value)
    assert str(shapes[0]) in message and str(shapes[1]) in message
    assert isinstance(info.value, ValueError)


def test_matmul_of_scalars_is_rejected():
    with pytest.raises(ShapeError, match="at least 1 dimension"):
        trainkit.tensor(2.0) @ trainkit.zeros(2)
