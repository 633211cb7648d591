"""SparseAdam consumes nn.Embedding(sparse=True)'s row-sparse gradient like torch does."""
import numpy as np
import pytest

import trainkit
from trainkit import nn, optim

INDICES = np.array([[1, 3, 3], [4, 1, 0]])
# position weights: row 4 is looked up but gets a zero gradient
WEIGHTS = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.5]])


def _trainkit_run(steps, zero_grad_kw=None):
    emb = nn.Embedding(6, 2, sparse=True).double()
    emb.weight.data[...] = np.arange(12, dtype=np.float64).reshape(6, 2) / 10
    opt = optim.SparseAdam(emb.parameters(), lr=0.1)
    idx = trainkit.tensor(INDICES)
    w = trainkit.tensor(WEIGHTS[..., None], dtype=np.float64)
    history = []
    for step in range(steps):
        # a varying target so the zero-gradient row has non-zero moments from earlier steps
        scale = 1.0 + step
        out = emb(idx if step % 2 == 0 else trainkit.tensor(INDICES[:, :2]))
        ww = w if step % 2 == 0 else trainkit.tensor(np.ones((2, 2, 1)) * scale, dtype=np.float64)
        opt.zero_grad(**(zero_grad_kw or {}))
        (out * ww).sum().backward()
        opt.step()
        history.append(emb.weight.data.copy())
    return history


def test_looked_up_row_with_zero_gradient_still_decays_its_moments():
    """Row 4 is in the sparse gradient with value 0 at step 3: its exp_avg decays, so it moves."""
    history = _trainkit_run(3)
    # step 2 (index 1) looks up rows of INDICES[:, :2] = {1, 3, 4}; row 4 gets weight `scale` there
    # step 3 (index 2) looks row 4 up with weight 0: torch still applies beta1 decay and an update
    assert not np.array_equal(history[1][4], history[2][4])
    # rows never looked up (2, 5) never move
    np.testing.assert_array_equal(history[-1][[2, 5]], np.array([[0.4, 0.5], [1.0, 1.1]]))


@pytest.mark.parametrize("set_to_none", [True, False])
def test_matches_torch_sparse_adam(torch, set_to_none):
    history = _trainkit_run(6, {"set_to_none": set_to_none})
    emb = torch.nn.Embedding(6, 2, sparse=True).double()
    with torch.no_grad():
        emb.weight.copy_(torch.arange(12, dtype=torch.float64).reshape(6, 2) / 10)
    opt = torch.optim.SparseAdam(emb.parameters(), lr=0.1)
    idx = torch.tensor(INDICES)
    for step in range(6):
        scale = 1.0 + step
        out = emb(idx if step % 2 == 0 else idx[:, :2])
        ww = (
            torch.tensor(WEIGHTS[..., None])
            if step % 2 == 0
            else torch.ones((2, 2, 1), dtype=torch.float64) * scale
        )
        opt.zero_grad(set_to_none=True)  # torch cannot zero a sparse grad in place usefully
        (out * ww).sum().backward()
        opt.step()
        np.testing.assert_allclose(history[step], emb.weight.detach().numpy(), rtol=1e-12, atol=1e-14)
