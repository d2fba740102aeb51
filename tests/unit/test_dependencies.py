"""Every package the bot imports is one it declares, not one that happens to come along.

`cryptography` once reached the test environment only through Synapse, so an operator's
`pip install .` could not start the bot. This reads the imports of every module that is
installed (`bot/`, `commands/`, `templates/`) and finds the distribution behind each one.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALLED_PACKAGES = ("bot", "commands", "templates")


def normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def declared_runtime_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    names = set()
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        assert name, requirement
        names.add(normalized(name.group(0)))
    return names


def imported_top_level_names() -> dict[str, set[str]]:
    """Top-level module name -> the files of the installed packages that import it."""
    found: dict[str, set[str]] = {}
    for package in INSTALLED_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text("utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.partition(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_a_declared_runtime_dependency() -> None:
    declared = declared_runtime_dependencies()
    distributions = metadata.packages_distributions()
    undeclared = {}
    for name, files in imported_top_level_names().items():
        if name in sys.stdlib_module_names or name in INSTALLED_PACKAGES or name == "__future__":
            continue
        owners = {normalized(d) for d in distributions.get(name, [])}
        assert owners, f"{name} (imported by {sorted(files)}) is not installed at all"
        if not owners & declared:
            undeclared[name] = (sorted(owners), sorted(files))
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {undeclared}"


def test_the_check_sees_the_imports_it_must_see() -> None:
    # The check is only as good as its reading of the code: these are imported today.
    seen = imported_top_level_names()
    for name in ("nio", "aiosqlite", "jinja2", "dotenv", "cryptography", "aiohttp"):
        assert name in seen, name
