"""Layer behaviour beyond gradients: dropout, argument errors, the functional namespace."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import ShapeError, nn
from trainkit.nn import functional as F


def test_dropout_train_eval_and_seed():
    x = trainkit.ones(200, 50)
    drop = nn.Dropout(0.3)
    trainkit.manual_seed(0)
    a = drop(x).numpy()
    kept = a != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(a[kept], 1 / 0.7, rtol=1e-6)
    trainkit.manual_seed(0)
    np.testing.assert_array_equal(drop(x).numpy(), a)
    drop.eval()
    assert drop(x) is x
    assert a.dtype == np.float32
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout_gradient_uses_the_same_mask():
    x = trainkit.ones(10, 10, requires_grad=True)
    out = F.dropout(x, 0.5)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.numpy())


def test_conv_channel_mismatch_is_named():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ShapeError, match=r"^conv2d: input has 2 channels.*expects 3"):
        conv(trainkit.randn(1, 2, 5, 5))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode 'reflect'"):
        nn.Conv2d(3, 4, 3, padding_mode="reflect")


def test_linear_feature_mismatch_names_both_shapes():
    # the layer's own message, first and only: no internal class name ('linearfunction') around it
    with pytest.raises(ShapeError, match=r"^linear: input has 3 features.*\(2, 3\).*expects 4.*\(5, 4\)\)$"):
        nn.Linear(4, 5)(trainkit.randn(2, 3))


def test_numpy_shape_errors_use_a_readable_op_name():
    from trainkit.autograd.function import Function

    class ScaleFunction(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, g):  # pragma: no cover - not reached
            return g, g

    with pytest.raises(ShapeError, match=r"^scale: incompatible shapes \(2, 3\) and \(4,\)"):
        ScaleFunction.apply(trainkit.randn(2, 3), trainkit.randn(4))


def test_non_shape_errors_inside_ops_are_not_reported_as_shapes():
    with pytest.raises(ValueError, match="^binary_cross_entropy: all elements") as info:
        F.binary_cross_entropy(trainkit.tensor([0.5, 1.5]), trainkit.tensor([0.0, 1.0]))
    assert not isinstance(info.value, ShapeError)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: nn.Linear(2.5, 3), "in_features"),
        (lambda: nn.Linear(2, 3.0), "out_features"),
        (lambda: nn.Conv2d(3.0, 4, 3), "in_channels"),
        (lambda: nn.Conv2d(3, 4, 3, groups=1.0), "groups"),
        (lambda: nn.Embedding(10.0, 4), "num_embeddings"),
        (lambda: nn.BatchNorm1d(3.5), "num_features"),
        (lambda: nn.LayerNorm((4, 2.0)), "normalized_shape"),
        (lambda: nn.Linear(True, 3), "in_features"),
    ],
)
def test_non_integer_sizes_are_a_type_error_naming_the_argument(make, name):
    with pytest.raises(TypeError, match=rf"{name} must be an int, got"):
        make()


def test_negative_sizes_are_named():
    with pytest.raises(ValueError, match="out_features must be >= 0, got -1"):
        nn.Linear(2, -1)
    assert nn.Linear(np.int64(2), 3).in_features == 2


def test_pool_output_shapes_follow_torch_rules():
    x = trainkit.randn(1, 1, 7, 7)
    assert nn.MaxPool2d(2)(x).shape == (1, 1, 3, 3)
    assert nn.MaxPool2d(2, ceil_mode=True)(x).shape == (1, 1, 4, 4)
    assert nn.AvgPool2d(3, 2, 1)(x).shape == (1, 1, 4, 4)
    assert nn.AdaptiveAvgPool2d((None, 2))(x).shape == (1, 1, 7, 2)
    with pytest.raises(ValueError, match="pad should be at most half"):
        nn.MaxPool2d(2, padding=2)(x)


def test_softmax_implicit_dim_warns_like_torch():
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        out = nn.Softmax()(trainkit.randn(2, 3))
    np.testing.assert_allclose(out.numpy().sum(1), 1.0, rtol=1e-6)


def test_functional_namespace_exposes_torch_names():
    for name in ("relu", "cross_entropy", "mse_loss", "conv2d", "max_pool2d", "linear", "softmax",
                 "log_softmax", "dropout", "batch_norm", "layer_norm", "embedding", "gelu", "avg_pool2d",
                 "adaptive_avg_pool2d", "nll_loss", "binary_cross_entropy_with_logits"):
        assert callable(getattr(F, name)), name


def test_layers_keep_float32():
    x = trainkit.randn(2, 3, 8, 8, requires_grad=True)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.GELU(), nn.MaxPool2d(2),
                          nn.AvgPool2d(2), nn.Flatten(), nn.LayerNorm(16), nn.Linear(16, 2))
    out = model(x)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
