"""Which weights file is this? Recognise it by its first bytes and read it, never unpickling.

``init_from`` and :func:`trainkit.weights.load_into` accept trainkit
checkpoints, plain ``.npz`` state dicts (name -> array) and ``.safetensors``
files. The kind is decided by content (a zip archive, safetensors' length +
``{`` header), not only by the suffix, so a renamed file still reads and a
torch pickle named ``.npz`` or ``.safetensors`` is still refused. Torch's
``.pt``/``.pth``/``.bin`` files are pickles, and unpickling can run arbitrary
code, so they are refused with the one-line conversion to safetensors.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .. import checkpoint as ckpt
from .errors import WeightsFileError
from .safetensors_io import looks_like_safetensors, read_safetensors

__all__ = ["read_weights"]

ACCEPTED = "a trainkit checkpoint, a plain .npz state dict (name -> array) or a .safetensors file"
_PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")


def read_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Name -> array from a weights file, whatever its kind (see the module docstring).

    Raises:
        FileNotFoundError: no such file.
        WeightsFileError: a torch pickle (with how to convert it), a truncated,
            corrupted or lying file, or a format trainkit does not read; the
            message names the file.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(16)
    if looks_like_safetensors(head):  # first: a header length can start with the byte 0x80 too
        return read_safetensors(path)
    if head.startswith(b"PK"):
        if _holds_pickle(path):
            raise _refuse_pickle(path, "a torch.save zip archive (it holds a data.pkl pickle)")
        try:
            return ckpt.load_weights(path)
        except ckpt.CorruptCheckpointError as exc:
            raise WeightsFileError(str(exc)) from exc
    if head[:1] == b"\x80":  # the PROTO opcode every pickle of protocol 2+ starts with
        raise _refuse_pickle(path, "a Python pickle (a torch.save file)")
    if path.suffix.lower() == ".safetensors":
        return read_safetensors(path)
    if path.suffix.lower() in _PICKLE_SUFFIXES:
        raise _refuse_pickle(path, f"a {path.suffix} file that is neither a zip archive nor safetensors")
    raise WeightsFileError(
        f"{path} is not a weights file trainkit reads (it starts with {head[:8]!r}); expected {ACCEPTED}"
    )


def _holds_pickle(path: Path) -> bool:
    """Whether a zip archive holds a pickle (torch's ``archive/data.pkl``); False if it is unreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith(".pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _refuse_pickle(path: Path, what: str) -> WeightsFileError:
    out = path.with_suffix(".safetensors")
    return WeightsFileError(
        f"{path} is {what}. trainkit never unpickles files (unpickling can execute arbitrary code); "
        f"convert it once where torch is installed:\n"
        f"    python -c \"import torch, safetensors.torch as st; "
        f"st.save_file(torch.load('{path}', weights_only=True), '{out}')\"\n"
        f"(if the file wraps the weights, e.g. Lightning's {{'state_dict': ...}}, save that entry), "
        f"then use {out}. trainkit reads {ACCEPTED}."
    )
