"""The hooks stay tested and documented: every hook has a `test_hook_<name>` test, a
docstring (the contract) and a section of docs/plugins.md naming all its arguments."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from app.integrations import hookspecs
from app.integrations.plugins import hook_arguments, hook_names

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
HOOKS = hook_names()


def test_the_hook_list_is_what_hookspecs_declares():
    assert HOOKS[0] == "describe_provider"
    assert {"pull_contacts", "push_contacts", "pull_activities", "contact_event"} <= set(HOOKS)
    assert len(HOOKS) == len(set(HOOKS))


def _test_functions() -> set[str]:
    names = set()
    for path in (ROOT / "tests").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
    return names


def test_every_hook_has_a_test():
    tests = _test_functions()
    missing = [name for name in HOOKS if f"test_hook_{name}" not in tests]
    assert missing == [], f"write test_hook_<name> for: {', '.join(missing)}"


def _sections() -> dict[str, str]:
    """The guide's `### heading` sections, by heading."""
    text = GUIDE.read_text(encoding="utf-8")
    parts = re.split(r"^### +(.+?)\s*$", text, flags=re.MULTILINE)
    return {parts[i].strip("` "): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_and_argument_is_documented(name):
    sections = _sections()
    assert name in sections, f"docs/plugins.md has no '### {name}' section"
    body = sections[name].split("\n## ", 1)[0]
    undocumented = [arg for arg in hook_arguments(name) if f"`{arg}`" not in body]
    assert undocumented == [], f"'### {name}' does not name: {', '.join(undocumented)}"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_spec_has_a_docstring(name):
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert len(doc.split()) >= 10, f"the spec of {name} needs a docstring: it is the contract"
