"""The alliance family: alliances and the movements joining them.

Commands: `!alliance create`, `!alliance`, `!alliance set threshold`, `!movement join`,
`!movement approve`, `!movement reject`, `!movement leave`, `!movements`. Registering the
family also registers the statement family (`commands.alliance.statements`) and the timer
that settles the family's consensus polls (`commands.alliance.decisions`).

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

Which alliance a command is about, links, dates and wording shared with the statement and
objectives families are in `commands.alliance.shared`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final, TypeVar

from bot.contract import (
    N_,
    Args,
    Command,
    CommandError,
    Context,
    MatrixError,
    Param,
    Registry,
    Reply,
    Services,
    Timer,
    Words,
)
from bot.ids import RoomID
from bot.permissions import Power
from bot.store import Store
from commands import polls
from commands.alliance import decisions, objectives_store, statements
from commands.alliance.compare import Board, support
from commands.alliance.names import BadName, check_name, name_key, slugify
from commands.alliance.reviews import REVIEW_CHECK_S, ReviewSetting, review_due
from commands.alliance.settings import members_changed, settings
from commands.alliance.shared import (
    ALLIANCE_FLAG,
    Named,
    check_text,
    clip,
    commons_alliance,
    day,
    find_named,
    listed_movements,
    own_movement,
    read_alliance,
    room_name,
    unknown_alliance,
    words_stay_in,
)
from commands.alliance.store import (
    Alliance,
    Movement,
    Taken,
    all_alliances,
    alliance_by_commons,
    alliance_by_event,
    alliance_by_id,
    alliances_of_room,
    create_alliance,
    decide_movement,
    leave_alliance,
    movement_in,
    movements_of,
    movements_of_room,
    request_join,
    set_space,
    set_threshold,
)
from commands.alliance.thresholds import ThresholdError, parse_threshold, threshold_words
from commands.links import room_link

log = logging.getLogger(__name__)

SPACE_CHILD: Final = "m.space.child"
SPACE_PARENT: Final = "m.space.parent"
_N = TypeVar("_N", bound=Named)


def person(services: Services, room_id: RoomID, user_id: str) -> str:
    return services.room(room_id).display_name(user_id)


async def space_child(
    services: Services, space_id: RoomID, room_id: RoomID, *, inside: bool = True
) -> None:
    """Put a room in the alliance's space (`inside`), or take it out of it.

    The space lists the room (`m.space.child`, the bot's to send: it made the space). The room
    names the space as a parent (`m.space.parent`, so Element shows the space from inside the
    room) only where its moderators gave the bot the power to; nothing fails without it.
    """
    via = {"via": [services.config.server_name]}
    await services.send_state(
        space_id, event_type=SPACE_CHILD, state_key=room_id, content=via if inside else {}
    )
    if not services.room(room_id).may_send_state(services.config.user_id, SPACE_PARENT):
        return
    try:
        await services.send_state(
            room_id, event_type=SPACE_PARENT, state_key=space_id, content=via if inside else {}
        )
    except MatrixError as exc:
        log.info("Could not name the space in a room of the alliance: %s", exc)


# -- alliances --------------------------------------------------------------------------------


async def start_alliance(ctx: Context, args: Args) -> Reply:
    admins = ctx.config.admins
    if admins and ctx.sender not in admins:
        raise CommandError("alliance.admins_only")
    alliance = await alliance_by_event(ctx.store, ctx.event.event_id)
    again = alliance is not None
    if alliance is None:
        existing = await alliance_by_commons(ctx.store, ctx.event.room_id)
        if existing is not None and existing.space_id is not None:
            raise CommandError("alliance.already_commons", alliance=existing.name)
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
            "commons": room_name(ctx.services, commons),
        },
    )


async def _new_alliance(ctx: Context, typed: str) -> Alliance:
    try:
        name = check_name(typed, what="alliance")
    except BadName as exc:
        raise CommandError("alliance.bad_alliance_name", problem=exc.words) from None
    other = _same_name(name, await all_alliances(ctx.store))
    if other is not None:
        raise CommandError("alliance.alliance_exists", alliance=other.name)
    try:
        return await create_alliance(
            ctx.store,
            name=name,
            commons_room_id=ctx.event.room_id,
            created_by=ctx.sender,
            created_at=ctx.event.ts,
            command_event_id=ctx.event.event_id,
        )
    except Taken:
        raise CommandError("alliance.alliance_taken", name=name) from None


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
                topic=services.say(
                    ctx.event.room_id, Words("alliance.space_topic", {"alliance": alliance.name})
                ),
                invite=[ctx.sender],
                key=alliance.space_key,
            )
        if alliance.space_id is None:
            await set_space(ctx.store, alliance.id, space_id)
        await space_child(ctx.services, space_id, alliance.commons_room_id)
    except MatrixError as exc:
        log.warning("Could not set up the space of alliance %s: %s", alliance.id, exc)
        raise CommandError("alliance.no_space", alliance=alliance.name) from None
    found = await alliance_by_id(ctx.store, alliance.id)
    assert found is not None
    return found


async def show_alliance(ctx: Context, args: Args) -> Reply:
    alliance = await read_alliance(ctx, args.option("alliance"), command="alliance")
    services = ctx.services
    server = ctx.config.server_name
    movements = await listed_movements(ctx, alliance)
    active = [m for m in movements if m.status == "active"]
    board = await objectives_store.board(ctx.store, alliance, movements=active)
    return Reply(
        "alliance_show",
        {
            "name": alliance.name,
            "slug": alliance.slug,
            "space_link": room_link(alliance.space_id, server) if alliance.space_id else "",
            "commons": room_name(services, alliance.commons_room_id),
            "commons_link": room_link(alliance.commons_room_id, server),
            "here_is_commons": alliance.commons_room_id == ctx.event.room_id,
            "movements": [_movement_view(ctx, m) for m in movements],
            "objectives": len(board.objectives),
            "common": _common(board),
            "threshold": threshold_words(alliance.threshold),
            "created": day(alliance.created_at, ctx),
            "settings": [await s.shown(services, alliance) for s in settings(ctx.registry)],
        },
    )


def _common(board: Board) -> int:
    """How many of the alliance's objectives count as common."""
    return sum(1 for o in board.objectives if support(board, o).common)


def _movement_view(ctx: Context, movement: Movement) -> dict[str, Any]:
    status = Words(
        "alliance.movement_status",
        {"status": movement.status, "removed": bool(movement.removed_reason)},
    )
    return {
        "name": movement.name,
        "slug": movement.slug,
        "status": status,
        "active": movement.status == "active",
        "waiting": movement.status == "pending",
        "link": room_link(movement.room_id, ctx.config.server_name),
        "here": movement.room_id == ctx.event.room_id,
        "since": day(movement.left_at or movement.decided_at or movement.requested_at, ctx),
    }


async def set_alliance(ctx: Context, args: Args) -> Reply:
    alliance = await commons_alliance(ctx, doing="settings")
    setting = str(args.get("setting", "")).lower()
    offered = settings(ctx.registry)
    if setting != "threshold":
        for other in offered:
            if other.name == setting:
                return await other.change(ctx, alliance, args.text("value"))
        raise CommandError("alliance.unknown_setting", names=[s.name for s in offered])
    try:
        threshold = parse_threshold(args.text("value"))
    except ThresholdError as exc:
        raise CommandError("alliance.bad_threshold", problem=exc.words) from None
    await set_threshold(ctx.store, alliance.id, threshold)
    updated = await alliance_by_id(ctx.store, alliance.id)
    assert updated is not None
    board = await objectives_store.board(ctx.store, updated)
    active = len(board.movements)
    return Reply(
        "alliance_threshold_set",
        {
            "name": alliance.name,
            "threshold": threshold_words(threshold),
            "active": active,
            "needed": threshold.needed(active) if active else 0,
            "common": _common(board),
            "objectives": len(board.objectives),
        },
    )


# -- movements --------------------------------------------------------------------------------


async def join_alliance(ctx: Context, args: Args) -> Reply:
    movement = await _replayed(ctx, "request")
    if movement is None:
        movement = await _ask_to_join(ctx, args.readings("alliance"))
    alliance = await alliance_by_id(ctx.store, movement.alliance_id)
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
    for movement in await movements_of_room(ctx.store, ctx.event.room_id):
        if which == "request" and movement.request_event_id == ctx.event.event_id:
            return movement
        if which == "leave" and movement.left_event_id == ctx.event.event_id:
            return movement
    return None


async def _ask_to_join(ctx: Context, splits: Sequence[tuple[str, str]]) -> Movement:
    if not splits:
        raise CommandError("alliance.say_join")
    every = await all_alliances(ctx.store)
    found = [
        (match, typed_name)
        for typed_alliance, typed_name in splits
        if (match := find_named(typed_alliance, every)) is not None
    ]
    if not found:
        raise unknown_alliance(splits[0][0])
    alliance, typed_name = found[0]
    room_id = ctx.event.room_id
    if alliance.commons_room_id == room_id:
        raise CommandError("alliance.join_from_own_room", alliance=alliance.name)
    if words_stay_in(ctx, alliance.commons_room_id):
        raise CommandError("alliance.commons_encrypted", alliance=alliance.name)
    mine = await movement_in(ctx.store, alliance.id, room_id)
    if mine is not None and mine.status == "pending":
        raise CommandError(
            "alliance.already_asked", alliance=alliance.name, movement=mine.name, slug=mine.slug
        )
    if mine is not None and mine.status == "active":
        raise CommandError("alliance.already_in", alliance=alliance.name, movement=mine.name)
    try:
        name = check_name(typed_name, what="movement")
    except BadName as exc:
        raise CommandError("alliance.bad_movement_name", problem=exc.words) from None
    others = [
        m
        for m in await movements_of(ctx.store, alliance.id)
        if m.status != "rejected" and m.room_id != room_id
    ]
    other = _same_name(name, others)
    if other is not None:
        raise CommandError("alliance.movement_exists", alliance=alliance.name, movement=other.name)
    try:
        return await request_join(
            ctx.store,
            alliance_id=alliance.id,
            room_id=room_id,
            name=name,
            requested_by=ctx.sender,
            requested_at=ctx.event.ts,
            event_id=ctx.event.event_id,
        )
    except Taken:
        raise CommandError("alliance.movement_taken", alliance=alliance.name) from None


def _same_name(name: str, others: Sequence[_N]) -> _N | None:
    """The first of `others` already called `name`, or by its slug."""
    key, slug = name_key(name), slugify(name)
    return next((o for o in others if name_key(o.name) == key or o.slug == slug), None)


async def approve_movement(ctx: Context, args: Args) -> Reply:
    return await _decide(ctx, args.text("movement"), approve=True)


async def reject_movement(ctx: Context, args: Args) -> Reply:
    return await _decide(ctx, args.text("movement"), approve=False)


async def _decide(ctx: Context, typed: str, *, approve: bool) -> Reply:
    verb = "approve" if approve else "reject"
    alliance = await commons_alliance(ctx, doing=verb)
    everyone = await movements_of(ctx.store, alliance.id)
    replay = [m for m in everyone if m.decided_event_id == ctx.event.event_id]
    if replay:
        movement = replay[0]
    else:
        movement = _waiting_movement(ctx, alliance, everyone, typed, verb)
        if approve and ctx.room.encrypted and not ctx.services.room(movement.room_id).encrypted:
            raise CommandError("alliance.movement_not_encrypted", movement=movement.name)
        movement = await decide_movement(
            ctx.store,
            movement.id,
            status="active" if approve else "rejected",
            decided_by=ctx.sender,
            decided_at=ctx.event.ts,
            event_id=ctx.event.event_id,
        )
    await members_changed(ctx.services)
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
        raise CommandError(
            "alliance.say_which_movement", verb=verb, waiting=[m.slug for m in waiting]
        )
    found = find_named(typed, waiting)
    if found is not None:
        return found
    other = find_named(typed, everyone)
    if other is not None and other.status == "active":
        raise CommandError("alliance.already_member", movement=other.name, alliance=alliance.name)
    if other is not None:
        raise CommandError("alliance.not_waiting", movement=other.name, left=other.status == "left")
    if not waiting:
        raise CommandError("alliance.none_waiting", typed=clip(typed))
    raise CommandError(
        "alliance.not_waiting_called",
        typed=clip(typed),
        waiting=[{"name": m.name, "slug": m.slug} for m in waiting],
    )


async def _put_in_space(ctx: Context, space_id: RoomID, movement: Movement) -> bool:
    """Add the movement's room to the space and invite who asked; False if it failed."""
    try:
        await space_child(ctx.services, space_id, movement.room_id)
    except MatrixError as exc:
        log.warning("Could not add movement %s to its space: %s", movement.id, exc)
        return False
    if ctx.services.room(space_id).members.get(movement.requested_by) not in ("join", "invite"):
        try:
            await ctx.services.invite(space_id, movement.requested_by)
        except MatrixError as exc:
            log.info("Could not invite to the space of movement %s: %s", movement.id, exc)
    return True


async def quit_alliance(ctx: Context, args: Args) -> Reply:
    movement = await _replayed(ctx, "leave")
    if movement is None:
        _, movement = await own_movement(
            ctx, args.option("alliance"), command="movement leave", active_only=False
        )
        movement = await leave_alliance(
            ctx.store,
            movement.id,
            left_by=ctx.sender,
            left_at=ctx.event.ts,
            event_id=ctx.event.event_id,
        )
    alliance = await alliance_by_id(ctx.store, movement.alliance_id)
    assert alliance is not None
    await members_changed(ctx.services)
    await _out_of_space(ctx, alliance, movement)
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


async def remove_movement(ctx: Context, args: Args) -> Reply:
    """The commons takes a movement out of the alliance, with a reason said in both rooms."""
    alliance = await commons_alliance(ctx, doing="remove")
    everyone = await movements_of(ctx.store, alliance.id)
    replay = [m for m in everyone if m.left_event_id == ctx.event.event_id]
    if replay:
        movement = replay[0]
    else:
        active = [m for m in everyone if m.status == "active"]
        found, reason = _name_then_reason(args.text("movement"), active)
        if found is None:
            raise CommandError("alliance.say_which_to_remove", members=[m.name for m in active])
        reason = check_text(reason, what="removal_reason", movement=found.name)
        movement = await leave_alliance(
            ctx.store,
            found.id,
            left_by=ctx.sender,
            left_at=ctx.event.ts,
            event_id=ctx.event.event_id,
            removed_reason=reason,
        )
    await members_changed(ctx.services)
    await _out_of_space(ctx, alliance, movement)
    told = await ctx.services.notice(
        movement.room_id,
        Reply(
            "movement_removed_notice",
            {
                "movement": movement.name,
                "alliance": alliance.name,
                "reason": movement.removed_reason or "",
                "by": ctx.room.display_name(ctx.sender),
            },
        ),
        txn_key=f"{ctx.event.event_id}/movement",
    )
    return Reply(
        "movement_removed",
        {
            "movement": movement.name,
            "alliance": alliance.name,
            "reason": movement.removed_reason or "",
            "movement_told": told is not None,
        },
    )


def _name_then_reason(text: str, movements: Sequence[Movement]) -> tuple[Movement | None, str]:
    """`Climate Camp because ...`: the longest start of `text` naming one of `movements`, and
    the rest (a leading "because", ":" or "-" dropped)."""
    words = text.split()
    for cut in range(len(words), 0, -1):
        found = find_named(" ".join(words[:cut]), movements)
        if found is not None:
            rest = " ".join(words[cut:]).lstrip(":-– ").strip()
            return found, rest.removeprefix("because ").strip()
    return None, ""


async def _out_of_space(ctx: Context, alliance: Alliance, movement: Movement) -> None:
    """Take a departed movement's room out of the alliance's space (logged when refused)."""
    if alliance.space_id is None:
        return
    try:
        await space_child(ctx.services, alliance.space_id, movement.room_id, inside=False)
    except MatrixError as exc:
        log.warning("Could not take movement %s out of its space: %s", movement.id, exc)


async def list_movements(ctx: Context, args: Args) -> Reply:
    alliance = await read_alliance(ctx, args.option("alliance"), command="movements")
    movements = await listed_movements(ctx, alliance)
    return Reply(
        "movement_list",
        {
            "alliance": alliance.name,
            "movements": [_movement_view(ctx, m) for m in movements],
            "here_is_commons": alliance.commons_room_id == ctx.event.room_id,
        },
    )


# -- registration -----------------------------------------------------------------------------


class AllianceConstituencies:
    """Who an alliance-wide poll is for, as the polls family asks it (`polls.CONSTITUENCIES`):
    the polls family knows poll groups, this family knows alliances."""

    async def of_commons(self, store: Store, room_id: RoomID) -> polls.Constituency | None:
        alliance = await alliance_by_commons(store, room_id)
        if alliance is None:
            return None
        movements = await movements_of(store, alliance.id, statuses=("active",))
        return polls.Constituency(
            alliance.id,
            alliance.name,
            [polls.Member(m.id, m.name, m.room_id) for m in movements],
        )

    async def names_of_alliances_of(self, store: Store, room_id: RoomID) -> list[str]:
        return [a.name for a in await alliances_of_room(store, room_id)]

    async def name_of(self, store: Store, alliance_id: int) -> str | None:
        alliance = await alliance_by_id(store, alliance_id)
        return alliance.name if alliance else None


def register(registry: Registry) -> None:
    """The alliance family, then the statement family and the timer that settles polls."""
    registry.family("alliance", N_("Alliances and movements"), order=30)
    for command in COMMANDS:
        registry.add(command)
    registry.provide(polls.CONSTITUENCIES, AllianceConstituencies())
    statements.register(registry)
    decisions.register(registry)
    registry.offer(polls.ROOM_SETTINGS, ReviewSetting())
    registry.every(
        Timer("standing reviews", REVIEW_CHECK_S, review_due, woken_by=frozenset({polls.CLOSED}))
    )


COMMANDS: Final = (
    Command(
        name="alliance create",
        family="alliance",
        summary=N_("Start an alliance, with this room as its commons"),
        handler=start_alliance,
        params=(Param("name", kind="text"),),
        power=Power.MODERATOR,
        help=N_(
            "This room becomes the alliance's commons room. I create a Matrix space named "
            "after the alliance, put this room in it and invite you. Movements then ask to "
            "join from their own rooms. Needs a bot admin (MULTILOGUE_ADMINS); when no admin "
            "is set, a moderator of this room."
        ),
        examples=(N_("{prefix}alliance create Earth Alliance"),),
    ),
    Command(
        name="alliance",
        family="alliance",
        summary=N_("Show the alliance this room belongs to"),
        handler=show_alliance,
        flags=(ALLIANCE_FLAG,),
        help=N_(
            "Shows the alliance's space and commons room, its movements and their status, "
            "and how many common objectives it has."
        ),
        examples=("{prefix}alliance", N_("{prefix}alliance --alliance earth-alliance")),
    ),
    Command(
        name="alliance set",
        family="alliance",
        summary=N_("Change when an objective counts as common (in the commons)"),
        handler=set_alliance,
        params=(Param("setting"), Param("value", kind="text")),
        power=Power.MODERATOR,
        help=N_(
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
        summary=N_("Ask for this room's movement to join an alliance"),
        handler=join_alliance,
        params=(Param("alliance", kind="text", split_at="as", second="movement name"),),
        power=Power.MODERATOR,
        help=N_(
            "Asks the alliance's commons to accept this room as a movement, under the name "
            "you give (unique in the alliance). The commons is told, and one of its moderators "
            "answers. Only moderators of this room. Put names with the word 'as' in quotes."
        ),
        examples=(N_("{prefix}movement join Earth Alliance as Climate Camp"),),
    ),
    Command(
        name="movement approve",
        family="alliance",
        summary=N_("Accept a movement into the alliance (in the commons)"),
        handler=approve_movement,
        params=(Param("movement", kind="text"),),
        power=Power.MODERATOR,
        help=N_(
            "Accepts a movement that asked to join; I add its room to the alliance's space. "
            "Only moderators of the commons room. The name or its short name both work."
        ),
        examples=(N_("{prefix}movement approve climate-camp"),),
    ),
    Command(
        name="movement reject",
        family="alliance",
        summary=N_("Turn down a movement's request (in the commons)"),
        handler=reject_movement,
        params=(Param("movement", kind="text"),),
        power=Power.MODERATOR,
        help=N_("Turns down a request to join. Only moderators of the commons room."),
        examples=(N_("{prefix}movement reject climate-camp"),),
    ),
    Command(
        name="movement leave",
        family="alliance",
        summary=N_("Take this room's movement out of an alliance"),
        handler=quit_alliance,
        flags=(ALLIANCE_FLAG,),
        power=Power.MODERATOR,
        help=N_(
            "The movement leaves the alliance; its record stays, marked as left, and its room "
            "leaves the alliance's space. Only moderators of this room."
        ),
        examples=("{prefix}movement leave",),
    ),
    Command(
        name="movement remove",
        family="alliance",
        summary=N_("Take a movement out of the alliance, with a reason (in the commons)"),
        handler=remove_movement,
        params=(Param("movement", kind="text", split_at="because", second="reason"),),
        power=Power.MODERATOR,
        help=N_(
            "For a movement that no longer keeps the alliance's trust. Give its name, then why: "
            "the movement's room and the commons are told, its room leaves the space, its "
            "shared threads stop, and its record stays, marked as removed with the reason. "
            "Only moderators of the commons room. The movement may ask to join again."
        ),
        examples=(
            N_(
                "{prefix}movement remove Climate Camp because it shared our plans "
                "outside the alliance"
            ),
        ),
    ),
    Command(
        name="movements",
        family="alliance",
        summary=N_("List the alliance's movements and their status"),
        handler=list_movements,
        flags=(ALLIANCE_FLAG,),
        examples=("{prefix}movements",),
    ),
)
