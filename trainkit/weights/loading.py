"""Load pretrained weights into a model: plan the name mapping, show it, then load all or nothing.

:func:`plan` matches a file's arrays (after ``init_map`` rules) against the
model's state dict and returns a :class:`MappingTable`: one row per file array
(loaded, converted to the model's dtype, unexpected, wrong shape, dropped by a
rule) and the model's missing keys with the closest file names, so a dry run
can print it before training and an error can say what the file calls a key.
:func:`load_into` is what ``init_from`` runs: strict by default (any mismatch
raises ``StateDictMismatchError`` and nothing is changed), or, with
``strict=False``, loads the usable arrays and warns about the rest.
"""
from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..autograd import Tensor
from ..checkpoint import CheckpointWarning
from .errors import WeightsConversionWarning
from .files import read_weights
from .keymap import apply_key_map

__all__ = ["MappingRow", "MappingTable", "mapping_table", "plan", "load_into"]

LOADED, CONVERTED, UNEXPECTED, WRONG_SHAPE, DROPPED = "loaded", "converted", "unexpected", "wrong shape", "dropped"


@dataclass
class MappingRow:
    """One array of the file: where it goes in the model and what happens to it."""

    file_name: str
    model_name: str | None  # None: dropped by an init_map rule
    file_shape: tuple
    model_shape: tuple | None  # None: the model has no such key
    file_dtype: str
    model_dtype: str | None
    status: str

    def detail(self) -> str:
        if self.status == CONVERTED:
            return f"{CONVERTED} {self.file_dtype} -> {self.model_dtype}"
        if self.status == WRONG_SHAPE:
            return f"{WRONG_SHAPE}: file {self.file_shape}, model {self.model_shape}"
        return self.status


@dataclass
class MappingTable:
    """The resolved mapping of a weights file onto a model (see :func:`plan`)."""

    rows: list[MappingRow]
    missing: dict[str, list[str]] = field(default_factory=dict)  # model key -> closest unmatched file names
    hint: str = ""  # an init_map rule that would match more keys, when one prefix explains the mismatch

    def report(self) -> dict[str, list[str]]:
        """``{"loaded", "missing", "unexpected", "wrong_shape", "converted"}``.

        Model names; ``wrong_shape`` and ``converted`` entries say what differs.
        """
        rows = self.rows
        return {
            "loaded": [r.model_name for r in rows if r.status in (LOADED, CONVERTED)],
            "missing": list(self.missing),
            "unexpected": [r.model_name for r in rows if r.status == UNEXPECTED],
            "wrong_shape": [
                f"{r.model_name} (file {r.file_shape}, model {r.model_shape})" for r in rows if r.status == WRONG_SHAPE
            ],
            "converted": [f"{r.model_name} ({r.file_dtype} -> {r.model_dtype})" for r in rows if r.status == CONVERTED],
        }

    def problems(self) -> str:
        """The mismatches in one line (missing keys with the closest file names), or ``""``."""
        missing = [f"{k} (closest in file: {', '.join(c)})" if c else k for k, c in self.missing.items()]
        report = self.report()
        parts = [("missing", missing), ("unexpected", report["unexpected"]), ("wrong_shape", report["wrong_shape"])]
        text = "; ".join(f"{what}: {', '.join(keys)}" for what, keys in parts if keys)
        return f"{text}. {self.hint}" if text and self.hint else text

    def format(self) -> str:
        """The table as text: ``file name -> model name | shape | status``, then the missing keys."""
        lines = [("file name", "model name", "shape", "status")]
        lines += [(r.file_name, r.model_name or "-", str(r.file_shape), r.detail()) for r in self.rows]
        lines += [("-", k, "-", f"missing (closest in file: {', '.join(c) or '-'})") for k, c in self.missing.items()]
        widths = [max(len(line[i]) for line in lines) for i in range(3)]
        out = [f"{a:<{widths[0]}} -> {b:<{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in lines]
        n = {s: sum(r.status == s for r in self.rows) for s in (LOADED, CONVERTED, UNEXPECTED, WRONG_SHAPE, DROPPED)}
        summary = (
            f"{n[LOADED] + n[CONVERTED]} loaded ({n[CONVERTED]} converted), {n[UNEXPECTED]} unexpected, "
            f"{n[WRONG_SHAPE]} wrong shape, {n[DROPPED]} dropped, {len(self.missing)} missing"
        )
        return "\n".join(out + [summary] + ([self.hint] if self.hint else []))

    __str__ = format


def _status(model_name, shape, own) -> str:
    if model_name is None:
        return DROPPED
    if model_name not in own:
        return UNEXPECTED
    if tuple(own[model_name].shape) != shape:
        return WRONG_SHAPE
    return LOADED


def mapping_table(weights: Mapping, model_state: Mapping, rules=None) -> MappingTable:
    """Match a file's ``name -> array`` against a model's state dict after ``init_map`` ``rules``.

    Raises:
        KeyMapError: a rule is malformed, matches nothing, or two names collide.
    """
    rows = []
    for file_name, model_name in apply_key_map(list(weights), rules).items():
        array, target = weights[file_name], model_state.get(model_name)
        status = _status(model_name, tuple(array.shape), model_state)
        if status == LOADED and array.dtype != target.dtype:
            status = CONVERTED
        rows.append(MappingRow(
            file_name, model_name, tuple(array.shape), None if target is None else tuple(target.shape),
            str(array.dtype), None if target is None else str(target.dtype), status,
        ))
    matched = {r.model_name for r in rows if r.status in (LOADED, CONVERTED, WRONG_SHAPE)}
    unmatched = [r.file_name for r in rows if r.status == UNEXPECTED]
    missing = {
        k: difflib.get_close_matches(k, unmatched, n=3) for k in model_state if k not in matched
    }
    return MappingTable(rows, missing, _prefix_hint(unmatched, missing))


def _prefix_hint(unmatched: list[str], missing) -> str:
    """Suggest stripping the first name component (``module.``) when that matches missing keys."""
    for prefix in sorted({n.split(".", 1)[0] + "." for n in unmatched if "." in n}):
        hits = sum(n[len(prefix):] in missing for n in unmatched if n.startswith(prefix))
        if hits:
            return f"Stripping the prefix {prefix!r} would match {hits} more: init_map={{{prefix!r}: ''}}"
    return ""


def _weights_of(source) -> tuple[str, dict]:
    if isinstance(source, Mapping):
        return "state dict", {k: v.array if isinstance(v, Tensor) else v for k, v in source.items()}
    return str(source), read_weights(source)


def plan(model, source: str | os.PathLike | Mapping, key_map=None) -> MappingTable:
    """The mapping :func:`load_into` would apply, without loading: ``print(plan(...))`` is the dry run."""
    return mapping_table(_weights_of(source)[1], model.state_dict(), key_map)


def load_into(
    model, source: str | os.PathLike | Mapping, *, strict: bool = True, key_map=None, label: str | None = None
) -> dict[str, list[str]]:
    """Load a weights file (or a ``name -> array`` dict) into ``model``; what ``init_from`` runs.

    Args:
        model: a ``trainkit.nn.Module``.
        source: a file :func:`~trainkit.weights.read_weights` reads, or a state dict.
        strict: with True any missing, unexpected or wrongly shaped key raises and
            nothing is loaded; with False the usable arrays are loaded and the rest
            reported in a ``CheckpointWarning``.
        key_map: ``init_map`` rules renaming the file's keys (see :mod:`.keymap`).
        label: how errors and warnings name the source (the Trainer passes
            ``init_from=<path>``); default: the path, or "state dict".

    Returns:
        ``{"loaded", "missing", "unexpected", "wrong_shape", "converted"}`` (see
        :meth:`MappingTable.report`). Arrays of another dtype are converted to the
        model's (float16/bfloat16/float64 into float32) with one ``WeightsConversionWarning``.

    Raises:
        StateDictMismatchError: ``strict`` and a mismatch (closest file names are listed).
        WeightsFileError: the file cannot be read. KeyMapError: a bad ``key_map``.
    """
    from ..nn.module import StateDictMismatchError

    name, weights = _weights_of(source)
    name = label or name
    own = model.state_dict()
    table = mapping_table(weights, own, key_map)
    report, problems = table.report(), table.problems()
    if strict and problems:
        wrong = {r.model_name: (r.file_shape, r.model_shape) for r in table.rows if r.status == WRONG_SHAPE}
        exc = StateDictMismatchError(report["missing"], report["unexpected"], wrong)
        exc.args = (
            f"{name}: nothing was loaded. {problems}. Rename keys with init_map rules, or set "
            "init_strict=false (strict=False) to load the matching keys and report the rest",
        )
        raise exc
    usable = {
        r.model_name: weights[r.file_name].astype(own[r.model_name].dtype, copy=False)
        for r in table.rows
        if r.status in (LOADED, CONVERTED)
    }
    model.load_state_dict(usable, strict=strict)
    if report["converted"]:
        warnings.warn(f"{name}: converted to the model's dtypes: {', '.join(report['converted'])}",
                      WeightsConversionWarning, stacklevel=2)
    if problems:
        warnings.warn(f"{name}: skipped keys ({problems})", CheckpointWarning, stacklevel=2)
    return report
