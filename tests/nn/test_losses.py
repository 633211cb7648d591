"""Loss semantics and bad-input errors (shape mismatch, class index out of range), on every device."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import trainkit
from trainkit import nn
from trainkit.nn import functional as F


def _host(array):
    """A gradient array as numpy, whichever device it lives on."""
    array = getattr(array, "array", array)  # a Tensor (.grad): its array
    return array if isinstance(array, np.ndarray) else array.get()


def test_regression_shape_mismatch_names_both_shapes(device):
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        nn.MSELoss()(trainkit.randn(4, 1, device=device), trainkit.randn(4, device=device))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        F.l1_loss(trainkit.randn(3, 2, device=device), trainkit.randn(2, 3, device=device))


def test_cross_entropy_target_shape_mismatch_names_both_shapes(device):
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5,\)"):
        nn.CrossEntropyLoss()(trainkit.randn(4, 3, device=device), trainkit.tensor([0, 1, 2, 0, 1], device=device))


def test_float_class_indices_are_told_to_be_integers(device):
    logits = trainkit.randn(4, 3, device=device)
    with pytest.raises(TypeError, match=r"class indices must be an integer \(int64\) tensor.*shape \(4, 3\)"):
        F.cross_entropy(logits, trainkit.tensor([0.0, 1.0, 2.0, 0.0], device=device))
    with pytest.raises(TypeError, match=r"integer \(int64\) class indices.*target.long\(\)"):
        F.nll_loss(logits, trainkit.tensor([0.0, 1.0, 2.0, 0.0], device=device))


@pytest.mark.parametrize("bad", [3, -1, 17])
def test_class_index_out_of_range_names_index_and_classes(bad, device):
    target = trainkit.tensor([0, bad, 1], device=device)
    with pytest.raises(IndexError, match=rf"index {bad} .*n_classes=3"):
        F.cross_entropy(trainkit.randn(3, 3, device=device), target)
    with pytest.raises(IndexError, match=rf"index {bad} .*n_classes=3"):
        F.nll_loss(trainkit.randn(3, 3, device=device), target)


def test_ignore_index_may_be_outside_the_class_range(device):
    x = trainkit.randn(3, 4, device=device, requires_grad=True)
    loss = F.cross_entropy(x, trainkit.tensor([1, -100, 2], device=device))
    loss.backward()
    assert np.all(_host(x.grad)[1] == 0)
    expected = F.cross_entropy(x[[0, 2]], trainkit.tensor([1, 2], device=device))
    assert abs(loss.item() - expected.item()) < 1e-6


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_every_target_ignored_gives_nan_loss_and_zero_gradients(fn, weighted, label_smoothing, device):
    """As torch: the mean over no targets is NaN, but the gradient is zero (not NaN) and silent."""
    if fn == "nll_loss" and label_smoothing:
        pytest.skip("nll_loss has no label smoothing")
    x = trainkit.randn(5, 4, device=device, requires_grad=True)
    kwargs = {"label_smoothing": label_smoothing} if fn == "cross_entropy" else {}
    if weighted:
        kwargs["weight"] = trainkit.tensor([1.0, 2.0, 3.0, 4.0], device=device)
    target = trainkit.full((5,), -100, dtype=np.int64, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning (0/0) either
        loss = getattr(F, fn)(x, target, **kwargs)
        loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(_host(x.grad), np.zeros((5, 4), dtype=np.float32))


def test_bce_at_exact_zero_and_one_is_finite_and_silent(device):
    p = trainkit.tensor([0.0, 1.0, 0.5, 0.0], device=device, requires_grad=True)
    y = trainkit.tensor([0.0, 1.0, 1.0, 1.0], device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log(0) must not emit divide-by-zero warnings
        loss = F.binary_cross_entropy(p, y, reduction="none")
        loss.sum().backward()
    # torch clamps each log at -100: the confident miss (p=0, y=1) costs exactly 100
    np.testing.assert_allclose(loss.numpy(), [0.0, 0.0, np.log(2.0), 100.0], rtol=1e-6)
    assert np.all(np.isfinite(_host(p.grad)))


def test_cross_entropy_matches_hand_computation(device):
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.2]])
    target = np.array([0, 1])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = -np.log(p[[0, 1], target]).mean()
    out = F.cross_entropy(trainkit.tensor(logits, device=device), trainkit.tensor(target, device=device))
    assert abs(out.item() - expected) < 1e-12


def test_bce_rejects_values_outside_unit_interval(device):
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(trainkit.tensor([0.5, 1.5], device=device), trainkit.tensor([0.0, 1.0], device=device))


def test_bce_with_logits_is_stable_for_large_logits(device):
    x = trainkit.tensor([1000.0, -1000.0], dtype=np.float64, device=device)
    target = trainkit.tensor([0.0, 1.0], dtype=np.float64, device=device)
    out = F.binary_cross_entropy_with_logits(x, target, reduction="none")
    np.testing.assert_allclose(out.numpy(), [1000.0, 1000.0])


def test_losses_keep_float32(device):
    x, t = trainkit.randn(4, 3, device=device, requires_grad=True), trainkit.randn(4, 3, device=device)
    for fn in (F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss):
        loss = fn(x, t)
        loss.backward()
        assert loss.dtype == np.float32 and x.grad.dtype == np.float32, fn.__name__
    ce = F.cross_entropy(x, trainkit.tensor([0, 1, 2, 0], device=device))
    assert ce.dtype == np.float32


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss])
def test_integer_targets_keep_the_float32_input_dtype(fn, device):
    x = trainkit.randn(3, device=device, requires_grad=True)
    loss = fn(x, trainkit.tensor([1, 2, 3], device=device))
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    reference = fn(x, trainkit.tensor([1.0, 2.0, 3.0], device=device))
    np.testing.assert_allclose(loss.item(), reference.item(), rtol=1e-6)


def test_bad_reduction_lists_accepted_values():
    with pytest.raises(ValueError, match="'none', 'mean' or 'sum'"):
        nn.MSELoss(reduction="avg")


def test_weight_with_wrong_length(device):
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        F.cross_entropy(
            trainkit.randn(2, 3, device=device),
            trainkit.tensor([0, 1], device=device),
            weight=trainkit.tensor([1.0, 2.0], device=device),
        )
