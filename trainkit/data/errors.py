"""Errors raised while finding and reading dataset files.

Both name the file involved, so a user who typed ``data.root=...`` sees which
path was tried and what was expected there instead of a bare numpy or gzip error.
"""
from __future__ import annotations

__all__ = ["DataFileNotFoundError", "DataFormatError", "MissingDependencyError"]


class DataFileNotFoundError(FileNotFoundError):
    """A dataset file is missing.

    The message names the directory searched, the files expected and where the
    official copies are downloaded from.
    """


class DataFormatError(ValueError):
    """A dataset file exists but its contents are not what its format requires.

    The message names the file and what was wrong (bad magic number, truncated
    data, label out of range, missing array key, ...).
    """


class MissingDependencyError(ImportError):
    """A dataset needs an optional package that is not installed; the message says how to get it."""
