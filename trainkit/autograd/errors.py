"""The errors autograd raises where numpy's own would be unclear.

Kept in their own module because both the backward engine and ``Function``
raise them, and the engine sits below ``Tensor`` and ``Function`` in the
import graph.
"""


class GraphFreedError(RuntimeError):
    """Raised by a second backward through a graph whose buffers were freed."""


class ShapeError(ValueError):
    """Raised when an op receives arrays whose shapes do not fit together.

    The message names the op and every input shape, e.g.
    ``matmul: incompatible shapes (2, 3) and (4, 5)``, instead of numpy's or
    cupy's internal wording.
    """
