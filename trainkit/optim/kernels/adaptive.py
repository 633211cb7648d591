"""``Adaptive``: run whichever of two equivalent kernels has been faster lately.

The fused CPU path has a serial and a multithreaded variant of each kernel
(identical numbers). Which one is faster for a large buffer depends on the
machine's load, not only on the size: on idle cores two threads nearly halve
a step, but when other processes keep the cores busy, every call waits for the
worker thread to get a time slice and a 150 µs update can take 10 ms. So the
choice is measured, not guessed: ``Adaptive`` runs its current choice, times
each call, and now and then runs the other variant once (a probe). A probe
that beats the current choice's running average makes it the choice; a losing
probe doubles the interval until the next one (up to ``max_interval`` calls),
so a steadily loaded machine pays for a slow probe rarely, and a machine that
becomes idle is noticed within that many steps.
"""
from __future__ import annotations

from time import perf_counter


class Adaptive:
    """Call ``kernels[choice](*args)``, switching between two equivalent kernels by measured time.

    Args:
        kernels: two callables with the same effect (e.g. serial and parallel).
        choice: index of the kernel to start with.
        min_interval, max_interval: calls between probes of the other kernel
            (the interval doubles after each losing probe, and resets after a switch).
        smoothing: weight of a new measurement in the running average.

    Attributes:
        choice: index of the kernel currently used.
        cost: running average of seconds per call for each kernel (None until measured).
        calls: calls made so far.
    """

    def __init__(self, kernels, choice: int = 0, min_interval: int = 8, max_interval: int = 1024,
                 smoothing: float = 0.25):
        if len(kernels) != 2:
            raise ValueError(f"Adaptive needs exactly two kernels, got {len(kernels)}")
        self.kernels = tuple(kernels)
        self.choice = choice
        self.cost: list = [None, None]
        self.calls = 0
        self.min_interval, self.max_interval = min_interval, max_interval
        self.smoothing = smoothing
        self._warm = [False, False]
        self._interval = min_interval
        self._next_probe = 3  # call 1 warms the choice up, call 2 times it, 3 and 4 the other one

    def __call__(self, *args) -> None:
        self.calls += 1
        k = self.choice
        probe = self.calls >= self._next_probe
        if probe:
            k = 1 - k
        start = perf_counter()
        self.kernels[k](*args)
        elapsed = perf_counter() - start
        if not self._warm[k]:
            # The first call of a variant compiles it or loads it from numba's cache: not a timing.
            self._warm[k] = True
            if probe:
                self._next_probe = self.calls + 1
            return
        cost = self.cost[k]
        self.cost[k] = elapsed if cost is None else cost + self.smoothing * (elapsed - cost)
        if probe:
            current = self.cost[self.choice]
            if current is None or elapsed < current:
                self.choice = k
                self._interval = self.min_interval
            else:
                self._interval = min(2 * self._interval, self.max_interval)
            self._next_probe = self.calls + self._interval
