"""Linear regression, y = 3x + 0.8: the classic first PyTorch example, on trainkit.

The model, the loss and the loop are written exactly as with ``torch``:
``zero_grad()``, ``loss.backward()``, ``step()``. Run it with::

    python examples/linear_regression.py            # prints the learned w and b
    python examples/linear_regression.py --epochs 50 --lr 0.05

The same problem from the command line (composed from configs, with TensorBoard
and checkpoints): ``trainkit train experiment=linear_regression``.
"""
from __future__ import annotations

import argparse

# isort: off
import trainkit  # before numpy, so OpenBLAS gets trainkit's thread settings (README, "Threads and memory")
import numpy as np
# isort: on

from trainkit import nn, optim


class LinearRegression(nn.Module):
    """``y = w * x + b`` with one input and one output."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)


def make_data(n: int = 200, seed: int = 0):
    """``n`` points of y = 3x + 0.8 with a little Gaussian noise, as float32 tensors of shape (n, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, 1)).astype(np.float32)
    y = (3.0 * x + 0.8 + rng.normal(0.0, 0.1, size=(n, 1))).astype(np.float32)
    return trainkit.tensor(x), trainkit.tensor(y)


def fit(epochs: int = 100, lr: float = 0.1, seed: int = 0):
    """Full-batch gradient descent; returns the model and the final loss."""
    trainkit.manual_seed(seed)
    x, y = make_data(seed=seed)
    model = LinearRegression()
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        if epoch % max(1, epochs // 5) == 0 or epoch == epochs - 1:
            print(f"epoch {epoch:4d}  loss {loss.item():.5f}")
    return model, loss.item()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model, _ = fit(args.epochs, args.lr, args.seed)
    w = float(model.linear.weight.data.reshape(-1)[0])
    b = float(model.linear.bias.data.reshape(-1)[0])
    print(f"learned w = {w:.4f}, b = {b:.4f}  (true: w = 3, b = 0.8)")


if __name__ == "__main__":
    main()
