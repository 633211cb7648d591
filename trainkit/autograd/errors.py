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


class InputTypeError(TypeError):
    """Raised when an op gets an input that is neither a Tensor, an array nor a number.

    The tutorial slip ``x, y = (device), (device)`` ends here: ``model(x)``
    hands a ``Device`` to ``linear``. ``op`` and ``position`` say where,
    ``value`` is what came; ``nn.Module.__call__`` adds the layer (see
    ``trainkit.nn.input_errors``).
    """

    def __init__(self, op: str, position: int, value):
        self.op, self.position, self.value = op, position, value
        self.module = None  # the innermost layer that passed it on, set by Module.__call__
        text = repr(value)
        super().__init__(
            f"{op}: argument {position} must be a Tensor (or an array or a number), got "
            f"{type(value).__name__}: {text[:80] + '...' if len(text) > 80 else text}"
        )
