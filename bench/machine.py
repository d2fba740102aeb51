"""The machine and software the figures were measured on, reported with them."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import urllib.request
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.processes import REPO_ROOT

_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return None


def _memory_mb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return None


def _server_version(url: str) -> str | None:
    try:
        with _HTTP.open(url + "/_matrix/federation/v1/version", timeout=5) as response:
            server = json.loads(response.read()).get("server", {})
    except (OSError, ValueError):
        return None
    # Synapse appends git details of whatever checkout it runs from: keep the release only.
    version = str(server.get("version", "?")).split(" ")[0]
    return f"{server.get('name', '?')} {version}"


def _git(*args: str) -> str | None:
    """Read-only git queries about the code measured (None outside a checkout)."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def machine_info(homeserver_url: str) -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    status = _git("status", "--porcelain")
    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu": _cpu_model(),
        "memory_mb": _memory_mb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "synapse": _version("matrix-synapse"),
        "synapse_reports": _server_version(homeserver_url),
        "matrix_nio": _version("matrix-nio"),
        "vodozemac": _version("vodozemac"),
        "multilogue": _version("multilogue"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(status) if status is not None else None,
    }
