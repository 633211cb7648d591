"""``matplotlib.pyplot`` for the tutorial tests: records what the tutorials plot.

The tutorials end with ``plt.scatter(x.data.numpy(), y.data.numpy()); plt.plot(...);
plt.show()``. matplotlib is not a test dependency, so ``from tutorial_pyplot import
pyplot as plt`` stands in for ``from matplotlib import pyplot as plt``: every call
is recorded (``pyplot.calls``) so a test can check that what reached it are numpy
arrays, and is forwarded to matplotlib's non-interactive Agg backend when
matplotlib is installed (``show()`` then draws nothing).
"""
from __future__ import annotations

import warnings


class _PyPlot:
    def __init__(self):
        self.calls: list[tuple[str, tuple, dict]] = []
        self._plt = None
        try:
            import matplotlib

            matplotlib.use("Agg")
            from matplotlib import pyplot

            self._plt = pyplot
        except ImportError:
            pass

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if self._plt is None:
                return None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Agg's "non-interactive, cannot be shown"
                out = getattr(self._plt, name)(*args, **kwargs)
            if name == "show":
                self._plt.close("all")
            return out

        return call


pyplot = _PyPlot()
