"""Embedding lookups, padding_idx, and the row-sparse gradient that SparseAdam consumes (every device)."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import nn


def _host(array):
    """An array (gradient, index list) as numpy, whichever device it lives on."""
    array = getattr(array, "array", array)  # a Tensor (.grad): its array
    return array if isinstance(array, np.ndarray) else array.get()


def test_lookup_shape_and_values(device):
    emb = nn.Embedding(5, 3, device=device)
    idx = trainkit.tensor([[0, 4], [4, 1]], device=device)
    out = emb(idx)
    assert out.shape == (2, 2, 3) and str(out.device).startswith(device)
    np.testing.assert_array_equal(out.numpy()[0, 1], emb.weight.numpy()[4])


def test_out_of_range_index_is_named(device):
    with pytest.raises(IndexError, match="index 5 .*num_embeddings=5"):
        nn.Embedding(5, 2, device=device)(trainkit.tensor([1, 5], device=device))


def test_dense_gradient_accumulates_repeated_rows_and_has_no_indices(device):
    emb = nn.Embedding(4, 2, device=device)
    emb(trainkit.tensor([1, 1, 3], device=device)).sum().backward()
    np.testing.assert_array_equal(_host(emb.weight.grad), [[0, 0], [2, 2], [0, 0], [1, 1]])
    assert getattr(emb.weight, "grad_indices", None) is None


def test_sparse_gradient_lists_present_rows_including_zero_valued_ones(device):
    emb = nn.Embedding(6, 2, sparse=True, padding_idx=0, device=device)
    out = emb(trainkit.tensor([4, 0, 2, 4], device=device))
    upstream = np.array([[1.0, 1.0], [5.0, 5.0], [0.0, 0.0], [2.0, -1.0]], dtype=np.float32)
    out.backward(trainkit.tensor(upstream, device=device))
    assert _host(emb.weight.grad_indices).tolist() == [2, 4]  # padding row excluded, zero-grad row 2 kept
    grad = _host(emb.weight.grad)
    np.testing.assert_array_equal(grad[4], [3.0, 0.0])
    assert not grad[[0, 1, 2, 3, 5]].any()


def test_sparse_indices_merge_on_accumulation_and_reset_after_zero_grad(device):
    emb = nn.Embedding(6, 2, sparse=True, device=device)
    emb(trainkit.tensor([1], device=device)).sum().backward()
    emb(trainkit.tensor([3, 1], device=device)).sum().backward()
    assert _host(emb.weight.grad_indices).tolist() == [1, 3]
    emb.zero_grad()
    emb(trainkit.tensor([5], device=device)).sum().backward()
    assert _host(emb.weight.grad_indices).tolist() == [5]


def test_used_twice_in_one_graph_lists_both_lookups(device):
    emb = nn.Embedding(6, 2, sparse=True, device=device)
    lookups = emb(trainkit.tensor([0], device=device)).sum() + emb(trainkit.tensor([2], device=device)).sum()
    lookups.backward()
    assert _host(emb.weight.grad_indices).tolist() == [0, 2]


@pytest.mark.torch
@pytest.mark.parametrize("sparse,scale", [(True, False), (False, True)])
def test_gradients_equal_torch(torch, sparse, scale, device):
    """Sparse rows and values equal torch's coalesced sparse grad; scale_grad_by_freq (dense only in torch)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 3))
    idx = np.array([[1, 7, 7], [3, 0, 1]])
    upstream = rng.standard_normal((2, 3, 3))
    kwargs = dict(sparse=sparse, padding_idx=0, scale_grad_by_freq=scale)
    tk = nn.Embedding(8, 3, **kwargs).double().to(device)
    tk.load_state_dict({"weight": w})
    th = torch.nn.Embedding(8, 3, **kwargs).double()
    th.load_state_dict({"weight": torch.from_numpy(w)})
    tk(trainkit.tensor(idx, device=device)).backward(trainkit.tensor(upstream, device=device))
    th(torch.from_numpy(idx)).backward(torch.from_numpy(upstream))
    g = th.weight.grad
    if sparse:
        g = g.coalesce()
        assert _host(tk.weight.grad_indices).tolist() == g.indices()[0].tolist()
        g = g.to_dense()
    np.testing.assert_allclose(_host(tk.weight.grad), g.numpy(), rtol=1e-12)


def test_from_pretrained_freezes_by_default(device):
    emb = nn.Embedding.from_pretrained(np.eye(3, dtype=np.float32)).to(device)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(trainkit.tensor([2], device=device)).numpy(), [[0, 0, 1]])
