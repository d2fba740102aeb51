"""The alliance family: alliances, movements joining them, and each movement's core statement.

Commands: `!alliance create`, `!alliance`, `!alliance set threshold`, `!movement join`,
`!movement approve`, `!movement reject`, `!movement leave`, `!movements`, `!statement`,
`!statement history`, `!statement link`, `!statement unlink`, `!statement propose`,
`!statement amend`, `!statement drop`.

Who acts for whom:

- A movement is a room. Only that room's moderators act for it (join, leave, link).
- The commons room speaks for the alliance: its moderators approve and refuse movements and
  change the alliance's settings. Commands about other movements only read.
- Creating an alliance takes a bot admin (MULTILOGUE_ADMINS), or, when that list is empty,
  a moderator of the room that becomes the commons.

Restart safety: rows are keyed by the command's event id, so a command handled again after a
crash finds what it made; the alliance's space carries a mark (`space_key`) so it is found
again rather than created twice; messages to other rooms use transaction keys derived from
the command's event id.

Decisions by consensus poll (`!statement propose/amend/drop` here, `!endorse` in
`commands.objectives`) open a poll with `commands.polls.open_consensus_poll` and record what
it is about (`alliance_store.open_statement_proposal` / `open_endorsement`). The timer
`settle_decisions` notices when such a poll has closed (`commands.polls.consensus_result`),
records the outcome (`alliance_store.settle_poll`) and tells the room.

The shared helpers at the top (which alliance a command is about, links, dates) are used by
`commands.objectives` too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar
from urllib.parse import quote

from bot.events import Event
from bot.ids import RoomID, UserID
from bot.matrix import MatrixError
from bot.permissions import Power
from commands import alliance_store as db
from commands import poll_store, polls
from commands.alliance_store import Alliance, Movement, PollRef, StatementChange, Taken
from commands.args import tokenize
from commands.compare import (
    BadName,
    ThresholdError,
    check_name,
    format_threshold,
    match_name,
    name_key,
    objective_number,
    parse_threshold,
    slugify,
    support,
    text_key,
)
from commands.decision import describe_rule
from commands.registry import (
    Args,
    Command,
    CommandError,
    Context,
    Flag,
    Param,
    Registry,
    Reply,
    Services,
    Timer,
)

log = logging.getLogger(__name__)

TEXT_MAX: Final = 500
DECISION_CHECK_S: Final = 2.0
SPACE_CHILD: Final = "m.space.child"
ALLIANCE_FLAG: Final = Flag(
    "alliance", value="name", help="which alliance, if this room is in several"
)
FLAG_STARTS: Final = ("--", "—", "–")

_T = TypeVar("_T")


# -- shared helpers -------------------------------------------------------------------------


def room_link(room_id: str, server: str) -> str:
    """A matrix.to link to a room (the id stays inside the link, never shown)."""
    return f"https://matrix.to/#/{quote(room_id, safe='')}?via={quote(server, safe='')}"


def event_link(room_id: str, event_id: str, server: str) -> str:
    return (
        f"https://matrix.to/#/{quote(room_id, safe='')}/{quote(event_id, safe='')}"
        f"?via={quote(server, safe='')}"
    )


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


def _alliance_names(alliances: Sequence[Alliance]) -> str:
    return names_list([a.name for a in alliances], empty="")


def unknown_alliance(typed: str, alliances: Sequence[Alliance], prefix: str) -> str:
    if not alliances:
        return (
            f"There is no alliance called {quoted(typed)}; in fact there are none yet. "
            f"A bot admin starts one with {prefix}alliance create <name>."
        )
    return f"There is no alliance called {quoted(typed)}. Alliances: {_alliance_names(alliances)}."


def not_in_alliance(prefix: str) -> str:
    return (
        "This room is not part of an alliance. To join one, a moderator of this room types "
        f"{prefix}movement join <alliance> as <your movement's name>. To start one, a bot admin "
        f"types {prefix}alliance create <name> in the room that will be its commons."
    )


async def read_alliance(ctx: Context, wanted: str | None, *, command: str) -> Alliance:
    """The alliance a read-only command is about: this room's (as commons or movement).

    `wanted` is the `--alliance` value, needed when the room is in several.
    """
    mine = await db.alliances_of_room(ctx.store, ctx.event.room_id)
    if wanted:
        match = match_name(wanted, mine, name=lambda a: a.name, slug=lambda a: a.slug)
        if match.found is not None:
            return match.found
        every = await db.all_alliances(ctx.store)
        other = match_name(wanted, every, name=lambda a: a.name, slug=lambda a: a.slug).found
        if other is not None:
            raise CommandError(
                f"This room is not part of {other.name}. Ask in its commons room or one of its "
                f"movements' rooms. This room is part of: {_alliance_names(mine) or 'none'}."
            )
        raise CommandError(unknown_alliance(wanted, mine or every, ctx.prefix))
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise CommandError(not_in_alliance(ctx.prefix))
    raise CommandError(several_alliances(mine, ctx.prefix, command))


def several_alliances(alliances: Sequence[Alliance], prefix: str, command: str) -> str:
    return (
        f"This room is part of several alliances: {_alliance_names(alliances)}. Say which one, "
        f"e.g. {prefix}{command} --alliance {alliances[0].slug}"
    )


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
    if wanted:
        match = match_name(wanted, pairs, name=lambda p: p[0].name, slug=lambda p: p[0].slug).found
        if match is None:
            every = await db.all_alliances(ctx.store)
            if match_name(wanted, every, name=lambda a: a.name, slug=lambda a: a.slug).found:
                raise CommandError(
                    f"This room is not a movement of {quoted(wanted)}"
                    + (
                        f"; it is one of {_alliance_names([p[0] for p in pairs])}."
                        if pairs
                        else "."
                    )
                )
            raise CommandError(unknown_alliance(wanted, [p[0] for p in pairs] or every, ctx.prefix))
        return match
    if len(pairs) == 1:
        return pairs[0]
    if pairs:
        raise CommandError(several_alliances([p[0] for p in pairs], ctx.prefix, command))
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


def room_name(services: Services, room_id: RoomID, fallback: str) -> str:
    return services.room(room_id).name or fallback


def person(services: Services, room_id: RoomID, user_id: str) -> str:
    return services.room(room_id).display_name(user_id)


def short(text: str, limit: int = 50) -> str:
    """The start of a long text, for lists and tables."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def find_objective(ctx: Context, alliance: Alliance, typed: str) -> db.Objective:
    """The alliance's objective numbered `typed` (3 or #3), or a refusal listing them."""
    objectives = await db.objectives_of(ctx.store, alliance.id)
    number = objective_number(typed)
    for objective in objectives:
        if objective.number == number:
            return objective
    raise CommandError(unknown_objective(typed, objectives, alliance, ctx.prefix))


def unknown_objective(
    typed: str, objectives: Sequence[db.Objective], alliance: Alliance, prefix: str
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


# -- alliances --------------------------------------------------------------------------------


async def create_alliance(ctx: Context, args: Args) -> Reply:
    admins = ctx.config.admins
    if admins and ctx.sender not in admins:
        raise CommandError(
            "Only a bot admin (listed in MULTILOGUE_ADMINS) may create an alliance. "
            "Ask one of them to type the command here."
        )
    alliance = await db.alliance_by_event(ctx.store, ctx.event.event_id)
    again = alliance is not None
    if alliance is None:
        existing = await db.alliance_by_commons(ctx.store, ctx.event.room_id)
        if existing is not None and existing.space_id is not None:
            raise CommandError(
                f"This room is already the commons of {existing.name}. "
                f"Type {ctx.prefix}alliance to see it."
            )
        if existing is not None:
            alliance, again = existing, True  # its space is missing: make it now
        else:
            alliance = await _new_alliance(ctx, args.text("name"))
    alliance = await _ensure_space(ctx, alliance, look_first=again)
    commons = ctx.event.room_id
    return Reply(
        "alliance_created",
        {
            "name": alliance.name,
            "slug": alliance.slug,
            "space_link": room_link(alliance.space_id or "", ctx.config.server_name),
            "commons": room_name(ctx.services, commons, "this room"),
        },
    )


async def _new_alliance(ctx: Context, typed: str) -> Alliance:
    try:
        name = check_name(typed, what="alliance")
    except BadName as exc:
        raise CommandError(
            f"{exc} For example: {ctx.prefix}alliance create Earth Alliance"
        ) from None
    for other in await db.all_alliances(ctx.store):
        if name_key(other.name) == name_key(name) or other.slug == slugify(name):
            raise CommandError(
                f"There is already an alliance called {other.name}. Please choose another name."
            )
    try:
        return await db.create_alliance(
            ctx.store,
            name=name,
            commons_room_id=ctx.event.room_id,
            created_by=ctx.sender,
            created_at=ctx.event.ts,
            command_event_id=ctx.event.event_id,
        )
    except Taken:
        raise CommandError(
            f"There is already an alliance called {name}, or this room is already a commons. "
            f"Type {ctx.prefix}alliance to see."
        ) from None


async def _ensure_space(ctx: Context, alliance: Alliance, *, look_first: bool) -> Alliance:
    """Make the alliance's space (once) and put the commons room in it."""
    services = ctx.services
    space_id = alliance.space_id
    try:
        if space_id is None and look_first:
            space_id = await services.find_space(alliance.space_key)
        if space_id is None:
            space_id = await services.create_space(
                name=alliance.name,
                topic=f"The rooms of the alliance {alliance.name}.",
                invite=[ctx.sender],
                key=alliance.space_key,
            )
        if alliance.space_id is None:
            await db.set_space(ctx.store, alliance.id, space_id)
        await services.send_state(
            space_id,
            event_type=SPACE_CHILD,
            state_key=alliance.commons_room_id,
            content={"via": [ctx.config.server_name]},
        )
    except MatrixError as exc:
        log.warning("Could not set up the space of alliance %s: %s", alliance.id, exc)
        raise CommandError(
            f"The alliance {alliance.name} is recorded, but I could not set up its Matrix space. "
            f"Please try again in a minute with {ctx.prefix}alliance create {alliance.name}."
        ) from None
    found = await db.alliance_by_id(ctx.store, alliance.id)
    assert found is not None
    return found


async def show_alliance(ctx: Context, args: Args) -> Reply:
    alliance = await read_alliance(ctx, args.option("alliance"), command="alliance")
    services = ctx.services
    server = ctx.config.server_name
    movements = [m for m in await db.movements_of(ctx.store, alliance.id) if m.status != "rejected"]
    active = [m for m in movements if m.status == "active"]
    board = await db.board(ctx.store, alliance, movements=active)
    common = sum(1 for o in board.objectives if support(board, o).common)
    return Reply(
        "alliance_show",
        {
            "name": alliance.name,
            "slug": alliance.slug,
            "space_link": room_link(alliance.space_id, server) if alliance.space_id else "",
            "commons": room_name(services, alliance.commons_room_id, "the commons room"),
            "commons_link": room_link(alliance.commons_room_id, server),
            "here_is_commons": alliance.commons_room_id == ctx.event.room_id,
            "movements": [_movement_view(ctx, m) for m in movements],
            "objectives": len(board.objectives),
            "common": common,
            "threshold": format_threshold(alliance.threshold),
            "created": day(alliance.created_at, ctx),
        },
    )


def _movement_view(ctx: Context, movement: Movement) -> dict[str, Any]:
    status = {
        "active": "member",
        "pending": "waiting for approval",
        "left": "left",
        "rejected": "not approved",
    }[movement.status]
    return {
        "name": movement.name,
        "slug": movement.slug,
        "status": status,
        "active": movement.status == "active",
        "link": room_link(movement.room_id, ctx.config.server_name),
        "here": movement.room_id == ctx.event.room_id,
        "since": day(movement.left_at or movement.decided_at or movement.requested_at, ctx),
    }


async def set_alliance(ctx: Context, args: Args) -> Reply:
    alliance = await commons_alliance(ctx, doing="change the alliance's settings")
    setting = str(args.get("setting", "")).lower()
    if setting != "threshold":
        raise CommandError(
            f"I can only set the threshold, e.g. {ctx.prefix}alliance set threshold 2/3"
        )
    try:
        threshold = parse_threshold(args.text("value"))
    except ThresholdError as exc:
        raise CommandError(str(exc)) from None
    await db.set_threshold(ctx.store, alliance.id, threshold)
    updated = await db.alliance_by_id(ctx.store, alliance.id)
    assert updated is not None
    board = await db.board(ctx.store, updated)
    active = len(board.movements)
    return Reply(
        "alliance_threshold_set",
        {
            "name": alliance.name,
            "threshold": format_threshold(threshold),
            "active": active,
            "needed": threshold.needed(active) if active else 0,
            "common": sum(1 for o in board.objectives if support(board, o).common),
            "objectives": len(board.objectives),
        },
    )


# -- movements --------------------------------------------------------------------------------


def join_splits(text: str) -> list[tuple[str, str]]:
    """Every way to read `<alliance> as <name>`: one per `as` word (quoted words never split)."""
    tokens = tokenize(text)
    return [
        (" ".join(tokens[:i]), " ".join(tokens[i + 1 :]))
        for i, token in enumerate(tokens)
        if token.lower() == "as" and 0 < i < len(tokens) - 1
    ]


async def join_alliance(ctx: Context, args: Args) -> Reply:
    movement = await _replayed(ctx, "request")
    if movement is None:
        movement = await _ask_to_join(ctx, args.text(JOIN_PARAM))
    alliance = await db.alliance_by_id(ctx.store, movement.alliance_id)
    assert alliance is not None
    notice = await ctx.services.notice(
        alliance.commons_room_id,
        Reply(
            "movement_join_notice",
            {
                "movement": movement.name,
                "slug": movement.slug,
                "link": room_link(movement.room_id, ctx.config.server_name),
                "alliance": alliance.name,
                "asked_by": person(ctx.services, ctx.event.room_id, ctx.sender),
            },
        ),
        txn_key=f"{ctx.event.event_id}/commons",
    )
    return Reply(
        "movement_join_requested",
        {
            "movement": movement.name,
            "slug": movement.slug,
            "alliance": alliance.name,
            "commons_told": notice is not None,
        },
    )


async def _replayed(ctx: Context, which: str) -> Movement | None:
    """The movement this very command already changed (when it is handled a second time)."""
    for movement in await db.movements_of_room(ctx.store, ctx.event.room_id):
        if which == "request" and movement.request_event_id == ctx.event.event_id:
            return movement
        if which == "leave" and movement.left_event_id == ctx.event.event_id:
            return movement
    return None


async def _ask_to_join(ctx: Context, text: str) -> Movement:
    example = f"{ctx.prefix}movement join Earth Alliance as Climate Camp"
    splits = join_splits(text)
    if not splits:
        raise CommandError(f"Say which alliance to join and your movement's name, e.g. {example}")
    every = await db.all_alliances(ctx.store)
    found = [
        (match, typed_name)
        for typed_alliance, typed_name in splits
        if (match := _match_alliance(typed_alliance, every)) is not None
    ]
    if not found:
        raise CommandError(unknown_alliance(splits[0][0], every, ctx.prefix))
    alliance, typed_name = found[0]
    room_id = ctx.event.room_id
    if alliance.commons_room_id == room_id:
        raise CommandError(
            f"This room is the commons of {alliance.name}; a movement joins from its own room."
        )
    mine = await db.movement_in(ctx.store, alliance.id, room_id)
    if mine is not None and mine.status == "pending":
        raise CommandError(
            f"This room already asked to join {alliance.name} as {mine.name}. A moderator of the "
            f"commons answers with {ctx.prefix}movement approve {mine.slug}."
        )
    if mine is not None and mine.status == "active":
        raise CommandError(f"This room is already in {alliance.name}, as {mine.name}.")
    try:
        name = check_name(typed_name, what="movement")
    except BadName as exc:
        raise CommandError(f"{exc} For example: {example}") from None
    others = [
        m
        for m in await db.movements_of(ctx.store, alliance.id)
        if m.status != "rejected" and m.room_id != room_id
    ]
    for other in others:
        if name_key(other.name) == name_key(name) or other.slug == slugify(name):
            raise CommandError(
                f"Another movement in {alliance.name} is already called {other.name}. "
                "Please choose another name."
            )
    try:
        return await db.request_join(
            ctx.store,
            alliance_id=alliance.id,
            room_id=room_id,
            name=name,
            requested_by=ctx.sender,
            requested_at=ctx.event.ts,
            event_id=ctx.event.event_id,
        )
    except Taken:
        raise CommandError(
            f"Another movement in {alliance.name} already has that name. Please choose another."
        ) from None


def _match_alliance(typed: str, alliances: Sequence[Alliance]) -> Alliance | None:
    return match_name(typed, alliances, name=lambda a: a.name, slug=lambda a: a.slug).found


async def approve_movement(ctx: Context, args: Args) -> Reply:
    return await _decide(ctx, args.text("movement"), approve=True)


async def reject_movement(ctx: Context, args: Args) -> Reply:
    return await _decide(ctx, args.text("movement"), approve=False)


async def _decide(ctx: Context, typed: str, *, approve: bool) -> Reply:
    verb = "approve" if approve else "reject"
    alliance = await commons_alliance(ctx, doing=f"{verb} movements")
    everyone = await db.movements_of(ctx.store, alliance.id)
    replay = [m for m in everyone if m.decided_event_id == ctx.event.event_id]
    if replay:
        movement = replay[0]
    else:
        movement = _waiting_movement(ctx, alliance, everyone, typed, verb)
        movement = await db.decide_movement(
            ctx.store,
            movement.id,
            status="active" if approve else "rejected",
            decided_by=ctx.sender,
            decided_at=ctx.event.ts,
            event_id=ctx.event.event_id,
        )
    in_space = False
    if approve and alliance.space_id is not None:
        in_space = await _put_in_space(ctx, alliance.space_id, movement)
    told = await ctx.services.notice(
        movement.room_id,
        Reply(
            "movement_decided_notice",
            {
                "approved": approve,
                "movement": movement.name,
                "alliance": alliance.name,
                "in_space": in_space,
                "space_link": room_link(alliance.space_id or "", ctx.config.server_name),
            },
        ),
        txn_key=f"{ctx.event.event_id}/movement",
    )
    return Reply(
        "movement_decided",
        {
            "approved": approve,
            "movement": movement.name,
            "link": room_link(movement.room_id, ctx.config.server_name),
            "alliance": alliance.name,
            "in_space": in_space,
            "movement_told": told is not None,
        },
    )


def _waiting_movement(
    ctx: Context, alliance: Alliance, everyone: Sequence[Movement], typed: str, verb: str
) -> Movement:
    waiting = [m for m in everyone if m.status == "pending"]
    if not typed.strip():
        names = ", ".join(m.slug for m in waiting)
        raise CommandError(
            f"Say which movement to {verb}, e.g. {ctx.prefix}movement {verb} "
            f"{waiting[0].slug if waiting else 'climate-camp'}."
            + (f" Waiting: {names}." if waiting else " No movement is waiting for an answer.")
        )
    match = match_name(typed, waiting, name=lambda m: m.name, slug=lambda m: m.slug)
    if match.found is not None:
        return match.found
    other = match_name(typed, everyone, name=lambda m: m.name, slug=lambda m: m.slug).found
    if other is not None and other.status == "active":
        raise CommandError(f"{other.name} is already a member of {alliance.name}.")
    if other is not None:
        why = "it left" if other.status == "left" else "it was not approved"
        raise CommandError(
            f"{other.name} is not waiting for an answer ({why}). "
            f"Its moderators may ask again with {ctx.prefix}movement join."
        )
    if not waiting:
        raise CommandError(
            f"No movement called {quoted(typed)} is waiting; in fact none is waiting for an answer."
        )
    names = names_list([f"{m.name} ({m.slug})" for m in waiting])
    raise CommandError(f"No movement called {quoted(typed)} is waiting. Waiting: {names}.")


async def _put_in_space(ctx: Context, space_id: RoomID, movement: Movement) -> bool:
    """Add the movement's room to the space and invite who asked; False if it failed."""
    try:
        await ctx.services.send_state(
            space_id,
            event_type=SPACE_CHILD,
            state_key=movement.room_id,
            content={"via": [ctx.config.server_name]},
        )
    except MatrixError as exc:
        log.warning("Could not add movement %s to its space: %s", movement.id, exc)
        return False
    if ctx.services.room(space_id).members.get(movement.requested_by) not in ("join", "invite"):
        try:
            await ctx.services.invite(space_id, movement.requested_by)
        except MatrixError as exc:
            log.info("Could not invite to the space of movement %s: %s", movement.id, exc)
    return True


async def leave_alliance(ctx: Context, args: Args) -> Reply:
    movement = await _replayed(ctx, "leave")
    if movement is None:
        _, movement = await own_movement(
            ctx, args.option("alliance"), command="movement leave", active_only=False
        )
        movement = await db.leave_alliance(
            ctx.store,
            movement.id,
            left_by=ctx.sender,
            left_at=ctx.event.ts,
            event_id=ctx.event.event_id,
        )
    alliance = await db.alliance_by_id(ctx.store, movement.alliance_id)
    assert alliance is not None
    if alliance.space_id is not None:
        try:
            await ctx.services.send_state(
                alliance.space_id, event_type=SPACE_CHILD, state_key=movement.room_id, content={}
            )
        except MatrixError as exc:
            log.warning("Could not take movement %s out of its space: %s", movement.id, exc)
    await ctx.services.notice(
        alliance.commons_room_id,
        Reply(
            "movement_left_notice",
            {
                "movement": movement.name,
                "alliance": alliance.name,
                "link": room_link(movement.room_id, ctx.config.server_name),
            },
        ),
        txn_key=f"{ctx.event.event_id}/commons",
    )
    return Reply("movement_left", {"movement": movement.name, "alliance": alliance.name})


async def list_movements(ctx: Context, args: Args) -> Reply:
    alliance = await read_alliance(ctx, args.option("alliance"), command="movements")
    movements = [m for m in await db.movements_of(ctx.store, alliance.id) if m.status != "rejected"]
    return Reply(
        "movement_list",
        {
            "alliance": alliance.name,
            "movements": [_movement_view(ctx, m) for m in movements],
            "here_is_commons": alliance.commons_room_id == ctx.event.room_id,
        },
    )


# -- core statements --------------------------------------------------------------------------


async def _statement_subject(
    ctx: Context, typed: str, wanted_alliance: str | None, *, command: str
) -> tuple[RoomID, str, Alliance | None]:
    """Whose statement: this room's (typed empty), or a movement of this room's alliance."""
    if not typed.strip():
        alliance = None
        if wanted_alliance:
            alliance = await read_alliance(ctx, wanted_alliance, command=command)
        name, movement = await own_name(ctx, alliance)
        if alliance is None and movement is not None:
            alliance = await db.alliance_by_id(ctx.store, movement.alliance_id)
        return ctx.event.room_id, name, alliance
    alliances = await db.alliances_of_room(ctx.store, ctx.event.room_id)
    if wanted_alliance:
        alliances = [await read_alliance(ctx, wanted_alliance, command=command)]
    if not alliances:
        raise CommandError(not_in_alliance(ctx.prefix))
    found: list[tuple[Alliance, Movement]] = []
    known: list[Movement] = []
    for alliance in alliances:
        movements = [
            m for m in await db.movements_of(ctx.store, alliance.id) if m.status != "rejected"
        ]
        known.extend(movements)
        match = match_name(typed, movements, name=lambda m: m.name, slug=lambda m: m.slug)
        if match.found is not None:
            found.append((alliance, match.found))
    rooms = {movement.room_id for _, movement in found}
    if len(rooms) == 1:
        alliance, movement = found[0]
        return movement.room_id, movement.name, alliance
    if found:
        raise CommandError(several_alliances([a for a, _ in found], ctx.prefix, command))
    names = names_list(sorted({m.name for m in known}), empty="none yet")
    raise CommandError(f"I know no movement called {quoted(typed)} here. Movements: {names}.")


async def own_name(ctx: Context, alliance: Alliance | None) -> tuple[str, Movement | None]:
    """This room's movement name (in `alliance`, or its only one), else the room's name."""
    current = [
        m
        for m in await db.movements_of_room(ctx.store, ctx.event.room_id)
        if m.status in ("active", "pending") and (alliance is None or m.alliance_id == alliance.id)
    ]
    if len(current) == 1 or (current and alliance is not None):
        return current[0].name, current[0]
    return room_name(ctx.services, ctx.event.room_id, "this room"), None


async def show_statement(ctx: Context, args: Args) -> Reply:
    wanted, typed = take_alliance_flag(args.text("movement"))
    room_id, name, alliance = await _statement_subject(
        ctx, typed, args.option("alliance") or wanted, command="statement"
    )
    current = await db.statement(ctx.store, room_id)
    links = await db.links_of_room(ctx.store, room_id)
    objectives = {}
    if alliance is not None:
        objectives = {o.id: o for o in await db.objectives_of(ctx.store, alliance.id)}
    server = ctx.config.server_name
    items = [
        {
            "number": item.number,
            "text": item.text,
            "version": item.version,
            "date": day(item.changed_at, ctx),
            "poll_link": event_link(item.poll.room_id, item.poll.event_id, server)
            if item.poll.event_id
            else "",
            "objectives": [
                objectives[link.objective_id].number
                for link in links
                if link.item_id == item.id and link.objective_id in objectives
            ],
        }
        for item in current.items
    ]
    return Reply(
        "statement_show",
        {
            "movement": name,
            "here": room_id == ctx.event.room_id,
            "version": current.version,
            "date": day(current.updated_at, ctx),
            "items": items,
            "alliance": alliance.name if alliance else "",
        },
    )


async def statement_history(ctx: Context, args: Args) -> Reply:
    wanted, typed = take_alliance_flag(args.text("movement"))
    room_id, name, _ = await _statement_subject(
        ctx, typed, args.option("alliance") or wanted, command="statement history"
    )
    server = ctx.config.server_name
    versions = [
        {
            "version": v.version,
            "date": day(v.decided_at, ctx),
            "change": v.change,
            "item": v.item_number,
            "text": v.text or "",
            "previous": v.previous_text or "",
            "poll_link": event_link(v.poll.room_id, v.poll.event_id, server)
            if v.poll.event_id
            else "",
        }
        for v in await db.statement_history(ctx.store, room_id)
    ]
    return Reply(
        "statement_history",
        {"movement": name, "here": room_id == ctx.event.room_id, "versions": versions},
    )


async def _current_item(ctx: Context, number: int) -> db.StatementItem:
    current = await db.statement(ctx.store, ctx.event.room_id)
    item = current.item(number)
    if item is not None:
        return item
    if not current.items:
        raise CommandError(
            f"This room's core statement has no items yet. Type {ctx.prefix}statement to see it."
        )
    raise CommandError(
        f"The statement has items 1 to {len(current.items)}; there is no item {number}. "
        f"Type {ctx.prefix}statement to see them."
    )


async def link_item(ctx: Context, args: Args) -> Reply:
    alliance, movement = await own_movement(
        ctx, args.option("alliance"), command="statement link", active_only=False
    )
    item = await _current_item(ctx, int(args.get("item")))
    objective = await find_objective(ctx, alliance, str(args.get("objective")))
    replaced = await db.link_item(
        ctx.store,
        room_id=ctx.event.room_id,
        item_id=item.id,
        objective_id=objective.id,
        linked_by=ctx.sender,
        linked_at=ctx.event.ts,
    )
    current = await db.statement(ctx.store, ctx.event.room_id)
    old = next((i.number for i in current.items if i.id == replaced), None)
    return Reply(
        "statement_linked",
        {
            "movement": movement.name,
            "item": item.number,
            "item_text": item.text,
            "objective": objective.number,
            "objective_text": objective.text,
            "alliance": alliance.name,
            "replaced": old,
        },
    )


async def unlink_item(ctx: Context, args: Args) -> Reply:
    item = await _current_item(ctx, int(args.get("item")))
    objective_ids = await db.unlink_item(ctx.store, room_id=ctx.event.room_id, item_id=item.id)
    numbers: list[str] = []
    for movement in await db.movements_of_room(ctx.store, ctx.event.room_id):
        alliance = await db.alliance_by_id(ctx.store, movement.alliance_id)
        for objective in await db.objectives_of(ctx.store, movement.alliance_id):
            if objective.id in objective_ids and alliance is not None:
                numbers.append(f"#{objective.number} of {alliance.name}")
    return Reply("statement_unlinked", {"item": item.number, "objectives": numbers})


async def propose_item(ctx: Context, args: Args) -> Reply:
    text = check_text(
        args.text("text"),
        what="statement item",
        example=f"{ctx.prefix}statement propose We defend the commons.",
    )
    await _refuse_duplicate_item(ctx, text)
    name, _ = await own_name(ctx, None)
    question = f"Add to the core statement of {name}: “{text}”"
    return await _put_to_vote(ctx, StatementChange.add(text), question, f"add “{short(text)}”")


async def amend_item(ctx: Context, args: Args) -> Reply:
    item = await _current_item(ctx, int(args.get("item")))
    text = check_text(
        args.text("text"),
        what="new wording",
        example=f"{ctx.prefix}statement amend 2 We defend the commons together.",
    )
    if text_key(text) == text_key(item.text):
        raise CommandError(f"Item {item.number} already says that.")
    await _refuse_duplicate_item(ctx, text)
    name, _ = await own_name(ctx, None)
    question = (
        f"Change item {item.number} of the core statement of {name} from “{item.text}” to “{text}”"
    )
    change = StatementChange.amend(item.id, text)
    return await _put_to_vote(ctx, change, question, f"amend item {item.number}")


async def drop_item(ctx: Context, args: Args) -> Reply:
    item = await _current_item(ctx, int(args.get("item")))
    name, _ = await own_name(ctx, None)
    question = f"Drop item {item.number} from the core statement of {name}: “{item.text}”"
    change = StatementChange.drop(item.id)
    return await _put_to_vote(ctx, change, question, f"drop item {item.number}")


async def _refuse_duplicate_item(ctx: Context, text: str) -> None:
    for item in (await db.statement(ctx.store, ctx.event.room_id)).items:
        if text_key(item.text) == text_key(text):
            raise CommandError(f"Item {item.number} of the statement already says that.")


async def _put_to_vote(ctx: Context, change: StatementChange, question: str, what: str) -> Reply:
    """Open the consensus poll that decides a statement change (once, even if run again)."""
    poll = await polls.open_consensus_poll(
        ctx.services,
        room_id=ctx.event.room_id,
        proposal=question,
        creator=ctx.event.sender,
        txn_key=ctx.event.event_id,
    )
    await db.open_statement_proposal(
        ctx.store,
        room_id=ctx.event.room_id,
        change=change,
        proposed_by=ctx.sender,
        proposed_at=ctx.event.ts,
        command_event_id=ctx.event.event_id,
        poll=PollRef(ctx.event.room_id, poll.id, poll.start_event_id),
    )
    return Reply(
        "statement_vote_opened",
        {
            "what": what,
            "poll": poll.number,
            "rule": describe_rule(polls.rule_of(poll)),
        },
    )


# -- settling decisions when their poll closes ---------------------------------------------------


async def settle_decisions(services: Services) -> None:
    """Record the outcome of every closed poll a decision waits for, then tell the rooms."""
    store = services.store
    for ref in await db.pending_polls(store):
        assert ref.poll_id is not None
        result = await polls.consensus_result(store, ref.poll_id)
        if result is None:
            poll = await poll_store.get_poll(store, ref.poll_id)
            if poll is None or poll.removed:
                await db.withdraw_poll(store, ref, at=(poll.closed_at or 0) if poll else 0)
            continue
        reasons = [o.reason or "no reason given" for o in result.objections if o.choice == "block"]
        await db.settle_poll(
            store,
            poll=ref,
            outcome=result.outcome,
            decided_at=result.poll.closed_at or result.poll.created_at,
            block_reasons=reasons,
        )
    for stance in await db.stances_to_announce(store):
        await _announce_stance(services, stance)
        await db.mark_stance_announced(store, stance.id)
    for proposal in await db.proposals_to_announce(store):
        await _announce_change(services, proposal)
        await db.mark_proposal_announced(store, proposal.id)


def _poll_event(services: Services, poll: PollRef) -> Event | None:
    """The poll's start event, enough of it to answer it."""
    if poll.event_id is None:
        return None
    return Event(
        event_id=poll.event_id,
        room_id=poll.room_id,
        sender=UserID(services.config.user_id),
        type="org.matrix.msc3381.poll.start",
        ts=0,
        content={},
    )


async def _announce_stance(services: Services, stance: db.StanceRecord) -> None:
    movement = await db.movement_by_id(services.store, stance.movement_id)
    objective = await db.objective_by_id(services.store, stance.objective_id)
    if movement is None or objective is None:
        return
    alliance = await db.alliance_by_id(services.store, movement.alliance_id)
    await services.notice(
        stance.poll.room_id,
        Reply(
            "objective_stance_recorded",
            {
                "endorsed": stance.state == "endorsed",
                "movement": movement.name,
                "alliance": alliance.name if alliance else "",
                "number": objective.number,
                "text": objective.text,
                "reason": stance.reason or "",
                "blocks": list(stance.block_reasons),
            },
        ),
        txn_key=f"{stance.poll.key}/stance",
        answering=_poll_event(services, stance.poll),
    )


async def _announce_change(services: Services, proposal: db.Proposal) -> None:
    version = await db.version_by_poll(services.store, proposal.poll)
    result = None
    if proposal.poll.poll_id is not None:
        result = await polls.consensus_result(services.store, proposal.poll.poll_id)
    await services.notice(
        proposal.room_id,
        Reply(
            "statement_vote_decided",
            {
                "outcome": proposal.outcome,
                "reason": result.outcome.reason if result else "",
                "change": proposal.change.kind,
                "item": version.item_number if version else None,
                "version": version.version if version else None,
            },
        ),
        txn_key=f"{proposal.poll.key}/statement",
        answering=_poll_event(services, proposal.poll),
    )


# -- registration -----------------------------------------------------------------------------

# Shown in the usage line as `!movement join <alliance> as <movement name>`.
JOIN_PARAM: Final = "alliance> as <movement name"


def register(registry: Registry) -> None:
    registry.family("alliance", "Alliances and movements", order=30)
    registry.family("statement", "Core statements", order=31)
    for command in COMMANDS:
        registry.add(command)
    registry.every(Timer("alliance decisions", DECISION_CHECK_S, settle_decisions))


COMMANDS: Final = (
    Command(
        name="alliance create",
        family="alliance",
        summary="Start an alliance, with this room as its commons",
        handler=create_alliance,
        params=(Param("name", kind="text"),),
        power=Power.MODERATOR,
        help=(
            "This room becomes the alliance's commons room. I create a Matrix space named "
            "after the alliance, put this room in it and invite you. Movements then ask to "
            "join from their own rooms. Needs a bot admin (MULTILOGUE_ADMINS); when no admin "
            "is set, a moderator of this room."
        ),
        examples=("{prefix}alliance create Earth Alliance",),
    ),
    Command(
        name="alliance",
        family="alliance",
        summary="Show the alliance this room belongs to",
        handler=show_alliance,
        flags=(ALLIANCE_FLAG,),
        help=(
            "Shows the alliance's space and commons room, its movements and their status, "
            "and how many common objectives it has."
        ),
        examples=("{prefix}alliance", "{prefix}alliance --alliance earth-alliance"),
    ),
    Command(
        name="alliance set",
        family="alliance",
        summary="Change when an objective counts as common (in the commons)",
        handler=set_alliance,
        params=(Param("setting"), Param("value", kind="text")),
        power=Power.MODERATOR,
        help=(
            "The threshold says how many active movements must endorse an objective for it to "
            "count as common: 'more than half' (the default), 'all', a share like '2/3' or "
            "'75%', or a number of movements like '3'. Only moderators of the commons room."
        ),
        examples=(
            "{prefix}alliance set threshold 2/3",
            "{prefix}alliance set threshold more than half",
        ),
    ),
    Command(
        name="movement join",
        family="alliance",
        summary="Ask for this room's movement to join an alliance",
        handler=join_alliance,
        params=(Param(JOIN_PARAM, kind="text"),),
        power=Power.MODERATOR,
        help=(
            "Asks the alliance's commons to accept this room as a movement, under the name "
            "you give (unique in the alliance). The commons is told, and one of its moderators "
            "answers. Only moderators of this room. Put names with the word 'as' in quotes."
        ),
        examples=("{prefix}movement join Earth Alliance as Climate Camp",),
    ),
    Command(
        name="movement approve",
        family="alliance",
        summary="Accept a movement into the alliance (in the commons)",
        handler=approve_movement,
        params=(Param("movement", kind="text"),),
        power=Power.MODERATOR,
        help=(
            "Accepts a movement that asked to join; I add its room to the alliance's space. "
            "Only moderators of the commons room. The name or its short name both work."
        ),
        examples=("{prefix}movement approve climate-camp",),
    ),
    Command(
        name="movement reject",
        family="alliance",
        summary="Turn down a movement's request (in the commons)",
        handler=reject_movement,
        params=(Param("movement", kind="text"),),
        power=Power.MODERATOR,
        help="Turns down a request to join. Only moderators of the commons room.",
        examples=("{prefix}movement reject climate-camp",),
    ),
    Command(
        name="movement leave",
        family="alliance",
        summary="Take this room's movement out of an alliance",
        handler=leave_alliance,
        flags=(ALLIANCE_FLAG,),
        power=Power.MODERATOR,
        help=(
            "The movement leaves the alliance; its record stays, marked as left, and its room "
            "leaves the alliance's space. Only moderators of this room."
        ),
        examples=("{prefix}movement leave",),
    ),
    Command(
        name="movements",
        family="alliance",
        summary="List the alliance's movements and their status",
        handler=list_movements,
        flags=(ALLIANCE_FLAG,),
        examples=("{prefix}movements",),
    ),
    Command(
        name="statement",
        family="statement",
        summary="Show this movement's core statement, or another movement's",
        handler=show_statement,
        params=(Param("movement", kind="text", optional=True),),
        flags=(ALLIANCE_FLAG,),
        help=(
            "Shows the numbered items of the statement, its version and date, and the poll "
            "that ratified each item. Give a movement's name to read its statement."
        ),
        examples=("{prefix}statement", "{prefix}statement climate-camp"),
    ),
    Command(
        name="statement history",
        family="statement",
        summary="List the versions of a core statement and what changed",
        handler=statement_history,
        params=(Param("movement", kind="text", optional=True),),
        flags=(ALLIANCE_FLAG,),
        examples=("{prefix}statement history",),
    ),
    Command(
        name="statement propose",
        family="statement",
        summary="Propose a new item for this movement's statement",
        handler=propose_item,
        params=(Param("text", kind="text"),),
        help=(
            "Opens a consensus poll in this room; if it passes under the room's rule, the text "
            "becomes a new item of the statement. Nothing changes a statement but a passed poll."
        ),
        examples=("{prefix}statement propose We defend the commons.",),
    ),
    Command(
        name="statement amend",
        family="statement",
        summary="Propose new wording for an item of the statement",
        handler=amend_item,
        params=(Param("item", kind="int"), Param("text", kind="text")),
        help="Opens a consensus poll in this room on the new wording of the item.",
        examples=("{prefix}statement amend 2 We defend the commons together.",),
    ),
    Command(
        name="statement drop",
        family="statement",
        summary="Propose to drop an item of the statement",
        handler=drop_item,
        params=(Param("item", kind="int"),),
        help="Opens a consensus poll in this room on dropping the item.",
        examples=("{prefix}statement drop 3",),
    ),
    Command(
        name="statement link",
        family="statement",
        summary="Record that an item is your wording of a common objective",
        handler=link_item,
        params=(Param("item", kind="int"), Param("objective")),
        flags=(ALLIANCE_FLAG,),
        power=Power.MODERATOR,
        help=(
            "Links an item of this room's statement to a common objective of the alliance, "
            "so comparisons show your own words next to it. Only moderators of this room."
        ),
        examples=("{prefix}statement link 2 5",),
    ),
    Command(
        name="statement unlink",
        family="statement",
        summary="Remove an item's links to common objectives",
        handler=unlink_item,
        params=(Param("item", kind="int"),),
        power=Power.MODERATOR,
        help="Only moderators of this room.",
        examples=("{prefix}statement unlink 2",),
    ),
)
