"""A wheel of multilogue carries its templates and migrations (a non-editable install works)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_contains_every_template_and_migration(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("multilogue-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    templates = {
        f"templates/{p.name}"
        for p in (ROOT / "templates").iterdir()
        if p.suffix in (".txt", ".html")
    }
    migrations = {f"bot/migrations/{p.name}" for p in (ROOT / "bot" / "migrations").glob("*.sql")}
    assert templates, "no templates found in the source tree"
    assert templates <= names
    assert migrations <= names
    assert "bot/cli.py" in names
    assert any(name.endswith("entry_points.txt") for name in names)
