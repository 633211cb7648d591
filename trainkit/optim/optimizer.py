"""``Optimizer``: torch.optim's base class (param groups, state, state dicts).

This module is the class and its hooks; the work is done by the parts it owns:

* :class:`~.groups.GroupLayout` (``_layout``): ``add_param_group``, validation,
  and laying out again param groups edited by hand;
* :class:`~.state_store.StateStore` (``state_store``): per-parameter state,
  keyed by position ``(group index, index in group)``, and the access protocol
  behind ``optimizer.state`` (:mod:`.state_view`);
* :mod:`.state_dict`: ``state_dict()``/``load_state_dict()`` in torch's layout.
"""
from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping

from ..autograd import enable_grad
from ..nn.parameter import clear_grad
from .groups import GroupLayout, Required, required
from .param_groups import check_lr_type, describe, looks_like_params, materialize_params, positional_mistake_message
from .state_dict import load, pack
from .state_store import StateDictError, StateStore
from .state_view import StateView

__all__ = ["Optimizer", "Required", "StateDictError", "required"]


class Optimizer:
    """Base class of every optimizer; mirrors ``torch.optim.Optimizer``.

    Args:
        params: an iterable of Parameters, of ``(name, Parameter)`` pairs (e.g.
            ``model.named_parameters()``) or of dicts (param groups), each dict
            holding ``"params"`` plus any hyperparameter overrides. Iterables
            are read once, so a generator or ``filter`` object works.
        defaults: the default hyperparameters, filled into every group.

    Warning:
        Element-wise optimizers (all but LBFGS, Adafactor, Muon and SparseAdam)
        move each parameter into a flat buffer when they are built: ``p.array``
        (what ``p.data`` shares) is rebound to a view of it, and the update
        happens there. The array originally passed to ``Parameter(w)`` is no
        longer the parameter (torch's ``nn.Parameter(w)`` shares ``w``'s
        storage for good). Read and write weights through ``p.data`` or
        ``p.array`` (or ``module.state_dict()``
        taken after the optimizer was built); arrays taken from
        ``module.state_dict()`` before building the optimizer are snapshots.

    Editing ``param_groups[i]["lr"]`` (or any hyperparameter) by hand takes
    effect at the next step and keeps the state. Editing
    ``param_groups[i]["params"]`` by hand works too: the group is laid out
    again at the next step and state follows each parameter (new ones start
    fresh, removed ones drop their state); ``add_param_group`` is the usual way
    to add parameters.

    Subclasses implement ``step`` (starting with ``self._run_closure(closure)``,
    which also picks up hand-edited groups) and may override ``_validate``
    (checks run on the defaults and again on every group),
    ``_required_state``, ``_state_shape_must_match``, the state hooks
    ``_export_state``/``_import_state``/``_check_state`` and the layout hooks
    ``_on_group_added``/``_reset_layout``. Array-code optimizers keep their
    per-parameter state in ``self._state`` (``(group, index) -> dict``) or get
    it from ``self.state_store.param_state``.

    >>> import numpy as np
    >>> from trainkit.nn import Parameter
    >>> from trainkit.optim import SGD
    >>> w = Parameter(np.ones(3))
    >>> opt = SGD([w], lr=0.1)
    >>> w.grad = np.ones(3); opt.step(); w.array
    array([0.9, 0.9, 0.9])
    """

    state_store_class: type[StateStore] = StateStore  # flat-buffer optimizers keep state elsewhere

    def __new__(cls, *args, **kwargs):
        # ``Optim(filter(...), [groups], lr=...)``: python would report "multiple values for
        # argument 'lr'"; say what actually went wrong instead.
        if len(args) >= 2 and looks_like_params(args[1]):
            raise TypeError(positional_mistake_message(cls.__name__, args[1]))
        return super().__new__(cls)

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        if "lr" in self.defaults and self.defaults["lr"] is not required:
            check_lr_type(type(self).__name__, self.defaults["lr"])
        self.param_groups: list[dict] = []
        self.state_store = self.state_store_class(self)
        self._layout = GroupLayout(self)
        groups = materialize_params(params)
        if len(groups) == 0:
            raise ValueError(
                "optimizer got an empty parameter list (if you filtered out frozen parameters, "
                "e.g. filter(lambda p: p.requires_grad, ...), none were left)"
            )
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)
        all_params = [p for g in self.param_groups for p in g["params"]]
        if all_params and not any(p.requires_grad for p in all_params):
            # torch accepts this (parameters may be unfrozen later); say so, with the count.
            warnings.warn(
                f"{type(self).__name__} got {len(all_params)} parameters and all of them are frozen "
                "(requires_grad=False): step() changes none of them until some are unfrozen",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )

    # ------------------------------------------------------------------ groups
    def _validate(self, hp: dict) -> None:
        """Raise ValueError (torch's wording) on an invalid hyperparameter; subclasses override."""

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (e.g. layers unfrozen during fine-tuning); unset options take the defaults."""
        self._layout.add(param_group)

    def _on_group_added(self, gi: int) -> None:
        """Hook: group ``gi`` was appended or laid out again (flat-buffer optimizers lay it out here)."""

    def _reset_layout(self) -> None:
        """Hook: every group is about to be laid out again from scratch."""

    def describe_param(self, gi: int, j: int) -> str:
        """Name (or position and shape) of parameter ``j`` of group ``gi``, for messages."""
        return describe(self.param_groups[gi], j, gi)

    def _sync_groups(self) -> None:
        """Lay out again the groups whose ``params`` (or ``param_groups`` itself) were edited by hand."""
        self._layout.sync()

    def _position(self, param) -> tuple[int, int]:
        """``(group index, index in group)`` of ``param``, in O(1); KeyError when it is not managed."""
        return self._layout.position(param)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: to None (default, as torch) or to zeros in place.

        A gradient array kept from before (``acc = w.grad``) keeps its values
        after ``zero_grad()`` and the next backward pass, as in torch. For
        optimizers with flat gradient buffers this needs a check (see
        ``ElementwiseOptimizer.zero_grad``): a kept gradient makes its bucket
        get a fresh buffer; the usual loop reuses the buffer. With
        ``set_to_none=False`` gradients are zeroed in place, so kept arrays
        see the zeros (as in torch).
        """
        self._sync_groups()
        for group in self.param_groups:
            for p in group["params"]:
                clear_grad(p, set_to_none)

    def step(self, closure=None):  # pragma: no cover - abstract
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        raise NotImplementedError

    def _run_closure(self, closure):
        """Pick up hand-edited param groups, then evaluate ``closure`` (if any) with grad enabled.

        Every ``step()`` starts with it.
        """
        self._sync_groups()
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> StateView:
        """Per-parameter state, indexed by Parameter, as torch's ``optimizer.state``.

        ``state[p]`` is a dict (``{}`` when ``p`` has no state) whose arrays are
        live; assigning a key writes through (``state[p]["step"] = 100``).
        ``del state[p]``, ``state[p] = {}`` or ``state.clear()`` make the
        parameter(s) start fresh at the next step; ``state[p] = {...}`` with
        complete contents is validated like ``load_state_dict``.
        """
        return StateView(self.state_store)

    @state.setter
    def state(self, value: Mapping) -> None:
        self.state_store.replace_all(value)

    @property
    def _state(self) -> dict:
        """The state entries, ``(group index, index in group) -> dict`` (the store's storage)."""
        return self.state_store.entries

    def _has_state(self, gi: int, j: int) -> bool:
        """Whether parameter ``(gi, j)``'s entry counts as state (``optimizer.state``, ``state_dict()``).

        Called for entries that exist; SGD without momentum keeps an internal one
        but, as torch, no state.
        """
        return True

    def _export_state(self, gi: int, j: int, copy: bool = True) -> dict | None:
        """State of one parameter as a plain dict (arrays copied unless ``copy=False``), or None."""
        return self.state_store.export(gi, j, copy)

    def _import_state(self, gi: int, j: int, entry: dict) -> None:
        """Store a loaded (already checked) state entry for parameter ``(gi, j)``."""
        self.state_store.load(gi, j, entry)

    def _check_state(self, gi: int, j: int, entry: dict, group: dict | None = None,
                     complete: bool = True) -> list[str]:
        """Problems with a state entry for parameter ``(gi, j)`` (see :meth:`.StateStore.check`)."""
        return self.state_store.check(gi, j, entry, group, complete)

    def _required_state(self, group: dict, param) -> tuple:
        """State keys a parameter must have under ``group``'s settings (checked on load)."""
        return ()

    def _state_shape_must_match(self, key: str) -> bool:
        """Whether state entry ``key`` has the parameter's shape (checked on load)."""
        return False

    def state_dict(self) -> dict:
        """The optimizer's state in torch's layout (arrays are copies); see :mod:`.state_dict`."""
        return pack(self)

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a ``state_dict()``; everything is validated before anything changes.

        Raises:
            StateDictError: listing every difference (group count, group sizes,
                parameter names, state shapes, state keys missing for a
                parameter, unknown indices).
        """
        load(self, state_dict)

    # ------------------------------------------------------------------ misc
    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for gi, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {gi}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _caller_stacklevel() -> int:
    """``warnings.warn`` stacklevel of the first frame outside trainkit.optim (the user's call)."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here):
        frame, level = frame.f_back, level + 1
    return level
