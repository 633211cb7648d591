"""``.data`` and ``.grad`` are Tensors sharing memory (as in torch); ``.array``/``.grad_array`` are the arrays.

Also: numpy code written when they were arrays keeps working (ufuncs, numpy
functions, ``array += tensor`` in place), torch's deprecated ``add_(alpha,
other)``, ``format()`` of 0-d tensors, ``trainkit.cuda``/``device``/``utils``.
"""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit import nn
from trainkit.nn import Parameter


def test_data_is_a_tensor_that_writes_through():
    p = Parameter(np.ones(3, dtype=np.float32))
    d = p.data
    assert isinstance(d, trainkit.Tensor) and not isinstance(d, Parameter) and not d.requires_grad
    assert d.array is p.array  # shared memory
    d.add_(1.0)
    d.mul_(2.0)
    d.clamp_(max=3.5)
    p.data[0] = -1.0
    p.data -= 0.5
    np.testing.assert_array_equal(p.array, [-1.5, 3.0, 3.0])
    p.data.copy_(np.arange(3))
    p.data.zero_()
    np.testing.assert_array_equal(p.numpy(), 0.0)
    assert p.data.numpy().base is p.array or p.data.numpy() is p.array
    assert p.cpu().data.numpy() is p.array


def test_assigning_data_rebinds_the_array():
    p = Parameter(np.ones(2))
    p.data = trainkit.tensor([3.0, 4.0, 5.0], dtype=np.float64)
    assert p.shape == (3,) and p.requires_grad
    p.data = np.zeros(2)
    np.testing.assert_array_equal(p.array, [0.0, 0.0])


def test_grad_is_a_tensor_or_none_and_assignable():
    p = Parameter(np.ones(2))
    assert p.grad is None
    (p * 3.0).sum().backward()
    g = p.grad
    assert isinstance(g, trainkit.Tensor) and g.array is p.grad_array and not g.requires_grad
    p.grad.zero_()
    np.testing.assert_array_equal(p.grad_array, 0.0)
    p.grad.data.add_(2.0)
    np.testing.assert_array_equal(p.grad_array, 2.0)
    p.grad = trainkit.tensor([1.0, 2.0], dtype=np.float64)
    np.testing.assert_array_equal(p.grad_array, [1.0, 2.0])
    p.grad = np.array([5.0, 6.0])
    np.testing.assert_array_equal(p.grad.numpy(), [5.0, 6.0])
    p.grad = None
    assert p.grad is None and p.grad_array is None


def test_torch_style_manual_update_and_legacy_add():
    torch = trainkit
    w = Parameter(np.array([1.0, 2.0]))
    (w * w).sum().backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    np.testing.assert_allclose(w.numpy(), [0.8, 1.6])
    w.data.add_(-0.5, w.grad.data)  # torch's deprecated add_(alpha, other)
    np.testing.assert_allclose(w.numpy(), [-0.2, -0.4])
    assert w.data.add(2.0, w.grad).tolist() == pytest.approx([3.8, 7.6])
    with pytest.raises(TypeError, match="deprecated"):
        w.data.add_(w.grad, 2.0)
    w.grad.data.zero_()
    assert not w.grad_array.any()


def test_inplace_on_a_leaf_that_requires_grad_still_refused_while_recording():
    w = Parameter(np.ones(2))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w -= 1.0
    w.data -= 1.0  # the data tensor is outside the graph
    np.testing.assert_array_equal(w.array, 0.0)


def test_numpy_code_written_for_arrays_keeps_working():
    """The Lion example's idioms: ufuncs, numpy functions, ``array += tensor`` in place, astype/copy."""
    p = Parameter(np.array([1.0, -2.0]))
    p.grad = np.array([0.5, -0.25])
    m = np.zeros_like(p.data)
    assert type(m) is np.ndarray
    direction = np.sign(0.9 * m + 0.1 * p.grad)
    assert type(direction) is np.ndarray
    m += 0.5 * p.grad  # in place: the state array itself changes
    np.testing.assert_allclose(m, [0.25, -0.125])
    assert float(np.sqrt(np.sum(p.data.astype(np.float64) ** 2))) == pytest.approx(np.sqrt(5.0))
    snapshot = p.data.copy()
    p.data *= 2.0
    np.testing.assert_array_equal(snapshot.numpy(), [1.0, -2.0])
    x = trainkit.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x  # an operator still records the graph
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_format_of_0d_tensors():
    loss = trainkit.tensor(0.123456)
    assert "{:.4f}".format(loss) == "0.1235" and f"{loss.data:.2e}" == "1.23e-01"
    assert format(trainkit.ones(2)) == str(trainkit.ones(2))
    with pytest.raises(TypeError, match="unsupported format string"):
        format(trainkit.ones(2), ".2f")


def test_clip_grad_norm_result_prints():
    lin = nn.Linear(3, 2)
    lin(trainkit.ones(4, 3)).sum().backward()
    total = nn.utils.clip_grad_norm_(lin.parameters(), 1.0)
    assert str(total).startswith("tensor(") and total.numpy().shape == ()


def test_cuda_device_and_utils_namespaces():
    torch = trainkit
    assert torch.cuda.is_available() == trainkit.backend.cuda_available()
    assert torch.cuda.device_count() == (0 if not torch.cuda.is_available() else torch.cuda.device_count())
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    assert isinstance(device, torch.device) and torch.device("cuda", 1) == "cuda:1"
    torch.cuda.manual_seed(3)
    torch.cuda.manual_seed_all(3)
    if not torch.cuda.is_available():
        with pytest.raises(trainkit.CudaUnavailableError):
            torch.cuda.current_device()
        with pytest.raises(trainkit.CudaUnavailableError):
            torch.cuda.synchronize()
    from trainkit.utils.data import DataLoader, Dataset, TensorDataset, random_split

    assert DataLoader is trainkit.data.DataLoader and issubclass(TensorDataset, Dataset)
    train, val = random_split(TensorDataset(np.arange(10.0)), [8, 2])
    assert len(train) == 8 and torch.utils.data.DataLoader is DataLoader


def test_summary_writer_takes_tensors(tmp_path):
    from trainkit.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_scalar("loss", trainkit.tensor(0.5), 1)
        writer.add_scalars("both", {"a": trainkit.tensor(1.0), "b": 2.0}, 1)
        writer.add_histogram("w", trainkit.randn(10), 1)
    assert list(tmp_path.rglob("events.out.tfevents.*"))


def test_save_and_load_a_state_dict_without_pickle(tmp_path):
    torch = trainkit
    model = nn.Linear(3, 2)
    torch.save(model.state_dict(), tmp_path / "model.npz")
    other = nn.Linear(3, 2)
    other.load_state_dict(torch.load(tmp_path / "model.npz"))
    np.testing.assert_array_equal(other.weight.numpy(), model.weight.numpy())
    torch.save({"epoch": 3, "loss": torch.tensor(0.25)}, tmp_path / "ckpt.npz")  # Tensors are saved as arrays
    assert float(torch.load(tmp_path / "ckpt.npz")["loss"]) == 0.25
    with np.load(tmp_path / "model.npz", allow_pickle=False) as raw:  # plain npz (+ JSON): no pickle inside
        assert all(raw[k].dtype != object for k in raw.files)
