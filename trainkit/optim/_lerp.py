"""torch's ``lerp`` formula (two branches, for round-off parity in array-code optimizers)."""
from __future__ import annotations


def lerp(start, end, weight: float):
    """``start + weight * (end - start)``, computed like torch's CPU kernel."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)
