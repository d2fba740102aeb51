"""SQLite storage (aiosqlite): migrations, the bot's session, the sync token and the inbox.

Schema changes are numbered SQL files in `bot/migrations/`, applied in order, each in
one transaction together with the new schema version (`PRAGMA user_version`). A
database written by a newer multilogue is refused rather than damaged.

Command families keep their own tables (added by later migrations) and reach the
database through `Store.transaction()` and `Store.fetch_*`.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.events import Undecryptable
from bot.ids import EventID, RoomID

_T = TypeVar("_T")

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
DONE_RETENTION_S = 30 * 24 * 3600
INSERT_CHUNK = 200  # rows per INSERT statement (4 values each, far below SQLite's limit)


async def _key(db: aiosqlite.Connection, name: str) -> bytes:
    """The bot's secret key called `name`, made once (b"" before migration 9, in tests)."""
    async with db.execute("SELECT 1 FROM sqlite_master WHERE name = 'bot_keys'") as cursor:
        if await cursor.fetchone() is None:
            return b""
    await db.execute(
        "INSERT OR IGNORE INTO bot_keys (name, key) VALUES (?, ?)",
        (name, secrets.token_bytes(32)),
    )
    async with db.execute("SELECT key FROM bot_keys WHERE name = ?", (name,)) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return bytes(row[0])


class StoreError(Exception):
    """The database cannot be used (for example it was written by a newer version)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class Session:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str


@dataclass(frozen=True)
class InboxItem:
    event_id: EventID
    room_id: RoomID
    received_at: int
    source: dict[str, Any]


def bundled_migrations() -> list[Migration]:
    """The migrations shipped with this version, in order."""
    found: list[Migration] = []
    folder = resources.files("bot").joinpath("migrations")
    for entry in folder.iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StoreError(f"migration {migration.name} is out of sequence (expected {expected})")
    return found


async def apply_migrations(db: aiosqlite.Connection, migrations: Sequence[Migration]) -> int:
    """Bring the schema up to date; return the resulting version."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise StoreError(
            f"This database was written by a newer multilogue (schema {current}, this version "
            f"knows up to {latest}). Upgrade multilogue, or restore a backup of the data folder."
        )
    for migration in migrations:
        if migration.version <= current:
            continue
        script = f"BEGIN;\n{migration.sql}\nPRAGMA user_version = {migration.version};\nCOMMIT;"
        try:
            await db.executescript(script)
        except BaseException as exc:
            if db.in_transaction:
                await db.rollback()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(
                    f"Updating the database failed at {migration.name} ({exc}); nothing of "
                    "that step was applied. Restore a backup or report this to the developers."
                ) from exc
            raise
        current = migration.version
    return current


class Store:
    """One aiosqlite connection; writes go through `transaction()`, one at a time."""

    def __init__(self, db: aiosqlite.Connection, *, id_key: bytes = b"") -> None:
        self._db = db
        self._write_lock = asyncio.Lock()
        self.id_key = id_key
        """A secret key for ids derived from user ids that other rooms see (`bot_keys`)."""

    @classmethod
    async def open(cls, path: Path, migrations: Sequence[Migration] | None = None) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            await db.execute("PRAGMA busy_timeout = 5000")
            # What is deleted (handled commands' words) is overwritten, not left in free pages.
            await db.execute("PRAGMA secure_delete = ON")
            await apply_migrations(db, bundled_migrations() if migrations is None else migrations)
            id_key = await _key(db, "relayed ids")
        except BaseException:
            await db.close()
            raise
        return cls(db, id_key=id_key)

    async def close(self) -> None:
        await self._db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run writes atomically: committed on success, rolled back on any error."""
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            else:
                await self._db.commit()

    # Reads take one trip to aiosqlite's database thread each (execute + fetch + close in
    # one go): on a command's path every trip costs a thread wake-up.

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        rows = await self._db.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        return list(await self._db.execute_fetchall(sql, params))

    async def find_one(
        self, make: Callable[[Sequence[Any]], _T], sql: str, params: Sequence[Any] = ()
    ) -> _T | None:
        """The row `sql` selects, read by `make` (a storage module's row type); None if none."""
        row = await self.fetch_one(sql, params)
        return make(row) if row else None

    async def find_all(
        self, make: Callable[[Sequence[Any]], _T], sql: str, params: Sequence[Any] = ()
    ) -> list[_T]:
        """Every row `sql` selects, read by `make`."""
        return [make(row) for row in await self.fetch_all(sql, params)]

    async def write(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """Run one statement as a transaction of its own, in one trip; its RETURNING rows.

        For writes that fit one statement (an upsert, an update): atomic by themselves, and
        cheaper than `transaction()`, which takes a trip each for BEGIN, every statement and
        COMMIT. Waits for any open transaction, so it never joins (or commits) someone else's.
        """
        async with self._write_lock:
            return list(await self._db.execute_fetchall(sql, params))

    async def schema_version(self) -> int:
        row = await self.fetch_one("PRAGMA user_version")
        return int(row[0]) if row else 0

    # -- session ---------------------------------------------------------------------------

    async def load_session(self) -> Session | None:
        row = await self.fetch_one(
            "SELECT homeserver, user_id, device_id, access_token FROM session WHERE id = 1"
        )
        return Session(*row) if row else None

    async def save_session(self, session: Session) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT OR REPLACE INTO session (id, homeserver, user_id, device_id, access_token)"
                " VALUES (1, ?, ?, ?, ?)",
                (session.homeserver, session.user_id, session.device_id, session.access_token),
            )

    async def forget_session(self) -> None:
        async with self.transaction() as db:
            await db.execute("DELETE FROM session")

    # -- sync and inbox --------------------------------------------------------------------

    async def sync_token(self) -> str | None:
        row = await self.fetch_one("SELECT next_batch FROM sync_state WHERE id = 1")
        return str(row[0]) if row else None

    async def commit_sync(
        self,
        next_batch: str,
        items: Sequence[InboxItem],
        *,
        skipped: Sequence[InboxItem] = (),
        waiting: Sequence[Undecryptable] = (),
    ) -> list[InboxItem]:
        """Record a sync's events, then its token.

        Returns the items not seen before, now `pending`. Items already in the inbox
        (seen in an earlier sync, or before a restart) are dropped: that is the dedupe.
        `skipped` items (too old, or history on first start) are remembered as handled.
        `waiting` events could not be decrypted yet; they wait for their keys.

        Each statement commits on its own (this is on every command's path, and each
        statement is a trip to the database thread), in an order that keeps the promise:
        the token is written last, so a crash in between only means the same events come
        again with the next sync, and the inbox drops them as already seen.
        """
        async with self._write_lock:
            db = self._db
            fresh_ids: set[str] = set()
            for start in range(0, len(items), INSERT_CHUNK):
                chunk = items[start : start + INSERT_CHUNK]
                rows = ", ".join(["(?, ?, ?, ?, 'pending')"] * len(chunk))
                params = [
                    value
                    for item in chunk
                    for value in (
                        item.event_id,
                        item.room_id,
                        item.received_at,
                        json.dumps(item.source),
                    )
                ]
                async with db.execute(
                    "INSERT OR IGNORE INTO inbox (event_id, room_id, received_at, source, state)"
                    f" VALUES {rows} RETURNING event_id",
                    params,
                ) as cursor:
                    fresh_ids.update(str(row[0]) for row in await cursor.fetchall())
            if waiting:
                now_ms = int(time.time() * 1000)
                await db.executemany(
                    "INSERT OR IGNORE INTO undecrypted (event_id, room_id, session_id,"
                    " received_at, source) VALUES (?, ?, ?, ?, ?)",
                    [
                        (u.event_id, u.room_id, u.session_id, now_ms, json.dumps(u.source))
                        for u in waiting
                    ],
                )
            if skipped:
                await db.executemany(
                    "INSERT OR IGNORE INTO inbox (event_id, room_id, received_at, source, state)"
                    " VALUES (?, ?, ?, NULL, 'skipped')",
                    [(item.event_id, item.room_id, item.received_at) for item in skipped],
                )
            await db.execute(
                "INSERT OR REPLACE INTO sync_state (id, next_batch) VALUES (1, ?)", (next_batch,)
            )
        fresh: list[InboxItem] = []
        for item in items:  # in order, each once (the same event may come twice in a batch)
            if item.event_id in fresh_ids:
                fresh_ids.discard(item.event_id)
                fresh.append(item)
        return fresh

    async def save_sync_token(self, next_batch: str) -> None:
        async with self._write_lock:
            await self._db.execute(
                "INSERT OR REPLACE INTO sync_state (id, next_batch) VALUES (1, ?)", (next_batch,)
            )

    @staticmethod
    async def _insert_pending(
        db: aiosqlite.Connection, items: Iterable[InboxItem]
    ) -> list[InboxItem]:
        fresh: list[InboxItem] = []
        for item in items:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO inbox (event_id, room_id, received_at, source, state)"
                " VALUES (?, ?, ?, ?, 'pending')",
                (item.event_id, item.room_id, item.received_at, json.dumps(item.source)),
            )
            if cursor.rowcount == 1:
                fresh.append(item)
        return fresh

    async def admit(
        self, items: Iterable[InboxItem], *, resolved: Iterable[EventID]
    ) -> list[InboxItem]:
        """Move events that were waiting for keys into the inbox (or drop them: `resolved`)."""
        async with self.transaction() as db:
            fresh = await self._insert_pending(db, items)
            await db.executemany(
                "DELETE FROM undecrypted WHERE event_id = ?", [(e,) for e in resolved]
            )
        return fresh

    async def pending(self) -> list[InboxItem]:
        rows = await self.fetch_all(
            "SELECT event_id, room_id, received_at, source FROM inbox"
            " WHERE state = 'pending' ORDER BY received_at, rowid"
        )
        return [
            InboxItem(EventID(row[0]), RoomID(row[1]), int(row[2]), json.loads(row[3]))
            for row in rows
        ]

    async def has_pending(self, room_id: RoomID, *, sent_at_or_before: int) -> bool:
        """Whether the room has events not handled yet that were sent at or before this time.

        The time is the events' `origin_server_ts` (milliseconds), as the homeserver stamped
        them. A poll's deadline waits for such events: they may be votes cast in time while
        the bot was away.
        """
        row = await self.fetch_one(
            "SELECT 1 FROM inbox WHERE room_id = ? AND state = 'pending'"
            " AND json_extract(source, '$.origin_server_ts') <= ? LIMIT 1",
            (room_id, sent_at_or_before),
        )
        return row is not None

    async def finish(self, event_id: EventID, *, state: str = "done") -> None:
        """Mark an inbox item handled and drop its content (one statement, one commit)."""
        await self.write(
            "UPDATE inbox SET state = ?, source = NULL WHERE event_id = ?", (state, event_id)
        )

    async def seen(self, event_id: EventID) -> bool:
        return (
            await self.fetch_one("SELECT 1 FROM inbox WHERE event_id = ?", (event_id,)) is not None
        )

    async def prune(self, *, now_ms: int | None = None) -> None:
        """Forget what is kept only for a while: handled events older than the retention
        window (their ids are the dedupe record; their content went when they were handled),
        and encrypted events whose keys never came in that time."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        before = now_ms - DONE_RETENTION_S * 1000
        async with self.transaction() as db:
            await db.execute(
                "DELETE FROM inbox WHERE state != 'pending' AND received_at < ?", (before,)
            )
            await db.execute("DELETE FROM undecrypted WHERE received_at < ?", (before,))

    # -- encrypted events waiting for keys -------------------------------------------------

    async def undecrypted(self) -> list[Undecryptable]:
        rows = await self.fetch_all(
            "SELECT event_id, room_id, session_id, source FROM undecrypted"
            " ORDER BY received_at, rowid"
        )
        return [
            Undecryptable(EventID(row[0]), RoomID(row[1]), str(row[2]), json.loads(row[3]))
            for row in rows
        ]
