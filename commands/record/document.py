"""An alliance's record as one JSON document (`schema_version` 1, `commands/record/schema.json`).

The document is what an alliance has decided and who consented to what, in a form that outlives
the bot: the alliance, its commons and space; each movement with its room, status and every
consent event (asked, approved or refused, left or removed: who, when, by which event); each
movement's core statement with every version and the poll that ratified it (its rule, close and
tally); the common objectives with every stance and its poll; the alliance's proposals with
every round and each movement's position; and the shared threads' metadata (never their
messages). Matrix ids stay Matrix ids; the bot's own row ids never appear, so a document
imported into another bot exports the same again. Times are UTC, ISO 8601 with milliseconds.

Nothing beyond the record itself: no message of any room, no private data of a person beyond
the Matrix ids the record names.

This module reads, and :mod:`commands.record.importing` writes, the tables of the alliance
(0003, 0008), council (0011) and relay (0004) families and the polls that decided things
(0002): the record is a view across them, like a backup is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from bot.contract import CommandError
from bot.store import Store

SCHEMA_VERSION: Final = 1
TALLY: Final = ("agree", "reservations", "stand_aside", "block")


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ms % 1000:03d}Z"
    )


def ms(text: str | None) -> int | None:
    if text is None:
        return None
    when = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(when.timestamp() * 1000 + 0.5)


def _json_list(text: str | None) -> list[Any]:
    return list(json.loads(text)) if text else []


async def export_alliance(store: Store, alliance_id: int) -> dict[str, Any]:
    """The record of one alliance, as the document (a JSON-ready dict, keys in a fixed order)."""
    row = await store.fetch_one(
        "SELECT name, slug, commons_room_id, space_id, threshold, created_by, created_at,"
        " command_event_id FROM alliances WHERE id = ?",
        (alliance_id,),
    )
    if row is None:
        raise CommandError("record.no_alliance")
    polls = _Polls(store)
    movements = await _movements(store, alliance_id, polls)
    slugs = {m["room_id"]: m["slug"] for m in movements}
    return {
        "schema_version": SCHEMA_VERSION,
        "alliance": {
            "name": row[0],
            "slug": row[1],
            "commons_room_id": row[2],
            "space_id": row[3],
            "threshold": row[4],
            "created_by": row[5],
            "created_at": iso(row[6]),
            "event_id": row[7],
            "settings": await _settings(store, alliance_id),
        },
        "movements": movements,
        "objectives": await _objectives(store, alliance_id, polls),
        "proposals": await _proposals(store, alliance_id, slugs),
        "shared_threads": await _threads(store, alliance_id, slugs),
    }


async def _settings(store: Store, alliance_id: int) -> dict[str, Any]:
    row = await store.fetch_one(
        "SELECT rule, proposers FROM council_settings WHERE alliance_id = ?", (alliance_id,)
    )
    public = await store.fetch_one(
        "SELECT public FROM record_settings WHERE alliance_id = ?", (alliance_id,)
    )
    return {
        "decision_rule": row[0] if row else None,
        "proposers": row[1] if row else None,
        "public": bool(public[0]) if public else False,
    }


class _Polls:
    """The consensus polls that decided things: the bot's own (`polls`), or ones it imported."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def view(self, key: str, room_id: str, event_id: str | None) -> dict[str, Any]:
        rule = closed_at = counts = None
        if key.startswith("poll:"):
            row = await self.store.fetch_one(
                "SELECT rule, closed_at, result, start_event_id FROM polls WHERE id = ?",
                (int(key.removeprefix("poll:")),),
            )
            if row is not None:
                rule, closed_at = row[0], row[1]
                counts = json.loads(row[2]).get("counts") if row[2] else None
                event_id = event_id or row[3]
        else:
            row = await self.store.fetch_one(
                "SELECT rule, closed_at, tally FROM record_polls WHERE poll_key = ?", (key,)
            )
            if row is not None:
                rule, closed_at = row[0], row[1]
                counts = json.loads(row[2]) if row[2] else None
        return {
            "room_id": room_id,
            "event_id": event_id,
            "rule": rule,
            "closed_at": iso(closed_at),
            "tally": None if counts is None else {k: int(counts.get(k, 0)) for k in TALLY},
        }


def _key(poll_id: int | None, event_id: str | None) -> str:
    return f"poll:{poll_id}" if poll_id is not None else f"event:{event_id}"


async def _movements(store: Store, alliance_id: int, polls: _Polls) -> list[dict[str, Any]]:
    rows = await store.fetch_all(
        "SELECT room_id, name, slug, status, requested_by, requested_at, request_event_id,"
        " decided_by, decided_at, decided_event_id, left_by, left_at, left_event_id,"
        " removed_reason FROM movements WHERE alliance_id = ? ORDER BY requested_at, id",
        (alliance_id,),
    )
    found = []
    for r in rows:
        consent = [{"what": "asked", "by": r[4], "at": iso(r[5]), "event_id": r[6]}]
        if r[8] is not None:
            what = "refused" if r[3] == "rejected" else "approved"
            consent.append({"what": what, "by": r[7], "at": iso(r[8]), "event_id": r[9]})
        if r[11] is not None:
            what = "removed" if r[13] is not None else "left"
            entry = {"what": what, "by": r[10], "at": iso(r[11]), "event_id": r[12]}
            if r[13] is not None:
                entry["reason"] = r[13]
            consent.append(entry)
        found.append(
            {
                "name": r[1],
                "slug": r[2],
                "room_id": r[0],
                "status": r[3],
                "consent": consent,
                **await _room_public(store, r[0]),
                "statement": await _statement(store, r[0], polls),
            }
        )
    return found


async def _room_public(store: Store, room_id: str) -> dict[str, Any]:
    """Whether the movement publishes its statement (None: as the alliance does) and the reasons
    its members gave for blocking."""
    row = await store.fetch_one(
        "SELECT public, block_reasons FROM record_rooms WHERE room_id = ?", (room_id,)
    )
    return {
        "public": None if row is None or row[0] is None else bool(row[0]),
        "public_reasons": bool(row[1]) if row is not None else False,
    }


async def _statement(store: Store, room_id: str, polls: _Polls) -> dict[str, Any]:
    rows = await store.fetch_all(
        "SELECT version, change, item_number, text, previous_text, poll_id, poll_room_id,"
        " poll_event_id, decided_at, poll_key FROM statement_versions WHERE room_id = ?"
        " ORDER BY version",
        (room_id,),
    )
    versions = [
        {
            "version": r[0],
            "change": r[1],
            "item": r[2],
            "text": r[3],
            "previous_text": r[4],
            "decided_at": iso(r[8]),
            "poll": await polls.view(r[9], r[6], r[7]),
        }
        for r in rows
    ]
    items = await store.fetch_all(
        "SELECT text, changed_version FROM statement_items WHERE room_id = ?"
        " AND dropped_version IS NULL ORDER BY id",
        (room_id,),
    )
    return {
        "version": versions[-1]["version"] if versions else 0,
        "items": [{"number": n, "text": t, "version": v} for n, (t, v) in enumerate(items, 1)],
        "versions": versions,
    }


async def _objectives(store: Store, alliance_id: int, polls: _Polls) -> list[dict[str, Any]]:
    objectives = await store.fetch_all(
        "SELECT id, number, text, proposed_by, proposed_at, command_event_id FROM objectives"
        " WHERE alliance_id = ? ORDER BY number",
        (alliance_id,),
    )
    found = []
    for o in objectives:
        stances = await store.fetch_all(
            "SELECT m.slug, s.state, s.opened_at, s.decided_at, s.agree, s.reservations,"
            " s.stand_aside, s.block, s.reason, s.block_reasons, s.poll_key, s.poll_room_id,"
            " s.poll_event_id, s.command_event_id FROM stances s"
            " JOIN movements m ON m.id = s.movement_id WHERE s.objective_id = ? ORDER BY s.id",
            (o[0],),
        )
        wordings = await store.fetch_all(
            "SELECT m.slug, l.item_id, l.room_id, l.linked_by, l.linked_at FROM statement_links l"
            " JOIN movements m ON m.room_id = l.room_id AND m.alliance_id = ?"
            " WHERE l.objective_id = ? ORDER BY m.slug",
            (alliance_id, o[0]),
        )
        found.append(
            {
                "number": o[1],
                "text": o[2],
                "proposed_by": o[3],
                "proposed_at": iso(o[4]),
                "event_id": o[5],
                "wordings": [
                    {
                        "movement": w[0],
                        "item": await _item_number(store, w[2], w[1]),
                        "linked_by": w[3],
                        "linked_at": iso(w[4]),
                    }
                    for w in wordings
                ],
                "stances": [
                    {
                        "movement": s[0],
                        "state": s[1],
                        "opened_at": iso(s[2]),
                        "decided_at": iso(s[3]),
                        "tally": None if s[4] is None else dict(zip(TALLY, s[4:8], strict=True)),
                        "reason": s[8],
                        "block_reasons": _json_list(s[9]),
                        "event_id": s[13],
                        "poll": await polls.view(s[10], s[11], s[12]),
                    }
                    for s in stances
                ],
            }
        )
    return found


async def _item_number(store: Store, room_id: str, item_id: int) -> int | None:
    """The item's number in the room's statement now (None once dropped)."""
    live = await store.fetch_all(
        "SELECT id FROM statement_items WHERE room_id = ? AND dropped_version IS NULL ORDER BY id",
        (room_id,),
    )
    ids = [row[0] for row in live]
    return ids.index(item_id) + 1 if item_id in ids else None


async def _proposals(store: Store, alliance_id: int, slugs: dict[str, str]) -> list[dict[str, Any]]:
    proposals = await store.fetch_all(
        "SELECT id, number, commons_room_id, proposer, command_event_id, created_at,"
        " root_event_id FROM council_proposals WHERE alliance_id = ? ORDER BY number",
        (alliance_id,),
    )
    found = []
    for p in proposals:
        rounds = await store.fetch_all(
            "SELECT id, round, text, rule, opened_by, command_event_id, opened_at, closes_at,"
            " closed_at, closed_via, closed_by, outcome FROM council_rounds"
            " WHERE proposal_id = ? ORDER BY round",
            (p[0],),
        )
        written = await store.fetch_one(
            "SELECT text, written_by, written_at, review_at FROM council_outcomes"
            " WHERE proposal_id = ?",
            (p[0],),
        )
        found.append(
            {
                "number": p[1],
                "outcome": None
                if written is None
                else {
                    "text": written[0],
                    "written_by": written[1],
                    "written_at": iso(written[2]),
                    "review_at": iso(written[3]),
                },
                "commons_room_id": p[2],
                "proposer": p[3],
                "event_id": p[4],
                "created_at": iso(p[5]),
                "root_event_id": p[6],
                "rounds": [await _round(store, r, slugs) for r in rounds],
            }
        )
    return found


async def _round(store: Store, r: Sequence[Any], slugs: dict[str, str]) -> dict[str, Any]:
    seats = await store.fetch_all(
        "SELECT movement_name, room_id, position, reasons, voters, given_by, given_by_user,"
        " decided_at FROM council_seats WHERE round_id = ? ORDER BY movement_name, room_id",
        (r[0],),
    )
    return {
        "round": r[1],
        "text": r[2],
        "rule": r[3],
        "opened_by": r[4],
        "event_id": r[5],
        "opened_at": iso(r[6]),
        "closes_at": iso(r[7]),
        "closed_at": iso(r[8]),
        "closed_via": r[9],
        "closed_by": r[10],
        "outcome": r[11],
        "positions": [
            {
                "movement": s[0],
                "slug": slugs.get(s[1]),
                "room_id": s[1],
                "position": s[2],
                "reasons": _json_list(s[3]),
                "voters": s[4],
                "given_by": s[5],
                "given_by_user": s[6],
                "decided_at": iso(s[7]),
            }
            for s in seats
        ],
    }


async def _threads(store: Store, alliance_id: int, slugs: dict[str, str]) -> list[dict[str, Any]]:
    threads = await store.fetch_all(
        "SELECT id, number, origin_room_id, origin_root_event_id, title, root_sender, shared_by,"
        " shared_at, command_event_id, allow_unencrypted, status, stopped_by, stopped_at"
        " FROM shared_threads WHERE alliance_id = ? ORDER BY number",
        (alliance_id,),
    )
    found = []
    for t in threads:
        links = await store.fetch_all(
            "SELECT room_id, role, status, added_by, added_at, stopped_at FROM thread_links"
            " WHERE shared_id = ? ORDER BY added_at, room_id",
            (t[0],),
        )
        found.append(
            {
                "number": t[1],
                "origin_room_id": t[2],
                "origin_movement": slugs.get(t[2]),
                "root_event_id": t[3],
                "title": t[4],
                "author": t[5],
                "shared_by": t[6],
                "shared_at": iso(t[7]),
                "event_id": t[8],
                "allow_unencrypted": bool(t[9]),
                "status": t[10],
                "stopped_by": t[11],
                "stopped_at": iso(t[12]),
                "rooms": [
                    {
                        "room_id": link[0],
                        "role": link[1],
                        "status": link[2],
                        "added_by": link[3],
                        "added_at": iso(link[4]),
                        "stopped_at": iso(link[5]),
                    }
                    for link in links
                ],
            }
        )
    return found
