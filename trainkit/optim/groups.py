"""``GroupLayout``: adding param groups, and laying out again the ones edited by hand.

State is positional (see :mod:`.state_store`), so each optimizer records the
layout each group was built with: the group dict and its parameters, by
identity. Editing ``param_groups[i]["params"]`` by hand (append, pop, replace a
Parameter) or ``param_groups`` itself is detected at the next ``step()``,
``zero_grad()``, ``state_dict()``, ``load_state_dict()`` or state lookup
(:meth:`GroupLayout.sync`, one identity comparison per parameter when nothing
changed): the edited groups are validated and laid out again, and state follows
each parameter by identity (new parameters start fresh, removed ones drop
their state). The checks that turn a user's ``params`` into groups, with their
error messages, are in :mod:`.param_groups`.

The optimizer's hooks called here: ``_validate`` (hyperparameters),
``_on_group_added``/``_reset_layout`` (flat-buffer optimizers build their
buffers there) and the state hooks ``_export_state``/``_check_state``/``_import_state``.
"""
from __future__ import annotations

from operator import is_

from .param_groups import check_disjoint, check_lr_type, check_no_shared_params, normalize_group


class Required:
    """Marker for a hyperparameter that every param group must set (``trainkit.optim.required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = Required()


def _same_params(params, laid_params) -> bool:
    return type(params) is list and len(params) == len(laid_params) and all(map(is_, params, laid_params))


class GroupLayout:
    """The groups of one optimizer as they were laid out, and the way to change them.

    Attributes:
        laid: ``(group dict, list of its parameters)`` per group, as last laid out.
    """

    def __init__(self, opt):
        self.opt = opt
        self.laid: list[tuple[dict, list]] = []
        self._index: dict | None = None  # id(param) -> (group, index), rebuilt on demand

    def add(self, param_group: dict) -> None:
        """``add_param_group``: validate, fill in the defaults, append and lay out the group."""
        opt = self.opt
        self.sync()
        gi = len(opt.param_groups)
        group = normalize_group(param_group, gi)
        self.fill(group, gi)
        check_disjoint(opt.param_groups, group, gi)
        opt.param_groups.append(group)
        opt._on_group_added(gi)
        self.laid.append((group, list(group["params"])))
        self._index = None

    def fill(self, group: dict, gi: int) -> None:
        """Fill unset options from the defaults and validate them."""
        opt = self.opt
        for name, default in opt.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    f"parameter group {gi} didn't specify a value of required optimization parameter {name}"
                )
            group.setdefault(name, default)
        if "lr" in group:
            check_lr_type(type(opt).__name__, group["lr"])
        opt._validate(group)

    def sync(self) -> None:
        """Lay out again the groups whose ``params`` (or ``param_groups`` itself) were edited by hand."""
        laid, groups = self.laid, self.opt.param_groups
        if len(groups) == len(laid):
            for group, (laid_group, laid_params) in zip(groups, laid):
                if group is not laid_group or not _same_params(group.get("params"), laid_params):
                    break
            else:
                return
        self._relayout_edited()

    def _relayout_edited(self) -> None:
        opt = self.opt
        groups, laid, entries = opt.param_groups, self.laid, opt.state_store.entries
        same_groups = len(groups) == len(laid) and all(g is lg for g, (lg, _) in zip(groups, laid))
        if same_groups:
            changed = [gi for gi, (group, (_, laid_params)) in enumerate(zip(groups, laid))
                       if not _same_params(group["params"], laid_params)]
        else:
            changed = list(range(len(groups)))
        # 1. validate (nothing is changed when an edit is invalid)
        edited = {}
        for gi in changed:
            try:
                new = normalize_group(groups[gi], gi)
                self.fill(new, gi)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"param_groups[{gi}] was edited by hand and is not valid: {exc}") from None
            edited[gi] = new
        check_no_shared_params([edited.get(gi, group) for gi, group in enumerate(groups)])
        # 2. keep the state of the parameters being laid out again, by identity
        saved = {}
        for gi in (changed if same_groups else range(len(laid))):
            for j, p in enumerate(laid[gi][1]):
                entry = opt._export_state(gi, j)
                if entry is not None:
                    saved[id(p)] = (p, entry)
        # 3. write the validated groups back into the user's dicts and lay them out
        for gi, new in edited.items():
            group = groups[gi]
            params = new.pop("params")
            if type(group.get("params")) is list:
                group["params"][:] = params
            else:
                group["params"] = params
            if "param_names" not in new:
                group.pop("param_names", None)
            group.update(new)
        if same_groups:
            for gi in changed:
                for j in range(len(laid[gi][1])):
                    entries.pop((gi, j), None)
                opt._on_group_added(gi)
                laid[gi] = (groups[gi], list(groups[gi]["params"]))
        else:
            entries.clear()
            opt._reset_layout()
            laid.clear()
            for gi, group in enumerate(groups):
                opt._on_group_added(gi)
                laid.append((group, list(group["params"])))
        self._index = None
        # 4. give the state back to the parameters that are still here
        for gi in changed:
            for j, p in enumerate(groups[gi]["params"]):
                hit = saved.get(id(p))
                if hit is not None and hit[0] is p and not opt._check_state(gi, j, hit[1], complete=False):
                    opt._import_state(gi, j, hit[1])

    def relayout(self, gi: int) -> None:
        """Rebuild group ``gi``'s layout in place (a parameter changed shape, dtype or device).

        State is carried over (cast to the new dtype/device); a parameter whose
        shape changed loses its state, as its old state no longer fits.
        """
        opt = self.opt
        n = len(opt.param_groups[gi]["params"])
        saved = {j: opt._export_state(gi, j) for j in range(n)}
        for j in range(n):
            opt.state_store.entries.pop((gi, j), None)
        opt._on_group_added(gi)
        for j, entry in saved.items():
            if entry is not None and not opt._check_state(gi, j, entry, complete=False):
                opt._import_state(gi, j, entry)

    def position(self, param) -> tuple[int, int]:
        """``(group index, index in group)`` of ``param``, in O(1); KeyError when it is not managed."""
        index = self._index
        if index is not None:
            pos = index.get(id(param))
            if pos is not None:
                gi, j = pos
                groups = self.opt.param_groups
                if gi < len(groups):
                    params = groups[gi].get("params")
                    if type(params) is list and j < len(params) and params[j] is param:
                        return pos
        self.sync()
        self._index = index = {
            id(p): (gi, j) for gi, (_, params) in enumerate(self.laid) for j, p in enumerate(params)
        }
        pos = index.get(id(param))
        if pos is None:
            raise KeyError(
                f"{type(param).__name__} is not managed by this optimizer (it is in none of its "
                f"{len(self.opt.param_groups)} param groups)"
            )
        return pos
