"""Loss semantics and bad-input errors (shape mismatch, class index out of range)."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import nn
from trainkit.nn import functional as F


def test_regression_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        nn.MSELoss()(trainkit.randn(4, 1), trainkit.randn(4))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        F.l1_loss(trainkit.randn(3, 2), trainkit.randn(2, 3))


def test_cross_entropy_target_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5,\)"):
        nn.CrossEntropyLoss()(trainkit.randn(4, 3), trainkit.tensor([0, 1, 2, 0, 1]))


@pytest.mark.parametrize("bad", [3, -1, 17])
def test_class_index_out_of_range_names_index_and_classes(bad):
    target = trainkit.tensor([0, bad, 1])
    with pytest.raises(IndexError, match=rf"index {bad} .*n_classes=3"):
        F.cross_entropy(trainkit.randn(3, 3), target)
    with pytest.raises(IndexError, match=rf"index {bad} .*n_classes=3"):
        F.nll_loss(trainkit.randn(3, 3), target)


def test_ignore_index_may_be_outside_the_class_range():
    x = trainkit.randn(3, 4, requires_grad=True)
    loss = F.cross_entropy(x, trainkit.tensor([1, -100, 2]))
    loss.backward()
    assert np.all(x.grad[1] == 0)
    expected = F.cross_entropy(x[[0, 2]], trainkit.tensor([1, 2]))
    assert abs(loss.item() - expected.item()) < 1e-6


def test_cross_entropy_matches_hand_computation():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.2]])
    target = np.array([0, 1])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = -np.log(p[[0, 1], target]).mean()
    out = F.cross_entropy(trainkit.tensor(logits), trainkit.tensor(target))
    assert abs(out.item() - expected) < 1e-12


def test_bce_rejects_values_outside_unit_interval():
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(trainkit.tensor([0.5, 1.5]), trainkit.tensor([0.0, 1.0]))


def test_bce_with_logits_is_stable_for_large_logits():
    x = trainkit.tensor([1000.0, -1000.0], dtype=np.float64)
    out = F.binary_cross_entropy_with_logits(x, trainkit.tensor([0.0, 1.0], dtype=np.float64), reduction="none")
    np.testing.assert_allclose(out.numpy(), [1000.0, 1000.0])


def test_losses_keep_float32():
    x, t = trainkit.randn(4, 3, requires_grad=True), trainkit.randn(4, 3)
    for fn in (F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss):
        loss = fn(x, t)
        loss.backward()
        assert loss.dtype == np.float32 and x.grad.dtype == np.float32, fn.__name__
    ce = F.cross_entropy(x, trainkit.tensor([0, 1, 2, 0]))
    assert ce.dtype == np.float32


def test_bad_reduction_lists_accepted_values():
    with pytest.raises(ValueError, match="'none', 'mean' or 'sum'"):
        nn.MSELoss(reduction="avg")


def test_weight_with_wrong_length():
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        F.cross_entropy(trainkit.randn(2, 3), trainkit.tensor([0, 1]), weight=trainkit.tensor([1.0, 2.0]))
