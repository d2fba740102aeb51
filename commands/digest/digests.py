"""The weekly digest: what happened in an alliance, in one notice a person reads on a phone.

It tells the alliance's proposals opened, closing soon and closed; statements changed (with
what changed, word by word); endorsements decided; new shared threads and the busiest ones;
movements that joined or left; and, openly, the movements that have decided nothing for a long
time (`!alliance set quiet 3m`), so nobody is counted out silently.

- `!alliance set digest weekly [day] [hour]` / `off` (commons moderators): the commons gets it
  each week at that local time (Monday 9:00 unless said). `!rules set digest weekly` / `off`:
  a movement room gets its alliances' digests too, at the same time.
- `!digest [--days N]` shows the same now, for the last 7 days (or N).
- The timer :func:`post_due` posts each week's digest once: its transaction id and its row in
  `digests_sent` come from its slot (the scheduled moment). After downtime only the latest slot
  missed is posted, covering everything since the digest before it.

Words written in an encrypted movement room (its statement, a thread's first words) are not
repeated in a room that is not encrypted: the digest says that something changed, not what.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from bot.contract import Args, CommandError, Context, Reply, Services, Words, short
from bot.ids import RoomID, UserID
from bot.permissions import Power
from commands import polls
from commands.alliance.history import last_decisions, stances_changed, statements_changed
from commands.alliance.shared import read_alliance
from commands.alliance.store import (
    Alliance,
    alliance_by_id,
    movements_of,
    movements_of_room,
)
from commands.council.history import last_positions, rounds_seen
from commands.council.rules import word_diff
from commands.digest import store
from commands.digest.schedule import (
    DAYS,
    WEEK_MS,
    ScheduleError,
    Weekly,
    latest_slot,
    next_slot,
    parse_weekly,
)
from commands.relay.store import SharedThread, shares_of, thread_activity

log = logging.getLogger(__name__)

DAY_MS: Final = 24 * 3600 * 1000
DEFAULT_QUIET_DAYS: Final = 90
SHOWN: Final = 8
"""At most this many entries of each kind (then "and N more"): one notice, readable on a phone."""
BUSIEST: Final = 3
TEXT: Final = 200
"""Texts (proposals, objectives, statement items) are cut to this many characters."""
MAX_DAYS: Final = 92

_T = TypeVar("_T")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _capped(items: Sequence[_T], limit: int = SHOWN) -> tuple[list[_T], int]:
    return list(items[:limit]), max(0, len(items) - limit)


def _stays(services: Services, source: RoomID, reader: RoomID) -> bool:
    """Words written in `source` stay out of `reader` (encrypted to unencrypted)."""
    return (
        source != reader and services.room(source).encrypted and not services.room(reader).encrypted
    )


async def gather(
    services: Services, alliance: Alliance, span: Span, *, reader: RoomID
) -> dict[str, Any]:
    """Everything the digest says about `alliance` in `span`, as read in room `reader`."""
    st = services.store
    rounds = await rounds_seen(st, alliance.id, span.start, span.end, closing_before=span.end)
    soon = span.end + 7 * DAY_MS
    soon_rounds = await rounds_seen(st, alliance.id, span.end, span.end, closing_before=soon)

    def proposal(r: Any) -> dict[str, Any]:
        return {"number": r.number, "round": r.round, "text": short(r.text, TEXT)}

    opened = [proposal(r) for r in rounds if span.start <= r.opened_at < span.end]
    closed = [
        {**proposal(r), "passed": r.outcome == "passed", "written": r.written}
        for r in rounds
        if r.closed_at is not None and span.start <= r.closed_at < span.end
    ]
    closing = [
        {**proposal(r), "closes": polls.local_time(r.closes_at, services)}
        for r in soon_rounds
        if r.closed_at is None and span.end <= r.closes_at
    ]

    statements = []
    for change in await statements_changed(st, alliance.id, span.start, span.end):
        hidden = _stays(services, change.room_id, reader)
        diff = None
        if not hidden and change.change == "amend":
            diff = word_diff(short(change.previous_text or "", 600), short(change.text or "", 600))
        statements.append(
            {
                "movement": change.movement,
                "item": change.item_number,
                "change": change.change,
                "text": None if hidden else short(change.text or change.previous_text or "", 600),
                "diff": diff,
                "hidden": hidden,
            }
        )
    stances = [
        {
            "movement": s.movement,
            "number": s.objective_number,
            "objective": short(s.objective, TEXT),
            "endorsed": s.endorsed,
        }
        for s in await stances_changed(st, alliance.id, span.start, span.end)
    ]

    active = await thread_activity(st, alliance.id, span.start, span.end)
    movements = await movements_of(st, alliance.id)
    names = {m.room_id: m.name for m in movements}

    def thread(shared: SharedThread) -> dict[str, Any]:
        # Its moderator's consent to relay it to unencrypted rooms covers its first words.
        hidden = _stays(services, shared.origin_room_id, reader) and not shared.allow_unencrypted
        return {
            "number": shared.number,
            "title": None if hidden or not shared.title else short(shared.title, 80),
            "origin": names.get(shared.origin_room_id),
        }

    # Every share, also those unshared since: a thread shared that week was new that week.
    shares = await shares_of(st, alliance.id, active_only=False)
    new_threads = [thread(s) for s in shares if span.start <= s.shared_at < span.end]
    busiest = [{**thread(s), "messages": n} for s, n in active[:BUSIEST]]

    joined = [
        m.name
        for m in movements
        if m.status == "active"
        and m.decided_at is not None
        and span.start <= m.decided_at < span.end
    ]
    left = [
        {"movement": m.name, "removed": m.removed_reason is not None}
        for m in movements
        if m.status == "left" and m.left_at is not None and span.start <= m.left_at < span.end
    ]
    stored_days = (await store.alliance_digest(st, alliance.id)).quiet_days
    quiet_days = DEFAULT_QUIET_DAYS if stored_days is None else stored_days
    quiet = await _quiet(services, alliance, movements, span.end, quiet_days)

    lists: dict[str, Sequence[object]] = {
        "opened": opened,
        "closing": closing,
        "closed": closed,
        "statements": statements,
        "stances": stances,
        "new_threads": new_threads,
        "joined": joined,
        "left": left,
        "quiet": quiet,
    }
    view: dict[str, Any] = {
        "alliance": alliance.name,
        "since": polls.local_time(span.start, services),
        "days": max(1, round((span.end - span.start) / DAY_MS)),
        "busiest": busiest,
        "quiet_days": quiet_days,
        "empty": not any(lists.values()) and not busiest,
        "more": {},
    }
    for name, items in lists.items():
        view[name], view["more"][name] = _capped(items)
    return view


async def _quiet(
    services: Services, alliance: Alliance, movements: Sequence[Any], now: int, days: int
) -> list[dict[str, Any]]:
    """Active movements, in the alliance for longer than `days`, with no decision in `days`."""
    if days <= 0:
        return []
    last = await last_decisions(services.store, alliance.id)
    for movement_id, at in (await last_positions(services.store, alliance.id)).items():
        last[movement_id] = max(last.get(movement_id, 0), at)
    since = now - days * DAY_MS
    quiet = []
    for m in movements:
        if m.status != "active" or m.decided_at is None or m.decided_at > since:
            continue
        latest = last.get(m.id)
        if latest is None or latest < since:
            quiet.append(
                {
                    "movement": m.name,
                    "last": None if latest is None else polls.local_time(latest, services),
                }
            )
    return quiet


# -- `!digest` ---------------------------------------------------------------------------------


async def digest_command(ctx: Context, args: Args) -> Reply:
    alliance = await read_alliance(ctx, args.option("alliance"), command="digest")
    typed = args.option("days")
    days = 7
    if typed is not None:
        if not typed.strip().isdigit():
            raise CommandError("digest.days_are", typed=short(typed, 20), most=MAX_DAYS)
        if not 1 <= int(typed) <= MAX_DAYS:
            raise CommandError("digest.days_range", most=MAX_DAYS)
        days = int(typed)
    now = ctx.services.now_ms()
    span = Span(now - days * DAY_MS, now)
    view = await gather(ctx.services, alliance, span, reader=ctx.event.room_id)
    return Reply("digest", {**view, "weekly": False, "days": days})


# -- the timer ---------------------------------------------------------------------------------


async def post_due(services: Services) -> None:
    """Post every digest whose weekly slot has come and is not posted yet (once each)."""
    now = services.now_ms()
    for setting in await store.weekly_alliances(services.store):
        try:
            alliance = await alliance_by_id(services.store, setting.alliance_id)
            if alliance is not None:
                await _post_if_due(
                    services, alliance, alliance.commons_room_id, setting.when, setting.set_at, now
                )
        except Exception:
            log.exception("The digest of alliance %d failed", setting.alliance_id)
    for wanted in await store.weekly_rooms(services.store):
        for movement in await movements_of_room(services.store, wanted.room_id):
            if movement.status != "active" or movement.decided_at is None:
                continue
            try:
                alliance = await alliance_by_id(services.store, movement.alliance_id)
                setting = await store.alliance_digest(services.store, movement.alliance_id)
                since = max(wanted.set_at, movement.decided_at)
                if alliance is not None:
                    await _post_if_due(services, alliance, wanted.room_id, setting.when, since, now)
            except Exception:
                log.exception("The digest of alliance %d in a movement room failed", movement.id)


async def _post_if_due(
    services: Services, alliance: Alliance, room_id: RoomID, when: Weekly, since: int, now: int
) -> None:
    slot = latest_slot(now, services.config.timezone, when)
    if slot <= since:
        return  # switched on after this week's slot: the first digest is the next one
    last = await store.last_sent(services.store, alliance.id, room_id)
    if last is not None and last.slot_at >= slot:
        return
    start = last.covered_to if last is not None else slot - WEEK_MS
    view = await gather(services, alliance, Span(start, now), reader=room_id)
    event_id = await services.notice(
        room_id,
        Reply("digest", {**view, "weekly": True}),
        txn_key=f"digest/{alliance.id}/{room_id}/{slot}",
    )
    if event_id is None:
        log.warning("The digest of alliance %d was refused in a room", alliance.id)
    await store.mark_sent(
        services.store, alliance.id, room_id, slot_at=slot, covered=(start, now), event_id=event_id
    )


# -- settings ----------------------------------------------------------------------------------


def _weekly_view(when: Weekly, services: Services, *, weekly: bool) -> dict[str, Any]:
    return {
        "weekly": weekly,
        "day": Words("digest.day", {"day": DAYS[when.weekday]}),
        "hour": when.hour,
        "next": polls.local_time(
            next_slot(services.now_ms(), services.config.timezone, when), services
        ),
    }


class DigestSetting:
    """`!alliance set digest weekly [day] [hour]` or `off`."""

    name: Final = "digest"

    async def change(self, ctx: Context, alliance: Alliance, value: str) -> Reply:
        if ctx.power < Power.MODERATOR:
            raise CommandError("digest.moderators_set")
        words = value.lower().split()
        now = ctx.services.now_ms()
        current = await store.alliance_digest(ctx.store, alliance.id)
        if words in (["off"], ["no"], ["none"]):
            await store.set_weekly(ctx.store, alliance.id, None, by=UserID(ctx.sender), at=now)
            when, weekly = current.when, False
        elif words and words[0] == "weekly":
            try:
                when = parse_weekly(words[1:], current=current.when)
            except ScheduleError as exc:
                raise CommandError(exc.words.key, **exc.words.data) from None
            await store.set_weekly(ctx.store, alliance.id, when, by=UserID(ctx.sender), at=now)
            weekly = True
        else:
            raise CommandError("digest.setting_is", typed=short(value, 30))
        view = _weekly_view(when, ctx.services, weekly=weekly)
        return Reply(
            "digest_set",
            {
                "alliance": alliance.name,
                "weekly": view["weekly"],
                "day": view["day"],
                "hour": view["hour"],
                "next": view["next"],
            },
        )

    async def shown(self, services: Services, alliance: Alliance) -> Words:
        setting = await store.alliance_digest(services.store, alliance.id)
        return Words("digest.now", _weekly_view(setting.when, services, weekly=setting.weekly))


_QUIET = re.compile(r"(\d{1,3})\s*(d|w|m|y)")
_QUIET_DAYS: Final = {"d": 1, "w": 7, "m": 30, "y": 365}


class QuietSetting:
    """`!alliance set quiet 3m`: after how long without a decision a movement is shown as quiet
    in the digest (`off`: never)."""

    name: Final = "quiet"

    async def change(self, ctx: Context, alliance: Alliance, value: str) -> Reply:
        if ctx.power < Power.MODERATOR:
            raise CommandError("digest.moderators_set")
        typed = " ".join(value.lower().split())
        if typed in ("off", "never", "no"):
            days = 0
        else:
            match = _QUIET.fullmatch(typed)
            if match is None or int(match[1]) == 0:
                raise CommandError("digest.quiet_is", typed=short(value, 20))
            days = int(match[1]) * _QUIET_DAYS[match[2]]
            if not 14 <= days <= 5 * 365:
                raise CommandError("digest.quiet_range")
        await store.set_quiet_days(
            ctx.store, alliance.id, days, by=UserID(ctx.sender), at=ctx.services.now_ms()
        )
        return Reply("digest_quiet_set", {"alliance": alliance.name, "days": days})

    async def shown(self, services: Services, alliance: Alliance) -> Words:
        days = (await store.alliance_digest(services.store, alliance.id)).quiet_days
        return Words("digest.quiet_now", {"days": DEFAULT_QUIET_DAYS if days is None else days})


class RoomDigestSetting:
    """`!rules set digest weekly` / `off`: a movement room gets its alliances' digests too."""

    name: Final = "digest"

    async def change(self, ctx: Context, value: str) -> Reply:
        word = " ".join(value.lower().split())
        if word not in ("weekly", "off", "no", "none"):
            raise CommandError("digest.room_setting_is", typed=short(value, 30))
        movements = [
            m for m in await movements_of_room(ctx.store, ctx.event.room_id) if m.status == "active"
        ]
        if not movements:
            raise CommandError("digest.not_a_movement")
        weekly = word == "weekly"
        await store.set_room_weekly(
            ctx.store, ctx.event.room_id, weekly, by=UserID(ctx.sender), at=ctx.services.now_ms()
        )
        return Reply("digest_room_set", {"weekly": weekly})

    async def shown(self, services: Services, room_id: RoomID) -> Words | None:
        movements = await movements_of_room(services.store, room_id)
        if not any(m.status == "active" for m in movements):
            return None
        setting = await store.room_digest(services.store, room_id)
        return Words("digest.room_now", {"weekly": setting is not None and setting.weekly})
