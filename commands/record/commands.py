"""`!record export` and the settings of what is public.

- `!record export` (commons moderators): the alliance's record as a JSON file in the commons
  (encrypted when the commons is), the same document as `multilogue export`.
- `!alliance set public yes|no` (commons moderators; default no): whether the operator may
  publish the alliance's platform (`multilogue publish` refuses otherwise).
- `!rules set public yes|no|alliance` (a movement's moderators): whether its statement is on the
  published page (`alliance`, the default: as the alliance decides).
- `!rules set reasons public|private`: whether the reasons its members gave for blocking are
  published (default private).
"""

from __future__ import annotations

import json
from typing import Final

from bot.contract import Args, CommandError, Context, Reply, Services, Words, short
from bot.ids import RoomID, UserID
from bot.permissions import Power
from commands.alliance.shared import commons_alliance, words_stay_in
from commands.alliance.store import Alliance, movements_of, movements_of_room
from commands.record import store
from commands.record.document import export_alliance

YES: Final = frozenset({"yes", "on", "true", "public"})
NO: Final = frozenset({"no", "off", "false", "private"})


def document_bytes(document: dict[str, object]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


async def export_command(ctx: Context, args: Args) -> Reply:
    alliance = await commons_alliance(ctx, doing="export")
    if not ctx.room.encrypted:
        # The record holds words written in the movements' rooms (statements, reasons, thread
        # titles): those of an encrypted room stay in encrypted rooms.
        sealed = [
            m.name
            for m in await movements_of(ctx.store, alliance.id)
            if words_stay_in(ctx, m.room_id)
        ]
        if sealed:
            raise CommandError("record.encrypted_words", movements=sealed)
    document = await export_alliance(ctx.store, alliance.id)
    data = document_bytes(document)
    sent = await ctx.services.send_file(
        ctx.event.room_id,
        data,
        filename=f"{alliance.slug}-record.json",
        mimetype="application/json",
        txn_key=f"{ctx.event.event_id}/record",
        answering=ctx.event,
    )
    if sent is None:
        raise CommandError("record.not_posted")
    return Reply(
        "record_exported",
        {
            "alliance": alliance.name,
            "movements": len(document["movements"]),
            "objectives": len(document["objectives"]),
            "proposals": len(document["proposals"]),
            "kilobytes": max(1, round(len(data) / 1024)),
            "encrypted": ctx.room.encrypted,
        },
    )


def _yes_no(value: str, refusal: str) -> bool:
    word = " ".join(value.lower().split())
    if word in YES:
        return True
    if word in NO:
        return False
    raise CommandError(refusal, typed=short(value, 20))


class PublicSetting:
    """`!alliance set public yes|no`."""

    name: Final = "public"

    async def change(self, ctx: Context, alliance: Alliance, value: str) -> Reply:
        if ctx.power < Power.MODERATOR:
            raise CommandError("record.moderators_set")
        public = _yes_no(value, "record.public_is")
        await store.set_alliance_public(
            ctx.store, alliance.id, public, by=UserID(ctx.sender), at=ctx.services.now_ms()
        )
        return Reply("record_public_set", {"alliance": alliance.name, "public": public})

    async def shown(self, services: Services, alliance: Alliance) -> Words:
        return Words(
            "record.public_now",
            {"public": await store.alliance_public(services.store, alliance.id)},
        )


async def _own(ctx: Context) -> None:
    if not any(m.status == "active" for m in await movements_of_room(ctx.store, ctx.event.room_id)):
        raise CommandError("record.not_a_movement")


async def _in_alliance(services: Services, room_id: RoomID) -> bool:
    return any(m.status == "active" for m in await movements_of_room(services.store, room_id))


class RoomPublicSetting:
    """`!rules set public yes|no|alliance`."""

    name: Final = "public"

    async def change(self, ctx: Context, value: str) -> Reply:
        await _own(ctx)
        word = " ".join(value.lower().split())
        follow = word in ("alliance", "default", "follow")
        public = None if follow else _yes_no(value, "record.room_public_is")
        await store.set_room_public(
            ctx.store,
            ctx.event.room_id,
            public=public,
            follow=follow,
            by=UserID(ctx.sender),
            at=ctx.services.now_ms(),
        )
        return Reply("record_room_public_set", {"public": public})

    async def shown(self, services: Services, room_id: RoomID) -> Words | None:
        if not await _in_alliance(services, room_id):
            return None
        return Words(
            "record.room_public_now",
            {"public": (await store.room_public(services.store, room_id)).public},
        )


class ReasonsSetting:
    """`!rules set reasons public|private`."""

    name: Final = "reasons"

    async def change(self, ctx: Context, value: str) -> Reply:
        await _own(ctx)
        reasons = _yes_no(value, "record.reasons_is")
        await store.set_room_public(
            ctx.store,
            ctx.event.room_id,
            reasons=reasons,
            by=UserID(ctx.sender),
            at=ctx.services.now_ms(),
        )
        return Reply("record_reasons_set", {"public": reasons})

    async def shown(self, services: Services, room_id: RoomID) -> Words | None:
        if not await _in_alliance(services, room_id):
            return None
        return Words(
            "record.reasons_now",
            {"public": (await store.room_public(services.store, room_id)).reasons},
        )
