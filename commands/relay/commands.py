"""The relay family: threads a movement shares with its alliance, carried between rooms.

Commands: `!share`, `!unshare`, `!follow`, `!unfollow`, `!shared`.

How a shared thread lives:

1. `!share` in a thread of a movement room (its author or a moderator) records the share and
   answers in the thread where it will be visible (the commons and its member count); only then
   is the thread's first message posted into the commons as a new thread, attributed
   `<name> · <movement>`, with a link back. Earlier replies stay home.
2. A listener sees every message of every room. A message in a linked thread (the origin's, the
   commons copy, a follower's copy) is copied into every other linked thread, attributed: in a
   movement room with that movement, in the commons with the sender's movement when they are in
   exactly one movement room of the alliance, else "commons". Edits become edits of the copies,
   redactions redact them (only when made by the writer or someone allowed to redact).
3. `!follow N` (a moderator of another movement room) posts the first message there as a new
   thread and links it; `!unfollow` and `!unshare` stop links, announced in every linked thread.
4. When a movement leaves the alliance, relays to and from its room stop at once; within a few
   seconds every linked thread, its own included, is told so, once (`announce_departures`).

Not relayed: threads that were not shared; commands (they are answered where they are typed);
`m.notice`s of bots; anything carrying a relay marker (no loops; the bot never sees its own
events anyway); anything from or to a movement that is no longer an active member (a link keeps
the approval it was made under, so leaving and joining again does not revive old links); content
of an encrypted room into an unencrypted one unless a moderator allowed it after a warning
(`--allow-unencrypted`).

Once and in order: every copy is claimed in SQLite (original, target room) before it is sent,
with a transaction id derived from that pair (`commands.relay.store.claim_copy`), so a message
reaches each linked thread at most once, ever, and a crash mid-send never doubles it. Each room's
events are handled one after another by that room's worker, so messages of one thread arrive in
every other linked thread in the order they were written there. Messages written in two
different rooms at nearly the same moment are relayed in the order the bot handles them (each
room's worker runs on its own); there is no global order across rooms. The inbox hands the relay
listener messages sent while the bot was away, however old (`Listener.include_old`), so they are
relayed, in order, when it returns.

Where things are: the commands and the departures timer here; the listener and the making of
each copy in `commands.relay.copies`; storage in `commands.relay.store`; the content of a
copy (attribution, cleaned HTML, attachments) in `commands.relay.content`.

Pacing: copies are background sends (`Services.send(..., background=True)`): when the homeserver
rate-limits the bot, the outbox waits as long as it asks, never gives a copy up for it, and lets
answers to commands in other rooms go first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from bot.contract import (
    N_,
    Args,
    Command,
    CommandError,
    Context,
    Flag,
    Listener,
    Param,
    Registry,
    Reply,
    Services,
    Timer,
    Words,
)
from bot.ids import EventID
from bot.languages import Moment
from bot.permissions import Power
from bot.rooms import RoomState
from commands.alliance.shared import ALLIANCE_FLAG, words_stay_in
from commands.alliance.store import (
    Alliance,
    Movement,
    alliance_by_commons,
    alliance_by_id,
    alliances_of_room,
    movement_by_id,
    movements_of_room,
)
from commands.links import event_link, room_link
from commands.relay import store as rdb
from commands.relay.content import kind_of, title_of
from commands.relay.copies import (
    MESSAGE,
    REDACTION,
    encrypted,
    linked_rooms,
    on_event,
    origin_movement,
    post_root,
    releases_to_plain_rooms,
    root_event,
    tell_threads,
    usable,
)
from commands.relay.store import SharedThread, ThreadLink

log = logging.getLogger(__name__)

UNENCRYPTED_FLAG: Final = Flag(
    "allow-unencrypted",
    None,
    N_(
        "after my warning: let this encrypted room's messages be relayed "
        "into rooms that are not encrypted (moderators)"
    ),
)
DEPARTURE_CHECK_S: Final = 5.0  # how soon a shared thread hears that a movement left


# -- the rooms a command is about ---------------------------------------------------------------


def _matches(alliance: Alliance, typed: str) -> bool:
    wanted = " ".join(typed.split()).lower()
    return wanted in (alliance.name.lower(), alliance.slug.lower())


def _several(alliances: Sequence[Alliance], command: str) -> CommandError:
    return CommandError(
        "relay.several_alliances",
        names=[a.name for a in alliances],
        command=command,
        slug=alliances[0].slug,
    )


async def _movement_here(
    ctx: Context, wanted: str | None, *, command: str
) -> tuple[Alliance, Movement]:
    """This room as an active movement of an alliance (`--alliance` when it is in several)."""
    store, room_id = ctx.store, ctx.event.room_id
    pairs: list[tuple[Alliance, Movement]] = []
    for movement in await movements_of_room(store, room_id):
        alliance = await alliance_by_id(store, movement.alliance_id)
        if movement.status == "active" and alliance is not None:
            pairs.append((alliance, movement))
    if wanted:
        pairs = [pair for pair in pairs if _matches(pair[0], wanted)]
        if not pairs:
            raise CommandError("relay.not_a_movement_of", alliance=wanted)
    if len(pairs) == 1:
        return pairs[0]
    if pairs:
        raise _several([pair[0] for pair in pairs], command)
    commons = await alliance_by_commons(store, room_id)
    if commons is not None:
        raise CommandError("relay.in_the_commons", alliance=commons.name)
    raise CommandError("relay.not_a_movement")


async def _alliance_here(ctx: Context, wanted: str | None, *, command: str) -> Alliance:
    """The alliance whose commons this room is, or of which it is an active movement."""
    found = await alliances_of_room(ctx.store, ctx.event.room_id, statuses=("active",))
    if wanted:
        found = [a for a in found if _matches(a, wanted)]
        if not found:
            raise CommandError("relay.not_in_alliance_called", alliance=wanted)
    if len(found) == 1:
        return found[0]
    if found:
        raise _several(found, command)
    raise CommandError("relay.not_in_an_alliance")


def _others(room: RoomState, bot: str) -> int:
    """How many people (not the bot) are in a room."""
    return sum(1 for user in room.joined() if user != bot)


async def _rooms(services: Services, links: Sequence[ThreadLink]) -> Words:
    """The rooms of `links`, as a list in words ("no other room" when there are none)."""
    return Words("relay.rooms", {"links": await linked_rooms(services, links)})


def _when(ms: int, services: Services) -> str:
    local = datetime.fromtimestamp(ms / 1000, UTC).astimezone(services.config.timezone)
    return Moment(local, brief=True)


# -- !share and !unshare ------------------------------------------------------------------------


async def share(ctx: Context, args: Args) -> Reply:
    event, store, services = ctx.event, ctx.store, ctx.services
    root_id = event.thread_root
    if root_id is None:
        raise CommandError("relay.share_outside_a_thread")
    replayed = await rdb.share_by_command(store, event.event_id)
    if replayed is not None:
        return await _share_started(ctx, replayed)
    for link in await rdb.links_at(store, event.room_id, root_id):
        shared = await rdb.share_by_id(store, link.shared_id)
        if shared is not None and shared.active and link.active:
            if not await usable(store, shared, link):
                # From before the movement left the alliance: over, and shared anew below.
                stale = f"{event.event_id}/stale/{shared.id}"
                await rdb.unshare(store, shared.id, by=event.sender, at=event.ts, event_id=stale)
                continue
            if link.role == "origin":
                raise CommandError("relay.already_shared_from_here", number=shared.number)
            raise CommandError("relay.already_relayed_here", number=shared.number)
    alliance, movement = await _movement_here(ctx, args.option("alliance"), command="share")
    root = await services.get_event(event.room_id, root_id)
    if root is None or root.type != MESSAGE or kind_of(root.content) is None:
        raise CommandError("relay.unreadable_first_message")
    author = root.sender
    if event.sender != author and ctx.power < Power.MODERATOR:
        raise CommandError("relay.share_not_author", author=ctx.room.display_name(author))
    commons = services.room(alliance.commons_room_id)
    here_encrypted = ctx.room.encrypted or root.encrypted or event.encrypted
    allow = False
    # Only this room's own words need its consent: into an encrypted commons they go safely,
    # and the commons' answers never come back into this unencrypted room (see
    # `releases_to_plain_rooms`): no one here may let the commons' words out.
    if here_encrypted and not commons.encrypted:
        warned = await rdb.was_warned(store, event.room_id, root_id)
        if args.flag("allow-unencrypted") and ctx.power < Power.MODERATOR:
            raise CommandError("relay.share_unencrypted_not_moderator")
        if not args.flag("allow-unencrypted") or not warned:
            await rdb.warn(store, event.room_id, root_id, at=event.ts)
            return Reply(
                "share_warning",
                {
                    "commons": commons.name,
                    "members": _others(commons, ctx.config.user_id),
                    "moderator": ctx.power >= Power.MODERATOR,
                },
            )
        allow = True
    try:
        shared = await rdb.create_share(
            store,
            rdb.NewShare(
                alliance_id=alliance.id,
                origin_room_id=event.room_id,
                origin_root_event_id=root_id,
                commons_room_id=alliance.commons_room_id,
                movement_id=movement.id,
                membership_key=movement.decided_event_id,
                title=title_of(root.content)
                or ctx.services.say(event.room_id, Words("relay.untitled")),
                root_sender=author,
                shared_by=event.sender,
                shared_at=event.ts,
                command_event_id=event.event_id,
                allow_unencrypted=allow,
            ),
            now_ms=ctx.services.now_ms(),
        )
    except rdb.AlreadyShared:
        raise CommandError("relay.already_shared") from None
    log.info("Shared thread %d of alliance %d started", shared.number, alliance.id)
    return await _share_started(ctx, shared)


async def _share_started(ctx: Context, shared: SharedThread) -> Reply:
    services = ctx.services
    alliance = await alliance_by_id(ctx.store, shared.alliance_id)
    assert alliance is not None
    commons = services.room(alliance.commons_room_id)

    async def post() -> None:
        link = await rdb.link_in(services.store, shared.id, alliance.commons_room_id)
        current = await rdb.share_by_id(services.store, shared.id)
        if link is None or current is None or not current.active:
            return
        root = await root_event(services, current)
        if await post_root(services, current, link, root) is None:
            await rdb.unshare(
                services.store,
                shared.id,
                by=ctx.config.user_id,
                at=services.now_ms(),
                event_id=f"{shared.command_event_id}/failed",
            )
            await services.notice(
                ctx.event.room_id,
                Reply(
                    "share_failed",
                    {
                        "number": shared.number,
                        "commons": commons.name,
                    },
                ),
                txn_key=f"{ctx.event.event_id}/failed",
                answering=ctx.event,
            )

    return Reply(
        "share_started",
        {
            "alliance": alliance.name,
            "number": shared.number,
            "commons": commons.name,
            "members": _others(commons, ctx.config.user_id),
            "unencrypted": shared.allow_unencrypted,
            "commons_encrypted": commons.encrypted,
            "here_encrypted": ctx.room.encrypted,
        },
        then=post,
    )


async def _shares_stoppable_here(ctx: Context) -> list[SharedThread]:
    """The shares `!unshare` may stop from this room: those it started, and in a commons every
    share of its alliance (the commons consents to what it carries, and may take it back)."""
    store, room_id = ctx.store, ctx.event.room_id
    mine = await rdb.shares_from(store, room_id)
    commons = await alliance_by_commons(store, room_id)
    if commons is None:
        return mine
    carried = await rdb.shares_of(store, commons.id)
    return mine + [s for s in carried if s.origin_room_id != room_id]


async def _root_here(ctx: Context, shared: SharedThread) -> EventID | None:
    """The shared thread's root in this room: the original in its origin, the copy elsewhere."""
    if shared.origin_room_id == ctx.event.room_id:
        return shared.origin_root_event_id
    links = await rdb.links_of(ctx.store, shared.id)
    return next((ln.root_event_id for ln in links if ln.room_id == ctx.event.room_id), None)


async def _share_to_stop(ctx: Context, args: Args) -> SharedThread:
    """The share `!unshare` is about: by number, by the thread it is typed in, or the only one."""
    mine = await _shares_stoppable_here(ctx)
    number = args.get("number")
    if isinstance(number, int):
        found = [s for s in mine if s.number == number]
        if len(found) == 1:
            return found[0]
        raise CommandError("relay.unshare_no_such_number", number=number)
    root = ctx.event.thread_root
    if root is not None:
        found = [s for s in mine if await _root_here(ctx, s) == root]
        if len(found) == 1:
            return found[0]
        if found:
            raise CommandError("relay.unshare_which_alliance", number=found[0].number)
        raise CommandError("relay.unshare_not_shared_here")
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise CommandError("relay.unshare_nothing_shared")
    raise CommandError("relay.unshare_which_thread", numbers=[s.number for s in mine])


async def unshare(ctx: Context, args: Args) -> Reply:
    store, event, services = ctx.store, ctx.event, ctx.services
    stopped = await rdb.share_stopped_by(store, event.event_id)
    if stopped is not None:
        shared, replayed = stopped, True  # handled again after a crash: already stopped
    else:
        shared, replayed = await _share_to_stop(ctx, args), False
    from_origin = shared.origin_room_id == event.room_id
    author = from_origin and event.sender in (shared.root_sender, shared.shared_by)
    if not author and ctx.power < Power.MODERATOR:
        raise CommandError(
            "relay.unshare_not_allowed" if from_origin else "relay.uncarry_not_moderator"
        )
    links = await rdb.links_of(store, shared.id)
    others = [link for link in links if link.room_id != event.room_id and link.active]
    if not replayed:
        await rdb.unshare(store, shared.id, by=event.sender, at=event.ts, event_id=event.event_id)
    else:
        others = [
            link
            for link in links
            if link.room_id != event.room_id and link.stopped_event_id == event.event_id
        ]
    movement = await origin_movement(store, shared)
    alliance = await alliance_by_id(store, shared.alliance_id)
    alliance_name = alliance.name if alliance is not None else ""
    by = ctx.room.display_name(event.sender)
    origin = next((link for link in links if link.role == "origin"), None)

    async def announce() -> None:
        targets = [link for link in others if link.root_event_id is not None]
        if (
            origin is not None
            and origin not in targets
            and event.thread_root != origin.root_event_id
        ):
            targets.append(origin)
        stopped = Reply(
            "share_stopped_notice",
            {
                "number": shared.number,
                "movement": movement,
                "by": by,
                "stopped_by_commons": None if from_origin else alliance_name,
            },
        )
        await tell_threads(services, targets, stopped, key=event.event_id)

    return Reply(
        "share_stopped",
        {"number": shared.number, "rooms": await _rooms(services, others)},
        then=announce,
    )


# -- !follow and !unfollow ----------------------------------------------------------------------


async def follow(ctx: Context, args: Args) -> Reply:
    store, event, services = ctx.store, ctx.event, ctx.services
    replayed = await rdb.link_by_command(store, event.event_id)
    if replayed is not None and replayed.room_id == event.room_id:
        shared = await rdb.share_by_id(store, replayed.shared_id)
        assert shared is not None
        return await _follow_started(ctx, shared, replayed, again=False)
    alliance, movement = await _movement_here(ctx, args.option("alliance"), command="follow")
    number = int(args.get("number"))
    shared = await rdb.share_by_number(store, alliance.id, number)
    if shared is None or not shared.active:
        raise CommandError(
            "relay.follow_no_such_thread",
            alliance=alliance.name,
            number=number,
            numbers=[s.number for s in await rdb.shares_of(store, alliance.id)],
        )
    if shared.origin_room_id == event.room_id:
        raise CommandError("relay.follow_own_thread", number=number)
    links = await rdb.links_of(store, shared.id)
    existing = next((link for link in links if link.room_id == event.room_id), None)
    if existing is not None and existing.active:
        if await usable(store, shared, existing):
            raise CommandError("relay.already_following", number=number)
        # Made before this movement left the alliance and joined again: made anew below.
        await rdb.stop_link(
            store, existing.id, by=event.sender, at=event.ts, event_id=event.event_id
        )
    origin = next((link for link in links if link.role == "origin"), None)
    if origin is None or not await usable(store, shared, origin):
        raise CommandError("relay.follow_origin_gone", number=number)
    live = [
        link
        for link in links
        if link.room_id != event.room_id and await usable(store, shared, link)
    ]
    here_encrypted = ctx.room.encrypted
    plain_rooms = [link for link in live if not encrypted(services, link.room_id)]
    secret_rooms = [link for link in live if encrypted(services, link.room_id)]
    allow = False
    if here_encrypted and plain_rooms:
        subject = f"shared:{shared.id}"
        warned = await rdb.was_warned(store, event.room_id, subject)
        if not args.flag("allow-unencrypted") or not warned:
            await rdb.warn(store, event.room_id, subject, at=event.ts)
            return Reply(
                "follow_warning",
                {"number": number, "rooms": await _rooms(services, plain_rooms)},
            )
        allow = True
    if not here_encrypted and secret_rooms:
        refusing = [link for link in secret_rooms if not releases_to_plain_rooms(shared, link)]
        if refusing:
            raise CommandError(
                "relay.follow_needs_encryption",
                number=number,
                links=await linked_rooms(services, refusing),
            )
    link = await rdb.follow(
        store,
        rdb.NewFollow(
            shared_id=shared.id,
            room_id=event.room_id,
            movement_id=movement.id,
            membership_key=movement.decided_event_id,
            added_by=event.sender,
            added_at=event.ts,
            command_event_id=event.event_id,
            allow_unencrypted=allow,
        ),
    )
    log.info("A movement follows shared thread %d of alliance %d", shared.number, alliance.id)
    return await _follow_started(ctx, shared, link, again=link.root_event_id is not None)


async def _follow_started(
    ctx: Context, shared: SharedThread, link: ThreadLink, *, again: bool
) -> Reply:
    services, event = ctx.services, ctx.event
    origin = await origin_movement(ctx.store, shared)
    links = await rdb.links_of(ctx.store, shared.id)
    others = [other for other in links if other.id != link.id]
    here = await movement_by_id(ctx.store, link.movement_id) if link.movement_id else None
    members = _others(ctx.room, ctx.config.user_id)

    async def post_and_announce() -> None:
        current = await rdb.link_by_id(services.store, link.id)
        if current is None or not current.active:
            return
        if current.root_event_id is None:
            root = await root_event(services, shared)
            if await post_root(services, shared, current, root) is None:
                return
        now_linked = []
        for other in others:
            fresh = await rdb.link_by_id(services.store, other.id)
            if fresh is not None and await usable(services.store, shared, fresh):
                now_linked.append(fresh)
        joined = {
            "movement": here.name if here else None,
            "members": members,
            "number": shared.number,
        }
        await tell_threads(
            services, now_linked, Reply("follow_joined_notice", joined), key=event.event_id
        )

    reachable = [other for other in others if await usable(ctx.store, shared, other)]
    return Reply(
        "follow_started",
        {
            "number": shared.number,
            "origin": origin,
            "title": shared.title,
            "rooms": await _rooms(services, reachable),
            "again": again,
            "link": event_link(event.room_id, link.root_event_id, ctx.config.server_name)
            if again and link.root_event_id
            else "",
        },
        then=post_and_announce,
    )


async def unfollow(ctx: Context, args: Args) -> Reply:
    store, event, services = ctx.store, ctx.event, ctx.services
    stopped_now = await rdb.link_stopped_by(store, event.event_id, event.room_id)
    if stopped_now is not None:
        link = stopped_now
    else:
        link = await _link_to_stop(ctx, args)
        await rdb.stop_link(store, link.id, by=event.sender, at=event.ts, event_id=event.event_id)
    shared = await rdb.share_by_id(store, link.shared_id)
    assert shared is not None
    movement = await movement_by_id(store, link.movement_id) if link.movement_id else None
    others = [
        other
        for other in await rdb.links_of(store, shared.id)
        if other.id != link.id and await usable(store, shared, other)
    ]

    async def announce() -> None:
        name = movement.name if movement else None
        stopped = Reply("follow_stopped_notice", {"number": shared.number, "movement": name})
        await tell_threads(services, others, stopped, key=event.event_id)

    return Reply(
        "follow_stopped",
        {"number": shared.number, "rooms": await _rooms(services, others)},
        then=announce,
    )


async def _link_to_stop(ctx: Context, args: Args) -> ThreadLink:
    store = ctx.store
    mine = await rdb.follower_links(store, ctx.event.room_id)
    shares = {link.id: await rdb.share_by_id(store, link.shared_id) for link in mine}
    number = args.get("number")
    if isinstance(number, int):
        found = [link for link in mine if (s := shares[link.id]) is not None and s.number == number]
        if len(found) == 1:
            return found[0]
        raise CommandError("relay.unfollow_no_such_number", number=number)
    root = ctx.event.thread_root
    if root is not None:
        found = [link for link in mine if link.root_event_id == root]
        if len(found) == 1:
            return found[0]
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise CommandError("relay.unfollow_nothing")
    raise CommandError(
        "relay.unfollow_which_thread", numbers=[s.number for s in shares.values() if s is not None]
    )


# -- !shared ------------------------------------------------------------------------------------


async def list_shared(ctx: Context, args: Args) -> Reply:
    alliance = await _alliance_here(ctx, args.option("alliance"), command="shared")
    store, services = ctx.store, ctx.services
    server = ctx.config.server_name
    threads: list[dict[str, Any]] = []
    for shared in await rdb.shares_of(store, alliance.id):
        links = await rdb.links_of(store, shared.id)
        origin = next((link for link in links if link.role == "origin"), None)
        if origin is None or not await usable(store, shared, origin):
            continue
        followers = [
            link for link in links if link.role == "follower" and await usable(store, shared, link)
        ]
        commons = next((link for link in links if link.role == "commons"), None)
        here = next(
            (link for link in links if link.room_id == ctx.event.room_id and link.active), None
        )
        # Its first words were typed in an encrypted room that did not release them.
        sealed = words_stay_in(ctx, shared.origin_room_id) and not shared.allow_unencrypted
        threads.append(
            {
                "number": shared.number,
                "origin": await origin_movement(store, shared),
                "title": "" if sealed else shared.title,
                "sealed": sealed,
                "followers": Words(
                    "relay.followers", {"links": await linked_rooms(services, followers)}
                ),
                "last": _when(shared.last_activity, services),
                "link": event_link(commons.room_id, commons.root_event_id, server)
                if commons is not None and commons.root_event_id
                else room_link(alliance.commons_room_id, server),
                "here": "origin"
                if here is not None and here.role == "origin"
                else "following"
                if here is not None and here.role == "follower"
                else "",
            }
        )
    return Reply(
        "share_list",
        {
            "alliance": alliance.name,
            "threads": threads,
            "is_movement": alliance.commons_room_id != ctx.event.room_id,
        },
    )


# -- movements that leave -----------------------------------------------------------------------


async def announce_departures(services: Services) -> None:
    """Tell every shared thread when a movement in it left the alliance, once, and stop its link.

    Leaving already stops relays at once (a link carries nothing once its movement is not the
    active member it was made for); this says so where people read. The notices' transaction
    keys derive from the link, and the link is stopped only after them: a crash in between
    announces again with the same keys, which the homeserver does not post twice.
    """
    store, bot = services.store, services.config.user_id
    for gone in await rdb.departures(store):
        link = gone.link
        shared = await rdb.share_by_id(store, link.shared_id)
        if shared is None:
            continue
        movement = gone.movement
        others = [
            other
            for other in await rdb.links_of(store, shared.id)
            if other.id != link.id and await usable(store, shared, other)
        ]
        key = f"departure/{link.id}"
        left = Reply(
            "share_left_notice",
            {"movement": movement, "number": shared.number, "removed": gone.removed},
        )
        await tell_threads(services, others, left, key=key)
        if services.room(link.room_id).members.get(bot) == "join":
            here = {
                "movement": movement,
                "number": shared.number,
                "rooms": await _rooms(services, others),
                "origin": link.role == "origin",
                "removed": gone.removed,
            }
            await tell_threads(services, [link], Reply("share_left_here", here), key=key)
        await rdb.stop_link(
            store,
            link.id,
            by=bot,
            at=services.now_ms(),
            event_id=gone.left_event_id or f"departure/{link.id}",
        )
        log.info("A movement left: shared thread %d no longer reaches its room", shared.number)


# -- registration -------------------------------------------------------------------------------


def register(registry: Registry) -> None:
    registry.family("relay", N_("Shared threads between movements"), order=40)
    for command in COMMANDS:
        registry.add(command)
    registry.listen(
        Listener("shared threads", frozenset({MESSAGE, REDACTION}), on_event, include_old=True)
    )
    registry.every(Timer("relay departures", DEPARTURE_CHECK_S, announce_departures))


NUMBER: Final = Param("number", kind="int", optional=True)

COMMANDS: Final = (
    Command(
        name="share",
        family="relay",
        summary=N_("Share this thread with the alliance (type it inside the thread)"),
        handler=share,
        flags=(UNENCRYPTED_FLAG, ALLIANCE_FLAG),
        help=N_(
            "Type it in a thread of your movement's room; its author or a moderator may. I say "
            "where it will be visible, post its first message into the alliance's commons as a "
            "new thread, then relay every later message both ways, each marked with who wrote it "
            "and their movement. Earlier replies stay here. Other movements may follow it with "
            "{prefix}follow. An encrypted room's thread goes into an unencrypted commons only "
            "when a moderator adds --allow-unencrypted after my warning."
        ),
        examples=("{prefix}share", "{prefix}share --allow-unencrypted"),
    ),
    Command(
        name="unshare",
        family="relay",
        summary=N_("Stop sharing a thread (in the thread, or give its number)"),
        handler=unshare,
        params=(NUMBER,),
        help=N_(
            "Stops the relay in both directions and tells every room the thread was in. What "
            "was already relayed stays; delete a message to remove its copies. In the thread's "
            "own room: its author, the person who shared it or a moderator. In the commons: "
            "its moderators, for any thread it carries."
        ),
        examples=("{prefix}unshare", "{prefix}unshare 3"),
    ),
    Command(
        name="follow",
        family="relay",
        summary=N_("Mirror a shared thread into this movement room, to take part from here"),
        handler=follow,
        params=(Param("number", kind="int"),),
        flags=(UNENCRYPTED_FLAG, ALLIANCE_FLAG),
        power=Power.MODERATOR,
        help=N_(
            "Posts the thread's first message here as a new thread; from then on a message in "
            "any room of the thread reaches all the others, once each. {prefix}shared lists the "
            "numbers. Moderators of this room."
        ),
        examples=("{prefix}follow 3",),
    ),
    Command(
        name="unfollow",
        family="relay",
        summary=N_("Stop following a shared thread (in its thread here, or give its number)"),
        handler=unfollow,
        params=(NUMBER,),
        power=Power.MODERATOR,
        help=N_("Stops the relay between this room and the thread, in both directions."),
        examples=("{prefix}unfollow", "{prefix}unfollow 3"),
    ),
    Command(
        name="shared",
        family="relay",
        summary=N_("List the alliance's shared threads, with the number to follow each"),
        handler=list_shared,
        flags=(ALLIANCE_FLAG,),
        examples=("{prefix}shared",),
    ),
)
