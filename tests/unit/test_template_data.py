"""Templates get the data they need, checked from the code, so a missing field fails here
and not in a room.

Read with `ast` from `bot/` and `commands/`:

- every `Reply("name", {...})` whose data is written out: the template pair exists, and every
  variable either template reads is given (or is a renderer global);
- every refusal raised with a catalogue key (`CommandError("polls.no_poll", number=n)` and the
  other `Refusal`s): the macro exists in `templates/refusals/`, takes every value given, and is
  given every value it needs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from jinja2 import meta, nodes

from bot.render import Renderer, templates_dir

ROOT = Path(__file__).resolve().parents[2]
KEY = re.compile(r"^[a-z_]+\.[a-z_]+$")
GLOBALS = frozenset({"prefix", "say", "_", "gettext", "ngettext"})


@dataclass(frozen=True)
class Use:
    where: str
    name: str
    given: frozenset[str]
    open_ended: bool  # `**data` spread in: what is given cannot be known from the code


def _sources() -> Iterator[tuple[str, ast.AST]]:
    for package in ("bot", "commands"):
        for path in sorted((ROOT / package).rglob("*.py")):
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text())


def _called(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


@cache
def replies() -> list[Use]:
    found = []
    for where, tree in _sources():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and _called(node) == "Reply" and node.args):
                continue
            name = node.args[0]
            data = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                continue
            if data is None:
                found.append(Use(f"{where}:{node.lineno}", name.value, frozenset(), False))
            elif isinstance(data, ast.Dict):
                keys = {k.value for k in data.keys if isinstance(k, ast.Constant)}
                spread = any(k is None for k in data.keys)
                found.append(Use(f"{where}:{node.lineno}", name.value, frozenset(keys), spread))
    return found


@cache
def refusals() -> list[Use]:
    found = []
    for where, tree in _sources():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            called = _called(node)
            if not (called.endswith(("Error", "Refusal")) or called == "Words"):
                continue
            key = node.args[0]
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                continue
            if not KEY.match(key.value):
                continue
            given = {k.arg for k in node.keywords if k.arg is not None}
            spread = any(k.arg is None for k in node.keywords)
            if called == "Words" and len(node.args) > 1:
                data = node.args[1]
                if isinstance(data, ast.Dict):
                    given |= {k.value for k in data.keys if isinstance(k, ast.Constant)}
                else:
                    spread = True
            found.append(Use(f"{where}:{node.lineno}", key.value, frozenset(given), spread))
    return found


def _environment() -> jinja2.Environment:
    return Renderer()._env


def _reads(env: jinja2.Environment, name: str) -> set[str]:
    assert env.loader is not None
    source = env.loader.get_source(env, name)[0]
    tree = env.parse(source)
    # Names a template sets itself ({% set %}, also inside an {% if %} before a {% trans %}
    # that reads them) are not data it needs.
    own = {
        target.name
        for node in tree.find_all((nodes.Assign, nodes.AssignBlock))
        for target in [node.target, *node.target.find_all(nodes.Name)]
        if isinstance(target, nodes.Name)
    }
    return set(meta.find_undeclared_variables(tree)) - own


def test_every_reply_gives_its_template_what_it_reads() -> None:
    env, names = _environment(), Renderer().names()
    problems = []
    for use in replies():
        if use.name not in names:
            problems.append(f"{use.where}: no template {use.name}")
            continue
        if use.open_ended:
            continue
        for kind in ("txt", "html"):
            missing = _reads(env, f"{use.name}.{kind}") - use.given - GLOBALS
            if missing:
                problems.append(f"{use.where}: {use.name}.{kind} reads {sorted(missing)}")
    assert problems == []


def test_every_refusal_names_a_macro_and_gives_it_what_it_takes() -> None:
    renderer = Renderer(globals={"prefix": "!"})
    problems = []
    for use in refusals():
        catalogue, _, message = use.name.partition(".")
        path = templates_dir() / "refusals" / f"{catalogue}.txt"
        if not path.exists():
            problems.append(f"{use.where}: no catalogue refusals/{catalogue}.txt")
            continue
        module = renderer._env.get_template(f"refusals/{catalogue}.txt").module
        macro = getattr(module, message, None)
        if macro is None:
            problems.append(f"{use.where}: no message {message} in {catalogue}.txt")
            continue
        takes = needs = set(macro.arguments)  # a value not given would render as an error
        if use.given - takes:
            problems.append(f"{use.where}: {use.name} does not take {sorted(use.given - takes)}")
        if not use.open_ended and needs - use.given:
            problems.append(f"{use.where}: {use.name} needs {sorted(needs - use.given)}")
    assert problems == []


def test_the_checks_see_the_code() -> None:
    # A check over nothing would pass for nothing.
    assert len(replies()) > 50
    assert len(refusals()) > 5
