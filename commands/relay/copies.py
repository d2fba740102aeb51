"""Carrying messages between the linked threads of a shared thread (see `commands.relay.commands`).

Who may speak where (:func:`usable`: the consent of every side, as it is now), how a message
is attributed and built for the room it goes to, and how each copy is made at most once,
ever (:func:`_once`). The listener :func:`on_event` handles every message, edit and
redaction of every room; the commands in `commands.relay.commands` use the rest.

The bot's own words in copies (the word for the commons, placeholders, the footer under a
first message, the reason given when a copy is removed) are rendered here, by a renderer of
the relay's own over the bot's templates (:func:`_renderer`: `Services` renders replies only),
and handed to the pure builders of `commands.relay.content`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from bot.contract import Reply, Services, Words, addressed_text
from bot.events import Event
from bot.ids import EventID, RoomID
from bot.render import Message
from bot.store import Store
from commands.alliance.store import Movement, movement_by_id, movements_of
from commands.links import event_link
from commands.relay import store as rdb
from commands.relay.content import (
    MARKER,
    Attribution,
    edit_content,
    edited_content,
    file_name,
    is_relayed_copy,
    kind_of,
    looks_like_a_bot,
    media_content,
    media_is_encrypted,
    msgtype_of,
    placeholder_content,
    text_content,
    thread_relation,
)
from commands.relay.store import Copy, CopyKind, SharedThread, ThreadLink

log = logging.getLogger(__name__)

MESSAGE: Final = "m.room.message"
REDACTION: Final = "m.room.redaction"
# Why an attachment cannot go (the `reason` of `relay.copy_placeholder` in
# templates/refusals/relay.txt).
NOT_ENCRYPTED_HERE: Final = "not_encrypted_here"
NOT_ACCEPTED: Final = "not_accepted"
NO_ADDRESS: Final = "no_address"


# -- the bot's own words in copies --------------------------------------------------------------


def placeholder_sentence(
    services: Services, room_id: RoomID, content: Mapping[str, Any], reason: str
) -> str:
    """What stands in a copy for an attachment that cannot go: its kind, its file name, why
    (in the language of the room it goes to)."""
    return services.say(
        room_id,
        Words(
            "relay.copy_placeholder",
            {"kind": msgtype_of(content), "name": file_name(content), "reason": reason},
        ),
    )


def _placeholders(services: Services, room_id: RoomID) -> Callable[[Mapping[str, Any], str], str]:
    return lambda content, reason: placeholder_sentence(services, room_id, content, reason)


def footer(
    services: Services, room_id: RoomID, number: int, movement: str | None, link: str
) -> Message:
    """The line under the copy of a shared thread's first message: which shared thread, from
    which movement (None: the commons), and a link back to the original."""
    return services.message(
        room_id,
        Reply("shared_copy_footer", {"number": number, "movement": movement, "link": link}),
    )


# -- who is who ---------------------------------------------------------------------------------


def _open(shared: SharedThread, link: ThreadLink, movement: Movement | None) -> bool:
    """Whether messages may go to and from this link now (consent of every side).

    `movement` is the movement the link was made for, as it is now (None if there is none).
    """
    if not shared.active or not link.active or link.root_event_id is None:
        return False
    if link.role == "commons":
        return True
    return (
        movement is not None
        and movement.id == link.movement_id
        and movement.status == "active"
        and movement.room_id == link.room_id
        and movement.decided_event_id == link.membership_key
    )


async def _link_movement(store: Store, link: ThreadLink) -> Movement | None:
    if link.role == "commons" or link.movement_id is None:
        return None
    return await movement_by_id(store, link.movement_id)


async def usable(store: Store, shared: SharedThread, link: ThreadLink) -> bool:
    """:func:`_open`, reading the link's movement first."""
    if not shared.active or not link.active:
        return False
    return _open(shared, link, await _link_movement(store, link))


async def _movement_name(
    services: Services,
    shared: SharedThread,
    link: ThreadLink,
    movement: Movement | None,
    sender: str,
) -> str | None:
    """The movement a message is attributed to (see `commands.relay.commands`); None: the commons.

    `movement`: the one `link` was made for (see :func:`_link_movement`).
    """
    if link.role != "commons" and link.movement_id is not None:
        return movement.name if movement is not None else None
    actives = await movements_of(services.store, shared.alliance_id, statuses=("active",))
    homes = [m for m in actives if services.room(m.room_id).members.get(sender) == "join"]
    return homes[0].name if len(homes) == 1 else None


async def _attribution(
    services: Services,
    shared: SharedThread,
    link: ThreadLink,
    movement: Movement | None,
    event: Event,
    *,
    target_room: RoomID,
) -> Attribution:
    """Who wrote `event`, and for which movement (`movement`: see :func:`_movement_name`), in
    the words of the room the copy goes to."""
    room = services.room(event.room_id)
    name = room.display_names.get(event.sender)
    return Attribution.of(
        user_id=event.sender,
        display_name=name,
        movement=await _movement_name(services, shared, link, movement, event.sender),
        commons=services.say(target_room, Words("relay.commons")),
        key=services.store.id_key,
        name_taken=name is not None
        and any(n == name for u, n in room.display_names.items() if u != event.sender),
    )


def encrypted(services: Services, room_id: RoomID) -> bool:
    return services.room(room_id).encrypted


def releases_to_plain_rooms(shared: SharedThread, link: ThreadLink) -> bool:
    """Whether the room of `link` let its words go into unencrypted rooms.

    Each room consents only for its own words: the origin when it shared the thread, a
    follower when it followed. The commons never gave such consent (no one else may give it
    for the commons), so an encrypted commons' words never reach an unencrypted room.
    """
    if link.role == "origin":
        return shared.allow_unencrypted
    return link.allow_unencrypted


def _may_cross(
    services: Services,
    shared: SharedThread,
    source: ThreadLink,
    target: ThreadLink,
    *,
    source_encrypted: bool,
) -> bool:
    """Content of an encrypted room goes into an unencrypted one only with its consent."""
    if not source_encrypted or encrypted(services, target.room_id):
        return True
    return releases_to_plain_rooms(shared, source)


def _marker(shared: SharedThread) -> dict[str, Any]:
    return {"shared_thread": shared.number}


async def origin_movement(store: Store, shared: SharedThread) -> str | None:
    """The name of the movement the shared thread comes from; None: the commons (templates
    show the word for it)."""
    origin = await rdb.link_in(store, shared.id, shared.origin_room_id)
    if origin is None or origin.movement_id is None:
        return None
    movement = await movement_by_id(store, origin.movement_id)
    return movement.name if movement is not None else None


async def linked_rooms(services: Services, links: Sequence[ThreadLink]) -> list[dict[str, Any]]:
    """The rooms of `links` as people are told of them (`relay.rooms` in
    templates/refusals/relay.txt): the commons with its room's name, a movement by its name, a
    room whose movement is gone by the room's name (names may be None)."""
    rooms: list[dict[str, Any]] = []
    for link in links:
        if link.role == "commons":
            rooms.append({"kind": "commons", "name": services.room(link.room_id).name})
        elif link.movement_id is not None:
            movement = await movement_by_id(services.store, link.movement_id)
            if movement is not None:
                rooms.append({"kind": "movement", "name": movement.name})
            else:
                rooms.append({"kind": "room", "name": services.room(link.room_id).name})
    return rooms


# -- building and sending copies ----------------------------------------------------------------


def _build(
    content: Mapping[str, Any],
    *,
    by: Attribution,
    marker: dict[str, Any],
    relation: dict[str, Any] | None,
    target_encrypted: bool,
    placeholder_of: Callable[[Mapping[str, Any], str], str],
    footer: Message | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """The copy to send and, for attachments, the placeholder if the room refuses it
    (`placeholder_of(content, reason)`: its sentence, in the target room's language)."""
    kind = kind_of(content)
    if kind is None:
        return None
    if kind == "text":
        return text_content(content, by=by, marker=marker, relation=relation, footer=footer), None

    def placeholder(reason: str) -> dict[str, Any]:
        return placeholder_content(
            by=by,
            marker=marker,
            relation=relation,
            sentence=placeholder_of(content, reason),
            footer=footer,
        )

    if media_is_encrypted(content) and not target_encrypted:
        return placeholder(NOT_ENCRYPTED_HERE), None
    media = media_content(content, by=by, marker=marker, relation=relation, footer=footer)
    if media is None:
        return placeholder(NO_ADDRESS), None
    return media, placeholder(NOT_ACCEPTED)


async def _once(
    services: Services,
    *,
    shared_id: int,
    source: Event,
    target_room: RoomID,
    kind: CopyKind,
    act: Callable[[str], Awaitable[EventID | None]],
) -> EventID | None:
    """Carry `source` into `target_room` at most once, ever ("Once and in order" in
    `commands.relay.commands`).

    Claims the pair, then `act` sends (or redacts) with a transaction key derived from the
    pair, then records what came of it. Handled again after a crash between the two, `act`
    runs again with the same key, and the homeserver answers with what it already made.
    """
    store = services.store
    claimed = await rdb.claim_copy(
        store,
        rdb.NewCopy(
            source_event_id=source.event_id,
            target_room_id=target_room,
            shared_id=shared_id,
            source_room_id=source.room_id,
            source_sender=source.sender,
            kind=kind,
        ),
        now_ms=services.now_ms(),
    )
    if claimed.state != "sending":
        return claimed.copy_event_id  # done before: sent (its copy) or given up (None)
    done = await act(f"relay/{source.event_id}/{target_room}")
    if done is None:
        log.warning("The homeserver refused a relayed %s in %s", kind, target_room)
        await rdb.copy_failed(store, source_event_id=source.event_id, target_room_id=target_room)
        return None
    await rdb.copy_sent(
        store,
        source_event_id=source.event_id,
        target_room_id=target_room,
        copy_event_id=done,
        now_ms=services.now_ms(),
    )
    return done


async def _deliver(
    services: Services,
    *,
    shared: SharedThread,
    source: Event,
    target_room: RoomID,
    kind: CopyKind,
    content: dict[str, Any],
    fallback: dict[str, Any] | None = None,
) -> EventID | None:
    """Send one copy of `source` into `target_room` (`fallback` if the room refuses it)."""

    async def send(txn_key: str) -> EventID | None:
        event_id = await services.send(
            target_room, event_type=MESSAGE, content=content, txn_key=txn_key, background=True
        )
        if event_id is None and fallback is not None:
            event_id = await services.send(
                target_room,
                event_type=MESSAGE,
                content=fallback,
                txn_key=f"{txn_key}/placeholder",
                background=True,
            )
        return event_id

    return await _once(
        services,
        shared_id=shared.id,
        source=source,
        target_room=target_room,
        kind=kind,
        act=send,
    )


async def _equivalent(
    store: Store, event_id: EventID | None, *, target_room: RoomID
) -> EventID | None:
    """What stands for `event_id` in `target_room`: its copy there, or its original there."""
    if event_id is None:
        return None
    copy = await rdb.copy_of(store, event_id, target_room)
    if copy is not None and copy.state == "sent":
        return copy.copy_event_id
    original = await rdb.original_of(store, event_id)
    if original is None:
        return None
    if original.source_room_id == target_room:
        return original.source_event_id
    copy = await rdb.copy_of(store, original.source_event_id, target_room)
    return copy.copy_event_id if copy is not None and copy.state == "sent" else None


async def _root_footer(services: Services, shared: SharedThread, target_room: RoomID) -> Message:
    return footer(
        services,
        target_room,
        shared.number,
        await origin_movement(services.store, shared),
        event_link(shared.origin_room_id, shared.origin_root_event_id, services.config.server_name),
    )


async def root_event(services: Services, shared: SharedThread) -> Event:
    """The thread's first message; a stand-in with its title if the bot cannot read it now."""
    found = await services.get_event(shared.origin_room_id, shared.origin_root_event_id)
    if found is not None and found.type == MESSAGE and kind_of(found.content) is not None:
        return found
    return Event(
        event_id=shared.origin_root_event_id,
        room_id=shared.origin_room_id,
        sender=shared.root_sender,
        type=MESSAGE,
        ts=shared.shared_at,
        content={"msgtype": "m.text", "body": shared.title},
    )


async def post_root(
    services: Services, shared: SharedThread, target: ThreadLink, root: Event
) -> EventID | None:
    """Post the thread's first message into `target` as a new thread, and link it there."""
    if target.root_event_id is not None:
        return target.root_event_id
    store = services.store
    origin = await rdb.link_in(store, shared.id, shared.origin_room_id)
    assert origin is not None
    by = await _attribution(
        services,
        shared,
        origin,
        await _link_movement(store, origin),
        root,
        target_room=target.room_id,
    )
    built = _build(
        root.content,
        by=by,
        marker=_marker(shared),
        relation=None,
        target_encrypted=encrypted(services, target.room_id),
        placeholder_of=_placeholders(services, target.room_id),
        footer=await _root_footer(services, shared, target.room_id),
    )
    if built is None:
        return None
    content, fallback = built
    copy = await _deliver(
        services,
        shared=shared,
        source=root,
        target_room=target.room_id,
        kind="root",
        content=content,
        fallback=fallback,
    )
    if copy is not None:
        await rdb.set_link_root(store, target.id, copy)
    return copy


# -- the listener: messages, edits and redactions -----------------------------------------------


def _is_command(services: Services, event: Event) -> bool:
    """Whether the message speaks to the bot (it is answered where it was typed)."""

    config = services.config
    own_name = services.room(event.room_id).display_names.get(config.user_id)
    text = addressed_text(
        event, prefix=config.command_prefix, user_id=config.user_id, display_name=own_name
    )
    return text is not None


def _from_a_bot(services: Services, event: Event) -> bool:
    content = event.content
    if msgtype_of(content) != "m.notice":
        return False
    name = services.room(event.room_id).display_names.get(event.sender)
    return looks_like_a_bot(event.sender, name)


async def on_event(services: Services, event: Event) -> Reply | None:
    if event.type == REDACTION:
        await _relay_redaction(services, event)
    elif event.type == MESSAGE and not is_relayed_copy(event.content):
        if event.relates_to.get("rel_type") == "m.replace":
            await _relay_edit(services, event)
        elif event.thread_root is not None:
            await _relay_message(services, event, event.thread_root)
    return None


async def _relay_message(services: Services, event: Event, root: EventID) -> None:
    store = services.store
    routes = await rdb.routes_from(store, event.room_id, root)  # one read: the hot path
    if not routes or _is_command(services, event) or _from_a_bot(services, event):
        return
    source_encrypted = event.encrypted or encrypted(services, event.room_id)
    for _, group in itertools.groupby(routes, key=lambda route: route.source.id):
        ways = list(group)
        shared, source = ways[0].shared, ways[0].source
        if not _open(shared, source, ways[0].source_movement):
            continue
        by_language: dict[str, Attribution] = {}  # the same words for rooms of one language
        for way in ways:
            target = way.target
            if not _open(shared, target, way.target_movement):
                continue
            if not _may_cross(services, shared, source, target, source_encrypted=source_encrypted):
                log.info("Not relaying shared thread %d into an unencrypted room", shared.number)
                continue
            assert target.root_event_id is not None
            reply_to = await _equivalent(store, event.reply_to, target_room=target.room_id)
            language = services.language(target.room_id)
            by = by_language.get(language) or await _attribution(
                services, shared, source, ways[0].source_movement, event, target_room=target.room_id
            )
            by_language[language] = by
            built = _build(
                event.content,
                by=by,
                marker=_marker(shared),
                relation=thread_relation(target.root_event_id, reply_to=reply_to),
                target_encrypted=encrypted(services, target.room_id),
                placeholder_of=_placeholders(services, target.room_id),
            )
            if built is None:
                return  # nothing that can be relayed (no text, no attachment)
            content, fallback = built
            await _deliver(
                services,
                shared=shared,
                source=event,
                target_room=target.room_id,
                kind="message",
                content=content,
                fallback=fallback,
            )


async def _relay_edit(services: Services, event: Event) -> None:
    store = services.store
    original = event.relates_to.get("event_id")
    new_content = edited_content(event.content)
    if not isinstance(original, str) or new_content is None:
        return
    copies = [
        c
        for c in await rdb.copies_of(store, original)
        if c.state == "sent" and c.kind in ("root", "message") and c.copy_event_id is not None
    ]
    # Only the writer may edit a message; anyone else's "edit" is ignored, as clients do.
    copies = [
        c for c in copies if c.source_sender == event.sender and c.source_room_id == event.room_id
    ]
    if not copies or MARKER in new_content:
        return
    source_encrypted = event.encrypted or encrypted(services, event.room_id)
    for copy in copies:
        await _relay_one_edit(services, event, copy, new_content, source_encrypted=source_encrypted)


async def _relay_one_edit(
    services: Services,
    event: Event,
    copy: Copy,
    new_content: Mapping[str, Any],
    *,
    source_encrypted: bool,
) -> None:
    store = services.store
    shared = await rdb.share_by_id(store, copy.shared_id)
    if shared is None:
        return
    source = await rdb.link_in(store, shared.id, event.room_id)
    target = await rdb.link_in(store, shared.id, copy.target_room_id)
    if source is None or target is None:
        return
    if not (await usable(store, shared, source) and await usable(store, shared, target)):
        return
    if not _may_cross(services, shared, source, target, source_encrypted=source_encrypted):
        return
    assert copy.copy_event_id is not None
    built = _build(
        new_content,
        by=await _attribution(
            services,
            shared,
            source,
            await _link_movement(store, source),
            event,
            target_room=target.room_id,
        ),
        marker=_marker(shared),
        relation=None,
        target_encrypted=encrypted(services, target.room_id),
        placeholder_of=_placeholders(services, target.room_id),
        footer=(
            await _root_footer(services, shared, target.room_id) if copy.kind == "root" else None
        ),
    )
    if built is None:
        return
    content, fallback = built
    await _deliver(
        services,
        shared=shared,
        source=event,
        target_room=target.room_id,
        kind="edit",
        content=edit_content(content, copy_of=copy.copy_event_id),
        fallback=None if fallback is None else edit_content(fallback, copy_of=copy.copy_event_id),
    )


async def _relay_redaction(services: Services, event: Event) -> None:
    """Removing a message removes its copies: always, even after the sharing stopped."""
    store = services.store
    if event.redacts is None:
        return
    # A deleted first message takes the thread's title (its first words) with it everywhere,
    # copied or not: when its writer deleted it, or someone who may delete others' messages.
    may_redact_others = services.room(event.room_id).may_redact_others(event.sender)
    await rdb.forget_titles_of_root(
        store, event.room_id, event.redacts, writer=None if may_redact_others else event.sender
    )
    copies = [
        c
        for c in await rdb.copies_of(store, event.redacts)
        if c.state == "sent"
        and c.copy_event_id is not None
        and c.kind != "redaction"
        and c.source_room_id == event.room_id
    ]
    if not copies:
        return
    if event.sender != copies[0].source_sender and not may_redact_others:
        log.info("Ignored a redaction by someone who may not redact others' messages")
        return
    for copy in copies:
        await _redact_copy(services, event, copy)


async def _redact_copy(services: Services, redaction: Event, copy: Copy) -> None:
    copy_event_id = copy.copy_event_id
    assert copy_event_id is not None

    async def redact(txn_key: str) -> EventID | None:
        return await services.redact(
            copy.target_room_id,
            copy_event_id,
            reason=services.say(copy.target_room_id, Words("relay.copy_removed")),
            txn_key=txn_key,
        )

    await _once(
        services,
        shared_id=copy.shared_id,
        source=redaction,
        target_room=copy.target_room_id,
        kind="redaction",
        act=redact,
    )


async def tell_threads(
    services: Services, links: Sequence[ThreadLink], reply: Reply, *, key: str
) -> None:
    """Post `reply` in the thread of each link (with a root), once: keys `<key>/<room>`."""
    for link in links:
        if link.root_event_id is not None:
            await services.notice(
                link.room_id,
                reply,
                txn_key=f"{key}/{link.room_id}",
                thread_root=link.root_event_id,
            )
