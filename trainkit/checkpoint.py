"""Atomic, pickle-free checkpoints: one ``.npz`` of arrays with its JSON metadata inside.

A checkpoint is any nested structure of dicts (str or int keys), lists,
tuples, str/int/float/bool/None and numpy/cupy arrays. :func:`save` splits it
into the arrays (stored as ``a0``, ``a1``, ... in an ``.npz``) and a JSON
skeleton referencing them (stored in the same file as the uint8 array
``__meta__``), writes a temporary file in the target directory, fsyncs it and
``os.replace``\\ s it into place, so a reader sees the old file or the new one,
never half of one. :func:`load` reads it back with ``allow_pickle=False``;
arrays come back as numpy arrays (callers move them to their device).

Every zip member carries a CRC, so a truncated or corrupted file raises
:class:`CorruptCheckpointError` rather than returning garbage;
:func:`load_latest` then falls back to the previous checkpoint with a warning.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .autograd.tensor import Tensor
from .backend import get_array_module

__all__ = [
    "CHECKPOINT_DIRNAME",
    "CheckpointError",
    "CheckpointWarning",
    "CorruptCheckpointError",
    "atomic_copy",
    "checkpoint_path",
    "find_checkpoints",
    "load",
    "load_latest",
    "load_weights",
    "resume_candidates",
    "run_dir_of",
    "save",
]

FORMAT = "trainkit-checkpoint"
FORMAT_VERSION = 1
META_KEY = "__meta__"
CHECKPOINT_DIRNAME = "checkpoints"
_STEP_FILE = re.compile(r"^step-(\d+)\.npz$")

_ARRAY = "__array__"
_ITEMS = "__dict_items__"
_TUPLE = "__tuple__"
_MARKERS = (_ARRAY, _ITEMS, _TUPLE)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written or read."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file exists but is truncated, corrupted or not a trainkit checkpoint."""


class CheckpointWarning(UserWarning):
    """Resuming fell back to an older checkpoint, or the config changed since it was saved."""


# --------------------------------------------------------------------------- encoding
def _host(array) -> np.ndarray:
    if isinstance(array, np.ndarray):
        return array
    return array.get()  # cupy


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray) or type(value).__module__.startswith("cupy")


def _encode(value, arrays: dict[str, np.ndarray], where: str):
    if isinstance(value, Tensor):  # saved as its array (loaded back as a numpy array)
        value = value.array
    if _is_array(value):
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(_host(value), order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
        return {_ARRAY: key}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        for k in value:
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise CheckpointError(
                    f"checkpoint key {k!r} at {where} is a {type(k).__name__}; only str and int keys are allowed"
                )
        if all(isinstance(k, str) for k in value) and not any(m in value for m in _MARKERS):
            return {k: _encode(v, arrays, f"{where}.{k}") for k, v in value.items()}
        return {_ITEMS: [[k, _encode(v, arrays, f"{where}[{k!r}]")] for k, v in value.items()]}
    raise CheckpointError(
        f"cannot checkpoint {type(value).__name__} at {where}; state must contain only dicts, lists, "
        "tuples, str/int/float/bool/None, Tensors and numpy/cupy arrays (no pickling)"
    )


def _decode(value, arrays):
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if isinstance(value, dict):
        if _ARRAY in value and len(value) == 1:
            return arrays[value[_ARRAY]]
        if _TUPLE in value and len(value) == 1:
            return tuple(_decode(v, arrays) for v in value[_TUPLE])
        if _ITEMS in value and len(value) == 1:
            return {k: _decode(v, arrays) for k, v in value[_ITEMS]}
        return {k: _decode(v, arrays) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- files
def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def save(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` to ``path`` atomically (temp file, fsync, ``os.replace``).

    Args:
        path: the ``.npz`` file to (over)write; parent directories are created.
        state: the nested state (see the module docstring).

    Returns:
        The path written.

    Raises:
        CheckpointError: ``state`` holds something other than plain data and arrays.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    skeleton = _encode(state, arrays, "checkpoint")
    meta = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "state": skeleton})
    arrays[META_KEY] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    _atomic_write(path, lambda fh: np.savez(fh, **arrays))
    return path


def atomic_copy(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy a checkpoint file to ``dst`` with the same atomic-replace guarantee."""
    dst = Path(dst)

    def write(fh):
        with open(src, "rb") as source:
            shutil.copyfileobj(source, fh)

    _atomic_write(dst, write)
    return dst


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise CorruptCheckpointError(f"{path} is truncated or corrupted: {type(exc).__name__}: {exc}") from exc


def load(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`save` (``allow_pickle=False``).

    Raises:
        FileNotFoundError: no such file.
        CorruptCheckpointError: the file is truncated, corrupted or not a trainkit checkpoint.
    """
    path = Path(path)
    arrays = _read_npz(path)
    if META_KEY not in arrays:
        raise CorruptCheckpointError(f"{path} is an .npz without trainkit metadata (not a checkpoint)")
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptCheckpointError(f"{path}: unreadable metadata: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise CorruptCheckpointError(f"{path}: not a trainkit checkpoint (format {meta.get('format')!r})")
    return _decode(meta["state"], arrays)


# --------------------------------------------------------------------------- run dirs
def checkpoint_path(directory: str | os.PathLike, step: int) -> Path:
    """``<directory>/step-<step:09d>.npz``: the file for a checkpoint at ``global_step``."""
    return Path(directory) / f"step-{int(step):09d}.npz"


#: Temp files of :func:`_atomic_write`: ``.<name>.<pid>.tmp`` (only trainkit's own checkpoint names).
_TEMP_FILE = re.compile(r"^\.(step-\d+\.npz|best\.npz)\.(\d+)\.tmp$")


def _matching(directory: str | os.PathLike, pattern: re.Pattern) -> list[tuple[re.Match, Path]]:
    """``(match, path)`` of every entry of ``directory`` whose name matches ``pattern`` (none if no directory)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return [(m, entry) for entry in directory.iterdir() if (m := pattern.match(entry.name))]


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_temp_files(directory: str | os.PathLike) -> list[Path]:
    """Delete the temp files a killed checkpoint write left in ``directory``; returns them.

    Only files of the exact form trainkit writes (``.step-<n>.npz.<pid>.tmp``,
    ``.best.npz.<pid>.tmp``) whose writing process is gone are removed: another
    live process's write in progress is left alone, and nothing else is touched.
    """
    removed = []
    for match, entry in _matching(directory, _TEMP_FILE):
        if entry.is_file() and not _pid_alive(int(match.group(2))):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def find_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """The ``step-*.npz`` files in ``directory``, oldest (lowest step) first."""
    found = [(int(match.group(1)), entry) for match, entry in _matching(directory, _STEP_FILE)]
    return [p for _, p in sorted(found)]


def resume_candidates(target: str | os.PathLike) -> list[Path]:
    """The checkpoint files ``resume=target`` would try, newest first.

    Raises:
        FileNotFoundError: ``target`` does not exist or holds no ``step-*.npz``.
    """
    return _candidates(Path(target))


def run_dir_of(target: str | os.PathLike) -> Path | None:
    """The run directory (the one holding Hydra's ``.hydra``) of a resume target, or None."""
    path = Path(target).resolve()
    if path.is_file():
        path = path.parent
        if path.name == CHECKPOINT_DIRNAME:
            path = path.parent
    return path if (path / ".hydra").is_dir() else None


def _candidates(target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    if not target.exists():
        raise FileNotFoundError(
            f"resume target {target} does not exist ({target.resolve()}); expected a run directory "
            "or a checkpoint .npz"
        )
    for directory in (target / CHECKPOINT_DIRNAME, target):
        found = find_checkpoints(directory)
        if found:
            return list(reversed(found))
    raise FileNotFoundError(
        f"no checkpoints (step-*.npz) in {target} or {target / CHECKPOINT_DIRNAME}"
    )


def load_latest(target: str | os.PathLike) -> tuple[Path, dict]:
    """Load the newest readable checkpoint of a run directory (or the given file).

    A corrupt or truncated newest checkpoint is skipped with a
    :class:`CheckpointWarning` naming it, and the previous one is tried.

    Args:
        target: a run directory (its ``checkpoints/`` folder is searched), a
            folder of ``step-*.npz`` files, or one checkpoint file.

    Returns:
        ``(path, state)`` of the checkpoint that was loaded.

    Raises:
        FileNotFoundError: nothing to resume from.
        CorruptCheckpointError: every candidate is corrupt.
    """
    candidates = _candidates(Path(target))
    errors = []
    for path in candidates:
        try:
            state = load(path)
        except CorruptCheckpointError as exc:
            errors.append(str(exc))
            if len(candidates) > 1:
                warnings.warn(
                    f"checkpoint {path} is unreadable ({exc}); falling back to the previous one",
                    CheckpointWarning,
                    stacklevel=2,
                )
            continue
        return path, state
    raise CorruptCheckpointError("no readable checkpoint: " + "; ".join(errors))


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Model weights from a checkpoint or from a plain ``.npz`` state dict (name -> array)."""
    path = Path(path)
    arrays = _read_npz(path)
    if META_KEY in arrays:
        state = load(path)
        if not isinstance(state, dict) or "model" not in state:
            raise CorruptCheckpointError(f"{path} is a trainkit checkpoint without model weights")
        return dict(state["model"])
    return arrays


def is_finite_tree(value) -> bool:
    """True when every floating array in a nested state is finite (plain floats are not checked)."""
    if _is_array(value):
        if value.dtype.kind not in "fc":
            return True
        return bool(get_array_module(value).isfinite(value).all())
    if isinstance(value, dict):
        return all(is_finite_tree(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(is_finite_tree(v) for v in value)
    return True
