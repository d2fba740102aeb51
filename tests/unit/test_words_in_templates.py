"""Every word a person reads in a room comes from `templates/`, never from Python.

Read with `ast` from the code that speaks to rooms (`commands/` and the parts of `bot/` that
build replies): a string that reads as words (two words or more) must be one of the
exceptions below, each with its reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from bot.families import build_registry

ROOT = Path(__file__).resolve().parents[2]
WORDS = re.compile(r"(?<!\w)[A-Za-z]{2,}[,.:;!?']?\s+[A-Za-z]{2,}(?!\w)")
SQL = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|WITH|PRAGMA|BEGIN|COMMIT|ALTER|DROP|VALUES|ON)\b"
    r"|\b(FROM|WHERE|SET|AND|OR|ORDER BY|LIMIT|NOT|IS|NULL|IN|RETURNING|JOIN|UNION)\b"
)

# Modules that speak to the operator (the command line, the log), in English, not to rooms.
FOR_THE_OPERATOR = frozenset(
    {
        "bot/cli.py",
        "bot/runner.py",
        "bot/config.py",
        "bot/cross_signing.py",
        "bot/matrix.py",
        "bot/store.py",
        "bot/datadir.py",
        "bot/backup.py",
        "bot/contract/errors.py",
        "bot/tooling/demo.py",
        "bot/tooling/demo_seed.py",
        "bot/tooling/homeserver.py",
    }
)
# Calls whose words are for the operator's log.
LOG_CALLS = frozenset({"debug", "info", "warning", "error", "exception", "critical"})
# Exceptions that reach the log or a developer, never a room (a refusal is a `Refusal`).
DEVELOPER_ERRORS = frozenset(
    {"ValueError", "KeyError", "TypeError", "AssertionError", "RuntimeError", "Taken"}
)
# Command help, declared with each command (moves to catalogues with the language issue).
HELP_FIELDS = frozenset({"summary", "help", "examples", "title", "value", "second"})
HELP_CALLS = frozenset({"Command", "Param", "Flag", "family"})
# Names of listeners and timers (for the log), and of happenings they are woken by.
NAMED_CALLS = frozenset({"Listener", "Timer", "signal"})
# Column lists of SQL statements.
COLUMNS = re.compile(r"^\s*[a-z_][a-z0-9_.]*(\s*,\s*[a-z_][a-z0-9_.]*)+,?\s*$")
# Everything else that reads like words but is not said to anyone, by file and start.
NOT_SAID = {
    # Words people type, read by the parser and never shown (like command words).
    ("commands/alliance/thresholds.py", "more than half"),
    ("commands/alliance/thresholds.py", "over half"),
    ("commands/alliance/thresholds.py", "every movement"),
    ("commands/alliance/thresholds.py", "at least"),
    ("commands/council/rules.py", "consensus minus one"),
    ("commands/council/proposals.py", "compare agreements --alliance "),
    # SQL built from a table's and a column's names (starts mid-statement).
    ("commands/council/store.py", ") VALUES (?, ?) ON CONFLICT ("),
    # HTML tag names and markup of relayed copies.
    ("commands/relay/content.py", "del h1 h2"),
    ("commands/relay/content.py", "mx-reply script"),
    ("commands/relay/content.py", "<strong data-mx-profile-fallback>"),
    # Names of happenings (`Services.signal`), for timers.
    ("commands/polls/lifecycle.py", "poll closed"),
    ("commands/upgrades/follow.py", "room upgraded"),
    ("commands/council/spokes.py", "council changed"),
}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for package in ("bot", "commands"):
        for path in sorted((ROOT / package).rglob("*.py")):
            where = str(path.relative_to(ROOT))
            if where not in FOR_THE_OPERATOR:
                yield where, ast.parse(path.read_text())


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
        if isinstance(node, ast.Module | ast.ClassDef):
            # A string right after an assignment documents it (attribute docstrings).
            for before, after in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(before, ast.Assign | ast.AnnAssign)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                ):
                    found.add(id(after.value))
    return found


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _excused(tree: ast.Module) -> set[int]:
    """Strings inside a log call, a developer's exception or assertion, or command help."""
    excused: set[int] = set()

    def take(node: ast.AST) -> None:
        excused.update(id(inner) for inner in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is not None:
            take(node.msg)
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id.endswith("_HELP") for t in targets):
                take(node)  # command help kept as a constant
        if not isinstance(node, ast.Call):
            continue
        name = _name(node)
        if (isinstance(node.func, ast.Attribute) and name in LOG_CALLS) or name in DEVELOPER_ERRORS:
            take(node)
        elif name in NAMED_CALLS:
            for argument in node.args[:1]:
                take(argument)
        elif name in HELP_CALLS:
            for keyword in node.keywords:
                if keyword.arg in HELP_FIELDS:
                    take(keyword.value)
            if name == "family":
                for argument in node.args[1:2]:
                    take(argument)
            if name in ("Param", "Flag"):
                for argument in node.args[1:]:
                    take(argument)
            if name == "Command":
                for argument in node.args[2:3]:  # Command(name, family, summary, ...)
                    take(argument)
    return excused


@cache
def command_words() -> frozenset[str]:
    """Command names and aliases: the same in every language (they are typed)."""
    registry = build_registry()
    return frozenset(
        word for command in registry.commands() for word in (command.name, *command.aliases)
    )


def _not_said(where: str, text: str) -> bool:
    return (
        text in command_words()
        or bool(SQL.search(text) or COLUMNS.match(text))
        or any(where == file and text.startswith(start) for file, start in NOT_SAID)
    )


def words_in_code() -> list[str]:
    found = []
    for where, tree in _modules():
        skip = _docstrings(tree) | _excused(tree)
        for node in ast.walk(tree):
            if id(node) in skip or not isinstance(node, ast.Constant):
                continue
            if not isinstance(node.value, str) or _not_said(where, node.value):
                continue
            if WORDS.search(node.value):
                found.append(f"{where}:{node.lineno}: {node.value[:60]!r}")
    return found


def test_no_words_for_people_are_written_in_python() -> None:
    assert words_in_code() == []


def test_the_check_finds_words_where_they_are() -> None:
    tree = ast.parse('def f():\n    raise CommandError(f"No poll {n} here.")\n')
    skip = _docstrings(tree) | _excused(tree)
    constants = [
        n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]
    assert [c.value for c in constants if id(c) not in skip and WORDS.search(c.value)] == [
        "No poll "
    ]
