"""Which language the bot speaks in a room.

- `!language` shows the room's language and the ones the bot speaks; `!language es` (a
  moderator of the room) chooses one, `!language default` goes back to the alliance's or the
  bot's default. The bot stores the choice and also writes it as room state
  (`bot.room_languages`), so that a bot installed afresh finds it.
- `!alliance set language es` (a moderator of the commons) gives the alliance's movement rooms
  a default language, which a room's own choice always overrides; `off` removes it.
- A timer keeps every movement room's default in line with its alliances: at once when a
  movement joins or leaves, and every few minutes in case a change was missed.

Votes never depend on words: polls count answers by their ids, so a room may change its
language while a poll is open and nothing is recounted.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from bot import languages
from bot.contract import (
    JOINED_A_ROOM,
    N_,
    Args,
    Command,
    CommandError,
    Context,
    Param,
    Registry,
    Reply,
    Services,
    Timer,
    Words,
    short,
)
from bot.ids import RoomID
from bot.permissions import Power
from commands.alliance.settings import MEMBERS_HOOKS, SETTINGS
from commands.alliance.store import Alliance
from commands.language import store

log = logging.getLogger(__name__)

CHECK_S: Final = 600
"""How often the movement rooms' defaults are checked when nothing woke the timer."""
_DEFAULT_WORDS: Final = frozenset({"default", "off", "none", "reset"})


def read_language(typed: str) -> str | None:
    """The language `typed` names: its code (`es`) or its name in any language the bot speaks
    (`español`, `Spanish`, `espagnol`, `Spanisch`); None when it names none of them."""
    word = " ".join(typed.lower().split())
    for code in languages.SHIPPED:
        if word == code:
            return code
        if any(
            word == languages.name_of(code, in_language=other).lower()
            for other in languages.SHIPPED
        ):
            return code
    return None


def _available() -> list[dict[str, str]]:
    return [{"code": code, "name": languages.name_of(code)} for code in languages.SHIPPED]


def _view(services: Services, room_id: RoomID) -> dict[str, Any]:
    language = services.language(room_id)
    return {
        "code": language,
        "name": languages.name_of(language),
        "own": services.own_language(room_id) is not None,
        "available": _available(),
    }


async def show_or_choose(ctx: Context, args: Args) -> Reply:
    room_id = ctx.event.room_id
    typed = args.text("language")
    if not typed:
        return Reply("language_show", _view(ctx.services, room_id))
    if ctx.power < Power.MODERATOR:
        raise CommandError("language.moderators")
    back_to_default = typed.strip().lower() in _DEFAULT_WORDS
    chosen = None if back_to_default else read_language(typed)
    if chosen is None and not back_to_default:
        raise CommandError("language.unknown", typed=short(typed, 30), available=_available())
    written = await ctx.services.choose_language(room_id, chosen)
    if chosen is None:
        await keep_defaults(ctx.services)  # the alliance's default applies again at once
    log.info("Room %s now hears %s", room_id, ctx.services.language(room_id))
    return Reply("language_set", {**_view(ctx.services, room_id), "in_room_state": written})


class LanguageSetting:
    """`!alliance set language es`: the default language of the alliance's movement rooms."""

    name: Final = "language"

    async def change(self, ctx: Context, alliance: Alliance, value: str) -> Reply:
        if ctx.power < Power.MODERATOR:
            raise CommandError("language.moderators")
        off = value.strip().lower() in _DEFAULT_WORDS
        chosen = None if off else read_language(value)
        if chosen is None and not off:
            raise CommandError("language.unknown", typed=short(value, 30), available=_available())
        await store.set_alliance_language(ctx.store, alliance.id, chosen)
        changed = await keep_defaults(ctx.services)
        return Reply(
            "language_alliance_set",
            {
                "alliance": alliance.name,
                "code": chosen or "",
                "name": languages.name_of(chosen) if chosen else "",
                "rooms": changed,
            },
        )

    async def shown(self, services: Services, alliance: Alliance) -> Words:
        chosen = await store.alliance_language(services.store, alliance.id)
        if chosen is None:
            return Words("language.no_alliance_default")
        return Words(
            "language.alliance_default", {"code": chosen, "name": languages.name_of(chosen)}
        )


async def keep_defaults(services: Services) -> int:
    """Give every movement room its alliance's default language (rooms that chose their own
    keep it). The number of rooms whose language changed."""
    changed = 0
    for room_id, language in (await store.defaults_by_room(services.store)).items():
        if await services.inherit_language(room_id, language):
            changed += 1
    return changed


async def _keep_defaults(services: Services) -> None:
    await keep_defaults(services)


def register(registry: Registry) -> None:
    registry.family("language", N_("Languages"), order=85)
    registry.add(
        Command(
            name="language",
            family="language",
            summary=N_("Show or choose the language the bot speaks in this room"),
            handler=show_or_choose,
            params=(Param("language", kind="text", optional=True),),
            help=N_(
                "Without a language, says which language the bot speaks here and which ones it "
                "knows. A moderator of the room chooses one with its code or its name (es, "
                "español); 'default' goes back to the alliance's or the bot's default. Command "
                "words stay the same in every language."
            ),
            examples=("{prefix}language", "{prefix}language es", "{prefix}language default"),
        )
    )
    registry.offer(SETTINGS, LanguageSetting())
    registry.offer(MEMBERS_HOOKS, keep_defaults)
    registry.every(
        Timer("language defaults", CHECK_S, _keep_defaults, woken_by=frozenset({JOINED_A_ROOM}))
    )
