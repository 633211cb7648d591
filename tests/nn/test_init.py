"""Initialisation: torch's formulas, names and default layer init."""
from __future__ import annotations

import math

import numpy as np
import pytest

import trainkit
from trainkit import nn
from trainkit.nn import init


def test_default_linear_and_conv_bounds_follow_torch():
    trainkit.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (lin.weight, lin.bias):
        a = p.numpy()
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.95 * bound
    # U(-b, b) has variance b^2 / 3
    assert abs(lin.weight.numpy().var() - bound**2 / 3) < 0.05 * bound**2 / 3
    conv = nn.Conv2d(8, 4, 3)
    cbound = 1 / math.sqrt(8 * 9)
    assert np.abs(conv.weight.numpy()).max() <= cbound and np.abs(conv.bias.numpy()).max() <= cbound


def test_manual_seed_makes_init_reproducible():
    trainkit.manual_seed(5)
    a = nn.Linear(3, 3).weight.numpy().copy()
    trainkit.manual_seed(5)
    b = nn.Linear(3, 3).weight.numpy()
    np.testing.assert_array_equal(a, b)


def test_init_functions_match_their_formulas():
    trainkit.manual_seed(1)
    w = nn.Parameter(np.empty((200, 300), dtype=np.float32))
    init.xavier_uniform_(w, gain=2.0)
    a = 2.0 * math.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= a and np.abs(w.numpy()).max() > 0.95 * a
    init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 300)) < 0.03 * math.sqrt(2 / 300)
    init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    assert np.abs(w.numpy()).max() <= math.sqrt(2) * math.sqrt(3 / 200)
    init.normal_(w, 2.0, 0.5)
    assert abs(w.numpy().mean() - 2.0) < 0.01
    init.trunc_normal_(w, std=1.0, a=-1.0, b=1.0)
    assert np.abs(w.numpy()).max() <= 1.0
    init.constant_(w, 0.3)
    assert np.all(w.numpy() == np.float32(0.3))
    init.zeros_(w)
    assert not w.numpy().any()
    q = nn.Parameter(np.empty((4, 6)))
    init.orthogonal_(q)
    np.testing.assert_allclose(q.numpy() @ q.numpy().T, np.eye(4), atol=1e-10)
    assert w.dtype == np.float32


def test_gain_table_and_errors():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == math.sqrt(2 / 6)
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swishy'"):
        init.calculate_gain("swishy")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(nn.Parameter(np.zeros(3)))


@pytest.mark.torch
def test_state_dict_keys_and_shapes_equal_torch(torch):
    def build(m):
        return m.Sequential(
            m.Conv2d(3, 8, 3, padding=1), m.BatchNorm2d(8), m.ReLU(), m.MaxPool2d(2),
            m.Conv2d(8, 8, 3, groups=2, bias=False), m.AdaptiveAvgPool2d(1), m.Flatten(),
            m.Linear(8, 16), m.LayerNorm(16), m.GELU(), m.Dropout(0.1), m.Linear(16, 4),
        )

    tk, th = build(nn), build(torch.nn)
    assert [(k, tuple(v.shape)) for k, v in tk.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in th.state_dict().items()]
    emb_tk, emb_th = nn.Embedding(10, 4, padding_idx=0), torch.nn.Embedding(10, 4, padding_idx=0)
    assert list(emb_tk.state_dict()) == list(emb_th.state_dict())
    assert not emb_tk.weight.numpy()[0].any()
    # torch weights load into trainkit as plain arrays and give the same output
    th.eval()
    tk.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
    tk.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(tk(trainkit.tensor(x)).numpy(), th(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
