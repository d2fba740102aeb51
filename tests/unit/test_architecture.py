"""Imports point one way: families -> contract <- edge, with no cycles.

Read from the source with `ast` (every import, those under `TYPE_CHECKING` included):

- the contract (`bot.contract`) and the plain data it speaks in (ids, events, power levels,
  room state, the store, configuration, rendering and its pages) import neither the edge nor
  a family;
- a family (`commands.*`) imports from `bot` only the contract and that plain data, never the
  edge (the Matrix connection, the sync loop, the router, the outbox, the process);
- the edge imports families only in the composition root (`bot.families`);
- no module imports another that (directly or not) imports it back, and no import hides inside
  a function to get round that.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "commands")

SHARED = frozenset(
    {
        "bot",
        "bot.ids",
        "bot.events",
        "bot.permissions",
        "bot.rooms",
        "bot.store",
        "bot.config",
        "bot.render",
        "bot.languages",
        "bot.pages",
    }
)
"""Plain data and storage that both sides use, besides the contract itself."""

COMPOSITION_ROOT = "bot.families"


def _is_contract(module: str) -> bool:
    return module == "bot.contract" or module.startswith("bot.contract.")


def _is_family(module: str) -> bool:
    return module == "commands" or module.startswith("commands.")


def _is_edge(module: str) -> bool:
    return module.startswith("bot.") and not _is_contract(module) and module not in SHARED


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """What each import statement imports: `from a.b import c` imports the module `a.b.c`
    when there is one (a package's module), else `a.b` (a name defined in it)."""
    known = modules()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                inner = f"{node.module}.{alias.name}"
                yield node, inner if inner in known else node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name


@cache
def graph() -> dict[str, frozenset[str]]:
    known = modules()
    edges = {}
    for name, path in known.items():
        targets = {t for _, t in _imports(ast.parse(path.read_text())) if t in known}
        edges[name] = frozenset(targets - {name})
    return edges


def test_the_contract_and_shared_data_import_neither_side() -> None:
    wrong = {
        (module, target)
        for module, targets in graph().items()
        if _is_contract(module) or module in SHARED
        for target in targets
        if _is_family(target) or _is_edge(target)
    }
    assert wrong == set()


def test_families_never_import_the_edge() -> None:
    wrong = {
        (module, target)
        for module, targets in graph().items()
        if _is_family(module)
        for target in targets
        if _is_edge(target)
    }
    assert wrong == set()


def test_only_the_composition_root_knows_the_families() -> None:
    knowing = {
        module
        for module, targets in graph().items()
        if not _is_family(module) and any(_is_family(t) for t in targets)
    }
    assert knowing == {COMPOSITION_ROOT}


def test_there_is_no_import_cycle() -> None:
    edges = graph()
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        path.append(module)
        for target in sorted(edges[module]):
            visit(target)
        path.pop()
        done.add(module)

    for module in sorted(edges):
        visit(module)


def test_no_import_hides_inside_a_function() -> None:
    hidden = []
    for name, path in modules().items():
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            hidden.extend(
                f"{name}:{node.lineno}"
                for node in ast.walk(function)
                if isinstance(node, ast.Import | ast.ImportFrom)
            )
    assert hidden == []


def test_the_checks_see_the_whole_code() -> None:
    # A check over no modules would pass for nothing.
    edges = graph()
    assert len(edges) > 40
    assert "bot.contract" in edges["commands.polls"] or any(
        _is_contract(t) for t in edges["commands.polls"]
    )
    assert any(_is_family(t) for t in edges[COMPOSITION_ROOT])


def family_of(module: str) -> str | None:
    """The family (the package of `commands/`) a module belongs to; None outside them."""
    parts = module.split(".")
    return parts[1] if parts[0] == "commands" and len(parts) > 1 else None


def test_families_build_on_each_other_one_way() -> None:
    # The alliance builds on polls, the relay on the alliance; never the other way round
    # (a family serves one that builds on it through `Registry.provide`).
    between: dict[str, set[str]] = {}
    for module, targets in graph().items():
        mine = family_of(module)
        for target in targets:
            theirs = family_of(target)
            if mine and theirs and theirs != mine:
                between.setdefault(mine, set()).add(theirs)
    both_ways = {(a, b) for a, uses in between.items() for b in uses if a in between.get(b, ())}
    assert both_ways == set()
    assert "polls" in between.get("alliance", set())  # the check sees real dependencies


def test_commands_reads_as_its_families() -> None:
    # One package per family; besides them only shared helpers at the top.
    top = {p.name for p in (ROOT / "commands").iterdir() if not p.name.startswith(("_", "."))}
    packages = {name for name in top if (ROOT / "commands" / name / "__init__.py").exists()}
    assert packages == {
        "alliance",
        "council",
        "digest",
        "language",
        "help",
        "polls",
        "record",
        "relay",
        "upgrades",
    }
    assert top - packages == {"links.py", "py.typed"}
