"""The README's "Writing a plugin" section documents every hook of hookspecs.py, correctly.

Each hook appears once as `name(arg, ...)` with the hookspec's argument names, and
the per-batch hooks are listed in the order the Trainer calls them (the order of
the Trainer's docstring, which states the step's fixed order).
"""
from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest

from trainkit import hookspecs
from trainkit.trainer import Trainer

README = Path(__file__).resolve().parents[1] / "README.md"
HOOK_REF = re.compile(r"`((?:register|on)_\w+)\(([^)`]*)\)`")


def plugin_section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Writing a plugin\n(.*?)(?=^## )", text, flags=re.M | re.S)
    assert match, "README.md has no '## Writing a plugin' section followed by another section"
    return match.group(1)


def documented() -> list[tuple[str, list[str]]]:
    """(hook, argument names) for each list item that starts with a hook reference."""
    out = []
    for line in plugin_section().splitlines():
        item = re.match(r"^\s*- " + HOOK_REF.pattern, line)
        if item:
            args = [a.strip() for a in item.group(2).split(",") if a.strip()]
            out.append((item.group(1), args))
    return out


def spec_hooks() -> dict[str, list[str]]:
    """hook name -> argument names, for every function marked @hookspec."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return {
        name: list(inspect.signature(fn).parameters)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, marker)
    }


def test_every_hookspec_is_documented_once_and_nothing_else():
    names = [name for name, _ in documented()]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"documented more than once in README: {duplicates}"
    specs = spec_hooks()
    assert sorted(set(specs) - set(names)) == [], "hooks missing from README's 'Writing a plugin'"
    assert sorted(set(names) - set(specs)) == [], "README documents hooks that hookspecs.py does not define"


@pytest.mark.parametrize("hook", sorted(spec_hooks()))
def test_documented_arguments_match_the_hookspec(hook):
    args = dict(documented())[hook]
    assert args == spec_hooks()[hook], f"README: {hook}({', '.join(args)})"


def test_batch_hooks_are_listed_in_the_order_a_step_calls_them():
    doc = Trainer.__doc__
    batch = [h for h in hookspecs.PHASES["batch"]]
    step_order = sorted(batch, key=lambda h: doc.index(h))
    listed = [name for name, _ in documented() if name in batch]
    assert listed == step_order


def test_the_check_notices_a_wrong_argument(monkeypatch):
    # the comparison above can fail: a README with a renamed argument is caught
    broken = plugin_section().replace("on_batch_end(trainer, batch_idx, loss, skipped)",
                                      "on_batch_end(trainer, idx, loss, skipped)")
    monkeypatch.setattr(sys.modules[__name__], "plugin_section", lambda: broken)
    assert dict(documented())["on_batch_end"] != spec_hooks()["on_batch_end"]
