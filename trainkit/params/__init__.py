"""Name-pattern rules over a model's parameters: select, freeze, group, layer decay, no-decay.

Rules match torch's dotted parameter names (``features.0.weight``) with a glob
(``features.*``; ``*`` also crosses dots) or, with the ``re:`` prefix, a
regular expression that must match the whole name (``re:.*seg.*`` = "contains
seg"). Frozen parameters get ``requires_grad=False`` and are left out of every
group, so they never reach the optimizer and stay bit-identical whatever the
weight decay. This replaces the hand-written ``id()`` filters of the usual
fine-tuning recipes (and the positional-argument mistake of passing a
``filter(...)`` *and* param groups to an optimizer).

>>> # groups = build_param_groups(model, [{"params": "classifier.*", "lr": 1e-2}], base_lr=1e-5)
>>> # opt = trainkit.optim.SGD(groups, lr=1e-5, momentum=0.9)

The package, one concern a module, each importing only those above it:

* :mod:`.errors`: :class:`ParamRuleError` and its explanatory messages;
* :mod:`.patterns`: globs and ``re:`` patterns (:func:`match_names`);
* :mod:`.freezing`: :func:`freeze` / :func:`unfreeze` in place;
* :mod:`.layers`: layer keys, ``lr_slice`` spreads, which parameters skip weight decay;
* :mod:`.rules`: checking rule keys and options without a model;
* :mod:`.resolve`: which rule owns each parameter, who froze what;
* :mod:`.maker`: parameters -> groups by (rule, layer, no_decay);
* :mod:`.groups`: :func:`build_param_groups`, the initial groups;
* :mod:`.unfreezing`: :func:`build_unfreeze_groups`, the groups ``unfreeze`` adds later;
* :mod:`.table`: :func:`format_param_groups`, the printed table.
"""
from __future__ import annotations

from .errors import ParamRuleError
from .freezing import freeze, unfreeze
from .groups import build_param_groups
from .layers import NORM_MODULE_HINTS as NORM_MODULE_HINTS  # importable here, not in __all__
from .layers import geometric_lrs, is_no_decay, layer_keys
from .patterns import compile_pattern, match_names
from .rules import UNFREEZE_KEYS as UNFREEZE_KEYS  # importable here, not in __all__
from .rules import builtin_optimizer_keys, normalise_rules, normalise_unfreeze, optimizer_keys
from .table import format_param_groups
from .unfreezing import build_unfreeze_groups, pending_unfreeze_rows

__all__ = [
    "ParamRuleError",
    "compile_pattern",
    "match_names",
    "freeze",
    "unfreeze",
    "build_param_groups",
    "build_unfreeze_groups",
    "pending_unfreeze_rows",
    "normalise_rules",
    "normalise_unfreeze",
    "optimizer_keys",
    "builtin_optimizer_keys",
    "layer_keys",
    "format_param_groups",
    "is_no_decay",
    "geometric_lrs",
]
