"""Tensor factories: dtypes, shapes, devices, seeding, and Tensor conversions."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit


def test_tensor_copies_and_infers_dtype():
    data = np.array([1.0, 2.0])
    t = trainkit.tensor(data)
    data[0] = 9.0
    assert t.tolist() == [1.0, 2.0] and t.dtype == np.float64  # numpy dtype kept, as torch
    assert trainkit.tensor([1.0]).dtype == np.float32
    assert trainkit.tensor([True]).dtype == np.bool_
    assert trainkit.tensor(3).shape == () and trainkit.tensor(3).item() == 3
    assert trainkit.tensor([1, 2], dtype=trainkit.float64).dtype == np.float64


def test_from_numpy_shares_memory():
    data = np.zeros(3, dtype=np.float32)
    t = trainkit.from_numpy(data)
    data[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]
    with pytest.raises(TypeError, match="numpy.ndarray"):
        trainkit.from_numpy([1, 2])


@pytest.mark.parametrize(
    ("make", "shape", "dtype"),
    [
        (lambda d: trainkit.zeros(2, 3, device=d), (2, 3), np.float32),
        (lambda d: trainkit.ones((2, 3), device=d), (2, 3), np.float32),
        (lambda d: trainkit.empty(4, device=d), (4,), np.float32),
        (lambda d: trainkit.full((2,), 7, device=d), (2,), np.int64),
        (lambda d: trainkit.full((2,), 0.5, device=d), (2,), np.float32),
        (lambda d: trainkit.eye(3, device=d), (3, 3), np.float32),
        (lambda d: trainkit.arange(1, 7, 2, device=d), (3,), np.int64),
        (lambda d: trainkit.arange(0.0, 1.0, 0.25, device=d), (4,), np.float32),
        (lambda d: trainkit.linspace(0, 1, 5, device=d), (5,), np.float32),
        (lambda d: trainkit.randn(2, 2, dtype=trainkit.float64, device=d), (2, 2), np.float64),
        (lambda d: trainkit.rand(5, device=d), (5,), np.float32),
        (lambda d: trainkit.randint(0, 10, (3, 2), device=d), (3, 2), np.int64),
        (lambda d: trainkit.zeros_like(trainkit.ones(2, 2, device=d)), (2, 2), np.float32),
        (lambda d: trainkit.ones_like(trainkit.arange(3, device=d)), (3,), np.int64),
        (lambda d: trainkit.randn_like(trainkit.ones(3, device=d)), (3,), np.float32),
    ],
)
def test_factories_shape_dtype_device(make, shape, dtype, device):
    t = make(device)
    assert t.shape == shape and t.dtype == dtype and t.device == trainkit.device(device)


def test_factory_values():
    assert trainkit.arange(4).tolist() == [0, 1, 2, 3]
    assert trainkit.full((2,), 7).tolist() == [7, 7]
    assert trainkit.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    r = trainkit.randint(3, 5, (100,)).numpy()
    assert r.min() >= 3 and r.max() <= 4


def test_manual_seed_makes_randomness_repeat():
    trainkit.manual_seed(123)
    a = trainkit.randn(4).numpy().copy()
    trainkit.manual_seed(123)
    b = trainkit.randn(4).numpy()
    trainkit.manual_seed(124)
    c = trainkit.randn(4).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_tensor_conversions():
    t = trainkit.tensor([[1.5, 2.5]], requires_grad=True)
    with pytest.raises(ValueError, match="one element"):
        t.item()
    assert isinstance(t.numpy(), np.ndarray)
    assert t.detach().requires_grad is False
    assert t.to(trainkit.float64).dtype == np.float64
    assert t.double().float().dtype == np.float32
    assert t.long().dtype == np.int64
    assert float(trainkit.tensor(2.5)) == 2.5 and int(trainkit.tensor(3)) == 3
    assert "requires_grad=True" in repr(t)
    assert len(t) == 1 and t.numel() == 2 and t.dim() == 2 and t.ndim == 2


def test_cast_keeps_the_graph():
    x = trainkit.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 3.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_clone_is_a_copy_in_the_graph():
    x = trainkit.tensor([1.0, 2.0], requires_grad=True)
    y = x.clone()
    assert y.array is not x.array
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])


def test_bool_of_multi_element_tensor_is_ambiguous():
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(trainkit.zeros(2))
    assert bool(trainkit.tensor([1.0]))
