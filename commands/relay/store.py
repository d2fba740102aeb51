"""Storage for shared threads, the rooms they are linked into and every copy the bot made.

One small typed query per job, returning dataclasses; the tables are made by
`bot/migrations/0004_relay.sql`. No Matrix here and no wording for people:
`commands/relay/commands.py` decides what to do and say.

Exactly once: :func:`claim_copy` records "this original is being copied into that room" before
the send, and the send's transaction id is derived from the same pair. A row is written once and
never replaced, so an original reaches each room at most once, ever; a crash between the claim
and :func:`copy_sent` re-sends with the same transaction id, and the homeserver answers with the
copy it already made.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import aiosqlite

from bot.ids import EventID, RoomID, UserID
from bot.store import Store
from commands.alliance.store import Movement, movement_columns, movement_from

LinkRole = Literal["origin", "commons", "follower"]
CopyKind = Literal["root", "message", "edit", "redaction"]
CopyState = Literal["sending", "sent", "failed"]


class AlreadyShared(Exception):
    """The thread is already shared with this alliance (an active share exists)."""


@dataclass(frozen=True)
class SharedThread:
    id: int
    alliance_id: int
    number: int
    origin_room_id: RoomID
    origin_root_event_id: EventID
    title: str
    root_sender: UserID
    shared_by: UserID
    shared_at: int
    command_event_id: EventID
    allow_unencrypted: bool
    status: Literal["active", "unshared"]
    stopped_by: UserID | None
    stopped_at: int | None
    stopped_event_id: EventID | None
    last_activity: int

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class ThreadLink:
    id: int
    shared_id: int
    room_id: RoomID
    role: LinkRole
    movement_id: int | None
    membership_key: str | None
    """The movement's approval (its `decided_event_id`) when the link was made."""
    root_event_id: EventID | None
    """The thread's root in this room: the original in the origin, the bot's copy elsewhere."""
    allow_unencrypted: bool
    status: Literal["active", "stopped"]
    added_by: UserID
    added_at: int
    command_event_id: EventID
    stopped_by: UserID | None
    stopped_at: int | None
    stopped_event_id: EventID | None

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class Copy:
    source_event_id: EventID
    target_room_id: RoomID
    shared_id: int
    source_room_id: RoomID
    source_sender: UserID
    kind: CopyKind
    copy_event_id: EventID | None
    state: CopyState
    created_at: int


_SHARED = (
    "id, alliance_id, number, origin_room_id, origin_root_event_id, title, root_sender, shared_by,"
    " shared_at, command_event_id, allow_unencrypted, status, stopped_by, stopped_at,"
    " stopped_event_id, last_activity"
)
_LINK = (
    "id, shared_id, room_id, role, movement_id, membership_key, root_event_id, allow_unencrypted,"
    " status, added_by, added_at, command_event_id, stopped_by, stopped_at, stopped_event_id"
)
_COPY = (
    "source_event_id, target_room_id, shared_id, source_room_id, source_sender, kind,"
    " copy_event_id, state, created_at"
)


def _shared(row: Sequence[Any]) -> SharedThread:
    return SharedThread(
        id=int(row[0]),
        alliance_id=int(row[1]),
        number=int(row[2]),
        origin_room_id=RoomID(row[3]),
        origin_root_event_id=EventID(row[4]),
        title=str(row[5]),
        root_sender=UserID(row[6]),
        shared_by=UserID(row[7]),
        shared_at=int(row[8]),
        command_event_id=EventID(row[9]),
        allow_unencrypted=bool(row[10]),
        status=row[11],
        stopped_by=UserID(row[12]) if row[12] else None,
        stopped_at=int(row[13]) if row[13] is not None else None,
        stopped_event_id=EventID(row[14]) if row[14] else None,
        last_activity=int(row[15]),
    )


def _link(row: Sequence[Any]) -> ThreadLink:
    return ThreadLink(
        id=int(row[0]),
        shared_id=int(row[1]),
        room_id=RoomID(row[2]),
        role=row[3],
        movement_id=int(row[4]) if row[4] is not None else None,
        membership_key=str(row[5]) if row[5] is not None else None,
        root_event_id=EventID(row[6]) if row[6] else None,
        allow_unencrypted=bool(row[7]),
        status=row[8],
        added_by=UserID(row[9]),
        added_at=int(row[10]),
        command_event_id=EventID(row[11]),
        stopped_by=UserID(row[12]) if row[12] else None,
        stopped_at=int(row[13]) if row[13] is not None else None,
        stopped_event_id=EventID(row[14]) if row[14] else None,
    )


def _copy(row: Sequence[Any]) -> Copy:
    return Copy(
        source_event_id=EventID(row[0]),
        target_room_id=RoomID(row[1]),
        shared_id=int(row[2]),
        source_room_id=RoomID(row[3]),
        source_sender=UserID(row[4]),
        kind=row[5],
        copy_event_id=EventID(row[6]) if row[6] else None,
        state=row[7],
        created_at=int(row[8]),
    )


async def _one(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> Any:
    async with db.execute(sql, params) as cursor:
        return await cursor.fetchone()


# -- shared threads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewShare:
    alliance_id: int
    origin_room_id: RoomID
    origin_root_event_id: EventID
    commons_room_id: RoomID
    movement_id: int
    membership_key: str | None
    title: str
    root_sender: UserID
    shared_by: UserID
    shared_at: int
    command_event_id: EventID
    allow_unencrypted: bool


async def create_share(store: Store, new: NewShare, *, now_ms: int) -> SharedThread:
    """Record a share with its two links (the origin's, the commons' without a root yet).

    Handled again for the same command, returns the same share. Raises :class:`AlreadyShared`
    when the thread is already shared with the alliance.
    """
    async with store.transaction() as db:
        row = await _one(
            db,
            f"SELECT {_SHARED} FROM shared_threads WHERE command_event_id = ?",
            (new.command_event_id,),
        )
        if row is None:
            number_row = await _one(
                db,
                "SELECT COALESCE(MAX(number), 0) + 1 FROM shared_threads WHERE alliance_id = ?",
                (new.alliance_id,),
            )
            try:
                cursor = await db.execute(
                    "INSERT INTO shared_threads (alliance_id, number, origin_room_id,"
                    " origin_root_event_id, title, root_sender, shared_by, shared_at,"
                    " command_event_id, allow_unencrypted, status, last_activity)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)",
                    (
                        new.alliance_id,
                        int(number_row[0]),
                        new.origin_room_id,
                        new.origin_root_event_id,
                        new.title,
                        new.root_sender,
                        new.shared_by,
                        new.shared_at,
                        new.command_event_id,
                        int(new.allow_unencrypted),
                        now_ms,
                    ),
                )
            except sqlite3.IntegrityError:
                raise AlreadyShared from None
            shared_id = int(cursor.lastrowid or 0)
            await db.executemany(
                "INSERT INTO thread_links (shared_id, room_id, role, movement_id, membership_key,"
                " root_event_id, allow_unencrypted, status, added_by, added_at, command_event_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
                [
                    (
                        shared_id,
                        new.origin_room_id,
                        "origin",
                        new.movement_id,
                        new.membership_key,
                        new.origin_root_event_id,
                        int(new.allow_unencrypted),
                        new.shared_by,
                        new.shared_at,
                        new.command_event_id,
                    ),
                    (
                        shared_id,
                        new.commons_room_id,
                        "commons",
                        None,
                        None,
                        None,
                        int(new.allow_unencrypted),
                        new.shared_by,
                        new.shared_at,
                        new.command_event_id,
                    ),
                ],
            )
            row = await _one(db, f"SELECT {_SHARED} FROM shared_threads WHERE id = ?", (shared_id,))
    return _shared(row)


async def share_by_id(store: Store, shared_id: int) -> SharedThread | None:
    return await store.find_one(
        _shared, f"SELECT {_SHARED} FROM shared_threads WHERE id = ?", (shared_id,)
    )


async def share_by_command(store: Store, event_id: str) -> SharedThread | None:
    return await store.find_one(
        _shared, f"SELECT {_SHARED} FROM shared_threads WHERE command_event_id = ?", (event_id,)
    )


async def share_by_number(store: Store, alliance_id: int, number: int) -> SharedThread | None:
    return await store.find_one(
        _shared,
        f"SELECT {_SHARED} FROM shared_threads WHERE alliance_id = ? AND number = ?",
        (alliance_id, number),
    )


async def share_stopped_by(store: Store, event_id: str) -> SharedThread | None:
    """The share that this command stopped (`!unshare` handled again after a crash)."""
    return await store.find_one(
        _shared, f"SELECT {_SHARED} FROM shared_threads WHERE stopped_event_id = ?", (event_id,)
    )


async def shares_of(
    store: Store, alliance_id: int, *, active_only: bool = True
) -> list[SharedThread]:
    """The alliance's shared threads, by number."""
    where = "alliance_id = ?" + (" AND status = 'active'" if active_only else "")
    return await store.find_all(
        _shared,
        f"SELECT {_SHARED} FROM shared_threads WHERE {where} ORDER BY number",
        (alliance_id,),
    )


async def thread_activity(
    store: Store, alliance_id: int, start: int, end: int
) -> list[tuple[SharedThread, int]]:
    """The alliance's shared threads with how many messages were written in them in the span
    `[start, end)` (each message once, however many rooms it was copied to), busiest first;
    threads with none are left out."""
    rows = await store.fetch_all(
        "SELECT c.shared_id, COUNT(DISTINCT c.source_event_id) FROM relay_copies c"
        " JOIN shared_threads t ON t.id = c.shared_id"
        " WHERE t.alliance_id = ? AND c.kind = 'message' AND c.created_at >= ?"
        " AND c.created_at < ? GROUP BY c.shared_id ORDER BY 2 DESC, c.shared_id",
        (alliance_id, start, end),
    )
    found = []
    for shared_id, count in rows:
        shared = await share_by_id(store, int(shared_id))
        if shared is not None:
            found.append((shared, int(count)))
    return found


async def shares_from(store: Store, room_id: RoomID) -> list[SharedThread]:
    """Active shares whose origin is this room (any alliance), by id."""
    return await store.find_all(
        _shared,
        f"SELECT {_SHARED} FROM shared_threads WHERE origin_room_id = ? AND status = 'active'"
        " ORDER BY id",
        (room_id,),
    )


_STOP_LINKS: Final = (
    "UPDATE thread_links SET status = 'stopped', stopped_by = ?, stopped_at = ?,"
    " stopped_event_id = ? WHERE status = 'active'"
)
"""Stop the active links the statement's end chooses (by, at, event_id, then its values)."""


async def forget_titles_of_root(
    store: Store, room_id: RoomID, root_event_id: EventID, *, writer: UserID | None
) -> int:
    """The thread's first message was deleted where it was written: its title (its first words)
    is forgotten by every share of it (only those whose first message `writer` wrote, when
    given). Returns how many shares changed."""
    async with store.transaction() as db:
        cursor = await db.execute(
            "UPDATE shared_threads SET title = '' WHERE origin_room_id = ?"
            " AND origin_root_event_id = ? AND title != ''"
            " AND (? IS NULL OR root_sender = ?)",
            (room_id, root_event_id, writer, writer),
        )
        return cursor.rowcount


async def unshare(store: Store, shared_id: int, *, by: str, at: int, event_id: str) -> None:
    """Stop a shared thread and every link of it (the records stay)."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE shared_threads SET status = 'unshared', stopped_by = ?, stopped_at = ?,"
            " stopped_event_id = ? WHERE id = ? AND status = 'active'",
            (by, at, event_id, shared_id),
        )
        await db.execute(f"{_STOP_LINKS} AND shared_id = ?", (by, at, event_id, shared_id))


# -- links --------------------------------------------------------------------------------------


async def links_of(store: Store, shared_id: int) -> list[ThreadLink]:
    """Every room of a shared thread (active or not): origin, commons, then followers."""
    return await store.find_all(
        _link, f"SELECT {_LINK} FROM thread_links WHERE shared_id = ? ORDER BY id", (shared_id,)
    )


async def links_at(store: Store, room_id: RoomID, root_event_id: EventID) -> list[ThreadLink]:
    """The links whose thread in this room starts at this root (one per share of the thread)."""
    return await store.find_all(
        _link,
        f"SELECT {_LINK} FROM thread_links WHERE room_id = ? AND root_event_id = ? ORDER BY id",
        (room_id, root_event_id),
    )


@dataclass(frozen=True)
class Route:
    """One way a message goes: from its link (`source`) to another link of the same share.

    With the movements the two links were made for (None for the commons, or when the movement
    is gone), so that whether each side still consents can be decided without another read.
    """

    shared: SharedThread
    source: ThreadLink
    source_movement: Movement | None
    target: ThreadLink
    target_movement: Movement | None


def _qualified(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


_LINK_WIDTH = len(_LINK.split(","))
_SHARED_WIDTH = len(_SHARED.split(","))
_MOVEMENT_WIDTH = len(movement_columns("m").split(","))


async def routes_from(store: Store, room_id: RoomID, root_event_id: EventID) -> list[Route]:
    """Where a message of the thread starting at this root goes, in one read (the hot path).

    One route per (active link here, other link of its share), whatever their state: the caller
    decides which are usable. Ordered by the link here, then the other link (origin, commons,
    followers), like :func:`links_at` and :func:`links_of`.
    """
    rows = await store.fetch_all(
        f"SELECT {_qualified(_SHARED, 'sh')}, {_qualified(_LINK, 's')},"
        f" {movement_columns('sm')}, {_qualified(_LINK, 't')}, {movement_columns('tm')}"
        " FROM thread_links AS s"
        " JOIN shared_threads AS sh ON sh.id = s.shared_id"
        " JOIN thread_links AS t ON t.shared_id = s.shared_id AND t.id != s.id"
        " LEFT JOIN movements AS sm ON sm.id = s.movement_id"
        " LEFT JOIN movements AS tm ON tm.id = t.movement_id"
        " WHERE s.room_id = ? AND s.root_event_id = ? AND s.status = 'active'"
        " ORDER BY s.id, t.id",
        (room_id, root_event_id),
    )
    routes = []
    for row in rows:
        at = _SHARED_WIDTH
        shared = _shared(row[:at])
        source = _link(row[at : at + _LINK_WIDTH])
        at += _LINK_WIDTH
        source_movement = movement_from(row[at : at + _MOVEMENT_WIDTH])
        at += _MOVEMENT_WIDTH
        target = _link(row[at : at + _LINK_WIDTH])
        at += _LINK_WIDTH
        target_movement = movement_from(row[at : at + _MOVEMENT_WIDTH])
        routes.append(Route(shared, source, source_movement, target, target_movement))
    return routes


async def link_in(store: Store, shared_id: int, room_id: RoomID) -> ThreadLink | None:
    return await store.find_one(
        _link,
        f"SELECT {_LINK} FROM thread_links WHERE shared_id = ? AND room_id = ?",
        (shared_id, room_id),
    )


async def link_stopped_by(store: Store, event_id: str, room_id: RoomID) -> ThreadLink | None:
    """The link of this room that this command stopped (`!unfollow` handled again)."""
    return await store.find_one(
        _link,
        f"SELECT {_LINK} FROM thread_links WHERE stopped_event_id = ? AND room_id = ?",
        (event_id, room_id),
    )


async def link_by_id(store: Store, link_id: int) -> ThreadLink | None:
    return await store.find_one(_link, f"SELECT {_LINK} FROM thread_links WHERE id = ?", (link_id,))


async def follower_links(store: Store, room_id: RoomID) -> list[ThreadLink]:
    """The shared threads this room follows (active links), oldest first."""
    return await store.find_all(
        _link,
        f"SELECT {_LINK} FROM thread_links WHERE room_id = ? AND role = 'follower'"
        " AND status = 'active' ORDER BY id",
        (room_id,),
    )


async def set_link_root(store: Store, link_id: int, root_event_id: EventID) -> None:
    async with store.transaction() as db:
        await db.execute(
            "UPDATE thread_links SET root_event_id = ? WHERE id = ?", (root_event_id, link_id)
        )


@dataclass(frozen=True)
class NewFollow:
    shared_id: int
    room_id: RoomID
    movement_id: int
    membership_key: str | None
    added_by: UserID
    added_at: int
    command_event_id: EventID
    allow_unencrypted: bool


async def follow(store: Store, new: NewFollow) -> ThreadLink:
    """Link a following room (again: a room that stopped following keeps its copy of the root)."""
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO thread_links (shared_id, room_id, role, movement_id, membership_key,"
            " allow_unencrypted, status, added_by, added_at, command_event_id)"
            " VALUES (?, ?, 'follower', ?, ?, ?, 'active', ?, ?, ?)"
            " ON CONFLICT (shared_id, room_id) DO UPDATE SET movement_id = excluded.movement_id,"
            " membership_key = excluded.membership_key,"
            " allow_unencrypted = excluded.allow_unencrypted, status = 'active',"
            " added_by = excluded.added_by, added_at = excluded.added_at,"
            " command_event_id = excluded.command_event_id, stopped_by = NULL,"
            " stopped_at = NULL, stopped_event_id = NULL"
            " WHERE thread_links.role = 'follower' AND thread_links.status = 'stopped'",
            (
                new.shared_id,
                new.room_id,
                new.movement_id,
                new.membership_key,
                int(new.allow_unencrypted),
                new.added_by,
                new.added_at,
                new.command_event_id,
            ),
        )
        row = await _one(
            db,
            f"SELECT {_LINK} FROM thread_links WHERE shared_id = ? AND room_id = ?",
            (new.shared_id, new.room_id),
        )
    return _link(row)


async def link_by_command(store: Store, event_id: str) -> ThreadLink | None:
    """The link a `!follow` made (to answer it the same way when it is handled again)."""
    return await store.find_one(
        _link,
        f"SELECT {_LINK} FROM thread_links WHERE command_event_id = ? AND role = 'follower'",
        (event_id,),
    )


async def stop_link(store: Store, link_id: int, *, by: str, at: int, event_id: str) -> None:
    await store.write(f"{_STOP_LINKS} AND id = ?", (by, at, event_id, link_id))


@dataclass(frozen=True)
class Departure:
    """An active link of an active share whose movement no longer stands behind it."""

    link: ThreadLink
    movement: str
    """The movement's name, or "" if it is gone altogether."""
    left_event_id: EventID | None
    """The command by which it left, if it left (rather than left and asked to join again)."""
    removed: bool = False
    """The commons removed it (`!movement remove`), rather than it leaving by itself."""


async def departures(store: Store) -> list[Departure]:
    """Links made for a movement that has since left (or left and joined again), oldest first.

    They carry nothing any more (see `commands.relay.copies.usable`); the relay announces each
    once and stops it (:func:`stop_link`).
    """
    rows = await store.fetch_all(
        f"SELECT {_qualified(_LINK, 'l')}, m.name, m.status, m.left_event_id,"
        " m.removed_reason IS NOT NULL"
        " FROM thread_links AS l"
        " JOIN shared_threads AS sh ON sh.id = l.shared_id AND sh.status = 'active'"
        " LEFT JOIN movements AS m ON m.id = l.movement_id"
        " WHERE l.status = 'active' AND l.role != 'commons' AND NOT (m.id IS NOT NULL"
        " AND m.status = 'active' AND m.room_id = l.room_id"
        " AND m.decided_event_id IS l.membership_key)"
        " ORDER BY l.id"
    )
    found = []
    for row in rows:
        link = _link(row[:_LINK_WIDTH])
        name, status, left_event_id, removed = row[_LINK_WIDTH:]
        found.append(
            Departure(
                link=link,
                movement=str(name or ""),
                left_event_id=EventID(left_event_id)
                if status == "left" and left_event_id
                else None,
                removed=status == "left" and bool(removed),
            )
        )
    return found


# -- copies -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCopy:
    source_event_id: EventID
    target_room_id: RoomID
    shared_id: int
    source_room_id: RoomID
    source_sender: UserID
    kind: CopyKind


async def claim_copy(store: Store, new: NewCopy, *, now_ms: int) -> Copy:
    """The copy of this original in this room: claimed now ('sending') or as claimed before.

    One statement: the insert, or on conflict a no-op update of the row already there (it is
    never replaced), returning the row either way.
    """
    [row] = await store.write(
        "INSERT INTO relay_copies (source_event_id, target_room_id, shared_id, source_room_id,"
        " source_sender, kind, state, created_at) VALUES (?, ?, ?, ?, ?, ?, 'sending', ?)"
        " ON CONFLICT (source_event_id, target_room_id) DO UPDATE SET state = state"
        f" RETURNING {_COPY}",
        (
            new.source_event_id,
            new.target_room_id,
            new.shared_id,
            new.source_room_id,
            new.source_sender,
            new.kind,
            now_ms,
        ),
    )
    return _copy(row)


async def copy_sent(
    store: Store,
    *,
    source_event_id: EventID,
    target_room_id: RoomID,
    copy_event_id: EventID,
    now_ms: int,
) -> None:
    """The copy exists; the shared thread had activity now."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE relay_copies SET copy_event_id = ?, state = 'sent'"
            " WHERE source_event_id = ? AND target_room_id = ?",
            (copy_event_id, source_event_id, target_room_id),
        )
        await db.execute(
            "UPDATE shared_threads SET last_activity = MAX(last_activity, ?) WHERE id = (SELECT"
            " shared_id FROM relay_copies WHERE source_event_id = ? AND target_room_id = ?)",
            (now_ms, source_event_id, target_room_id),
        )


async def copy_failed(store: Store, *, source_event_id: EventID, target_room_id: RoomID) -> None:
    """The homeserver refused the copy; it is not tried again."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE relay_copies SET state = 'failed' WHERE source_event_id = ?"
            " AND target_room_id = ? AND state = 'sending'",
            (source_event_id, target_room_id),
        )


async def copy_of(store: Store, source_event_id: str, target_room_id: RoomID) -> Copy | None:
    return await store.find_one(
        _copy,
        f"SELECT {_COPY} FROM relay_copies WHERE source_event_id = ? AND target_room_id = ?",
        (source_event_id, target_room_id),
    )


async def copies_of(store: Store, source_event_id: str) -> list[Copy]:
    """Every copy of one original, in the order they were made."""
    return await store.find_all(
        _copy,
        f"SELECT {_COPY} FROM relay_copies WHERE source_event_id = ? ORDER BY rowid",
        (source_event_id,),
    )


async def original_of(store: Store, copy_event_id: str) -> Copy | None:
    """The record of the original that the bot's event `copy_event_id` is a copy of."""
    return await store.find_one(
        _copy, f"SELECT {_COPY} FROM relay_copies WHERE copy_event_id = ?", (copy_event_id,)
    )


async def copies_in_thread(store: Store, shared_id: int, target_room_id: RoomID) -> list[Copy]:
    """The copies made into one room for one shared thread, in the order they were claimed."""
    return await store.find_all(
        _copy,
        f"SELECT {_COPY} FROM relay_copies WHERE shared_id = ? AND target_room_id = ?"
        " ORDER BY rowid",
        (shared_id, target_room_id),
    )


# -- warnings -----------------------------------------------------------------------------------


async def warn(store: Store, room_id: RoomID, subject: str, *, at: int) -> None:
    """Remember that the encryption warning about `subject` was given in this room."""
    async with store.transaction() as db:
        await db.execute(
            "INSERT OR IGNORE INTO relay_warnings (room_id, subject, warned_at) VALUES (?, ?, ?)",
            (room_id, subject, at),
        )


async def was_warned(store: Store, room_id: RoomID, subject: str) -> bool:
    row = await store.fetch_one(
        "SELECT 1 FROM relay_warnings WHERE room_id = ? AND subject = ?", (room_id, subject)
    )
    return row is not None


async def move_links(store: Store, old: RoomID, new: RoomID) -> None:
    """A room was upgraded: the shared threads it follows, or carries as the commons, go on in
    its replacement, each from a new copy of the first message (`links_without_root`). Threads
    it shared itself keep their origin there (their first message is in the old room)."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE OR IGNORE thread_links SET room_id = ?, root_event_id = NULL"
            " WHERE room_id = ? AND role != 'origin' AND status = 'active'",
            (new, old),
        )
        await db.execute(
            "UPDATE OR IGNORE relay_warnings SET room_id = ? WHERE room_id = ?", (new, old)
        )


async def links_without_root(store: Store, room_id: RoomID) -> list[ThreadLink]:
    """Active links of this room whose copy of the first message is not posted yet."""
    return await store.find_all(
        _link,
        f"SELECT {_LINK} FROM thread_links WHERE room_id = ? AND root_event_id IS NULL"
        " AND status = 'active' ORDER BY id",
        (room_id,),
    )
