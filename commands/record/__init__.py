"""The record family: an alliance's record as one document, in the open when it chooses.

`document` builds the record of an alliance as a JSON document (schema in `schema.json`) and
`importing` re-creates it in another bot; `commands` holds `!record export` (the document as a
file in the commons) and the settings of what is public (`!alliance set public`, `!rules set
public`, `!rules set reasons`). The operator's `multilogue export`, `import` and `publish` use
the same functions (`bot.families` hands them to the command line).
"""

from __future__ import annotations

from bot.contract import N_, Command, Registry
from bot.permissions import Power
from commands import polls
from commands.alliance.settings import SETTINGS
from commands.record.commands import (
    PublicSetting,
    ReasonsSetting,
    RoomPublicSetting,
    document_bytes,
    export_command,
)
from commands.record.document import SCHEMA_VERSION, export_alliance
from commands.record.importing import Imported, import_alliance
from commands.record.site import site_files
from commands.record.store import move_room
from commands.record.tools import export_records

__all__ = [
    "SCHEMA_VERSION",
    "Imported",
    "document_bytes",
    "export_alliance",
    "export_records",
    "import_alliance",
    "move_room",
    "register",
    "site_files",
]


def register(registry: Registry) -> None:
    registry.family("record", N_("The record"), order=50)
    registry.add(
        Command(
            name="record export",
            family="record",
            summary=N_("The alliance's whole record as one file, posted here (commons moderators)"),
            handler=export_command,
            power=Power.MODERATOR,
            help=N_(
                "In the commons: I post the record of the alliance as a JSON file: its "
                "movements and when they joined or left with whose consent, every version of "
                "each core statement and the poll that ratified it, the common objectives and "
                "who endorses them, the proposals and each movement's position, and which "
                "threads were shared (not their messages). In an encrypted commons the file is "
                "encrypted too. Another bot can import it; the operator can publish it."
            ),
            examples=("{prefix}record export",),
        )
    )
    registry.offer(SETTINGS, PublicSetting())
    registry.offer(polls.ROOM_SETTINGS, RoomPublicSetting(), ReasonsSetting())
