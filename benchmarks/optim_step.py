"""One optimizer step: trainkit against torch's three CPU paths, on a big and a tiny model.

Big: Adam, AdamW and SGD with momentum on 10M float32 parameters laid out as 1
tensor and as 1,000 tensors. The harness compares one reference per case, so
there is one case per (algorithm, layout, torch path): torch's default for-loop
(``foreach=False``), ``foreach=True`` and ``fused=True``. trainkit runs its
default fused path (numba, one pass over the flat buffers). Memory is the
limit: Adam touches 28 bytes per parameter per step (read p, g, m, v; write p, m, v).

Tiny: the 2-16-1 MLP of the Trainer benchmark (4 parameters, 65 values), where
only the fixed cost of a step counts. Each call writes the gradients (trainkit:
into the flat gradient buffer, as backward does; torch: assigns ``.grad``),
then ``step()`` and ``zero_grad()``. Both sides take a few hundred warm-up steps
first (trainkit's small buckets start on the plain path; see
``trainkit.optim.elementwise``).

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


TINY_SHAPES = [(16, 2), (16,), (1, 16), (1,)]  # Linear(2, 16) and Linear(16, 1)
TINY_WARMUP = 300


def build_tiny_trainkit(algo):
    import trainkit.optim as optim
    from trainkit.nn import Parameter

    cls_name, kwargs = ALGOS[algo]
    rng = np.random.default_rng(0)
    params = [Parameter(rng.standard_normal(s).astype(np.float32)) for s in TINY_SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) for s in TINY_SHAPES]
    opt = getattr(optim, cls_name)(params, **kwargs)

    def step():
        for p, g in zip(params, grads):
            p._accumulate_grad(g)  # what backward does for a leaf: copy into the flat gradient buffer
        opt.step()
        opt.zero_grad()

    for _ in range(TINY_WARMUP):
        step()
    return step


def build_tiny_torch(torch, algo, path):
    cls_name, kwargs = ALGOS[algo]
    gen = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in TINY_SHAPES]
    grads = [torch.randn(s, generator=gen) for s in TINY_SHAPES]
    opt = getattr(torch.optim, cls_name)(params, **kwargs, **TORCH_PATHS[path])
    opt_step = torch.no_grad()(opt.step)

    def step():
        for p, g in zip(params, grads):
            p.grad = g  # torch's update does not write into the gradient
        opt_step()
        opt.zero_grad()

    for _ in range(TINY_WARMUP):
        step()
    return step


def tiny_cases(torch):
    out = []
    for algo in ("adam", "sgd-momentum"):
        tk = _Lazy("trainkit", lambda a=algo: build_tiny_trainkit(a))
        for path in TORCH_PATHS:
            ref = None
            if torch is not None:
                ref = _Lazy("torch", lambda a=algo, p=path: build_tiny_torch(torch, a, p))
            out.append(Case(f"{algo} mlp-2-16-1 vs torch {path}", tk, ref,
                            reference_name="torch", items=1,
                            meta={"algorithm": algo, "layout": "mlp-2-16-1", "torch_path": path}))
    return out


def cases():
    torch = torch_or_none()
    out = tiny_cases(torch)
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
