"""trainkit.save / trainkit.load: the torch.save(model.state_dict()) round trip, without pickle."""
import numpy as np
import pytest

import trainkit
from trainkit import nn, optim


def test_module_and_optimizer_state_round_trip(tmp_path):
    trainkit.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    loss = model(trainkit.randn(5, 3)).sum()
    loss.backward()
    opt.step()

    path = tmp_path / "model.npz"
    trainkit.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    with np.load(path, allow_pickle=False):
        pass  # readable with pickle disabled
    loaded = trainkit.load(path)

    trainkit.manual_seed(1)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh.load_state_dict(loaded["model"])
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert loaded["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-2)


def test_save_rejects_objects_it_cannot_store_without_pickle(tmp_path):
    with pytest.raises(Exception, match=r"cannot checkpoint function at checkpoint\.fn"):
        trainkit.save({"fn": lambda x: x}, tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()
