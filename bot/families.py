"""The command families multilogue ships: the one place that knows them all.

Part of the composition root (`bot.app` builds the bot with this registry). Each family is
a package in `commands/` whose `register` adds its commands, listeners and timers. The
operator's record tools (`multilogue export`, `import`, `publish`) come from the record family
through here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.contract import Registry
from bot.store import Store
from commands import alliance, council, digest, help, language, polls, record, relay, upgrades


def build_registry() -> Registry:
    """The registry with every command family multilogue ships."""
    registry = Registry()
    for family in (help, polls, alliance, council, relay, digest, record, upgrades, language):
        family.register(registry)
    return registry


async def export_records(store: Store, wanted: str | None) -> list[tuple[str, dict[str, Any]]]:
    """The record of the alliance named `wanted`, or of every alliance (the record family's)."""
    return await record.export_records(store, wanted)


Imported = record.Imported


async def import_record(store: Store, document: dict[str, Any]) -> Imported:
    """Re-create the alliance of `document` (from `export_records`) in `store`."""
    return await record.import_alliance(store, document)


def site_files(
    document: dict[str, Any], *, published_at: datetime, tz: ZoneInfo, language: str
) -> dict[str, bytes]:
    """The alliance's public platform as a static site's files, by relative path (`multilogue
    publish`), in `language`. Refused (`CommandError`) unless the alliance allows a public
    page."""
    return record.site_files(document, published_at=published_at, tz=tz, language=language)


def record_bytes(document: dict[str, Any]) -> bytes:
    """The document as the file `!record export` posts (UTF-8 JSON)."""
    return record.document_bytes(document)
