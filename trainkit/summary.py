"""A model at a glance (Lightning's ModelSummary): each top-level layer, its type and parameter count,
and the trainable / frozen / total counts and size. Printed at the start of every ``trainkit train`` run,
next to the param-group table; from Python: ``print(trainkit.summary.model_summary(model))``.
"""
from __future__ import annotations

__all__ = ["model_summary"]


def _count(n: int) -> str:
    for unit, size in (("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)


def model_summary(model) -> str:
    """A table of the model's top-level layers, then its trainable, frozen and total parameters and size."""
    rows = [("", "name", "type", "params")]
    children = list(model.named_children())
    for i, (name, child) in enumerate(children):
        rows.append((str(i), name, type(child).__name__, _count(sum(int(p.array.size) for p in child.parameters()))))
    params = list(model.parameters())
    trainable = sum(int(p.array.size) for p in params if p.requires_grad)
    total = sum(int(p.array.size) for p in params)
    size = sum(int(p.array.nbytes) for p in params) + sum(int(b.nbytes) for _, b in _buffers(model))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = ["  ".join(cell.rjust(w) if c in (0, 3) else cell.ljust(w) for c, (cell, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    if not children:
        lines = [f"{type(model).__name__} (no submodules)"]
    lines += [
        "-" * max(len(lines[0]), 24),
        f"{_count(trainable):>8}  trainable params",
        f"{_count(total - trainable):>8}  frozen params",
        f"{_count(total):>8}  total params",
        f"{size / 2**20:>8.3f}  total size (MB, parameters and buffers)",
    ]
    return "\n".join(lines)


def _buffers(model):
    named = getattr(model, "named_buffers", None)
    return [] if named is None else [(n, b.array if hasattr(b, "array") else b) for n, b in named()]
