"""matrix.to links to rooms and events, as Element opens them (ids stay inside the link)."""

from __future__ import annotations

from urllib.parse import quote


def room_link(room_id: str, server: str) -> str:
    """A link to a room, via the bot's homeserver."""
    return f"https://matrix.to/#/{quote(room_id, safe='')}?via={quote(server, safe='')}"


def event_link(room_id: str, event_id: str, server: str) -> str:
    """A link to one event of a room, via the bot's homeserver."""
    return (
        f"https://matrix.to/#/{quote(room_id, safe='')}/{quote(event_id, safe='')}"
        f"?via={quote(server, safe='')}"
    )
