"""``linear``: ``y = x @ W.T + b`` as one autograd node (three GEMMs in backward)."""
from __future__ import annotations

from ...autograd.function import Function, ShapeError


class LinearFunction(Function):
    """Fused affine map; ``x`` may have any number of leading dimensions."""

    def forward(self, x, weight, bias=None):
        if x.shape[-1] != weight.shape[1]:
            raise ShapeError(
                f"linear: input has {x.shape[-1]} features (shape {tuple(x.shape)}) but weight "
                f"expects {weight.shape[1]} (weight shape {tuple(weight.shape)})"
            )
        self.x, self.weight = x, weight
        self.has_bias = bias is not None
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    def backward(self, g):
        x, w = self.x, self.weight
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = g @ w
        if x.ndim != 2:
            x = x.reshape(-1, x.shape[-1])
            g = g.reshape(-1, g.shape[-1])
        if self.needs_input_grad[1]:
            gw = g.T @ x
        if self.has_bias and self.needs_input_grad[2]:
            gb = g.sum(axis=0)
        return gx, gw, gb


def linear(input, weight, bias=None):
    """Apply ``input @ weight.T + bias`` (weight has torch's (out_features, in_features) shape)."""
    return LinearFunction.apply(input, weight, bias)
