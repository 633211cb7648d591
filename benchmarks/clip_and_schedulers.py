"""Gradient clipping and scheduler stepping, trainkit vs PyTorch (CPU).

Run: ``python benchmarks/clip_and_schedulers.py``. ratio = torch time / trainkit time.
"""
from __future__ import annotations

import numpy as np
from harness import Case, run, torch_or_none

from trainkit.nn import Parameter
from trainkit.nn.utils import clip_grad_norm_
from trainkit.optim import lr_scheduler as L


def clip_cases(torch):
    cases = []
    for label, shapes in [("resnet-ish 62 tensors 11M", [(512, 512, 3, 3)] * 4 + [(256,)] * 58),
                          ("mlp 6 tensors 1M", [(1024, 512), (512,), (512, 1024), (1024,), (10, 1024), (10,)])]:
        rng = np.random.default_rng(0)
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        ps = []
        for g in grads:
            p = Parameter(np.zeros(1, np.float32))
            p.grad = g.copy()
            ps.append(p)
        items = sum(g.size for g in grads)
        ref = None
        if torch is not None:
            tps = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
            for tp, g in zip(tps, grads):
                tp.grad = torch.from_numpy(g.copy())
            ref = lambda tps=tps: torch.nn.utils.clip_grad_norm_(tps, 1e9)  # noqa: E731
        cases.append(Case(f"clip_grad_norm_ {label}", lambda ps=ps: clip_grad_norm_(ps, 1e9), ref, items=items))
        # Clipping for real: both sides first restore the original gradients (the same copy
        # on each side), so every call scales by max_norm / norm < 1.
        def tk_clip(ps=ps, grads=grads):
            for p, g in zip(ps, grads):
                p.grad_array[...] = g
            return clip_grad_norm_(ps, 1.0)

        ref_clip = None
        if torch is not None:
            t_grads = [torch.from_numpy(g) for g in grads]

            def ref_clip(tps=tps, t_grads=t_grads):
                for tp, g in zip(tps, t_grads):
                    tp.grad.copy_(g)
                return torch.nn.utils.clip_grad_norm_(tps, 1.0)

        cases.append(Case(f"copy + clip_grad_norm_ {label} (clips)", tk_clip, ref_clip, items=items))
    return cases


def scheduler_cases(torch):
    """Both sides build 4 one-element parameters, an SGD with a group each and the scheduler, then step it."""
    from trainkit import optim

    def tk_step():
        ps = [Parameter(np.zeros(1, dtype=np.float32)) for _ in range(4)]
        opt = optim.SGD([{"params": [p]} for p in ps], lr=0.1, momentum=0.9)
        sched = L.OneCycleLR(opt, max_lr=0.1, total_steps=1000)
        for _ in range(999):
            sched.step()

    ref = None
    if torch is not None:
        def ref():
            ps = [torch.nn.Parameter(torch.zeros(1)) for _ in range(4)]
            opt = torch.optim.SGD([{"params": [p]} for p in ps], lr=0.1, momentum=0.9)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=1000)
            for _ in range(999):
                sched.step()
    return [Case("OneCycleLR 999 steps, 4 groups", tk_step, ref, items=999)]


if __name__ == "__main__":
    import warnings

    torch = torch_or_none()
    warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*")
    run(clip_cases(torch) + scheduler_cases(torch))
