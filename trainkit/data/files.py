"""Finding and reading dataset files: candidate folders, optional gzip, clear errors.

Shared by the MNIST/Fashion-MNIST, CIFAR-10 and ``.npz`` loaders. A missing
file raises ``DataFileNotFoundError`` naming every folder searched, the files
expected there and the official download page; unreadable compression raises
``DataFormatError`` naming the file.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

from .errors import DataFileNotFoundError, DataFormatError

__all__ = ["candidate_dirs", "find_file", "read_bytes", "missing_files_error"]

_GZIP_MAGIC = b"\x1f\x8b"


def candidate_dirs(root, subdirs: tuple[str, ...] = ()) -> list[Path]:
    """``root`` itself, then each ``root/<subdir>`` (layouts other tools download into)."""
    if root is None or (isinstance(root, str) and not root.strip()):
        raise ValueError("root must name the folder holding the dataset files, got an empty value")
    base = Path(os.path.expanduser(str(root)))
    return [base] + [base / s for s in subdirs]


def find_file(dirs: list[Path], name: str, allow_gz: bool = True) -> Path | None:
    """The first ``dir/name`` (or ``dir/name.gz``) that exists, or None."""
    for d in dirs:
        for candidate in (name, name + ".gz") if allow_gz else (name,):
            path = d / candidate
            if path.is_file():
                return path
    return None


def missing_files_error(dataset: str, dirs: list[Path], missing: list[str], expected: list[str],
                        source: str, allow_gz: bool = True) -> DataFileNotFoundError:
    """Build the error for files of ``dataset`` that are not in any of ``dirs``."""
    searched = ", ".join(str(d.resolve()) for d in dirs)
    gz = " (plain or .gz)" if allow_gz else ""
    if not dirs[0].exists():
        where = f"the folder {str(dirs[0].resolve())!r} does not exist"
    else:
        where = f"not found in {searched}"
    what = "no data files found" if set(missing) == set(expected) else f"missing {', '.join(missing)}"
    return DataFileNotFoundError(
        f"{dataset}: {what}: {where}. "
        f"Expected files{gz}: {', '.join(expected)}. {source} "
        f"Then set the dataset's root (e.g. data.root=/path/to/folder) to the folder holding them."
    )


def read_bytes(path: Path) -> bytes:
    """The file's contents, decompressed when it starts with the gzip magic bytes."""
    raw = Path(path).read_bytes()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: not a valid gzip file ({exc}); the download may be truncated") from exc
