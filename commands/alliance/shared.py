"""What the alliance family's command modules share.

`commands.alliance.movements`, `commands.alliance.statements` and
`commands.alliance.objectives` all need to know which alliance, movement or objective a
command is about, and make their replies and refusals of the same small pieces of wording
(links, dates, lists of names, quoted user text).

Which alliance a command is about:

- :func:`read_alliance` for commands that only read: this room's alliance, as its commons or
  as one of its movements (`--alliance NAME` when the room is in several).
- :func:`commons_alliance` for commands only the commons may give.
- :func:`own_movement` for commands a movement gives for itself, in its own room.

Each refuses with a `CommandError` that says where the command works and how to go on. The
family's sentences are in `templates/refusals/alliance.txt` (and `statements.txt`,
`objectives.txt`, `compare.txt`); that catalogue also holds the pieces templates share: lists
of names (`listing`, `some`, `choices`) and quoted user text (`quoted`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, Protocol, TypeVar

from bot.contract import (
    N_,
    CommandError,
    Context,
    Flag,
    Services,
    short,
)
from bot.ids import RoomID
from bot.languages import Day
from commands.alliance import objectives_store
from commands.alliance.names import match_name, objective_number
from commands.alliance.objectives_store import Objective
from commands.alliance.store import (
    Alliance,
    Movement,
    alliance_by_commons,
    alliance_by_id,
    alliances_of_room,
    movements_of,
    movements_of_room,
)

TEXT_MAX: Final = 500
OBJECTIVES_LISTED: Final = 8
"""Objectives named in a refusal, at most."""
ALLIANCE_FLAG: Final = Flag(
    "alliance", value="name", help=N_("which alliance, if this room is in several")
)


# -- wording ----------------------------------------------------------------------------------


def day(ms: int | None, ctx: Context | Services) -> str:
    """A date as people read it, in the bot's time zone: 2026-11-25 (and as each room's
    language writes it, when a message shows it)."""
    if ms is None:
        return ""
    return Day(datetime.fromtimestamp(ms / 1000, UTC).astimezone(ctx.config.timezone).date())


def clip(text: str, limit: int = 60) -> str:
    """User text on one line, cut short for a message about it (the catalogue's `quoted`
    puts it in quotes)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def room_name(services: Services, room_id: RoomID) -> str:
    """The room's name; "" when it has none (templates then say which room)."""
    return services.room(room_id).name or ""


# -- reading what people typed ----------------------------------------------------------------


def check_text(text: str, *, what: str, movement: str | None = None) -> str:
    """A text people typed, tidied, or a clear refusal. `what` says which text (the catalogue
    words it): objective, statement_item, new_wording, or removal_reason (of `movement`)."""
    tidy = text.strip()
    if not tidy:
        raise CommandError("alliance.write_text", what=what, movement=movement)
    if len(tidy) > TEXT_MAX:
        raise CommandError(
            "alliance.text_too_long",
            what=what,
            movement=movement,
            length=len(tidy),
            limit=TEXT_MAX,
        )
    return tidy


class Named(Protocol):
    """An alliance or a movement: found by its name or its slug."""

    @property
    def name(self) -> str: ...

    @property
    def slug(self) -> str: ...


_N = TypeVar("_N", bound=Named)


def find_named(typed: str, items: Sequence[_N]) -> _N | None:
    """The one of `items` that `typed` names (see `compare.match_name`), if exactly one."""
    return match_name(typed, items, name=lambda item: item.name, slug=lambda item: item.slug).found


# -- which alliance a command is about -------------------------------------------------------


def _alliance_names(alliances: Sequence[Alliance]) -> list[str]:
    return [a.name for a in alliances]


def unknown_alliance(typed: str) -> CommandError:
    """An alliance name that matches nothing: said without listing the alliances the bot knows,
    which a room outside them has no business learning."""
    return CommandError("alliance.unknown_alliance", typed=clip(typed))


def several_alliances(alliances: Sequence[Alliance], command: str) -> CommandError:
    return CommandError(
        "alliance.several_alliances",
        alliances=_alliance_names(alliances),
        command=command,
        slug=alliances[0].slug,
    )


def words_stay_in(ctx: Context, room_id: RoomID) -> bool:
    """Whether words typed in `room_id` must not be repeated where this command was typed:
    that room is encrypted and this one is not (what people write in an encrypted room stays
    in encrypted rooms)."""
    return (
        room_id != ctx.event.room_id
        and not ctx.room.encrypted
        and ctx.services.room(room_id).encrypted
    )


async def read_alliance(ctx: Context, wanted: str | None, *, command: str) -> Alliance:
    """The alliance a read-only command is about: this room's, as its commons or an approved
    movement. A room whose request to join is still pending reads nothing of the alliance
    (anyone may ask to join), and a name this room may not read is never confirmed or listed.

    `wanted` is the `--alliance` value, needed when the room is in several.
    """
    mine = await alliances_of_room(ctx.store, ctx.event.room_id, statuses=("active",))
    if wanted:
        found = find_named(wanted, mine)
        if found is not None:
            return found
        if not mine:
            raise await no_alliance_to_read(ctx)
        raise CommandError(
            "alliance.not_in_alliance_called", typed=clip(wanted), alliances=_alliance_names(mine)
        )
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise await no_alliance_to_read(ctx)
    raise several_alliances(mine, command)


async def no_alliance_to_read(ctx: Context) -> CommandError:
    """Why this room reads no alliance: not in one, or its request is not approved yet."""
    waiting = [
        m for m in await movements_of_room(ctx.store, ctx.event.room_id) if m.status == "pending"
    ]
    if waiting:
        return CommandError(
            "alliance.waiting_to_read", movement=waiting[0].name, slug=waiting[0].slug
        )
    return CommandError("alliance.not_in_alliance")


async def commons_alliance(ctx: Context, *, doing: str) -> Alliance:
    """The alliance whose commons this room is; refused elsewhere. `doing` says what only its
    moderators do there (the catalogue words it): settings, approve, reject, remove, propose,
    import."""
    alliance = await alliance_by_commons(ctx.store, ctx.event.room_id)
    if alliance is not None:
        return alliance
    mine = await alliances_of_room(ctx.store, ctx.event.room_id)
    raise CommandError("alliance.commons_only", alliances=_alliance_names(mine), doing=doing)


async def own_movement(
    ctx: Context, wanted: str | None, *, command: str, active_only: bool = True
) -> tuple[Alliance, Movement]:
    """This room as a movement of an alliance (pending requests too, unless `active_only`)."""
    records = [
        m
        for m in await movements_of_room(ctx.store, ctx.event.room_id)
        if m.status == "active" or (m.status == "pending" and not active_only)
    ]
    pairs: list[tuple[Alliance, Movement]] = []
    for movement in records:
        alliance = await alliance_by_id(ctx.store, movement.alliance_id)
        if alliance is not None:
            pairs.append((alliance, movement))
    alliances = [alliance for alliance, _ in pairs]
    if wanted:
        match = match_name(wanted, pairs, name=lambda p: p[0].name, slug=lambda p: p[0].slug).found
        if match is None:
            raise CommandError(
                "alliance.not_a_movement_of",
                typed=clip(wanted),
                alliances=_alliance_names(alliances),
            )
        return match
    if len(pairs) == 1:
        return pairs[0]
    if pairs:
        raise several_alliances(alliances, command)
    if active_only:
        waiting = [
            m
            for m in await movements_of_room(ctx.store, ctx.event.room_id)
            if m.status == "pending"
        ]
        if waiting:
            raise CommandError(
                "alliance.still_waiting", movement=waiting[0].name, slug=waiting[0].slug
            )
    raise CommandError("alliance.not_in_alliance")


async def listed_movements(ctx: Context, alliance: Alliance) -> list[Movement]:
    """The alliance's movements as people see them listed: all but those not approved."""
    return [m for m in await movements_of(ctx.store, alliance.id) if m.status != "rejected"]


# -- which objective --------------------------------------------------------------------------


async def find_objective(ctx: Context, alliance: Alliance, typed: str) -> Objective:
    """The alliance's objective numbered `typed` (3 or #3), or a refusal listing them."""
    objectives = await objectives_store.objectives_of(ctx.store, alliance.id)
    number = objective_number(typed)
    for objective in objectives:
        if objective.number == number:
            return objective
    raise unknown_objective(typed, objectives, alliance)


def unknown_objective(
    typed: str, objectives: Sequence[Objective], alliance: Alliance
) -> CommandError:
    if not objectives:
        return CommandError("alliance.no_objectives", alliance=alliance.name)
    return CommandError(
        "alliance.unknown_objective",
        alliance=alliance.name,
        typed=clip(typed),
        number=typed.lstrip("#") if objective_number(typed) is not None else None,
        objectives=[
            {"number": o.number, "text": short(o.text, 40)} for o in objectives[:OBJECTIVES_LISTED]
        ],
        more=max(0, len(objectives) - OBJECTIVES_LISTED),
    )
