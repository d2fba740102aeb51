"""What the alliance family's command modules share.

`commands.alliance`, `commands.statements` and `commands.objectives` all need to know which
alliance, movement or objective a command is about, and make their replies and refusals of the
same small pieces of wording (links, dates, lists of names, quoted user text).

Which alliance a command is about:

- :func:`read_alliance` for commands that only read: this room's alliance, as its commons or
  as one of its movements (`--alliance NAME` when the room is in several).
- :func:`commons_alliance` for commands only the commons may give.
- :func:`own_movement` for commands a movement gives for itself, in its own room.

Each refuses with a `CommandError` that says where the command works and how to go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, Protocol, TypeVar

from bot.contract import FLAG_STARTS, CommandError, Context, Flag, Services, short, tokenize
from bot.ids import RoomID
from commands import alliance_store as db
from commands.alliance_store import Alliance, Movement, Objective
from commands.compare import match_name, objective_number

TEXT_MAX: Final = 500
ALLIANCE_FLAG: Final = Flag(
    "alliance", value="name", help="which alliance, if this room is in several"
)


# -- wording ----------------------------------------------------------------------------------


def day(ms: int | None, ctx: Context | Services) -> str:
    """A date as people read it, in the bot's time zone: 2026-11-25."""
    if ms is None:
        return ""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(ctx.config.timezone)
    return moment.strftime("%Y-%m-%d")


def names_list(names: Sequence[str], *, empty: str = "none") -> str:
    """`A, B and C`."""
    if not names:
        return empty
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def quoted(text: str, limit: int = 60) -> str:
    """User text in quotes, cut short for a message about it."""
    text = " ".join(text.split())
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"


def room_name(services: Services, room_id: RoomID, fallback: str) -> str:
    return services.room(room_id).name or fallback


# -- reading what people typed ----------------------------------------------------------------


def take_alliance_flag(text: str) -> tuple[str | None, str]:
    """`--alliance NAME` typed after a text argument (the parser stops reading options there).

    Returns the alliance (None if not given) and the text without the option.
    """
    words = text.split(" ")
    for index, word in enumerate(words):
        stripped = word.strip()
        if not stripped.startswith(FLAG_STARTS):
            continue
        flag, _, inline = stripped.lstrip("-—–").partition("=")
        if flag.lower() != "alliance":
            continue
        rest = " ".join(words[index + 1 :])
        if inline:
            value, after = inline, rest
        else:
            tokens = tokenize(rest)
            if not tokens:
                return None, text
            value = tokens[0]
            after = rest.strip()
            after = after[len(value) + 2 :] if after[:1] in "\"'“‘«„" else after[len(value) :]
        return value, " ".join(" ".join(words[:index]).split() + after.split())
    return None, text


def check_text(text: str, *, what: str, example: str) -> str:
    """A text people typed (an objective, a statement item), tidied, or a clear refusal."""
    tidy = text.strip()
    if not tidy:
        raise CommandError(f"Please write the {what} after the command, e.g. {example}")
    if len(tidy) > TEXT_MAX:
        raise CommandError(
            f"That {what} is {len(tidy)} characters long; at most {TEXT_MAX}, please. "
            "Shorten it and send it again."
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


def _alliance_names(alliances: Sequence[Alliance]) -> str:
    return names_list([a.name for a in alliances], empty="")


def unknown_alliance(typed: str, prefix: str) -> str:
    """An alliance name that matches nothing: said without listing the alliances the bot knows,
    which a room outside them has no business learning."""
    return (
        f"I know no alliance called {quoted(typed)}. Ask its commons for the exact name (there, "
        f"{prefix}alliance shows it). A bot admin starts a new one with {prefix}alliance create "
        "<name>."
    )


def not_in_alliance(prefix: str) -> str:
    return (
        "This room is not part of an alliance. To join one, a moderator of this room types "
        f"{prefix}movement join <alliance> as <your movement's name>. To start one, a bot admin "
        f"types {prefix}alliance create <name> in the room that will be its commons."
    )


def several_alliances(alliances: Sequence[Alliance], prefix: str, command: str) -> str:
    return (
        f"This room is part of several alliances: {_alliance_names(alliances)}. Say which one, "
        f"e.g. {prefix}{command} --alliance {alliances[0].slug}"
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
    mine = await db.alliances_of_room(ctx.store, ctx.event.room_id, statuses=("active",))
    if wanted:
        found = find_named(wanted, mine)
        if found is not None:
            return found
        if not mine:
            raise CommandError(await no_alliance_to_read(ctx))
        raise CommandError(
            f"This room is not part of an alliance called {quoted(wanted)}. "
            f"It is part of: {_alliance_names(mine)}."
        )
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise CommandError(await no_alliance_to_read(ctx))
    raise CommandError(several_alliances(mine, ctx.prefix, command))


async def no_alliance_to_read(ctx: Context) -> str:
    """Why this room reads no alliance: not in one, or its request is not approved yet."""
    waiting = [
        m for m in await db.movements_of_room(ctx.store, ctx.event.room_id) if m.status == "pending"
    ]
    if waiting:
        return (
            f"{waiting[0].name} is still waiting for the commons to approve it; until then this "
            "room cannot read the alliance's record. A moderator of the commons answers with "
            f"{ctx.prefix}movement approve {waiting[0].slug}."
        )
    return not_in_alliance(ctx.prefix)


async def commons_alliance(ctx: Context, *, doing: str) -> Alliance:
    """The alliance whose commons this room is; refused elsewhere."""
    alliance = await db.alliance_by_commons(ctx.store, ctx.event.room_id)
    if alliance is not None:
        return alliance
    mine = await db.alliances_of_room(ctx.store, ctx.event.room_id)
    where = f"the commons room of {_alliance_names(mine)}" if mine else "an alliance's commons room"
    raise CommandError(f"Only in {where} can its moderators {doing}.")


async def own_movement(
    ctx: Context, wanted: str | None, *, command: str, active_only: bool = True
) -> tuple[Alliance, Movement]:
    """This room as a movement of an alliance (pending requests too, unless `active_only`)."""
    records = [
        m
        for m in await db.movements_of_room(ctx.store, ctx.event.room_id)
        if m.status == "active" or (m.status == "pending" and not active_only)
    ]
    pairs: list[tuple[Alliance, Movement]] = []
    for movement in records:
        alliance = await db.alliance_by_id(ctx.store, movement.alliance_id)
        if alliance is not None:
            pairs.append((alliance, movement))
    alliances = [alliance for alliance, _ in pairs]
    if wanted:
        match = match_name(wanted, pairs, name=lambda p: p[0].name, slug=lambda p: p[0].slug).found
        if match is None:
            raise CommandError(
                f"This room is not a movement of an alliance called {quoted(wanted)}"
                + (f"; it is one of {_alliance_names(alliances)}." if pairs else ".")
            )
        return match
    if len(pairs) == 1:
        return pairs[0]
    if pairs:
        raise CommandError(several_alliances(alliances, ctx.prefix, command))
    if active_only:
        waiting = [
            m
            for m in await db.movements_of_room(ctx.store, ctx.event.room_id)
            if m.status == "pending"
        ]
        if waiting:
            raise CommandError(
                f"{waiting[0].name} is still waiting for the commons to approve it. "
                "A moderator of the commons answers with "
                f"{ctx.prefix}movement approve {waiting[0].slug}."
            )
    raise CommandError(not_in_alliance(ctx.prefix))


async def listed_movements(ctx: Context, alliance: Alliance) -> list[Movement]:
    """The alliance's movements as people see them listed: all but those not approved."""
    return [m for m in await db.movements_of(ctx.store, alliance.id) if m.status != "rejected"]


# -- which objective --------------------------------------------------------------------------


async def find_objective(ctx: Context, alliance: Alliance, typed: str) -> Objective:
    """The alliance's objective numbered `typed` (3 or #3), or a refusal listing them."""
    objectives = await db.objectives_of(ctx.store, alliance.id)
    number = objective_number(typed)
    for objective in objectives:
        if objective.number == number:
            return objective
    raise CommandError(unknown_objective(typed, objectives, alliance, ctx.prefix))


def unknown_objective(
    typed: str, objectives: Sequence[Objective], alliance: Alliance, prefix: str
) -> str:
    if not objectives:
        return (
            f"{alliance.name} has no common objectives yet. Anyone in its commons room "
            f"proposes one with {prefix}objective propose <text>."
        )
    shown = [f"#{o.number} {short(o.text, 40)}" for o in objectives[:8]]
    more = f" and {len(objectives) - 8} more ({prefix}objectives)" if len(objectives) > 8 else ""
    what = (
        f"objective {quoted(typed)}"
        if objective_number(typed) is None
        else f"objective #{typed.lstrip('#')}"
    )
    return (
        f"{alliance.name} has no {what}; give an objective by its number. "
        f"Objectives: {'; '.join(shown)}{more}."
    )
