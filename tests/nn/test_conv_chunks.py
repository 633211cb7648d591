"""conv2d's CPU path in cache-sized chunks on worker threads gives the one-chunk numbers."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit
from trainkit.nn import functional as F
from trainkit.nn.functional import _chunk_pool, conv

CONFIGS = [
    dict(stride=1, padding=2),
    dict(stride=2, padding=1, dilation=2),
    dict(stride=(2, 1), padding=(0, 3), groups=2),
]


def _conv(monkeypatch, chunk_bytes, workers, x, w, b, cfg):
    monkeypatch.setattr(conv, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(_chunk_pool, "workers", lambda: workers)
    monkeypatch.setattr(conv, "can_split", lambda: True)
    tensors = [trainkit.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = F.conv2d(*tensors, **cfg)
    out.backward(np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype))
    return [out.numpy()] + [t.grad for t in tensors]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", CONFIGS, ids=["pad", "stride_dil", "groups"])
@pytest.mark.parametrize("workers", [1, 3])
def test_chunked_conv_matches_whole_batch(monkeypatch, cfg, dtype, workers):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 4, 9, 8)).astype(dtype)
    w = rng.standard_normal((6, 4 // cfg.get("groups", 1), 3, 5)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    whole = _conv(monkeypatch, 1 << 40, 1, x, w, b, cfg)
    if _chunk_pool._controller() is None and workers > 1:
        pytest.skip("threadpoolctl is not installed: chunks run on the caller only")
    for chunk_bytes in (1, 2 * 4 * 15 * x.itemsize * 40):  # one image per chunk; a few per chunk
        chunked = _conv(monkeypatch, chunk_bytes, workers, x, w, b, cfg)
        for a, c in zip(chunked, whole):
            np.testing.assert_allclose(a, c, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-4)  # float32: summation order


def test_chunk_size_is_whole_batch_off_numpy():
    class FakeXp:  # any array module other than numpy (cupy) gets one chunk
        pass

    assert conv.chunk_size(FakeXp, 64, 800, 16, 16, 4) == 64
    if _chunk_pool.can_split():
        assert conv.chunk_size(np, 64, 800, 16, 16, 4) == 1
