"""Every layer and loss passes the shared float64 finite-difference gradient check."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import nn
from trainkit.autograd.gradcheck import gradcheck
from trainkit.nn import functional as F

rng = np.random.default_rng(0)


def _t(device, *shape, requires_grad=True, low=None, high=None):
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return trainkit.tensor(data, device=device, requires_grad=requires_grad)


def _int(device, data):
    return trainkit.tensor(np.asarray(data, dtype=np.int64), device=device)


LAYERS = {
    "linear": (lambda: nn.Linear(4, 3), (3, 4)),
    "linear_3d_nobias": (lambda: nn.Linear(4, 3, bias=False), (2, 2, 4)),
    "conv": (lambda: nn.Conv2d(2, 3, 3), (2, 2, 5, 5)),
    "conv_stride_pad_dil": (lambda: nn.Conv2d(2, 2, 3, stride=2, padding=2, dilation=2), (1, 2, 6, 5)),
    "conv_groups": (lambda: nn.Conv2d(4, 2, (2, 3), groups=2, padding=1), (1, 4, 4, 4)),
    "conv_unbatched": (lambda: nn.Conv2d(2, 2, 3, padding="same"), (2, 4, 4)),
    "conv_dilated": (lambda: nn.Conv2d(2, 3, 3, padding=1, dilation=2), (2, 2, 6, 5)),
    "conv_wide_pad": (lambda: nn.Conv2d(2, 2, 3, padding=3), (1, 2, 4, 5)),
    "maxpool": (lambda: nn.MaxPool2d(2), (2, 2, 4, 4)),
    "maxpool_overlap": (lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True), (1, 2, 6, 5)),
    "avgpool": (lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False), (1, 2, 5, 5)),
    "adaptive_avgpool": (lambda: nn.AdaptiveAvgPool2d((2, 3)), (1, 2, 5, 7)),
    "flatten": (lambda: nn.Flatten(), (2, 2, 3)),
    "identity": (lambda: nn.Identity(), (2, 3)),
    "relu": (lambda: nn.ReLU(), (3, 4)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.1), (3, 4)),
    "gelu": (lambda: nn.GELU(), (3, 4)),
    "gelu_tanh": (lambda: nn.GELU("tanh"), (3, 4)),
    "tanh": (lambda: nn.Tanh(), (3, 4)),
    "sigmoid": (lambda: nn.Sigmoid(), (3, 4)),
    "softmax": (lambda: nn.Softmax(dim=1), (3, 4)),
    "batchnorm1d": (lambda: nn.BatchNorm1d(3), (5, 3)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(2), (3, 2, 2, 2)),
    "batchnorm2d_eval": (lambda: nn.BatchNorm2d(2).eval(), (3, 2, 2, 2)),
    "layernorm": (lambda: nn.LayerNorm((2, 3)), (2, 2, 3)),
    "dropout_eval": (lambda: nn.Dropout(0.5).eval(), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradcheck(name, device):
    factory, shape = LAYERS[name]
    trainkit.manual_seed(0)
    module = factory().double().to(device)
    x = _t(device, *shape)
    params = list(module.parameters())
    for p in params:  # perturb BatchNorm/LayerNorm's ones/zeros so every term matters
        p.data += trainkit.tensor(rng.standard_normal(p.shape) * 0.1, device=device).data

    def fn(x, *ps):
        return module(x)

    gradcheck(fn, x, *params)


def test_dropout_gradcheck_with_fixed_mask(device):
    x = _t(device, 4, 5)

    def fn(x):
        trainkit.manual_seed(3)  # same mask for every finite-difference evaluation
        return F.dropout(x, 0.4, training=True)

    gradcheck(fn, x)


def test_embedding_gradcheck(device):
    w = _t(device, 6, 3)
    idx = _int(device, [[0, 2, 2], [5, 1, 2]])
    gradcheck(lambda w: F.embedding(idx, w), w)


LOSSES = {
    "mse": lambda d: (F.mse_loss, _t(d, 3, 4), _t(d, 3, 4), {}),
    "l1": lambda d: (F.l1_loss, _t(d, 3, 4), _t(d, 3, 4), {"reduction": "sum"}),
    "smooth_l1": lambda d: (F.smooth_l1_loss, _t(d, 3, 4), _t(d, 3, 4), {"beta": 0.7}),
    "huber": lambda d: (F.huber_loss, _t(d, 3, 4), _t(d, 3, 4), {"delta": 0.6, "reduction": "none"}),
    "cross_entropy": lambda d: (F.cross_entropy, _t(d, 4, 3), _int(d, [0, 2, 1, -100]),
                                {"label_smoothing": 0.2, "weight": trainkit.tensor(np.array([1.0, 2.0, 0.5]), device=d)}),
    "cross_entropy_spatial": lambda d: (F.cross_entropy, _t(d, 2, 3, 2, 2), _int(d, rng.integers(0, 3, (2, 2, 2))),
                                        {"reduction": "none"}),
    "cross_entropy_probs": lambda d: (F.cross_entropy, _t(d, 4, 3), _t(d, 4, 3, low=0.0, high=1.0),
                                      {"label_smoothing": 0.1}),
    "nll": lambda d: (F.nll_loss, _t(d, 4, 3), _int(d, [0, 2, 1, 1]), {"reduction": "sum"}),
    "bce": lambda d: (F.binary_cross_entropy, _t(d, 3, 4, low=0.1, high=0.9), _t(d, 3, 4, low=0.0, high=1.0), {}),
    "bce_logits": lambda d: (F.binary_cross_entropy_with_logits, _t(d, 3, 4), _t(d, 3, 4, low=0.0, high=1.0),
                             {"pos_weight": trainkit.tensor(np.array([0.5, 1.0, 2.0, 3.0]), device=d)}),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradcheck(name, device):
    fn, x, t, kwargs = LOSSES[name](device)
    gradcheck(lambda x, t: fn(x, t, **kwargs), x, t)
