"""Devices, array modules, cuda availability and device-mismatch errors."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import trainkit
from trainkit import backend
from trainkit.backend import (
    CudaUnavailableError,
    Device,
    DeviceMismatchError,
    check_same_device,
    get_array_module,
    to_device,
)


@pytest.mark.parametrize(
    ("spec", "kind", "index", "text"),
    [
        ("cpu", "cpu", None, "cpu"),
        ("cuda", "cuda", 0, "cuda:0"),
        ("cuda:1", "cuda", 1, "cuda:1"),
        (" CUDA:3 ", "cuda", 3, "cuda:3"),
        ("gpu", "cuda", 0, "cuda:0"),
    ],
)
def test_device_parsing(spec, kind, index, text):
    dev = Device(spec)
    assert (dev.type, dev.index, str(dev)) == (kind, index, text)
    assert Device(dev) == dev and dev == text and hash(dev) == hash(Device(text))


def test_device_with_separate_index_and_repr():
    assert Device("cuda", 2) == "cuda:2"
    assert repr(Device("cuda:1")) == "device(type='cuda', index=1)"
    assert repr(Device("cpu")) == "device(type='cpu')"
    assert trainkit.device("cpu") == Device("cpu")


def test_auto_device_resolves_by_availability(monkeypatch):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    assert Device("auto") == "cpu"
    monkeypatch.setattr(backend, "cuda_available", lambda: True)
    assert Device("auto") == "cuda:0"


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "cpu:0", "cuda:-1", ""])
def test_bad_device_strings_name_what_is_accepted(spec):
    with pytest.raises(ValueError, match="cuda:N"):
        Device(spec)


def test_non_string_device_is_a_type_error():
    with pytest.raises(TypeError, match="device must be a string"):
        Device(3)


def test_device_equality_with_garbage_is_false():
    assert Device("cpu") != "not a device"
    assert Device("cpu") != 0


@pytest.fixture
def no_cupy(monkeypatch):
    """Pretend cupy failed to import, whatever this machine has."""
    reason = "cupy is not installed (No module named 'cupy'); install trainkit[cuda12] or trainkit[cuda13]"
    monkeypatch.setattr(backend, "_probe_cupy", lambda: (None, reason))
    return reason


def test_cuda_unavailable_reason_when_cupy_missing(no_cupy):
    assert backend.cuda_available() is False
    assert backend.cuda_unavailable_reason() == no_cupy


def test_real_probe_is_consistent():
    if backend.cuda_available():
        assert backend.cuda_unavailable_reason() is None
    else:
        reason = backend.cuda_unavailable_reason()
        assert isinstance(reason, str) and reason


@pytest.mark.parametrize(
    "ask",
    [
        lambda: trainkit.zeros(2, device="cuda"),
        lambda: trainkit.zeros(2).to("cuda"),
        lambda: trainkit.zeros(2).cuda(),
        lambda: to_device(np.zeros(2), "cuda:0"),
        lambda: Device("cuda").xp,
    ],
    ids=["factory", "to", "cuda()", "to_device", "xp"],
)
def test_asking_for_cuda_without_it_raises_with_the_reason(no_cupy, ask):
    with pytest.raises(CudaUnavailableError, match="cupy is not installed"):
        ask()


def test_get_array_module_and_to_device_on_cpu():
    a = np.zeros(3)
    assert get_array_module(a) is np
    assert get_array_module(trainkit.tensor(a)) is np
    assert get_array_module(1.0, [1, 2]) is np
    assert to_device(a, "cpu") is a
    assert backend.device_of(trainkit.tensor(a)) == "cpu"


def test_cpu_tensor_round_trip_keeps_values():
    x = trainkit.tensor([1.0, 2.0])
    assert x.to("cpu") is x and x.cpu() is x
    np.testing.assert_allclose(x.to(trainkit.float64).numpy(), [1.0, 2.0])


# ---------------------------------------------------------------- device mismatch
class _FakeArray:
    """Stands in for an array on another device (no GPU needed)."""

    def __init__(self, device):
        self.device_name = device
        self.shape, self.dtype = (2,), np.dtype(np.float32)


def _fake_device_of(array):
    data = getattr(array, "data", array)
    return Device(data.device_name) if isinstance(data, _FakeArray) else Device("cpu")


def test_check_same_device_names_both_devices_and_parameters(monkeypatch):
    monkeypatch.setattr(backend, "device_of", _fake_device_of)
    with pytest.raises(DeviceMismatchError, match=r"weight is on cpu but input is on cuda:1"):
        check_same_device(np.zeros(2), _FakeArray("cuda:1"), names=("weight", "input"), op="linear")
    with pytest.raises(DeviceMismatchError, match=r"argument 0 is on cuda:0 but argument 1 is on cpu"):
        check_same_device(_FakeArray("cuda:0"), np.zeros(2))
    assert check_same_device(np.zeros(1), np.zeros(2)) == "cpu"


def test_op_with_mixed_devices_raises_device_mismatch(monkeypatch):
    """The op-level check runs before any numpy/cupy code sees the arrays."""
    from trainkit.autograd import function

    monkeypatch.setattr(function, "device_of", _fake_device_of)
    x = trainkit.zeros(2, requires_grad=True)
    y = trainkit.Tensor._wrap(_FakeArray("cuda:0"))
    with pytest.raises(DeviceMismatchError, match=r"add: .*input 0 is on cpu and input 1 is on cuda:0"):
        x + y
    with pytest.raises(DeviceMismatchError, match="mul: .*cuda:0"):
        trainkit.mul(y, x)


@pytest.mark.parametrize("preset, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_numba_probe_sets_a_passive_openmp_wait_policy_unless_the_user_chose_one(preset, expected):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "TRAINKIT_DISABLE_NUMBA")}
    if preset:
        env["OMP_WAIT_POLICY"] = preset
    code = "import os, trainkit.backend as b; b._quiet_openmp_workers(); print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def _blas_env_in_child(code, **env_over):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    env.update(env_over)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_openblas_idle_timeout_set_before_numpy_loads():
    code = ("import trainkit, os, trainkit._process_env as b; "
            "print(os.environ['OPENBLAS_THREAD_TIMEOUT'], b.OPENBLAS_APPLIED)")
    assert _blas_env_in_child(code) == ["20", "True"]


def test_openblas_idle_timeout_too_late_after_numpy_but_passed_on():
    code = ("import numpy, trainkit, os, trainkit._process_env as b; "
            "print(os.environ['OPENBLAS_THREAD_TIMEOUT'], b.OPENBLAS_APPLIED)")
    assert _blas_env_in_child(code) == ["20", "False"]


def test_openblas_idle_timeout_of_the_user_wins():
    code = ("import trainkit, os, trainkit._process_env as b; "
            "print(os.environ['OPENBLAS_THREAD_TIMEOUT'], b.OPENBLAS_APPLIED)")
    assert _blas_env_in_child(code, OPENBLAS_THREAD_TIMEOUT="28") == ["28", "False"]


def test_glibc_malloc_tuned_unless_the_user_tunes_it():
    from trainkit import _process_env

    if not sys.platform.startswith("linux") or any(v in os.environ for v in _process_env._MALLOC_VARIABLES):
        pytest.skip("glibc's mallopt on Linux, with no MALLOC_* variable of the user's")
    code = "import trainkit._process_env as b; print(b.MALLOC_TUNED)"
    assert _blas_env_in_child(code) == ["True"]
    assert _blas_env_in_child(code, MALLOC_TRIM_THRESHOLD_="1000000") == ["False"]


_FIT = """
import trainkit
from trainkit import nn, optim
from trainkit.data import DataLoader, TensorDataset
from trainkit.trainer import Trainer
x = np.ones((8, 2), dtype=np.float32)
model = nn.Linear(2, 1)
Trainer(model=model, optimizer=optim.SGD(model.parameters(), lr=0.1), loss=nn.MSELoss(),
        train_loader=DataLoader(TensorDataset(x, x[:, :1]), batch_size=4), max_epochs=1).fit()
"""


@pytest.mark.parametrize("numpy_first", [True, False])
def test_fit_hints_once_when_numpy_came_first_with_threaded_openblas(numpy_first):
    pytest.importorskip("threadpoolctl")
    first, later = ("import numpy as np\n", "") if numpy_first else ("", "import numpy as np\n")
    code = first + _FIT.replace("import trainkit\n", "import trainkit\n" + later, 1)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS",
                                                             "OMP_NUM_THREADS")}
    env["OPENBLAS_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stderr.count("numpy was imported before trainkit") == (1 if numpy_first else 0), out.stderr
