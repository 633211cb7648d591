"""The table of differentiable op cases shared by the gradcheck, torch and fixture tests.

Each case is written once against a module ``m`` that is either ``trainkit``
or ``torch``: the API is torch's, so ``lambda m, x: m.softmax(x, dim=1)`` runs
on both. Input kinds keep finite differences away from kinks and domains:
``n`` standard normal, ``p`` positive (0.5..2), ``u`` well-separated distinct
values in (-2, 2) that avoid 0 and +-0.5 (for max/min/abs/relu/clamp).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class OpCase:
    name: str
    fn: Callable
    inputs: tuple  # ((kind, shape), ...)

    def make_inputs(self) -> list[np.ndarray]:
        """float64 inputs, deterministic per case name."""
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        return [_draw(rng, kind, shape) for kind, shape in self.inputs]


def _draw(rng, kind, shape):
    n = int(np.prod(shape, dtype=np.int64))
    if kind == "n":
        return rng.standard_normal(shape)
    if kind == "p":
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "u":
        spacing = 4.0 / max(n, 1)
        return (rng.permutation(n) * spacing - 2.0 + 0.0123).reshape(shape)
    raise ValueError(f"unknown input kind {kind!r}")


def _c(name, fn, *inputs):
    return OpCase(name, fn, tuple(inputs))


def _setitem_into_constant(m, x, v):
    out = x.detach() * 0.0  # a buffer outside the graph; only v's gradient flows through it
    out[1] = v * 2.0
    return out


def _setitem_slice_broadcast(m, x, v):
    out = x * 1.0
    out[:, 1:3] = v  # v (3, 1) broadcast over two columns
    return out * out


def _setitem_index_list(m, x, v):
    out = x * 1.0
    out[[0, 2]] = v
    return out


def _setitem_after_use(m, x, v):
    out = x * 2.0
    used = out.sum(dim=1, keepdim=True)  # consumes out before the assignment: sees the old values
    out[0] = v
    return used + out


N34 = ("n", (3, 4))
U34 = ("u", (3, 4))
P34 = ("p", (3, 4))
N234 = ("n", (2, 3, 4))
U234 = ("u", (2, 3, 4))

CASES = [
    # arithmetic, with broadcasting in both directions
    _c("add", lambda m, x, y: x + y, N34, N34),
    _c("add_broadcast_row", lambda m, x, y: x + y, N34, ("n", (4,))),
    _c("add_broadcast_outer", lambda m, x, y: m.add(x, y), ("n", (3, 1)), ("n", (1, 4))),
    _c("add_scalar_alpha", lambda m, x, y: m.add(x, y, alpha=2.5), N34, ("n", (4,))),
    _c("sub", lambda m, x, y: x - y, N234, ("n", (3, 1))),
    _c("rsub_scalar", lambda m, x: 1 - x, N34),
    _c("mul", lambda m, x, y: x * y, N234, ("n", (4,))),
    _c("mul_scalar", lambda m, x: x * 2.0, N34),
    _c("div", lambda m, x, y: x / y, N234, ("p", (3, 1))),
    _c("rdiv_scalar", lambda m, x: 3.0 / x, P34),
    _c("neg", lambda m, x: -x, N34),
    _c("pow_int", lambda m, x: x**3, N34),
    _c("pow_square", lambda m, x: x**2, N34),
    _c("pow_float", lambda m, x: x**0.5, P34),
    _c("pow_tensor", lambda m, x, y: x**y, P34, ("n", (4,))),
    _c("rpow_scalar", lambda m, x: 2.0**x, N34),
    _c("matmul_2d", lambda m, x, y: x @ y, N34, ("n", (4, 5))),
    _c("matmul_batched", lambda m, x, y: m.matmul(x, y), N234, ("n", (4, 2))),
    _c("matmul_batched_both", lambda m, x, y: x @ y, ("n", (2, 3, 4)), ("n", (1, 4, 2))),
    _c("matmul_vec_mat", lambda m, x, y: x @ y, ("n", (4,)), ("n", (4, 3))),
    _c("matmul_mat_vec", lambda m, x, y: x @ y, N34, ("n", (4,))),
    _c("matmul_vec_vec", lambda m, x, y: x @ y, ("n", (4,)), ("n", (4,))),
    _c("matmul_vec_batched", lambda m, x, y: x @ y, ("n", (4,)), ("n", (2, 4, 3))),
    _c("matmul_batched_vec", lambda m, x, y: m.matmul(x, y), ("n", (2, 3, 4)), ("n", (4,))),
    _c("matmul_vec_broadcast_batched", lambda m, x, y: x @ y, ("n", (4,)), ("n", (2, 1, 4, 3))),
    _c("maximum", lambda m, x, y: m.maximum(x, y), U34, ("n", (4,))),
    _c("minimum", lambda m, x, y: m.minimum(x, y), U34, ("n", (3, 1))),
    # unary maths
    _c("exp", lambda m, x: m.exp(x), N34),
    _c("log", lambda m, x: m.log(x), P34),
    _c("sqrt", lambda m, x: x.sqrt(), P34),
    _c("abs", lambda m, x: m.abs(x), U34),
    _c("tanh", lambda m, x: m.tanh(x), N34),
    _c("sigmoid", lambda m, x: m.sigmoid(x), N34),
    _c("relu", lambda m, x: m.relu(x), U34),
    _c("clamp_both", lambda m, x: x.clamp(min=-0.5, max=0.5), U34),
    _c("clamp_min", lambda m, x: m.clamp(x, min=0.0), U34),
    _c("clamp_max", lambda m, x: m.clamp(x, max=0.5), U34),
    _c("where", lambda m, x, y: m.where(x > 0, x, y), U34, ("n", (4,))),
    _c("where_scalar", lambda m, x: m.where(x > 0, x, 0.5), U34),
    _c("masked_fill", lambda m, x: x.masked_fill(x < 0, 0.25), U34),
    # reductions
    _c("sum_all", lambda m, x: x.sum(), N234),
    _c("sum_dim", lambda m, x: m.sum(x, dim=1), N234),
    _c("sum_dims_keepdim", lambda m, x: x.sum(dim=(0, 2), keepdim=True), N234),
    _c("mean_all", lambda m, x: x.mean(), N234),
    _c("mean_dim_keepdim", lambda m, x: m.mean(x, dim=-1, keepdim=True), N234),
    _c("var_all", lambda m, x: x.var(), N234),
    _c("var_dim_unbiased_false", lambda m, x: m.var(x, dim=1, unbiased=False), N234),
    _c("var_correction_keepdim", lambda m, x: x.var(dim=(0, 2), keepdim=True, correction=0), N234),
    _c("std_dim", lambda m, x: x.std(dim=0), N234),
    _c("max_all", lambda m, x: x.max(), U234),
    _c("min_all", lambda m, x: m.min(x), U234),
    _c("max_dim", lambda m, x: x.max(dim=1).values, U234),
    _c("max_dim_keepdim", lambda m, x: m.max(x, dim=-1, keepdim=True)[0], U234),
    _c("min_dim", lambda m, x: x.min(dim=0).values, U234),
    _c("amax_dims", lambda m, x: m.amax(x, dim=(0, 2)), U234),
    _c("softmax", lambda m, x: m.softmax(x, dim=1), N234),
    _c("softmax_method_last", lambda m, x: x.softmax(-1), N34),
    _c("log_softmax", lambda m, x: m.log_softmax(x, dim=0), N234),
    _c("log_softmax_large", lambda m, x: (x * 100.0).log_softmax(-1), N34),
    _c("logsumexp", lambda m, x: m.logsumexp(x, dim=1), N234),
    # shapes
    _c("reshape", lambda m, x: x.reshape(4, 6), N234),
    _c("view_minus_one", lambda m, x: x.view(-1, 4), N234),
    _c("flatten_1", lambda m, x: x.flatten(1), N234),
    _c("flatten_all", lambda m, x: m.flatten(x), N234),
    _c("squeeze_all", lambda m, x: x.squeeze(), ("n", (3, 1, 4, 1))),
    _c("squeeze_dim", lambda m, x: m.squeeze(x, 1), ("n", (3, 1, 4))),
    _c("unsqueeze", lambda m, x: x.unsqueeze(0) * x.unsqueeze(-1).sum(), N34),
    _c("transpose", lambda m, x: x.transpose(0, 2), N234),
    _c("permute", lambda m, x: x.permute(2, 0, 1), N234),
    _c("T", lambda m, x: x.T, N34),
    _c("expand", lambda m, x: x.expand(2, 3, 4), ("n", (3, 1))),
    _c("cat", lambda m, x, y: m.cat([x, y], dim=1), N34, ("n", (3, 2))),
    _c("cat_same_tensor", lambda m, x: m.cat([x, x * 2.0], dim=0), N34),
    _c("stack", lambda m, x, y: m.stack([x, y], dim=1), N34, N34),
    _c("split", lambda m, x: m.split(x, 2, dim=1)[1] * 3.0, N34),
    _c("chunk", lambda m, x: x.chunk(3, 0)[2], ("n", (7, 2))),
    _c("unbind", lambda m, x: m.unbind(x, 1)[2], N34),
    # indexing
    _c("index_int", lambda m, x: x[1], N234),
    _c("index_slices", lambda m, x: x[:, 1:3, ::2], N234),
    _c("index_none_ellipsis", lambda m, x: x[None, ..., 1], N234),
    _c("index_negative_step_free", lambda m, x: x[-1, :, -2:], N234),
    _c("index_int_list_repeated", lambda m, x: x[[0, 2, 2, 0]], N34),
    _c("index_int_arrays_pair", lambda m, x: x[[0, 1, 1], [2, 2, 2]], N34),
    _c("index_slice_and_array", lambda m, x: x[:, [3, 0, 3]], N34),
    _c("index_bool_mask", lambda m, x: x[x > 0], U34),
    _c("index_tensor_long", lambda m, x: x[m.tensor([1, 1, 0])], N34),
    # assignment (``out[i] = v`` records a differentiable copy-on-write op)
    _c("setitem_into_constant", _setitem_into_constant, N34, ("n", (4,))),
    _c("setitem_slice_broadcast", _setitem_slice_broadcast, N34, ("n", (3, 1))),
    _c("setitem_index_list", _setitem_index_list, N34, ("n", (2, 4))),
    _c("setitem_after_use", _setitem_after_use, N34, ("n", (4,))),
]

CASE_IDS = [c.name for c in CASES]


def output_weights(case, out_shape) -> np.ndarray:
    """Fixed weights that contract an op's output to a scalar loss (every element counts)."""
    rng = np.random.default_rng(zlib.crc32(case.name.encode()) + 1)
    return rng.standard_normal(out_shape)


def run_trainkit(case, arrays, device="cpu", dtype=np.float64):
    """Forward ``case`` in trainkit; return (output, [grad per input], weights) as numpy."""
    import trainkit

    xs = [trainkit.tensor(a, dtype=dtype, device=device, requires_grad=True) for a in arrays]
    out = case.fn(trainkit, *xs)
    w = output_weights(case, out.shape).astype(dtype)
    (out * trainkit.tensor(w, dtype=dtype, device=device)).sum().backward()
    grads = [trainkit.tensor(x.grad).numpy() if x.grad is not None else np.zeros(x.shape, dtype=dtype) for x in xs]
    return out.detach().cpu().numpy(), grads, w


def run_torch(torch, case, arrays, dtype=np.float64):
    """Forward ``case`` in PyTorch on the same inputs; return (output, grads, weights)."""
    tdtype = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    xs = [torch.tensor(a, dtype=tdtype, requires_grad=True) for a in arrays]
    out = case.fn(torch, *xs)
    w = output_weights(case, tuple(out.shape)).astype(dtype)
    (out * torch.tensor(w)).sum().backward()
    grads = [x.grad.numpy() if x.grad is not None else np.zeros(x.shape, dtype=dtype) for x in xs]
    return out.detach().numpy(), grads, w
