"""The alliance's platform as a small static website (`multilogue publish`).

Pure rendering of the record's document (:mod:`commands.record.document`) into files: no Matrix,
no database. Plain HTML and one stylesheet, no JavaScript, no request to anywhere, relative
links only, so it works from a folder (`file://`) and from any static host. Pages:

- `index.html`: the common objectives, which movements endorse each and in whose words (the
  statement item a movement linked to it), and the movements;
- `movements/<slug>.html`: a movement's core statement now and its history, each change shown
  word by word;
- `decisions.html`: the alliance's agreements and its decision log (proposals with each
  movement's position, statement changes and endorsements, with dates and outcomes).

Only what was made public: nothing unless the commons said `!alliance set public yes`; a
movement that said `!rules set public no` appears by name only; reasons for blocking only for
movements that said `!rules set reasons public`. No person is named: movements speak.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import jinja2

from bot.contract import CommandError
from bot.render import templates_dir
from commands.alliance.thresholds import ThresholdError, parse_threshold
from commands.council.rules import word_diff
from commands.record.document import ms

PAGES: Final = ("index.html", "decisions.html")
STYLESHEET: Final = "style.css"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir() / "site"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def site_files(document: Mapping[str, Any], *, published_at: int, tz: ZoneInfo) -> dict[str, bytes]:
    """Every file of the site, by its path relative to the site's folder."""
    alliance = document["alliance"]
    if not alliance["settings"]["public"]:
        raise CommandError("record.not_public", alliance=alliance["name"])

    def when(text: str | None) -> str:
        at = ms(text)
        if at is None:
            return ""
        local = datetime.fromtimestamp(at / 1000, UTC).astimezone(tz)
        return f"{local.day} {local:%B %Y}"

    movements = [_movement(m, alliance) for m in document["movements"]]
    by_slug = {m["slug"]: m for m in movements}
    active = [m for m in movements if m["status"] == "active"]
    objectives = [
        _objective(o, by_slug, len(active), alliance["threshold"]) for o in document["objectives"]
    ]
    data = {
        "alliance": alliance["name"],
        "published": when(_iso(published_at)),
        "objectives": objectives,
        "movements": active,
        "former": [m for m in movements if m["status"] == "left"],
        "agreements": [p for p in _proposals(document, by_slug) if p["passed"]],
        "proposals": _proposals(document, by_slug),
        "log": _log(document, by_slug),
        "when": when,
    }
    env = _environment()
    files: dict[str, bytes] = {}
    for page in PAGES:
        files[page] = env.get_template(page).render(**data, root="").encode()
    for movement in active:
        files[f"movements/{movement['slug']}.html"] = (
            env.get_template("movement.html").render(**data, movement=movement, root="../").encode()
        )
    files[STYLESHEET] = (templates_dir() / "site" / STYLESHEET).read_bytes()
    return files


def _iso(ms_: int) -> str:
    return datetime.fromtimestamp(ms_ / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ms_ % 1000:03d}Z"
    )


def _movement(m: Mapping[str, Any], alliance: Mapping[str, Any]) -> dict[str, Any]:
    public = m["public"] if m["public"] is not None else alliance["settings"]["public"]
    statement = m["statement"]
    history = []
    for v in reversed(statement["versions"]):
        diff = None
        if v["change"] == "amend" and v["previous_text"] and v["text"]:
            diff = word_diff(v["previous_text"], v["text"])
        history.append(
            {
                "version": v["version"],
                "change": v["change"],
                "item": v["item"],
                "text": v["text"] or v["previous_text"],
                "diff": diff,
                "decided_at": v["decided_at"],
                "tally": v["poll"]["tally"],
            }
        )
    return {
        "name": m["name"],
        "slug": m["slug"],
        "status": m["status"],
        "public": bool(public),
        "reasons": bool(m["public_reasons"]),
        "joined": next((c["at"] for c in m["consent"] if c["what"] == "approved"), None),
        "lines": statement["items"] if public else [],
        "version": statement["version"],
        "history": history if public else [],
    }


def _objective(
    o: Mapping[str, Any], movements: Mapping[str, Any], active: int, threshold: str
) -> dict[str, Any]:
    latest: dict[str, Mapping[str, Any]] = {}
    for stance in o["stances"]:
        if stance["state"] != "pending":
            latest[stance["movement"]] = stance
    wordings = {w["movement"]: w["item"] for w in o["wordings"] if w["item"] is not None}
    endorsing = []
    for slug, stance in sorted(latest.items()):
        movement = movements.get(slug)
        if stance["state"] != "endorsed" or movement is None or movement["status"] != "active":
            continue
        item = wordings.get(slug)
        words = None
        if movement["public"] and item is not None and item <= len(movement["lines"]):
            words = movement["lines"][item - 1]["text"]
        endorsing.append({"name": movement["name"], "slug": slug, "words": words})
    try:
        common = parse_threshold(threshold).is_met(len(endorsing), active)
    except ThresholdError:
        common = False
    return {
        "number": o["number"],
        "text": o["text"],
        "endorsing": endorsing,
        "common": common,
        "active": active,
    }


def _proposals(document: Mapping[str, Any], movements: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    for p in document["proposals"]:
        latest = p["rounds"][-1]
        positions = []
        for s in latest["positions"]:
            movement = movements.get(s["slug"] or "")
            reasons = []
            if movement is not None and movement["reasons"]:
                reasons = [r["text"] for r in s["reasons"] if r["text"] and r["choice"] == "block"]
            positions.append(
                {"movement": s["movement"], "position": s["position"], "reasons": reasons}
            )
        found.append(
            {
                "number": p["number"],
                "text": latest["text"],
                "round": latest["round"],
                "opened_at": latest["opened_at"],
                "closed_at": latest["closed_at"],
                "passed": latest["outcome"] == "passed",
                "open": latest["closed_at"] is None,
                "outcome": None if p["outcome"] is None else p["outcome"]["text"],
                "positions": positions,
            }
        )
    return found


def _log(document: Mapping[str, Any], movements: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The movements' decisions for the alliance, newest first: statement changes (of public
    statements) and endorsements."""
    entries: list[dict[str, Any]] = []
    for m in document["movements"]:
        movement = movements[m["slug"]]
        if not movement["public"]:
            continue
        for v in m["statement"]["versions"]:
            entries.append(
                {
                    "at": v["decided_at"],
                    "movement": movement["name"],
                    "kind": v["change"],
                    "item": v["item"],
                    "reasons": [],
                }
            )
    for o in document["objectives"]:
        for s in o["stances"]:
            movement = movements.get(s["movement"])
            if s["state"] == "pending" or movement is None or s["decided_at"] is None:
                continue
            reasons = s["block_reasons"] if movement["reasons"] else []
            entries.append(
                {
                    "at": s["decided_at"],
                    "movement": movement["name"],
                    "kind": s["state"],
                    "objective": o["number"],
                    "reasons": [r for r in reasons if r],
                }
            )
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries
