"""The database: migrations that never half-apply, and an inbox that handles each event once."""

from __future__ import annotations

import asyncio
import time
from importlib import resources
from pathlib import Path

import aiosqlite
import pytest

from bot.events import Undecryptable
from bot.ids import EventID, RoomID
from bot.store import (
    DONE_RETENTION_S,
    InboxItem,
    Migration,
    Session,
    Store,
    StoreError,
    bundled_migrations,
)

ROOM = RoomID("!room:hs")
DAY_MS = 24 * 3600 * 1000


def item(name: str, *, at: int = 1_000, room: RoomID = ROOM) -> InboxItem:
    event_id = EventID(f"${name}")
    return InboxItem(
        event_id=event_id,
        room_id=room,
        received_at=at,
        source={"event_id": event_id, "room_id": room, "content": {"body": f"!{name}"}},
    )


def ids(items: list[InboxItem]) -> list[str]:
    return [i.event_id for i in items]


def sent(name: str, *, ts: int, room: RoomID = ROOM) -> InboxItem:
    """An event the homeserver stamped at `ts` (its `origin_server_ts`)."""
    plain = item(name, room=room)
    return InboxItem(
        plain.event_id, room, plain.received_at, {**plain.source, "origin_server_ts": ts}
    )


async def user_version(path: Path) -> int:
    async with aiosqlite.connect(path) as db, db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def table_names(path: Path) -> set[str]:
    async with (
        aiosqlite.connect(path) as db,
        db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cursor,
    ):
        return {row[0] for row in await cursor.fetchall()}


def migration_files() -> list[Path]:
    """Every .sql file shipped in bot/migrations (a misnamed one would be skipped silently)."""
    return list(Path(str(resources.files("bot").joinpath("migrations"))).glob("*.sql"))


# --- migrations -----------------------------------------------------------------------------


async def test_fresh_database_gets_every_bundled_migration_and_wal(tmp_path: Path) -> None:
    sql_files = migration_files()
    assert sql_files
    store = await Store.open(tmp_path / "new" / "db.sqlite")
    try:
        assert await store.schema_version() == len(sql_files) == len(bundled_migrations())
        row = await store.fetch_one("PRAGMA journal_mode")
        assert row is not None
        assert row[0] == "wal"
    finally:
        await store.close()


async def test_opening_again_keeps_the_data_and_the_version(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    first = await Store.open(path)
    await first.commit_sync("token-1", [item("a")])
    await first.save_session(Session("https://hs", "@bot:hs", "DEVICE", "secret"))
    version = await first.schema_version()
    await first.close()

    second = await Store.open(path)
    try:
        assert await second.schema_version() == version
        assert await second.sync_token() == "token-1"
        assert ids(await second.pending()) == ["$a"]
        assert await second.load_session() == Session("https://hs", "@bot:hs", "DEVICE", "secret")
    finally:
        await second.close()


async def test_a_database_from_a_newer_multilogue_is_refused_and_left_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    async with aiosqlite.connect(path) as db:
        await db.execute("PRAGMA user_version = 999")
        await db.commit()
    with pytest.raises(StoreError, match="written by a newer multilogue"):
        await Store.open(path)
    assert await user_version(path) == 999
    assert await table_names(path) == set()


async def test_a_failing_migration_leaves_nothing_of_itself(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    migrations = [
        Migration(1, "0001_first.sql", "CREATE TABLE movements (name TEXT);"),
        Migration(
            2,
            "0002_second.sql",
            "CREATE TABLE polls (id INTEGER);\nALTER TABLE movements ADD COLUMN x;\nNOT SQL;",
        ),
    ]
    with pytest.raises(StoreError, match=r"failed at 0002_second\.sql"):
        await Store.open(path, migrations=migrations)
    assert await user_version(path) == 1
    assert await table_names(path) == {"movements"}
    async with (
        aiosqlite.connect(path) as db,
        db.execute("SELECT name FROM pragma_table_info('movements')") as cursor,
    ):
        assert [row[0] for row in await cursor.fetchall()] == ["name"]

    # Fixed in the next release: the second migration now applies on top of the first.
    migrations[1] = Migration(2, "0002_second.sql", "CREATE TABLE polls (id INTEGER);")
    store = await Store.open(path, migrations=migrations)
    await store.close()
    assert await user_version(path) == 2
    assert await table_names(path) == {"movements", "polls"}


# --- the inbox ------------------------------------------------------------------------------


async def test_commit_sync_returns_each_event_once(store: Store) -> None:
    fresh = await store.commit_sync("t1", [item("a"), item("b"), item("a")])
    assert ids(fresh) == ["$a", "$b"]
    again = await store.commit_sync("t2", [item("b"), item("c")])
    assert ids(again) == ["$c"]
    assert await store.sync_token() == "t2"


async def test_no_token_before_the_first_sync(store: Store) -> None:
    assert await store.sync_token() is None


async def test_pending_lists_unfinished_events_in_the_order_received(store: Store) -> None:
    await store.commit_sync("t1", [item("late", at=3_000), item("first", at=1_000)])
    await store.commit_sync("t2", [item("x", at=2_000), item("y", at=2_000), item("z", at=2_000)])
    assert ids(await store.pending()) == ["$first", "$x", "$y", "$z", "$late"]
    await store.finish(EventID("$x"))
    pending = await store.pending()
    assert ids(pending) == ["$first", "$y", "$z", "$late"]
    assert pending[0] == item("first", at=1_000)


async def test_has_pending_sees_unhandled_events_sent_by_a_time_in_that_room(
    store: Store,
) -> None:
    other = RoomID("!other:hs")
    await store.commit_sync("t1", [sent("vote", ts=5_000), sent("elsewhere", ts=1_000, room=other)])

    assert await store.has_pending(ROOM, sent_at_or_before=5_000)  # sent exactly then counts
    assert await store.has_pending(ROOM, sent_at_or_before=9_000)
    assert not await store.has_pending(ROOM, sent_at_or_before=4_999)  # sent after that time
    assert not await store.has_pending(RoomID("!quiet:hs"), sent_at_or_before=9_000)

    await store.finish(EventID("$vote"))
    assert not await store.has_pending(ROOM, sent_at_or_before=9_000)  # handled: not waiting
    assert await store.has_pending(other, sent_at_or_before=1_000)


async def test_finish_drops_the_content_but_remembers_the_event(store: Store) -> None:
    await store.commit_sync("t1", [item("a")])
    await store.finish(EventID("$a"))
    row = await store.fetch_one("SELECT source, state FROM inbox WHERE event_id = '$a'")
    assert row is not None
    assert tuple(row) == (None, "done")
    assert await store.seen(EventID("$a"))
    assert await store.commit_sync("t2", [item("a")]) == []


async def test_finish_can_record_a_failure(store: Store) -> None:
    await store.commit_sync("t1", [item("a")])
    await store.finish(EventID("$a"), state="failed")
    assert await store.pending() == []
    row = await store.fetch_one("SELECT state FROM inbox WHERE event_id = '$a'")
    assert row is not None
    assert row[0] == "failed"


async def test_skipped_history_is_never_handled_later(store: Store) -> None:
    fresh = await store.commit_sync("t1", [item("new")], skipped=[item("old")])
    assert ids(fresh) == ["$new"]
    assert ids(await store.pending()) == ["$new"]
    assert await store.seen(EventID("$old"))
    assert await store.commit_sync("t2", [item("old")]) == []


async def test_events_waiting_for_keys_are_admitted_once(store: Store) -> None:
    waiting = Undecryptable(EventID("$secret"), ROOM, "session-1", {"type": "m.room.encrypted"})
    await store.commit_sync("t1", [], waiting=[waiting])
    assert await store.undecrypted() == [waiting]

    decrypted = item("secret")
    fresh = await store.admit([decrypted], resolved=[EventID("$secret")])
    assert fresh == [decrypted]
    assert await store.undecrypted() == []
    assert ids(await store.pending()) == ["$secret"]
    assert await store.admit([decrypted], resolved=[]) == []


async def test_prune_forgets_only_old_handled_events(store: Store) -> None:
    now = 100 * DAY_MS
    old = now - DONE_RETENTION_S * 1000 - 1
    recent = now - DAY_MS
    await store.commit_sync(
        "t1",
        [item("old-done", at=old), item("old-pending", at=old), item("recent-done", at=recent)],
        skipped=[item("old-skipped", at=old)],
    )
    await store.finish(EventID("$old-done"))
    await store.finish(EventID("$recent-done"))
    await store.prune(now_ms=now)
    assert not await store.seen(EventID("$old-done"))
    assert not await store.seen(EventID("$old-skipped"))
    assert await store.seen(EventID("$recent-done"))
    assert ids(await store.pending()) == ["$old-pending"]


async def test_prune_forgets_encrypted_events_whose_keys_never_came(store: Store) -> None:
    waiting = Undecryptable(EventID("$never"), ROOM, "session-9", {"type": "m.room.encrypted"})
    await store.commit_sync("t1", [], waiting=[waiting])
    await store.prune()
    assert [u.event_id for u in await store.undecrypted()] == ["$never"]
    later = int(time.time() * 1000) + DONE_RETENTION_S * 1000 + DAY_MS
    await store.prune(now_ms=later)
    assert await store.undecrypted() == []


async def test_deleted_words_are_overwritten_on_disk(store: Store) -> None:
    row = await store.fetch_one("PRAGMA secure_delete")
    assert row is not None
    assert row[0] == 1


async def test_a_single_write_waits_for_an_open_transaction_and_survives_its_rollback(
    store: Store,
) -> None:
    """`write` never joins someone else's transaction: a rollback there cannot undo it."""
    await store.commit_sync("t1", [item("a"), item("b")])
    inside = asyncio.Event()
    release = asyncio.Event()

    async def failing_transaction() -> None:
        async with store.transaction() as db:
            await db.execute("UPDATE inbox SET state = 'failed' WHERE event_id = '$a'")
            inside.set()
            await release.wait()
            raise RuntimeError("rolled back")

    other = asyncio.create_task(failing_transaction())
    await inside.wait()
    write = asyncio.create_task(
        store.write("UPDATE inbox SET state = 'done' WHERE event_id = ? RETURNING state", ("$b",))
    )
    await asyncio.sleep(0.01)
    assert not write.done()  # waiting for the transaction, not inside it
    release.set()
    with pytest.raises(RuntimeError):
        await other
    assert [tuple(row) for row in await write] == [("done",)]
    assert ids(await store.pending()) == ["$a"]  # $a's update was rolled back, $b's kept


async def test_the_key_for_relayed_ids_is_made_once_and_kept(tmp_path: Path) -> None:
    # Ids that stand in for people in relayed messages are keyed with it: a new key at every
    # start would make the same person a stranger after a restart.
    first = await Store.open(tmp_path / "db.sqlite")
    key = first.id_key
    await first.close()
    again = await Store.open(tmp_path / "db.sqlite")
    try:
        assert len(key) == 32
        assert again.id_key == key
    finally:
        await again.close()
    other = await Store.open(tmp_path / "other.sqlite")
    try:
        assert other.id_key != key
    finally:
        await other.close()
