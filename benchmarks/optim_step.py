"""One optimizer step on 10M float32 parameters: trainkit against torch's three CPU paths.

Adam, AdamW and SGD with momentum; the 10M parameters laid out as 1 tensor and
as 1,000 tensors. The harness compares one reference per case, so there is one
case per (algorithm, layout, torch path): torch's default for-loop
(``foreach=False``), ``foreach=True`` and ``fused=True``. trainkit runs its
default fused path (numba, one pass over the flat buffers). Memory is the
limit: Adam touches 28 bytes per parameter per step (read p, g, m, v; write p, m, v).

    python benchmarks/optim_step.py [--filter adam] [--repeat 5]
"""
from __future__ import annotations

import numpy as np
from harness import Case, run, torch_or_none

N = 10_000_000
ALGOS = {
    "adam": ("Adam", dict(lr=1e-3)),
    "adamw": ("AdamW", dict(lr=1e-3, weight_decay=1e-2)),
    "sgd-momentum": ("SGD", dict(lr=1e-2, momentum=0.9)),
}
LAYOUTS = {"1x10M": 1, "1000x10k": 1000}
TORCH_PATHS = {"for-loop": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}


class _Lazy:
    """Build an optimizer on first use and free the previous one (10M params x 4 buffers each)."""

    current: dict = {}

    def __init__(self, kind, build):
        self.kind, self.build, self.step = kind, build, None

    def __call__(self):
        if self.step is None:
            previous = _Lazy.current.get(self.kind)
            if previous is not None and previous is not self:
                previous.step = None
            _Lazy.current[self.kind] = self
            self.step = self.build()
        self.step()


def _shapes(count):
    return [(N // count,)] * count


def build_trainkit(algo, count):
    import trainkit.optim as optim
    from trainkit.nn import Parameter

    cls_name, kwargs = ALGOS[algo]
    rng = np.random.default_rng(0)
    params = [Parameter(rng.standard_normal(s, dtype=np.float32)) for s in _shapes(count)]
    opt = getattr(optim, cls_name)(params, **kwargs)
    for p in params:
        p.grad = rng.standard_normal(p.shape, dtype=np.float32) * np.float32(1e-3)
    return opt.step


def build_torch(torch, algo, count, path):
    cls_name, kwargs = ALGOS[algo]
    gen = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in _shapes(count)]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen) * 1e-3
    opt = getattr(torch.optim, cls_name)(params, **kwargs, **TORCH_PATHS[path])
    return torch.no_grad()(opt.step)


def cases():
    torch = torch_or_none()
    out = []
    for algo in ALGOS:
        for layout, count in LAYOUTS.items():
            tk = _Lazy("trainkit", lambda a=algo, c=count: build_trainkit(a, c))
            for path in TORCH_PATHS:
                ref = None
                if torch is not None:
                    ref = _Lazy("torch", lambda a=algo, c=count, p=path: build_torch(torch, a, c, p))
                out.append(Case(f"{algo} {layout} vs torch {path}", tk, ref, reference_name="torch",
                                items=N, meta={"algorithm": algo, "layout": layout, "torch_path": path}))
    return out


if __name__ == "__main__":
    run(cases())
