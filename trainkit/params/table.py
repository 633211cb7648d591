"""The resolved param groups as a text table, printed at the start of a run and by ``trainkit groups``.

One row per group (and per group ``unfreeze`` adds later, with its epoch),
plus a ``(frozen)`` row, so a user sees what each rule did before training.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["format_param_groups"]


def format_param_groups(groups: Sequence[Mapping], model=None, pending: Sequence[tuple[int, Mapping]] = ()) -> str:
    """The resolved groups as a text table: group, parameters, elements, lr, weight_decay.

    Args:
        groups: the optimizer's (or :func:`build_param_groups`') groups.
        model: with it, a last row counts the frozen parameters (in no group
            and not pending).
        pending: ``(epoch, group)`` pairs of groups ``unfreeze`` adds later
            (:func:`build_unfreeze_groups`), listed as ``<name> (epoch <e>)``.
    """
    rows = [("group", "parameters", "elements", "lr", "weight_decay")]

    def row(name, g):
        params = g["params"]
        return (name, str(len(params)), str(sum(int(p.array.size) for p in params)),
                _fmt(g.get("lr")), _fmt(g.get("weight_decay")))

    for i, g in enumerate(groups):
        rows.append(row(str(g.get("name", i)), g))
    for epoch, g in pending:
        rows.append(row(f"{g.get('name', 'unfreeze')} (epoch {epoch})", g))
    if model is not None:
        placed = {id(p) for g in groups for p in g["params"]} | {id(p) for _, g in pending for p in g["params"]}
        frozen = [p for p in model.parameters() if id(p) not in placed]
        if frozen:
            rows.append(("(frozen)", str(len(frozen)), str(sum(int(p.array.size) for p in frozen)), "-", "-"))
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    lines = [
        "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v) -> str:
    if v is None:
        return "(default)"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
