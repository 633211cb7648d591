"""Batch sizes, lengths and split sizes agree with PyTorch (recorded fixture + live check)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trainkit.data import DataLoader, TensorDataset, random_split

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "loader_reference.json").read_text())


@pytest.mark.parametrize("case", REFERENCE["loaders"], ids=lambda c: f"n{c['n']}-bs{c['batch_size']}-{c['drop_last']}")
def test_loader_matches_recorded_torch(case):
    loader = DataLoader(TensorDataset(np.arange(case["n"])), batch_size=case["batch_size"], drop_last=case["drop_last"])
    batches = [b[0].numpy() for b in loader]
    assert len(loader) == case["len"]
    assert [len(b) for b in batches] == case["sizes"]
    assert [int(b[0]) for b in batches] == case["first"]


@pytest.mark.parametrize("case", REFERENCE["splits"], ids=lambda c: f"n{c['n']}-{len(c['fractions'])}")
def test_fractional_split_sizes_match_recorded_torch(case):
    parts = random_split(TensorDataset(np.arange(case["n"])), case["fractions"], generator=0)
    assert [len(p) for p in parts] == case["sizes"]


@pytest.mark.torch
def test_sequential_batches_match_live_torch(torch):
    from torch.utils.data import DataLoader as TorchLoader
    from torch.utils.data import TensorDataset as TorchDataset

    x = np.random.default_rng(0).standard_normal((37, 3)).astype(np.float32)
    y = np.arange(37) % 5
    ours = list(DataLoader(TensorDataset(x, y), batch_size=8))
    theirs = list(TorchLoader(TorchDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=8))
    assert len(ours) == len(theirs)
    for (ox, oy), (tx, ty) in zip(ours, theirs):
        np.testing.assert_array_equal(ox.numpy(), tx.numpy())
        np.testing.assert_array_equal(oy.numpy(), ty.numpy())
        assert str(ty.dtype) == "torch.int64" and oy.dtype == np.int64
