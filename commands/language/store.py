"""An alliance's default language for its movement rooms (table `alliance_languages`)."""

from __future__ import annotations

from bot.ids import RoomID
from bot.store import Store


async def alliance_language(store: Store, alliance_id: int) -> str | None:
    row = await store.fetch_one(
        "SELECT language FROM alliance_languages WHERE alliance_id = ?", (alliance_id,)
    )
    return str(row[0]) if row else None


async def set_alliance_language(store: Store, alliance_id: int, language: str | None) -> None:
    if language is None:
        await store.write("DELETE FROM alliance_languages WHERE alliance_id = ?", (alliance_id,))
        return
    await store.write(
        "INSERT INTO alliance_languages (alliance_id, language) VALUES (?, ?)"
        " ON CONFLICT (alliance_id) DO UPDATE SET language = excluded.language",
        (alliance_id, language),
    )


async def defaults_by_room(store: Store) -> dict[RoomID, str | None]:
    """Every movement room the bot knows, with the default language of the first alliance
    (oldest first) it is an active member of that has one; None when none has."""
    rows = await store.fetch_all(
        "SELECT m.room_id, m.status, al.language FROM movements m"
        " LEFT JOIN alliance_languages al ON al.alliance_id = m.alliance_id"
        " ORDER BY m.alliance_id"
    )
    found: dict[RoomID, str | None] = {}
    for room_id, status, language in rows:
        room = RoomID(str(room_id))
        found.setdefault(room, None)
        if found[room] is None and status == "active" and language is not None:
            found[room] = str(language)
    return found
