"""Re-create an alliance's record from its document (`multilogue import`), in another bot's data.

Everything the document holds is written in one transaction, so an import either happens whole
or not at all; exporting the imported alliance again gives the same document. The polls behind
the record ran in the old bot: their rule, close and tally are kept in `record_polls`.

What the new bot does not take over: polls still open in the old bot (an open proposal round is
imported open; its movements give their positions through their spokes, or it closes at its
deadline without them), and the old bot's copies of shared threads (the new bot posts its own
first message in each room once it is there, and relays from then on).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.contract import CommandError
from bot.store import Store
from commands.alliance.names import name_key, text_key
from commands.alliance.store import space_key_for
from commands.record.document import SCHEMA_VERSION, TALLY, ms


@dataclass(frozen=True)
class Imported:
    alliance: str
    rooms: list[str]
    """Every room the new bot must be in: the commons, the space, each active movement's."""


async def import_alliance(store: Store, document: Mapping[str, Any]) -> Imported:
    """Write `document` into `store`; refused (`CommandError`) when its alliance, commons room or
    slug is there already, or when the document is not one this version reads."""
    if document.get("schema_version") != SCHEMA_VERSION:
        raise CommandError("record.schema")
    alliance = document["alliance"]
    taken = await store.fetch_one(
        "SELECT name FROM alliances WHERE commons_room_id = ? OR slug = ? OR name_key = ?",
        (alliance["commons_room_id"], alliance["slug"], name_key(alliance["name"])),
    )
    if taken is not None:
        raise CommandError("record.exists", alliance=str(taken[0]))
    async with store.transaction() as db:
        writer = _Writer(db)
        alliance_id = await writer.alliance(alliance)
        movements = {}
        for movement in document["movements"]:
            movements[movement["slug"]] = await writer.movement(alliance_id, movement)
        for objective in document["objectives"]:
            await writer.objective(alliance_id, objective, movements)
        for proposal in document["proposals"]:
            await writer.proposal(alliance_id, proposal, movements)
        for thread in document["shared_threads"]:
            await writer.thread(alliance_id, thread, movements)
    rooms = [alliance["commons_room_id"]]
    if alliance["space_id"]:
        rooms.append(alliance["space_id"])
    rooms += [m["room_id"] for m in document["movements"] if m["status"] == "active"]
    return Imported(alliance["name"], rooms)


def _consent(movement: Mapping[str, Any], *whats: str) -> Mapping[str, Any] | None:
    return next((c for c in movement["consent"] if c["what"] in whats), None)


class _Writer:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self.room_movements: dict[str, int] = {}
        self.live_items: dict[str, list[int]] = {}  # by room: its statement's items, in order
        self.room_slugs: dict[str, str] = {}

    async def insert(self, sql: str, params: tuple[Any, ...]) -> int:
        cursor = await self.db.execute(sql, params)
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def alliance(self, a: Mapping[str, Any]) -> int:
        alliance_id = await self.insert(
            "INSERT INTO alliances (name, name_key, slug, commons_room_id, space_key, space_id,"
            " threshold, created_by, created_at, command_event_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a["name"],
                name_key(a["name"]),
                a["slug"],
                a["commons_room_id"],
                space_key_for(a["event_id"]),
                a["space_id"],
                a["threshold"],
                a["created_by"],
                ms(a["created_at"]),
                a["event_id"],
            ),
        )
        settings = a["settings"]
        if settings["decision_rule"] is not None or settings["proposers"] is not None:
            await self.db.execute(
                "INSERT INTO council_settings (alliance_id, rule, proposers) VALUES (?, ?, ?)",
                (alliance_id, settings["decision_rule"], settings["proposers"]),
            )
        if settings["public"]:
            await self.db.execute(
                "INSERT INTO record_settings (alliance_id, public, set_by, set_at)"
                " VALUES (?, 1, ?, ?)",
                (alliance_id, a["created_by"], ms(a["created_at"])),
            )
        return alliance_id

    async def movement(self, alliance_id: int, m: Mapping[str, Any]) -> int:
        asked = _consent(m, "asked")
        decided = _consent(m, "approved", "refused")
        gone = _consent(m, "left", "removed")
        if asked is None:
            raise CommandError("record.damaged", movement=m["name"])
        movement_id = await self.insert(
            "INSERT INTO movements (alliance_id, room_id, name, name_key, slug, status,"
            " requested_by, requested_at, request_event_id, decided_by, decided_at,"
            " decided_event_id, left_by, left_at, left_event_id, removed_reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alliance_id,
                m["room_id"],
                m["name"],
                name_key(m["name"]),
                m["slug"],
                m["status"],
                asked["by"],
                ms(asked["at"]),
                asked["event_id"],
                decided and decided["by"],
                decided and ms(decided["at"]),
                decided and decided["event_id"],
                gone and gone["by"],
                gone and ms(gone["at"]),
                gone and gone["event_id"],
                gone and gone.get("reason"),
            ),
        )
        self.room_movements[m["room_id"]] = movement_id
        self.room_slugs[m["room_id"]] = m["slug"]
        if m["public"] is not None or m["public_reasons"]:
            await self.db.execute(
                "INSERT INTO record_rooms (room_id, public, block_reasons, set_by, set_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (room_id) DO NOTHING",
                (m["room_id"], m["public"], m["public_reasons"], asked["by"], ms(asked["at"])),
            )
        await self.statement(m["room_id"], m["statement"])
        return movement_id

    async def poll(self, key: str, poll: Mapping[str, Any]) -> None:
        tally = poll["tally"]
        await self.db.execute(
            "INSERT INTO record_polls (poll_key, room_id, event_id, rule, closed_at, tally)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (poll_key) DO NOTHING",
            (
                key,
                poll["room_id"],
                poll["event_id"],
                poll["rule"],
                ms(poll["closed_at"]),
                None if tally is None else json.dumps({k: tally[k] for k in TALLY}),
            ),
        )

    async def statement(self, room_id: str, statement: Mapping[str, Any]) -> None:
        """Replay the versions: each adds, rewords or drops the item at its number."""
        live = self.live_items.setdefault(room_id, [])
        texts: dict[int, str] = {}
        for v in statement["versions"]:
            key = _poll_key(v["poll"], f"statement:{room_id}:{v['version']}")
            await self.poll(key, v["poll"])
            if v["change"] == "add":
                item_id = await self.insert(
                    "INSERT INTO statement_items (room_id, text, added_version, changed_version)"
                    " VALUES (?, ?, ?, ?)",
                    (room_id, v["text"], v["version"], v["version"]),
                )
                live.append(item_id)
            else:
                if not 0 < v["item"] <= len(live):
                    raise CommandError("record.damaged", movement=room_id)
                item_id = live[v["item"] - 1]
                if v["change"] == "amend":
                    await self.db.execute(
                        "UPDATE statement_items SET text = ?, changed_version = ? WHERE id = ?",
                        (v["text"], v["version"], item_id),
                    )
                else:
                    await self.db.execute(
                        "UPDATE statement_items SET dropped_version = ? WHERE id = ?",
                        (v["version"], item_id),
                    )
                    live.remove(item_id)
            texts[item_id] = v["text"] or texts.get(item_id, "")
            await self.db.execute(
                "INSERT INTO statement_versions (room_id, version, change, item_id, item_number,"
                " text, previous_text, poll_key, poll_id, poll_room_id, poll_event_id,"
                " decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
                (
                    room_id,
                    v["version"],
                    v["change"],
                    item_id,
                    v["item"],
                    v["text"],
                    v["previous_text"],
                    key,
                    v["poll"]["room_id"],
                    v["poll"]["event_id"],
                    ms(v["decided_at"]),
                ),
            )

    async def objective(
        self, alliance_id: int, o: Mapping[str, Any], movements: Mapping[str, int]
    ) -> None:
        rooms = {slug: room for room, slug in self.room_slugs.items()}
        wordings = [(w, rooms.get(w["movement"])) for w in o["wordings"] if w["item"] is not None]
        objective_id = await self.insert(
            "INSERT INTO objectives (alliance_id, number, text, text_key, proposed_by,"
            " proposed_at, command_event_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                alliance_id,
                o["number"],
                o["text"],
                text_key(o["text"]),
                o["proposed_by"],
                ms(o["proposed_at"]),
                o["event_id"],
            ),
        )
        for w, room in wordings:
            items = self.live_items.get(room or "", [])
            if room is None or not 0 < w["item"] <= len(items):
                raise CommandError("record.damaged", movement=w["movement"])
            await self.db.execute(
                "INSERT INTO statement_links (item_id, objective_id, room_id, linked_by, linked_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (items[w["item"] - 1], objective_id, room, w["linked_by"], ms(w["linked_at"])),
            )
        for n, s in enumerate(o["stances"]):
            key = _poll_key(s["poll"], f"stance:{alliance_id}:{o['number']}:{n}")
            await self.poll(key, s["poll"])
            tally = s["tally"]
            await self.db.execute(
                "INSERT INTO stances (movement_id, objective_id, state, poll_key, poll_id,"
                " poll_room_id, poll_event_id, opened_at, decided_at, agree, reservations,"
                " stand_aside, block, reason, block_reasons, command_event_id, to_announce)"
                " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    movements[s["movement"]],
                    objective_id,
                    s["state"],
                    key,
                    s["poll"]["room_id"],
                    s["poll"]["event_id"],
                    ms(s["opened_at"]),
                    ms(s["decided_at"]),
                    *(None if tally is None else tally[k] for k in TALLY),
                    s["reason"],
                    json.dumps(s["block_reasons"]) if s["block_reasons"] else None,
                    s["event_id"],
                ),
            )

    async def proposal(
        self, alliance_id: int, p: Mapping[str, Any], movements: Mapping[str, int]
    ) -> None:
        proposal_id = await self.insert(
            "INSERT INTO council_proposals (alliance_id, number, commons_room_id, proposer,"
            " command_event_id, created_at, root_event_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                alliance_id,
                p["number"],
                p["commons_room_id"],
                p["proposer"],
                p["event_id"],
                ms(p["created_at"]),
                p["root_event_id"],
            ),
        )
        written = p["outcome"]
        if written is not None:
            # Its review, if one is due, is held by this bot (once, as ever).
            await self.db.execute(
                "INSERT INTO council_outcomes (proposal_id, text, written_by, written_at,"
                " review_at) VALUES (?, ?, ?, ?, ?)",
                (
                    proposal_id,
                    written["text"],
                    written["written_by"],
                    ms(written["written_at"]),
                    ms(written["review_at"]),
                ),
            )
        for r in p["rounds"]:
            closed_at = ms(r["closed_at"])
            round_id = await self.insert(
                "INSERT INTO council_rounds (proposal_id, round, text, rule, opened_by,"
                " command_event_id, opened_at, closes_at, opened_event_id, closed_at,"
                " closed_via, closed_by, outcome, announced_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
                (
                    proposal_id,
                    r["round"],
                    r["text"],
                    r["rule"],
                    r["opened_by"],
                    r["event_id"],
                    ms(r["opened_at"]),
                    ms(r["closes_at"]),
                    closed_at,
                    r["closed_via"],
                    r["closed_by"],
                    r["outcome"],
                    closed_at,  # announced by the old bot
                ),
            )
            for s in r["positions"]:
                # Asked, reminded and told by the old bot: the new one posts none of it again.
                opened = ms(r["opened_at"])
                await self.db.execute(
                    "INSERT INTO council_seats (round_id, movement_id, movement_name, room_id,"
                    " poll_id, asked_at, tried_at, position, reasons, voters, given_by,"
                    " given_by_user, decided_at, told_at, reminded_at)"
                    " VALUES (?, ?, ?, ?, NULL, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        round_id,
                        self.room_movements.get(s["room_id"], movements.get(s["slug"] or "", 0)),
                        s["movement"],
                        s["room_id"],
                        opened,
                        s["position"],
                        json.dumps(s["reasons"]),
                        s["voters"],
                        s["given_by"],
                        s["given_by_user"],
                        ms(s["decided_at"]),
                        closed_at,
                        opened,
                    ),
                )

    async def thread(
        self, alliance_id: int, t: Mapping[str, Any], movements: Mapping[str, int]
    ) -> None:
        shared_id = await self.insert(
            "INSERT INTO shared_threads (alliance_id, number, origin_room_id,"
            " origin_root_event_id, title, root_sender, shared_by, shared_at, command_event_id,"
            " allow_unencrypted, status, stopped_by, stopped_at, last_activity)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alliance_id,
                t["number"],
                t["origin_room_id"],
                t["root_event_id"],
                t["title"],
                t["author"],
                t["shared_by"],
                ms(t["shared_at"]),
                t["event_id"],
                t["allow_unencrypted"],
                t["status"],
                t["stopped_by"],
                ms(t["stopped_at"]),
                ms(t["shared_at"]),
            ),
        )
        for n, link in enumerate(t["rooms"]):
            origin = link["role"] == "origin"
            await self.db.execute(
                "INSERT INTO thread_links (shared_id, room_id, role, movement_id, root_event_id,"
                " status, added_by, added_at, command_event_id, stopped_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    shared_id,
                    link["room_id"],
                    link["role"],
                    self.room_movements.get(link["room_id"]),
                    t["root_event_id"] if origin else None,
                    link["status"],
                    link["added_by"],
                    ms(link["added_at"]),
                    f"import:{t['event_id']}:{n}",
                    ms(link["stopped_at"]),
                ),
            )


def _poll_key(poll: Mapping[str, Any], fallback: str) -> str:
    return f"event:{poll['event_id']}" if poll["event_id"] else f"import:{fallback}"
