"""The classic first example: Linear(1, 1) learns y = 3x + 0.8 with MSELoss and hand-written SGD."""
from __future__ import annotations

import numpy as np

import trainkit
from trainkit import nn


def test_linear_regression_recovers_slope_and_intercept(device):
    trainkit.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (100, 1)).astype(np.float32)
    y = 3 * x + 0.8 + 0.01 * rng.standard_normal((100, 1)).astype(np.float32)
    x_t, y_t = trainkit.tensor(x, device=device), trainkit.tensor(y, device=device)
    model = nn.Linear(1, 1).to(device)
    criterion = nn.MSELoss()
    lr = 0.1
    for _ in range(300):
        model.zero_grad()
        loss = criterion(model(x_t), y_t)
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
    w, b = float(model.weight.data.reshape(())), float(model.bias.data.reshape(()))
    assert abs(w - 3.0) < 0.02 and abs(b - 0.8) < 0.02, (w, b)
    assert loss.item() < 1e-3
    assert model.weight.dtype == np.float32
