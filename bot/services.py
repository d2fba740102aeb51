"""What the bot offers the command families: the `Services` of the contract.

`BotServices` implements `bot.contract.Services` over the Matrix connection (`bot.matrix`), the
outbox that paces and retries sends (`bot.outbox`) and the room state the sync keeps
(`bot.rooms`). The sync loop (`bot.app.Bot`) builds one and hands it to the router, the
listeners and the timers; its failure contract is `bot.contract.errors`': sends retry until
delivered and return None when refused, changes raise `MatrixError`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from bot.config import Config
from bot.contract import Joined, MatrixError, Registry, Reply, Words
from bot.events import Event
from bot.ids import EventID, RoomID
from bot.matrix import Matrix
from bot.outbox import Delivery, Outbox, answering_relation, notice_content, txn_id_for
from bot.render import Message, Renderer, Voices
from bot.room_languages import STATE_TYPE, RoomLanguages
from bot.rooms import Rooms, RoomState
from bot.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
Retried = Callable[[Callable[[], Awaitable[Any]], str], Awaitable[Any]]
"""Runs a request again while the homeserver paces or fails (the bot's `_retried`)."""


class BotServices:
    """The bot's `Services`: one per bot, shared by everything that handles events."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        registry: Registry,
        matrix: Matrix,
        outbox: Outbox,
        rooms: Rooms,
        retried: Retried,
    ) -> None:
        self.config = config
        self.store = store
        self.registry = registry
        self.matrix = matrix
        self.outbox = outbox
        self.rooms = rooms
        self._retried = retried
        self.voices = Voices(globals={"prefix": config.command_prefix})
        self.languages = RoomLanguages(store, config.language)
        # Rooms joined that the sync has not told of yet.
        self.joined_since_sync: set[RoomID] = set()
        # Per timer: set when a happening it waits for is signalled.
        self.wake: dict[str, asyncio.Event] = {
            timer.name: asyncio.Event() for timer in registry.timers
        }

    def signal(self, happening: str) -> None:
        for timer in self.registry.timers:
            if happening in timer.woken_by:
                self.wake[timer.name].set()

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def room(self, room_id: RoomID) -> RoomState:
        return self.rooms.get(room_id)

    # -- languages -------------------------------------------------------------------------

    def renderer(self, room_id: RoomID) -> Renderer:
        return self.voices(self.languages.of(room_id))

    def language(self, room_id: RoomID) -> str:
        return self.languages.of(room_id)

    def own_language(self, room_id: RoomID) -> str | None:
        return self.languages.own(room_id)

    def message(self, room_id: RoomID, reply: Reply) -> Message:
        return self.renderer(room_id).render(reply.template, reply.data)

    def say(self, room_id: RoomID, words: Words) -> str:
        return self.renderer(room_id).say(words)

    async def choose_language(self, room_id: RoomID, language: str | None) -> bool:
        await self.languages.choose(room_id, language, now_ms=self.now_ms())
        content = {"language": language} if language else {}
        try:
            await self._retried(
                lambda: self.matrix.send_state(
                    room_id, event_type=STATE_TYPE, state_key="", content=content
                ),
                "language",
            )
        except MatrixError as exc:
            log.info("Could not write the language of %s as room state: %s", room_id, exc)
            return False
        return True

    async def inherit_language(self, room_id: RoomID, language: str | None) -> bool:
        return await self.languages.inherit(room_id, language, now_ms=self.now_ms())

    async def send_state(
        self, room_id: RoomID, *, event_type: str, state_key: str, content: dict[str, Any]
    ) -> EventID:
        return await self.matrix.send_state(
            room_id, event_type=event_type, state_key=state_key, content=content
        )

    async def create_space(
        self, *, name: str, topic: str, invite: list[str], key: str | None = None
    ) -> RoomID:
        return await self.matrix.create_space(name=name, topic=topic, invite=invite, key=key)

    async def find_space(self, key: str) -> RoomID | None:
        """The space marked with `key` that this bot created itself, if any (for recovering a
        creation interrupted before its id was stored). Who created a room is read from its
        `m.room.create` as the homeserver sent it: a planted mark in someone else's room, or
        in a room that is not a space, is never adopted."""
        for room_id in await self.matrix.rooms_marked(key):
            if room_id not in self.rooms:
                continue
            room = self.rooms.get(room_id)
            if (
                room.create_sender == self.config.user_id
                and room.create_content.get("type") == "m.space"
            ):
                return room_id
            log.warning("Not adopting room %s: it carries a space mark, but not ours", room_id)
        return None

    async def invite(self, room_id: RoomID, user_id: str) -> None:
        await self.matrix.invite(room_id, user_id)

    async def join_replacement(self, old: RoomID, new: RoomID) -> Joined:
        joined_now = new not in self.rooms and new not in self.joined_since_sync
        if joined_now:
            try:
                await self._retried(lambda: self.matrix.join(new), "join")
            except MatrixError as exc:
                log.info("Cannot join %s, which replaced %s, yet (%s)", new, old, exc)
                return "waiting"
            self.joined_since_sync.add(new)
        create = await self.matrix.get_state(new, "m.room.create")
        predecessor = (create or {}).get("predecessor")
        if isinstance(predecessor, dict) and predecessor.get("room_id") == old:
            return "joined"
        log.warning("Room %s does not name %s as the room it replaces", new, old)
        if joined_now:  # only for this: a room the bot was in already (the commons?) it keeps
            try:
                await self.leave(new)
            except MatrixError as exc:
                log.info("Could not leave %s: %s", new, exc)
        return "not a replacement"

    async def leave(self, room_id: RoomID) -> None:
        await self.matrix.leave(room_id)
        self.rooms.forget(room_id)
        log.info("Left room %s on request", room_id)

    async def send(
        self,
        room_id: RoomID,
        *,
        event_type: str,
        content: dict[str, Any],
        txn_key: str,
        background: bool = False,
    ) -> EventID | None:
        done = await self.outbox.deliver(
            room_id,
            event_type=event_type,
            content=content,
            txn_id=txn_id_for(txn_key, event_type),
            background=background,
        )
        return done if isinstance(done, str) else None

    async def redact(
        self, room_id: RoomID, event_id: EventID, *, reason: str | None, txn_key: str
    ) -> EventID | None:
        return await self.outbox.redact(
            room_id, event_id, reason=reason, txn_id=txn_id_for(txn_key, "m.room.redaction")
        )

    async def send_file(
        self,
        room_id: RoomID,
        data: bytes,
        *,
        filename: str,
        mimetype: str,
        txn_key: str,
        answering: Event | None = None,
    ) -> EventID | None:
        pointer = await self.matrix.upload(
            data, filename=filename, mimetype=mimetype, encrypt=self.room(room_id).encrypted
        )
        content: dict[str, Any] = {
            "msgtype": "m.file",
            "body": filename,
            "filename": filename,
            "info": {"mimetype": mimetype, "size": len(data)},
            **pointer,
        }
        if answering is not None:
            content["m.relates_to"] = answering_relation(answering)
        done = await self.outbox.deliver(
            room_id,
            event_type="m.room.message",
            content=content,
            txn_id=txn_id_for(txn_key, "file"),
        )
        return done if isinstance(done, str) else None

    async def get_event(self, room_id: RoomID, event_id: EventID) -> Event | None:
        try:
            return await self.matrix.get_event(room_id, event_id)
        except MatrixError as exc:
            log.warning("Could not read an event of %s: %s", room_id, exc)
            return None

    async def notice(
        self,
        room_id: RoomID,
        reply: Reply,
        *,
        txn_key: str,
        answering: Event | None = None,
        thread_root: EventID | None = None,
        mentions: Sequence[str] = (),
    ) -> EventID | None:
        done = await self.deliver_notice(
            room_id,
            reply,
            txn_key=txn_key,
            answering=answering,
            thread_root=thread_root,
            mentions=mentions,
        )
        return done if isinstance(done, str) else None

    async def deliver_notice(
        self,
        room_id: RoomID,
        reply: Reply,
        *,
        txn_key: str,
        answering: Event | None = None,
        thread_root: EventID | None = None,
        until_ms: int | None = None,
        mentions: Sequence[str] = (),
    ) -> Delivery:
        message = self.renderer(room_id).render_fitted(reply.template, reply.data)
        content = notice_content(message, answering=answering)
        if mentions:
            content["m.mentions"] = {"user_ids": list(mentions)}
        if thread_root is not None and answering is None:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread_root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": thread_root},
            }
        return await self.outbox.deliver(
            room_id,
            event_type="m.room.message",
            content=content,
            txn_id=txn_id_for(txn_key),
            until_ms=until_ms,
        )
