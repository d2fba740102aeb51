"""The alliance's platform as a small static website (`multilogue publish`).

Pure rendering of the record's document (:mod:`commands.record.document`) into files: no Matrix,
no database. Plain HTML and one stylesheet, no JavaScript, no request to anywhere, relative
links only, so it works from a folder (`file://`) and from any static host. Pages:

- `index.html`: the common objectives, which movements endorse each and in whose words (the
  statement item a movement linked to it), and the movements;
- `movements/<slug>.html`: a movement's core statement now and its history, each rewording
  shown word by word;
- `decisions.html`: the alliance's agreements and its decision log (proposals round by round
  with each movement's position, statement changes and endorsements, with dates and outcomes).

Only what was made public: nothing unless the commons said `!alliance set public yes`; a
movement that said `!rules set public no` appears by name only (no statement, no words of its
members); reasons for blocking only of movements that said `!rules set reasons public`. No
person is named: movements speak.

Every word a reader sees is in `templates/site/`, in `{% trans %}` blocks read from the
catalogue of the site's language; this module only chooses what is shown. Times reach the
templates as datetimes in the bot's time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import jinja2

from bot import languages
from bot.contract import CommandError
from bot.render import templates_dir
from commands.alliance.thresholds import ThresholdError, parse_threshold
from commands.council.rules import word_diff
from commands.record.document import ms

FOLDER: Final = "site"
PAGES: Final = ("index.html", "decisions.html")
STYLESHEET: Final = "style.css"
MOVEMENTS: Final = "movements"
"""The folder of the movements' pages (`movements/<slug>.html`)."""

Local = Callable[[str | None], datetime | None]


def _environment(language: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / FOLDER)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    catalogue = languages.translations(language)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = language
    return env


def site_files(
    document: Mapping[str, Any],
    *,
    published_at: datetime,
    tz: ZoneInfo,
    language: str = languages.SOURCE,
) -> dict[str, bytes]:
    """Every file of the site, by its path relative to the site's folder (`/` separated), in
    `language` (one of `bot.languages.SHIPPED`).

    Refused (`CommandError("record.not_public")`) unless the alliance allows a public page."""
    alliance = document["alliance"]
    if not alliance["settings"]["public"]:
        raise CommandError("record.not_public", alliance=alliance["name"])

    def local(text: str | None) -> datetime | None:
        at = ms(text)
        return None if at is None else datetime.fromtimestamp(at / 1000, UTC).astimezone(tz)

    movements = [_movement(m, local) for m in document["movements"]]
    by_slug = {m["slug"]: m for m in movements}
    active = [m for m in movements if m["status"] == "active"]
    proposals = _proposals(document, by_slug, local)
    data = {
        "alliance": alliance["name"],
        "published": published_at.astimezone(tz),
        "objectives": [
            _objective(o, by_slug, len(active), alliance["threshold"])
            for o in document["objectives"]
        ],
        "movements": active,
        "former": [m for m in movements if m["status"] == "left"],
        "agreements": [p for p in proposals if p["passed"]],
        "proposals": proposals,
        "log": _log(document, by_slug, local),
    }
    env = _environment(language)
    files: dict[str, bytes] = {}
    for page in PAGES:
        files[page] = env.get_template(page).render(**data, root="").encode()
    for movement in active:
        page = env.get_template("movement.html").render(**data, movement=movement, root="../")
        files[f"{MOVEMENTS}/{movement['slug']}.html"] = page.encode()
    files[STYLESHEET] = (templates_dir() / FOLDER / STYLESHEET).read_bytes()
    return files


def _movement(m: Mapping[str, Any], local: Local) -> dict[str, Any]:
    # Only called once the alliance is public: a movement that follows it (None) is public.
    public = m["public"] is not False
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
                "decided_at": local(v["decided_at"]),
                "tally": v["poll"]["tally"],
            }
        )
    return {
        "name": m["name"],
        "slug": m["slug"],
        "status": m["status"],
        "public": public,
        # A movement that keeps its statement off the page keeps its members' words off too.
        "reasons": public and bool(m["public_reasons"]),
        "joined": local(next((c["at"] for c in m["consent"] if c["what"] == "approved"), None)),
        "statement": statement["items"] if public else [],
        "version": statement["version"],
        "history": history if public else [],
    }


def _objective(
    o: Mapping[str, Any], movements: Mapping[str, Any], active: int, threshold: str
) -> dict[str, Any]:
    # A movement's stance is its latest decided one (a review poll still open changes nothing).
    latest: dict[str, Mapping[str, Any]] = {}
    for stance in o["stances"]:
        if stance["state"] != "pending":
            latest[stance["movement"]] = stance
    wordings = {w["movement"]: w["item"] for w in o["wordings"] if w["item"] is not None}
    endorsing = []
    for slug, stance in latest.items():
        movement = movements.get(slug)
        if stance["state"] != "endorsed" or movement is None or movement["status"] != "active":
            continue
        item = wordings.get(slug)
        words = None
        if movement["public"] and item is not None and item <= len(movement["statement"]):
            words = movement["statement"][item - 1]["text"]
        endorsing.append({"name": movement["name"], "slug": slug, "item": item, "words": words})
    endorsing.sort(key=lambda e: str(e["name"]).casefold())
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


def _proposals(
    document: Mapping[str, Any], movements: Mapping[str, Any], local: Local
) -> list[dict[str, Any]]:
    found = []
    for p in document["proposals"]:
        rounds = []
        previous = None
        for r in p["rounds"]:
            positions = []
            for s in r["positions"]:
                movement = movements.get(s["slug"] or "")
                reasons = []
                if movement is not None and movement["reasons"]:
                    reasons = [
                        t["text"] for t in s["reasons"] if t["text"] and t["choice"] == "block"
                    ]
                page = movement is not None and movement["status"] == "active"
                positions.append(
                    {
                        "movement": s["movement"],
                        "slug": s["slug"] if page else None,
                        "position": s["position"],
                        "reasons": reasons,
                    }
                )
            rounds.append(
                {
                    "round": r["round"],
                    "text": r["text"],
                    "diff": None if previous is None else word_diff(previous, r["text"]),
                    "opened_at": local(r["opened_at"]),
                    "closed_at": local(r["closed_at"]),
                    "outcome": r["outcome"],
                    "positions": positions,
                }
            )
            previous = r["text"]
        latest = rounds[-1]
        found.append(
            {
                "number": p["number"],
                "text": latest["text"],
                "rounds": rounds,
                "closed_at": latest["closed_at"],
                "passed": latest["outcome"] == "passed",
                "outcome": None if p["outcome"] is None else p["outcome"]["text"],
            }
        )
    return found


def _log(
    document: Mapping[str, Any], movements: Mapping[str, Any], local: Local
) -> list[dict[str, Any]]:
    """What the movements decided for the alliance, newest first: the changes to the statements
    on the page, and the stances on objectives (of movements that are or were in it)."""
    entries: list[dict[str, Any]] = []
    for m in document["movements"]:
        movement = movements[m["slug"]]
        if not movement["public"] or movement["status"] != "active":
            continue
        for v in m["statement"]["versions"]:
            entries.append(
                {
                    "at": local(v["decided_at"]),
                    "movement": movement,
                    "kind": v["change"],
                    "item": v["item"],
                    "tally": v["poll"]["tally"],
                    "reasons": [],
                }
            )
    for o in document["objectives"]:
        for s in o["stances"]:
            movement = movements.get(s["movement"])
            if s["state"] == "pending" or s["decided_at"] is None:
                continue
            if movement is None or movement["status"] not in ("active", "left"):
                continue
            reasons = s["block_reasons"] if movement["reasons"] else []
            entries.append(
                {
                    "at": local(s["decided_at"]),
                    "movement": movement,
                    "kind": s["state"],
                    "objective": o["number"],
                    "tally": s["tally"],
                    "reasons": [r for r in reasons if r],
                }
            )
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries
