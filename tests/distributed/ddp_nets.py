"""A float64 model for the command-line tests (``model._target_=ddp_nets.Net64``)."""
from trainkit import nn


class Net64(nn.Module):
    """Linear-Tanh-Linear in float64, so equivalence is checked at float64 precision."""

    def __init__(self, in_features: int = 2, num_classes: int = 3, hidden: int = 16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(), nn.Linear(hidden, num_classes)).double()

    def forward(self, x):
        return self.body(x)
