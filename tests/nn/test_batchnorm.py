"""BatchNorm running statistics and train/eval behaviour against torch over several steps (every device)."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import nn


def test_running_stats_update_by_hand(device):
    bn = nn.BatchNorm1d(2, momentum=0.1, device=device)
    x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]], dtype=np.float32)
    bn(trainkit.tensor(x, device=device))
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-6)
    assert int(bn.num_batches_tracked.item()) == 1


def test_eval_uses_running_stats_and_does_not_update(device):
    bn = nn.BatchNorm2d(3)
    bn.running_mean.data[...] = [1.0, 2.0, 3.0]
    bn.running_var.data[...] = [4.0, 1.0, 0.25]
    bn.to(device).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 2, 2)).astype(np.float32)
    out = bn(trainkit.tensor(x, device=device)).numpy()
    expected = (x - np.array([1, 2, 3]).reshape(1, 3, 1, 1)) / np.sqrt(np.array([4, 1, 0.25]).reshape(1, 3, 1, 1) + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked.item()) == 0
    np.testing.assert_array_equal(bn.running_mean.numpy(), [1.0, 2.0, 3.0])


def test_single_value_per_channel_in_training_is_an_error(device):
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3, device=device)(trainkit.randn(1, 3, device=device))


def test_wrong_channel_count_is_named(device):
    with pytest.raises(ValueError, match="4 channels.*num_features=3"):
        nn.BatchNorm2d(3, device=device)(trainkit.randn(2, 4, 2, 2, device=device))


@pytest.mark.torch
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("cls", ["BatchNorm1d", "BatchNorm2d"])
def test_train_then_eval_matches_torch_over_steps(torch, cls, momentum, device):
    rng = np.random.default_rng(0)
    shape = (6, 3) if cls == "BatchNorm1d" else (4, 3, 3, 2)
    tk = getattr(nn, cls)(3, momentum=momentum).double().to(device)
    th = getattr(torch.nn, cls)(3, momentum=momentum).double()
    with torch.no_grad():
        th.weight.copy_(torch.tensor([0.5, 1.5, -1.0]))
        th.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    tk.load_state_dict({k: v.numpy() for k, v in th.state_dict().items()})
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        out_tk = tk(trainkit.tensor(x, device=device)).numpy()
        out_th = th(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(out_tk, out_th, rtol=1e-10, atol=1e-12)
    for key, v in th.state_dict().items():
        np.testing.assert_allclose(trainkit.tensor(tk.state_dict()[key]).numpy(), v.numpy(), rtol=1e-10, err_msg=key)
    tk.eval()
    th.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(tk(trainkit.tensor(x, device=device)).numpy(), th(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-10)
