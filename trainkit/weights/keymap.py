"""Rename a weights file's keys to the model's with ``init_map`` rules (``pattern -> replacement``).

Checkpoints written by other code carry names the model does not have: DDP's
``module.`` prefix, Lightning's ``model.``, a head called ``fc`` where the
model has ``classifier``. Rules fix that without code. They are applied in
order, each to the names the previous rules produced:

- a plain string is a prefix: ``{"module.": ""}`` strips it and
  ``{"fc.": "classifier.1."}`` renames it (a whole name is its own prefix);
- ``re:<regex>`` must match the whole name, as in :mod:`trainkit.params`, and
  the replacement may use its groups: ``{"re:(.*)\\.gamma": "\\1.weight"}``;
- a replacement of ``None`` (YAML ``null``) drops the names the rule matches.

A rule that matches no name is an error listing the closest names (a typo would
otherwise load nothing and go unnoticed), and so are two file names mapping to one.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..params.errors import closest_names
from .errors import KeyMapError

__all__ = ["apply_key_map", "normalise_key_map"]

_NO_MATCH = object()


def normalise_key_map(rules) -> list[tuple[str, str | None]]:
    """``[(pattern, replacement), ...]`` from a mapping, a list of pairs or a list of one-entry mappings."""
    if rules is None:
        return []
    if isinstance(rules, Mapping):
        pairs = list(rules.items())
    elif isinstance(rules, Iterable) and not isinstance(rules, str):
        pairs = []
        for rule in rules:
            if isinstance(rule, Mapping):
                items = list(rule.items())
            else:
                items = [tuple(rule)] if isinstance(rule, Iterable) and not isinstance(rule, str) else []
            if len(items) != 1 or len(items[0]) != 2:
                raise KeyMapError(f"init_map rule {rule!r} is not one pattern -> replacement pair")
            pairs.append(items[0])
    else:
        raise KeyMapError(f"init_map must be a mapping or a list of pattern -> replacement rules, got {rules!r}")
    for pattern, replacement in pairs:
        if not isinstance(pattern, str) or not pattern:
            raise KeyMapError(f"init_map pattern {pattern!r} must be a non-empty string")
        if replacement is not None and not isinstance(replacement, str):
            raise KeyMapError(f"init_map replacement for {pattern!r} must be a string or null, got {replacement!r}")
        if not pattern.startswith("re:") and any(c in pattern for c in "*?["):
            raise KeyMapError(
                f"init_map pattern {pattern!r}: plain patterns are prefixes, not globs; "
                f"use a regular expression such as 're:{re.escape(pattern.split('*')[0])}(.*)'"
            )
    return pairs


def _compile(pattern: str, replacement: str | None):
    """``name -> new name | None (dropped) | _NO_MATCH`` for one rule."""
    if pattern.startswith("re:"):
        try:
            rx = re.compile(pattern[3:])
        except re.error as exc:
            raise KeyMapError(f"invalid regular expression in init_map pattern {pattern!r}: {exc}") from None

        def rule(name):
            match = rx.fullmatch(name)
            if match is None:
                return _NO_MATCH
            try:
                return None if replacement is None else match.expand(replacement)
            except (re.error, IndexError) as exc:
                raise KeyMapError(f"init_map replacement {replacement!r} for {pattern!r}: {exc}") from None

        return rule

    def prefix_rule(name):
        if not name.startswith(pattern):
            return _NO_MATCH
        return None if replacement is None else replacement + name[len(pattern):]

    return prefix_rule


def apply_key_map(names_or_dict, rules):
    """Apply ``init_map`` rules to a file's names.

    Args:
        names_or_dict: the file's names, or its ``name -> array`` dict.
        rules: see the module docstring; ``None`` or empty leaves names unchanged.

    Returns:
        For names, ``{file name: new name, or None when dropped}`` in file order;
        for a dict, the dict under its new names (dropped entries left out).

    Raises:
        KeyMapError: a malformed rule, a rule matching no name (the closest names
            are listed), an empty new name, or two file names mapping to one.
    """
    names = list(names_or_dict)
    mapping: dict[str, str | None] = {n: n for n in names}
    for pattern, replacement in normalise_key_map(rules):
        rule, hit = _compile(pattern, replacement), False
        for old, new in mapping.items():
            out = _NO_MATCH if new is None else rule(new)
            if out is not _NO_MATCH:
                mapping[old], hit = out, True
        if not hit:
            current = [n for n in mapping.values() if n is not None]
            raise KeyMapError(
                f"init_map rule {pattern!r} matches no name in the file. "
                f"Closest names: {', '.join(closest_names(pattern, current)) or '(none left)'}"
            )
    owner: dict[str, str] = {}
    for old, new in mapping.items():
        if new == "":
            raise KeyMapError(f"init_map maps {old!r} to an empty name; map it to null to drop it")
        if new is not None and new in owner:
            raise KeyMapError(f"init_map maps both {owner[new]!r} and {old!r} to {new!r}")
        if new is not None:
            owner[new] = old
    if isinstance(names_or_dict, Mapping):
        return {new: names_or_dict[old] for old, new in mapping.items() if new is not None}
    return mapping
