"""Read and write ``.safetensors`` files (the format of Hugging Face and most torch checkpoints).

Reading validates the header here first, then lets the ``safetensors``
library's numpy interface read the data: a file that is truncated, is not
safetensors, or whose header lies about sizes or offsets gets a
:class:`WeightsFileError` naming the file and the tensor, instead of a crash
or garbage deep inside the library. The format (https://github.com/huggingface/safetensors):
8 bytes little-endian header length N, N bytes of JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}``,
then the tensors' bytes back to back, offsets relative to the end of the header.

``safetensors`` (and ``ml_dtypes``, for bfloat16) are the optional extra
``trainkit[safetensors]``; they are imported only when a file is read or written.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ..autograd import Tensor
from ..checkpoint import _atomic_write, _host
from .errors import WeightsFileError

__all__ = ["read_safetensors", "read_safetensors_header", "save_safetensors", "looks_like_safetensors"]

_INSTALL = "pip install 'trainkit[safetensors]' (or: pip install safetensors ml_dtypes)"
_MAX_HEADER = 100 * 1024 * 1024  # the library's own limit
#: Bytes per element of the dtypes trainkit reads (those safetensors' numpy interface maps, plus BF16).
ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8,
}


def looks_like_safetensors(head: bytes) -> bool:
    """Whether a file's first bytes start like safetensors: a plausible length, then ``{``."""
    return len(head) >= 9 and int.from_bytes(head[:8], "little") <= _MAX_HEADER and head[8:9] == b"{"


def read_safetensors_header(path: str | os.PathLike) -> dict[str, dict]:
    """The validated header ``{name: {"dtype", "shape", "data_offsets"}}`` (``__metadata__`` dropped).

    Raises:
        WeightsFileError: the file is too short, its header length runs past the end,
            the header is not a JSON object of tensor entries, a dtype is unknown, or a
            tensor's ``data_offsets`` disagree with its dtype and shape, leave the data
            section, overlap or leave gaps.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise WeightsFileError(f"{path}: {size} bytes, too short to be a safetensors file (truncated?)")
        n = int.from_bytes(head, "little")
        if n > min(size - 8, _MAX_HEADER):
            raise WeightsFileError(
                f"{path}: the safetensors header claims {n} bytes but the file has {size - 8} after the "
                "length field: the file is truncated or not safetensors"
            )
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsFileError(f"{path}: the safetensors header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise WeightsFileError(f"{path}: the safetensors header is not a JSON object")
    header.pop("__metadata__", None)
    data_size = size - 8 - n
    spans = sorted((_check_entry(path, name, entry, data_size), name) for name, entry in header.items())
    end, previous = 0, None
    for (begin, stop), name in spans:
        if begin != end:
            where = f"after {previous!r} ends at {end}" if previous else "at the start of the data"
            raise WeightsFileError(
                f"{path}: tensor {name!r} starts at byte {begin} of the data section, {where}: "
                "tensors overlap or leave a gap (the header is wrong)"
            )
        end, previous = stop, name
    if end != data_size:
        raise WeightsFileError(
            f"{path}: the tensors cover {end} bytes but the data section has {data_size}: "
            "the file is truncated or has trailing bytes"
        )
    return header


def _check_entry(path: Path, name: str, entry, data_size: int) -> tuple[int, int]:
    """``(begin, end)`` of one header entry, after checking it against its dtype, shape and the file."""
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise WeightsFileError(f"{path}: tensor {name!r} lacks dtype, shape or data_offsets in the header")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in ITEMSIZE:
        raise WeightsFileError(
            f"{path}: tensor {name!r} has dtype {dtype!r}, which trainkit cannot read "
            f"(supported: {', '.join(ITEMSIZE)})"
        )
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise WeightsFileError(f"{path}: tensor {name!r} has an invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
        raise WeightsFileError(f"{path}: tensor {name!r} has invalid data_offsets {offsets!r}")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise WeightsFileError(
            f"{path}: tensor {name!r} has data_offsets [{begin}, {end}] outside the {data_size}-byte "
            "data section: the file is truncated or the header is wrong"
        )
    expected = math.prod(shape) * ITEMSIZE[dtype]
    if end - begin != expected:
        raise WeightsFileError(
            f"{path}: tensor {name!r} is {dtype} {tuple(shape)} = {expected} bytes but its "
            f"data_offsets span {end - begin}: the header is wrong"
        )
    return begin, end


def _safetensors_numpy(path, doing: str):
    try:
        import safetensors.numpy
    except ImportError:
        raise WeightsFileError(f"{doing} {path} needs the safetensors package: {_INSTALL}") from None
    return safetensors.numpy


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All tensors of a ``.safetensors`` file as numpy arrays, after :func:`read_safetensors_header`.

    Raises:
        WeightsFileError: the header is invalid, the library is missing, or the
            file holds bfloat16 tensors and ``ml_dtypes`` is not installed.
    """
    header = read_safetensors_header(path)
    bf16 = [name for name, entry in header.items() if entry["dtype"] == "BF16"]
    if bf16:
        try:
            import ml_dtypes  # noqa: F401 - registers numpy's "bfloat16" dtype, which safetensors asks for
        except ImportError:
            raise WeightsFileError(
                f"{path}: tensor {bf16[0]!r} is bfloat16, which numpy reads only with ml_dtypes: {_INSTALL}"
            ) from None
    st = _safetensors_numpy(path, "reading")
    try:
        return dict(st.load_file(path))
    except Exception as exc:  # the library's SafetensorError and anything numpy raises on its output
        raise WeightsFileError(f"{path}: safetensors could not read it: {type(exc).__name__}: {exc}") from exc


def save_safetensors(state_dict, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write ``state_dict`` (name -> numpy/cupy array or Tensor) as ``.safetensors``, atomically.

    Names are written as given, so ``model.state_dict()`` gives a file that the
    matching torch model loads with ``load_state_dict(safetensors.torch.load_file(path))``.
    Arrays are copied to host memory and made contiguous; the file is written to a
    temporary name, fsynced and renamed into place (as trainkit's checkpoints).

    Args:
        state_dict: the arrays to write.
        path: the file to (over)write; parent directories are created.
        metadata: extra ``str -> str`` header metadata; ``{"format": "pt"}`` is
            added unless given, as Hugging Face ``transformers`` expects it.

    Returns:
        The path written.
    """
    path = Path(path)
    meta = {"format": "pt", **(metadata or {})}
    bad = [k for k, v in meta.items() if not (isinstance(k, str) and isinstance(v, str))]
    if bad:
        raise WeightsFileError(f"{path}: safetensors metadata must map str to str; not so for {bad}")
    arrays = {k: np.asarray(_host(v.array if isinstance(v, Tensor) else v), order="C") for k, v in state_dict.items()}
    st = _safetensors_numpy(path, "writing")
    blob = st.save(arrays, metadata=meta)
    _atomic_write(path, lambda fh: fh.write(blob))
    return path
