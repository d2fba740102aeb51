"""Room upgrades: when a room the bot serves is replaced, the bot follows it.

Upgrading a room (Element's "Upgrade this room", or a new room version) makes a new room and
ends the old one with an `m.room.tombstone` naming its replacement. Only someone with the
power to change that room's state can send one, so it is the room's own decision; the bot
checks that the new room names the old one as its predecessor before moving anything.

1. The tombstone is noted (`room_upgrades`, state `waiting`); the timer below does the rest
   and, being a reconciler, picks up where it stopped after a restart.
2. The bot joins the new room (if it may; otherwise when someone invites it, within a week).
3. What belonged to the old room moves: its place in every alliance (commons or movement),
   its movement's statement, its decision rule and deadline, the shared threads it follows or
   carries (each goes on from a new copy of its first message); the alliance's space lists the
   new room instead of the old. The new room is told (once).
   Polls still open in the old room are withdrawn (they decide nothing): after an upgrade
   only moderators may post there, so nobody else could vote or see results; the new room is
   told which ones to start again.
4. The bot leaves the old room.
"""

from __future__ import annotations

import logging
from typing import Final

from bot.contract import JOINED_A_ROOM, Listener, MatrixError, Registry, Reply, Services, Timer
from bot.events import Event
from bot.ids import EventID, RoomID
from commands import council, digest, record
from commands.alliance.movements import space_child
from commands.alliance.store import alliances_of_room, move_room
from commands.polls import store as pdb
from commands.polls.lifecycle import CLOSED
from commands.relay import store as rdb
from commands.relay.copies import post_root, root_event
from commands.upgrades import store as udb
from commands.upgrades.store import Upgrade

log = logging.getLogger(__name__)

TOMBSTONE: Final = "m.room.tombstone"
UPGRADED: Final = "room upgraded"
CHECK_S: Final = 60.0
GIVE_UP_MS: Final = 7 * 24 * 3600 * 1000  # waiting for a way into the new room


async def on_tombstone(services: Services, event: Event) -> Reply | None:
    """Note an upgrade of a room the bot is in (the room's state, as the homeserver sent it)."""
    new = event.content.get("replacement_room")
    if event.state_key != "" or not isinstance(new, str) or not new.startswith("!"):
        return None
    if new == event.room_id:
        return None
    await udb.record(
        services.store,
        old=event.room_id,
        new=RoomID(new),
        event_id=event.event_id,
        at=services.now_ms(),
    )
    log.info("Room %s was upgraded to %s", event.room_id, new)
    services.signal(UPGRADED)
    return None


async def follow_upgrades(services: Services) -> None:
    """The timer: take every noted upgrade one step further."""
    store = services.store
    for upgrade in await udb.unfinished(store):
        if upgrade.state == "waiting":
            if not await _get_in(services, upgrade):
                continue
            await _move(services, upgrade)
            await udb.set_state(store, upgrade.old_room_id, "moved", at=services.now_ms())
        try:
            await services.leave(upgrade.old_room_id)
        except MatrixError as exc:  # already out, or the room is gone: nothing to leave
            log.info("Leaving the upgraded room %s: %s", upgrade.old_room_id, exc)
        await udb.set_state(store, upgrade.old_room_id, "done", at=services.now_ms())


async def _get_in(services: Services, upgrade: Upgrade) -> bool:
    """Into the new room; True once in it and its records may move."""
    joined = await services.join_replacement(upgrade.old_room_id, upgrade.new_room_id)
    if joined == "joined":
        return True
    if joined == "not a replacement" or services.now_ms() - upgrade.seen_at > GIVE_UP_MS:
        log.warning(
            "Not following the upgrade of %s to %s (%s)",
            upgrade.old_room_id,
            upgrade.new_room_id,
            joined if joined == "not a replacement" else "never let in",
        )
        await udb.set_state(services.store, upgrade.old_room_id, "abandoned", at=services.now_ms())
    return False


async def _move(services: Services, upgrade: Upgrade) -> None:
    """Move the old room's records to the new one (each step safe to repeat)."""
    store, old, new = services.store, upgrade.old_room_id, upgrade.new_room_id
    await move_room(store, old, new)
    await pdb.move_room_rules(store, old, new)
    await rdb.move_links(store, old, new)
    await council.move_room(store, old, new)
    await digest.move_room(store, old, new)
    await record.move_room(store, old, new)
    language = services.own_language(old)
    if language is not None and services.own_language(new) is None:
        await services.choose_language(new, language)
    withdrawn = await _withdraw_polls(services, upgrade)
    alliances = await alliances_of_room(store, new, statuses=("active",))
    for alliance in alliances:
        if alliance.space_id is None:
            continue
        try:
            await space_child(services, alliance.space_id, new)
            await space_child(services, alliance.space_id, old, inside=False)
        except MatrixError as exc:
            log.warning("Could not update the space of alliance %d: %s", alliance.id, exc)
    threads = 0
    for link in await rdb.links_without_root(store, new):
        shared = await rdb.share_by_id(store, link.shared_id)
        if shared is None or not shared.active:
            continue
        if await post_root(services, shared, link, await root_event(services, shared)):
            threads += 1
    await services.notice(
        new,
        Reply(
            "room_upgraded",
            {"alliances": [a.name for a in alliances], "threads": threads, "polls": withdrawn},
        ),
        txn_key=f"{upgrade.tombstone_event_id}/upgraded",
    )


async def _withdraw_polls(services: Services, upgrade: Upgrade) -> list[dict[str, object]]:
    """Withdraw the old room's open polls; each as the new room is told of it (number and
    question), those withdrawn before a restart included."""
    store, old = services.store, upgrade.old_room_id
    key = EventID(f"{upgrade.tombstone_event_id}/upgrade")
    withdrawn = []
    for poll in await pdb.polls_withdrawn_by(store, key) + await pdb.open_polls(store, old):
        await pdb.withdraw(
            store, poll.id, at=services.now_ms(), by=services.config.user_id, command_event_id=key
        )
        withdrawn.append({"number": poll.number, "question": poll.question})
    if withdrawn:
        services.signal(CLOSED)  # what waited on their outcome lets go of them
    return withdrawn


def register(registry: Registry) -> None:
    registry.listen(
        Listener("room upgrades", frozenset({TOMBSTONE}), on_tombstone, include_old=True)
    )
    registry.every(
        Timer(
            "room upgrades",
            CHECK_S,
            follow_upgrades,
            woken_by=frozenset({UPGRADED, JOINED_A_ROOM}),
        )
    )
