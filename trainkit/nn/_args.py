"""Checks of layer constructor arguments, so a bad size fails where it is given."""
from __future__ import annotations

import numpy as np


def size_arg(value, name: str, owner: str, minimum: int = 0) -> int:
    """``value`` as an int size, or a clear error naming ``owner``'s argument ``name``.

    Floats (even ``3.0``) and bools are refused, as torch refuses them: a size
    computed with ``/`` instead of ``//`` is a bug worth hearing about.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{owner}: {name} must be an int, got {value!r} ({type(value).__name__}); "
            "use // for integer division when computing sizes"
        )
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)
