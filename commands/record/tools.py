"""The operator's record tools, for the command line (`multilogue export`, `import`)."""

from __future__ import annotations

from typing import Any

from bot.contract import CommandError
from bot.store import Store
from commands.alliance.names import name_key
from commands.alliance.store import all_alliances
from commands.record.document import export_alliance


async def export_records(store: Store, wanted: str | None) -> list[tuple[str, dict[str, Any]]]:
    """The record of the alliance named `wanted` (its name or short name), or of every
    alliance: (short name, document) pairs. Refused (`CommandError`) when none is named so."""
    found = []
    for alliance in await all_alliances(store):
        named = wanted is None or name_key(wanted) in (
            name_key(alliance.slug),
            name_key(alliance.name),
        )
        if named:
            found.append((alliance.slug, await export_alliance(store, alliance.id)))
    if wanted is not None and not found:
        raise CommandError("record.no_alliance")
    return found
