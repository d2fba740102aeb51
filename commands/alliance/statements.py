"""The statement family: each movement's core statement, in its own words.

Commands: `!statement`, `!statement history`, `!statement link`, `!statement unlink`,
`!statement propose`, `!statement amend`, `!statement drop`.

Who acts for whom: a movement is a room, and its statement is that room's. Anyone may read
any movement's statement in the alliance. Anyone in the room may propose a change to its
statement; only the room's moderators link its items to the alliance's common objectives.

Nothing changes a statement but a passed consensus poll: `!statement propose/amend/drop` open
one with `commands.polls.open_consensus_poll` and record the change it is about
(`statements_store.open_statement_proposal`). When the poll closes,
`commands.alliance.decisions.settle_decisions` applies the change and tells the room.

Restart safety: the poll is opened with the command's event id as its transaction key, and
the proposal is keyed by the same id, so a command handled again opens nothing twice.
"""

from __future__ import annotations

from typing import Final

from bot.contract import (
    N_,
    Args,
    Command,
    CommandError,
    Context,
    Param,
    Registry,
    Reply,
    Words,
    short,
)
from bot.ids import RoomID
from bot.permissions import Power
from commands import polls
from commands.alliance import objectives_store, statements_store
from commands.alliance.names import text_key
from commands.alliance.shared import (
    ALLIANCE_FLAG,
    check_text,
    clip,
    day,
    find_named,
    find_objective,
    listed_movements,
    no_alliance_to_read,
    own_movement,
    read_alliance,
    room_name,
    several_alliances,
    words_stay_in,
)
from commands.alliance.statements_store import StatementChange, StatementItem
from commands.alliance.store import (
    Alliance,
    Movement,
    PollRef,
    alliance_by_id,
    alliances_of_room,
    movements_of_room,
)
from commands.links import event_link
from commands.polls.rules import rule_words

# -- whose statement --------------------------------------------------------------------------


async def _statement_subject(
    ctx: Context, args: Args, *, command: str
) -> tuple[RoomID, str, Alliance | None]:
    """Whose statement: this room's (no movement typed), or a movement of this room's alliance."""
    typed = args.text("movement")
    wanted_alliance = args.option("alliance")
    if not typed.strip():
        alliance = None
        if wanted_alliance:
            alliance = await read_alliance(ctx, wanted_alliance, command=command)
        name, movement = await own_name(ctx, alliance)
        if alliance is None and movement is not None:
            alliance = await alliance_by_id(ctx.store, movement.alliance_id)
        return ctx.event.room_id, name, alliance
    alliances = await alliances_of_room(ctx.store, ctx.event.room_id, statuses=("active",))
    if wanted_alliance:
        alliances = [await read_alliance(ctx, wanted_alliance, command=command)]
    if not alliances:
        raise await no_alliance_to_read(ctx)
    found: list[tuple[Alliance, Movement]] = []
    known: list[Movement] = []
    for alliance in alliances:
        movements = await listed_movements(ctx, alliance)
        known.extend(movements)
        match = find_named(typed, movements)
        if match is not None:
            found.append((alliance, match))
    rooms = {movement.room_id for _, movement in found}
    if len(rooms) == 1:
        alliance, movement = found[0]
        return movement.room_id, movement.name, alliance
    if found:
        raise several_alliances([a for a, _ in found], command)
    raise CommandError(
        "statements.unknown_movement", typed=clip(typed), movements=sorted({m.name for m in known})
    )


async def own_name(ctx: Context, alliance: Alliance | None) -> tuple[str, Movement | None]:
    """This room's movement name (in `alliance`, or its only one), else the room's name ("" for
    a room without one: templates and poll questions then say "this room")."""
    current = [
        m
        for m in await movements_of_room(ctx.store, ctx.event.room_id)
        if m.status in ("active", "pending") and (alliance is None or m.alliance_id == alliance.id)
    ]
    if len(current) == 1 or (current and alliance is not None):
        return current[0].name, current[0]
    return room_name(ctx.services, ctx.event.room_id), None


# -- reading statements -----------------------------------------------------------------------


def _poll_link(poll: PollRef, server: str) -> str:
    """A link to the poll that decided something (none for a poll with no start event)."""
    return event_link(poll.room_id, poll.event_id, server) if poll.event_id else ""


async def show_statement(ctx: Context, args: Args) -> Reply:
    room_id, name, alliance = await _statement_subject(ctx, args, command="statement")
    if words_stay_in(ctx, room_id):
        return Reply("statement_sealed", {"movement": name})
    current = await statements_store.statement(ctx.store, room_id)
    links = await objectives_store.links_of_room(ctx.store, room_id)
    objectives = {}
    if alliance is not None:
        objectives = {o.id: o for o in await objectives_store.objectives_of(ctx.store, alliance.id)}
    server = ctx.config.server_name
    items = [
        {
            "number": item.number,
            "text": item.text,
            "version": item.version,
            "date": day(item.changed_at, ctx),
            "poll_link": _poll_link(item.poll, server),
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
    room_id, name, _ = await _statement_subject(ctx, args, command="statement history")
    if words_stay_in(ctx, room_id):
        return Reply("statement_sealed", {"movement": name})
    server = ctx.config.server_name
    versions = [
        {
            "version": v.version,
            "date": day(v.decided_at, ctx),
            "change": v.change,
            "item": v.item_number,
            "text": v.text or "",
            "previous": v.previous_text or "",
            "poll_link": _poll_link(v.poll, server),
        }
        for v in await statements_store.statement_history(ctx.store, room_id)
    ]
    return Reply(
        "statement_history",
        {"movement": name, "here": room_id == ctx.event.room_id, "versions": versions},
    )


# -- linking items to objectives --------------------------------------------------------------


async def _current_item(ctx: Context, args: Args) -> StatementItem:
    """The item of this room's statement numbered by the `item` argument, or a refusal."""
    number = int(args.get("item"))
    current = await statements_store.statement(ctx.store, ctx.event.room_id)
    item = current.item(number)
    if item is not None:
        return item
    if not current.items:
        raise CommandError("statements.no_items")
    raise CommandError("statements.no_such_item", count=len(current.items), number=number)


async def link_item(ctx: Context, args: Args) -> Reply:
    alliance, movement = await own_movement(
        ctx, args.option("alliance"), command="statement link", active_only=False
    )
    item = await _current_item(ctx, args)
    objective = await find_objective(ctx, alliance, str(args.get("objective")))
    replaced = await objectives_store.link_item(
        ctx.store,
        room_id=ctx.event.room_id,
        item_id=item.id,
        objective_id=objective.id,
        linked_by=ctx.sender,
        linked_at=ctx.event.ts,
    )
    current = await statements_store.statement(ctx.store, ctx.event.room_id)
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
    item = await _current_item(ctx, args)
    objective_ids = await objectives_store.unlink_item(
        ctx.store, room_id=ctx.event.room_id, item_id=item.id
    )
    unlinked: list[dict[str, object]] = []
    for movement in await movements_of_room(ctx.store, ctx.event.room_id):
        alliance = await alliance_by_id(ctx.store, movement.alliance_id)
        for objective in await objectives_store.objectives_of(ctx.store, movement.alliance_id):
            if objective.id in objective_ids and alliance is not None:
                unlinked.append({"number": objective.number, "alliance": alliance.name})
    return Reply("statement_unlinked", {"item": item.number, "objectives": unlinked})


# -- proposing changes ------------------------------------------------------------------------


async def propose_item(ctx: Context, args: Args) -> Reply:
    text = check_text(args.text("text"), what="statement_item")
    closes = args.option("closes")
    await _refuse_duplicate_item(ctx, text)
    name, _ = await own_name(ctx, None)
    question = ctx.services.say(
        ctx.event.room_id, Words("statements.add_question", {"movement": name, "text": text})
    )
    change = StatementChange.add(text)
    return await _put_to_vote(ctx, change, question, closes=closes, text=short(text))


async def amend_item(ctx: Context, args: Args) -> Reply:
    item = await _current_item(ctx, args)
    text = check_text(args.text("text"), what="new_wording")
    closes = args.option("closes")
    if text_key(text) == text_key(item.text):
        raise CommandError("statements.same_wording", number=item.number)
    await _refuse_duplicate_item(ctx, text)
    name, _ = await own_name(ctx, None)
    question = ctx.services.say(
        ctx.event.room_id,
        Words(
            "statements.amend_question",
            {"number": item.number, "movement": name, "old": item.text, "new": text},
        ),
    )
    change = StatementChange.amend(item.id, text)
    return await _put_to_vote(ctx, change, question, closes=closes, item=item.number)


async def drop_item(ctx: Context, args: Args) -> Reply:
    item = await _current_item(ctx, args)
    name, _ = await own_name(ctx, None)
    question = ctx.services.say(
        ctx.event.room_id,
        Words(
            "statements.drop_question",
            {"number": item.number, "movement": name, "text": item.text},
        ),
    )
    change = StatementChange.drop(item.id)
    return await _put_to_vote(ctx, change, question, closes=args.option("closes"), item=item.number)


async def _refuse_duplicate_item(ctx: Context, text: str) -> None:
    for item in (await statements_store.statement(ctx.store, ctx.event.room_id)).items:
        if text_key(item.text) == text_key(text):
            raise CommandError("statements.duplicate_item", number=item.number)


async def _put_to_vote(
    ctx: Context,
    change: StatementChange,
    question: str,
    *,
    closes: str | None,
    item: int | None = None,
    text: str | None = None,
) -> Reply:
    """Open the consensus poll that decides a statement change (once, even if run again).

    The reply names the change: the new text for an addition, the item's number otherwise.
    """
    closes_at = await polls.decision_closes_at(ctx, closes)
    poll = await polls.open_consensus_poll(
        ctx.services,
        room_id=ctx.event.room_id,
        proposal=question,
        creator=ctx.event.sender,
        txn_key=ctx.event.event_id,
        closes_at=closes_at,
        decision=True,
    )
    await statements_store.open_statement_proposal(
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
            "change": change.kind,
            "item": item,
            "text": text,
            "poll": poll.number,
            "rule": rule_words(polls.rule_of(poll)),
            "closes": polls.local_time(poll.closes_at or closes_at, ctx),
        },
    )


# -- registration -----------------------------------------------------------------------------


def register(registry: Registry) -> None:
    registry.family("statement", N_("Core statements"), order=31)
    for command in COMMANDS:
        registry.add(command)


COMMANDS: Final = (
    Command(
        name="statement",
        family="statement",
        summary=N_("Show this movement's core statement, or another movement's"),
        handler=show_statement,
        params=(Param("movement", kind="text", optional=True),),
        flags=(ALLIANCE_FLAG,),
        help=N_(
            "Shows the numbered items of the statement, its version and date, and the poll "
            "that ratified each item. Give a movement's name to read its statement."
        ),
        examples=("{prefix}statement", N_("{prefix}statement climate-camp")),
    ),
    Command(
        name="statement history",
        family="statement",
        summary=N_("List the versions of a core statement and what changed"),
        handler=statement_history,
        params=(Param("movement", kind="text", optional=True),),
        flags=(ALLIANCE_FLAG,),
        examples=("{prefix}statement history",),
    ),
    Command(
        name="statement propose",
        family="statement",
        summary=N_("Propose a new item for this movement's statement"),
        handler=propose_item,
        flags=(polls.CLOSES_FLAG,),
        params=(Param("text", kind="text"),),
        help=N_(
            "Opens a consensus poll in this room; if it passes under the room's rule, the text "
            "becomes a new item of the statement. Nothing changes a statement but a passed poll. "
            "It stays open until the room's deadline (24 hours unless its moderators set another "
            "with {prefix}rules set deadline); --closes may make it longer. Only a moderator "
            "closes it earlier; whoever opened it may withdraw it."
        ),
        examples=(N_("{prefix}statement propose We defend the commons."),),
    ),
    Command(
        name="statement amend",
        family="statement",
        summary=N_("Propose new wording for an item of the statement"),
        handler=amend_item,
        flags=(polls.CLOSES_FLAG,),
        params=(Param("item", kind="int"), Param("text", kind="text")),
        help=N_("Opens a consensus poll in this room on the new wording of the item."),
        examples=(N_("{prefix}statement amend 2 We defend the commons together."),),
    ),
    Command(
        name="statement drop",
        family="statement",
        summary=N_("Propose to drop an item of the statement"),
        handler=drop_item,
        flags=(polls.CLOSES_FLAG,),
        params=(Param("item", kind="int"),),
        help=N_("Opens a consensus poll in this room on dropping the item."),
        examples=("{prefix}statement drop 3",),
    ),
    Command(
        name="statement link",
        family="statement",
        summary=N_("Record that an item is your wording of a common objective"),
        handler=link_item,
        params=(Param("item", kind="int"), Param("objective")),
        flags=(ALLIANCE_FLAG,),
        power=Power.MODERATOR,
        help=N_(
            "Links an item of this room's statement to a common objective of the alliance, "
            "so comparisons show your own words next to it. Only moderators of this room."
        ),
        examples=("{prefix}statement link 2 5",),
    ),
    Command(
        name="statement unlink",
        family="statement",
        summary=N_("Remove an item's links to common objectives"),
        handler=unlink_item,
        params=(Param("item", kind="int"),),
        power=Power.MODERATOR,
        help=N_("Only moderators of this room."),
        examples=("{prefix}statement unlink 2",),
    ),
)
