"""The measuring client: a person who types commands and watches the answers arrive.

One matrix-nio client (encryption on, so it can also measure encrypted rooms) syncs in a
tight loop with a short long-poll timeout. Every answer (a message that replies to an event
with `m.in_reply_to`) is recorded with the moment the sync that carried it returned. A probe
is: note the time, send the command, wait until its answer has arrived. The same code
measures every arm, so whatever the client itself costs is the same for the floor and for
multilogue.

Messages relayed from another room are not answers: they are recognised by a tag in their
text (`tagged("hello", "m1.3.049")` writes `hello {bench:m1.3.049}`), which any relay keeps.
Every message carrying a tag is recorded as a `Sighting` (when, where, in which thread, and
its place in the order the client received events), and `sighted` waits for tags as
`arrivals` waits for answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

from bot.tooling.homeserver import RegisteredUser

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 500  # short long-poll: the loop is always close to a fresh sync
SYNC_FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"limit": 100},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
        "state": {"lazy_load_members": False},
    },
}


TAG = re.compile(r"\{bench:([A-Za-z0-9._-]+)\}")


def tagged(text: str, tag: str) -> str:
    """`text` with a tag the prober recognises wherever the text is relayed to."""
    return f"{text} {{bench:{tag}}}"


def thread_content(body: str, root: str) -> dict[str, Any]:
    """A plain message in the thread of `root`, as Element sends it."""
    return {
        "msgtype": "m.text",
        "body": body,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        },
    }


class BenchError(Exception):
    """The homeserver or a bot did not do what the benchmark needs to go on."""


@dataclass(frozen=True)
class Answer:
    sender: str
    arrived: float  # time.perf_counter() when the sync holding it returned
    msgtype: str
    size: int  # bytes of the content as JSON
    body: str  # the plain text, to check what the answer says


@dataclass(frozen=True)
class Sighting:
    """A message carrying a tag, as this client received it."""

    room_id: str
    event_id: str
    sender: str
    arrived: float  # time.perf_counter() when the sync holding it returned
    thread_root: str | None  # the thread it is in (None: not in a thread)
    position: int  # the order this client received it in, across rooms


class Prober:
    def __init__(self, homeserver: str, account: RegisteredUser, store_dir: Path) -> None:
        store_dir.mkdir(parents=True, exist_ok=True)
        self.user_id = account.user_id
        self._account = account
        self.client = AsyncClient(
            homeserver,
            account.user_id,
            device_id=account.device_id,
            store_path=str(store_dir),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
        )
        self.members: dict[str, dict[str, str]] = {}  # room id -> user id -> membership
        self.undecryptable = 0
        self._answers: dict[str, list[Answer]] = {}  # answered event id -> answers
        self._waiters: dict[str, tuple[str, asyncio.Future[float]]] = {}
        self._sightings: dict[str, list[Sighting]] = {}  # tag -> messages carrying it
        self._tag_waiters: dict[str, tuple[str, asyncio.Future[float]]] = {}
        self._positions = itertools.count()
        self.limited_syncs = 0  # syncs that left events out (more than the timeline holds)
        self._changed = asyncio.Event()
        self._synced = False
        self._task: asyncio.Task[None] | None = None

    @property
    def access_token(self) -> str:
        """For plain HTTP calls made as this person (`bot.tooling.demo_seed` types commands so)."""
        return self._account.access_token

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        account = self._account
        self.client.restore_login(account.user_id, account.device_id, account.access_token)
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        self._task = asyncio.create_task(self._loop(), name=f"prober {self.user_id}")
        await self.wait_for(lambda: self._synced, what="the first sync", timeout_s=60)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()

    async def _loop(self) -> None:
        since: str | None = None
        while True:
            response = await self.client.sync(
                timeout=SYNC_TIMEOUT_MS,
                sync_filter=SYNC_FILTER,
                since=since,
                full_state=since is None,
            )
            arrived = time.perf_counter()
            if not isinstance(response, SyncResponse):
                log.warning("prober sync failed: %s", response)
                await asyncio.sleep(0.2)
                continue
            since = response.next_batch
            for room_id, info in response.rooms.join.items():
                if info.timeline.limited and self._synced:
                    self.limited_syncs += 1
                for event in info.state:
                    self._note_state(room_id, event.source)
                for event in info.timeline.events:
                    self._note(room_id, event, arrived)
            await self._keep_keys()
            self._synced = True
            self._changed.set()

    async def _keep_keys(self) -> None:
        client = self.client
        if client.outgoing_to_device_messages:
            await client.send_to_device_messages()
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())

    def _note_state(self, room_id: str, source: dict[str, Any]) -> None:
        if source.get("type") == "m.room.member" and isinstance(source.get("state_key"), str):
            membership = str((source.get("content") or {}).get("membership"))
            self.members.setdefault(room_id, {})[source["state_key"]] = membership

    def _note(self, room_id: str, event: Any, arrived: float) -> None:
        source: dict[str, Any] = event.source
        self._note_state(room_id, source)
        sender = str(source.get("sender", ""))
        if sender == self.user_id:
            return
        if isinstance(event, MegolmEvent):
            self.undecryptable += 1
            return
        content = source.get("content") or {}
        relation = content.get("m.relates_to") or {}
        body = content.get("body")
        if isinstance(body, str) and "{bench:" in body:
            self._note_tags(room_id, source, relation, body, arrived)
        answered = (relation.get("m.in_reply_to") or {}).get("event_id")
        if not isinstance(answered, str):
            return
        self._answers.setdefault(answered, []).append(
            Answer(
                sender=sender,
                arrived=arrived,
                msgtype=str(content.get("msgtype")),
                size=len(json.dumps(content).encode()),
                body=str(content.get("body", "")),
            )
        )
        waiter = self._waiters.get(answered)
        if waiter is not None and waiter[0] == sender and not waiter[1].done():
            waiter[1].set_result(arrived)

    def _note_tags(
        self,
        room_id: str,
        source: dict[str, Any],
        relation: dict[str, Any],
        body: str,
        arrived: float,
    ) -> None:
        root = relation.get("event_id") if relation.get("rel_type") == "m.thread" else None
        sighting = Sighting(
            room_id=room_id,
            event_id=str(source.get("event_id", "")),
            sender=str(source.get("sender", "")),
            arrived=arrived,
            thread_root=root if isinstance(root, str) else None,
            position=next(self._positions),
        )
        for tag in TAG.findall(body):
            self._sightings.setdefault(tag, []).append(sighting)
            waiter = self._tag_waiters.get(tag)
            if waiter is not None and waiter[0] == sighting.sender and not waiter[1].done():
                waiter[1].set_result(arrived)

    # -- waiting ---------------------------------------------------------------------------

    async def wait_for(self, condition: Callable[[], Any], *, timeout_s: float, what: str) -> None:
        """Wait until `condition()` is true, re-checked after every sync; BenchError if not."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"timed out after {timeout_s:g} s waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 1.0))

    def answers(self, event_id: str, sender: str) -> list[Answer]:
        return [a for a in self._answers.get(event_id, []) if a.sender == sender]

    def expect(self, event_id: str, sender: str) -> asyncio.Future[float]:
        """A future for when the first answer from `sender` to `event_id` arrived."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        already = self.answers(event_id, sender)
        if already:
            future.set_result(already[0].arrived)
        else:
            self._waiters[event_id] = (sender, future)
        return future

    async def arrivals(
        self, event_ids: Iterable[str], sender: str, *, timeout_s: float
    ) -> dict[str, float | None]:
        """When the first answer to each event arrived (None: not within `timeout_s`)."""
        futures = {event_id: self.expect(event_id, sender) for event_id in event_ids}
        if futures:
            await asyncio.wait(futures.values(), timeout=timeout_s)
        result: dict[str, float | None] = {}
        for event_id, future in futures.items():
            self._waiters.pop(event_id, None)
            if future.done():
                result[event_id] = future.result()
            else:
                future.cancel()
                result[event_id] = None
        return result

    def sightings(self, tag: str, sender: str | None = None) -> list[Sighting]:
        """The messages carrying `tag` (from `sender`, if given), in the order received."""
        found = self._sightings.get(tag, [])
        return [s for s in found if sender is None or s.sender == sender]

    async def sighted(
        self, tags: Iterable[str], sender: str, *, timeout_s: float
    ) -> dict[str, float | None]:
        """When a message from `sender` carrying each tag first arrived (None: not within
        `timeout_s`)."""
        loop = asyncio.get_running_loop()
        futures: dict[str, asyncio.Future[float]] = {}
        for tag in tags:
            future: asyncio.Future[float] = loop.create_future()
            already = self.sightings(tag, sender)
            if already:
                future.set_result(already[0].arrived)
            else:
                self._tag_waiters[tag] = (sender, future)
            futures[tag] = future
        if futures:
            await asyncio.wait(futures.values(), timeout=timeout_s)
        result: dict[str, float | None] = {}
        for tag, future in futures.items():
            self._tag_waiters.pop(tag, None)
            if future.done():
                result[tag] = future.result()
            else:
                future.cancel()
                result[tag] = None
        return result

    # -- acting ----------------------------------------------------------------------------

    async def send_text(
        self, room_id: str, body: str, *, thread_root: str | None = None
    ) -> tuple[str, float]:
        """Send a plain text message (in the thread of `thread_root`, if given); return its
        event id and when the send started."""
        if thread_root is None:
            content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        else:
            content = thread_content(body, thread_root)
        started = time.perf_counter()
        response = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        if not isinstance(response, RoomSendResponse):
            raise BenchError(f"sending to {room_id} failed: {response}")
        return str(response.event_id), started

    async def probe(
        self,
        room_id: str,
        body: str,
        *,
        bot_id: str,
        timeout_s: float,
        thread_root: str | None = None,
    ) -> Probe:
        """Send `body` and wait for `bot_id`'s answer: one latency sample."""
        event_id, started = await self.send_text(room_id, body, thread_root=thread_root)
        arrived = (await self.arrivals([event_id], bot_id, timeout_s=timeout_s))[event_id]
        latency = None if arrived is None else arrived - started
        return Probe(event_id=event_id, latency_s=latency)

    async def create_room(
        self, *, invite: str | Sequence[str], encrypted: bool, name: str, public: bool = False
    ) -> str:
        """A room made by this client with `invite` invited; `public`: anyone may join."""
        initial_state: list[dict[str, Any]] = []
        if encrypted:
            initial_state.append(
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            )
        response = await self.client.room_create(
            name=name,
            preset=RoomPreset.public_chat if public else RoomPreset.private_chat,
            invite=[invite] if isinstance(invite, str) else list(invite),
            initial_state=initial_state,
        )
        if not isinstance(response, RoomCreateResponse):
            raise BenchError(f"creating a room failed: {response}")
        return str(response.room_id)

    async def join(self, room_id: str) -> None:
        response = await self.client.join(room_id)
        if not isinstance(response, JoinResponse):
            raise BenchError(f"joining {room_id} failed: {response}")

    async def invite(self, room_id: str, user_id: str) -> None:
        response = await self.client.room_invite(room_id, user_id)
        if not isinstance(response, RoomInviteResponse):
            raise BenchError(f"inviting {user_id} to {room_id} failed: {response}")

    async def latest_event(self, room_id: str, *, sender: str, event_type: str) -> dict[str, Any]:
        """The newest event of `event_type` from `sender` among the room's last 50 events."""
        response = await self.client.room_messages(room_id, limit=50)
        if not isinstance(response, RoomMessagesResponse):
            raise BenchError(f"reading the history of {room_id} failed: {response}")
        for event in response.chunk:
            source: dict[str, Any] = event.source
            if source.get("type") == event_type and source.get("sender") == sender:
                return source
        raise BenchError(f"no {event_type} from {sender} among the last 50 events of {room_id}")

    def joined(self, room_id: str, user_id: str) -> bool:
        return self.members.get(room_id, {}).get(user_id) == "join"

    def known(self, room_id: str) -> bool:
        """The room has come down this client's sync (nio can send to it)."""
        return room_id in self.client.rooms


@dataclass(frozen=True)
class Probe:
    event_id: str
    latency_s: float | None  # None: no answer within the timeout


class Sender:
    """Someone who only writes: a matrix-nio client that sends and never syncs.

    The senders of relay.burst post as fast as the homeserver takes their messages, each
    one after the other. Rooms they write in are unencrypted (no keys to share).
    """

    def __init__(self, homeserver: str, account: RegisteredUser) -> None:
        self.user_id = account.user_id
        self.client = AsyncClient(
            homeserver,
            account.user_id,
            device_id=account.device_id,
            config=AsyncClientConfig(encryption_enabled=False),
        )
        self.client.restore_login(account.user_id, account.device_id, account.access_token)

    async def join(self, room_id: str) -> None:
        response = await self.client.join(room_id)
        if not isinstance(response, JoinResponse):
            raise BenchError(f"{self.user_id} could not join {room_id}: {response}")

    async def say(self, room_id: str, body: str, *, thread_root: str) -> str:
        """Post `body` in the thread of `thread_root`; return its event id."""
        response = await self.client.room_send(
            room_id, "m.room.message", thread_content(body, thread_root)
        )
        if not isinstance(response, RoomSendResponse):
            raise BenchError(f"{self.user_id} could not send to {room_id}: {response}")
        return str(response.event_id)

    async def close(self) -> None:
        await self.client.close()
