"""A person in Element, played by a matrix-nio client with encryption, for integration tests.

It sends the same events Element sends and records everything it receives, decrypted,
so a test can wait (with a bounded wait) for the bot's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    MegolmEvent,
    RoomCreateResponse,
    RoomPreset,
    RoomPutStateResponse,
    RoomSendResponse,
)
from nio.crypto import OutboundGroupSession

from bot.tooling.homeserver import RegisteredUser

DEFAULT_TIMEOUT = 30.0
ENCRYPTION = ("m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"})


class MatrixUser:
    def __init__(self, homeserver: str, account: RegisteredUser, store_dir: Path) -> None:
        store_dir.mkdir(parents=True, exist_ok=True)
        self.account = account
        self.user_id = account.user_id
        self.client = AsyncClient(
            homeserver,
            account.user_id,
            device_id=account.device_id,
            store_path=str(store_dir),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
        )
        self.events: list[dict[str, Any]] = []  # every timeline event, decrypted, with room_id
        self.undecryptable: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def start(self) -> None:
        self.client.restore_login(self.user_id, self.account.device_id, self.account.access_token)
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        self._task = asyncio.create_task(self._loop())
        await self.wait_for(lambda: self._synced, what="first sync")

    _synced = False

    async def _loop(self) -> None:
        since: str | None = None
        while True:
            response = await self.client.sync(timeout=1000, since=since, full_state=since is None)
            if not hasattr(response, "next_batch"):
                await asyncio.sleep(0.2)
                continue
            since = response.next_batch
            for room_id, info in response.rooms.join.items():
                for event in info.timeline.events:
                    if isinstance(event, MegolmEvent):
                        self.undecryptable.append(event.event_id)
                        continue
                    source = dict(event.source)
                    source["room_id"] = room_id
                    source["decrypted"] = bool(getattr(event, "decrypted", False))
                    self.events.append(source)
            if self.client.outgoing_to_device_messages:
                await self.client.send_to_device_messages()
            if self.client.should_upload_keys:
                await self.client.keys_upload()
            if self.client.should_query_keys:
                await self.client.keys_query()
            if self.client.should_claim_keys:
                await self.client.keys_claim(self.client.get_users_for_key_claiming())
            self._synced = True
            self._changed.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()

    async def wait_for(
        self, condition: Callable[[], Any], *, timeout: float = DEFAULT_TIMEOUT, what: str = ""
    ) -> Any:
        """Wait until `condition()` is truthy (re-checked after every sync); return it."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 1.0))

    # -- acting like Element -----------------------------------------------------------------

    async def create_room(
        self,
        *,
        invite: list[str] | None = None,
        encrypted: bool = False,
        name: str = "test room",
        room_version: str | None = None,
        power_users: dict[str, int] | None = None,
    ) -> str:
        initial_state: list[dict[str, Any]] = []
        if encrypted:
            event_type, content = ENCRYPTION
            initial_state.append({"type": event_type, "state_key": "", "content": content})
        response = await self.client.room_create(
            name=name,
            preset=RoomPreset.private_chat,
            invite=invite or [],
            initial_state=initial_state,
            room_version=room_version,
            power_level_override={"users": power_users} if power_users else None,
        )
        assert isinstance(response, RoomCreateResponse), response
        room_id = response.room_id
        await self.wait_for(lambda: room_id in self.client.rooms, what="the new room in sync")
        return str(room_id)

    async def turn_on_encryption(self, room_id: str) -> None:
        """What Element's "Encrypted" switch does: from now on the room is encrypted."""
        response = await self.client.room_put_state(room_id, *ENCRYPTION)
        assert isinstance(response, RoomPutStateResponse), response
        await self.wait_for(
            lambda: self.client.rooms[room_id].encrypted, what="the room to be encrypted"
        )

    async def invite(self, room_id: str, user_id: str) -> None:
        response = await self.client.room_invite(room_id, user_id)
        assert not hasattr(response, "status_code"), response

    async def join(self, room_id: str) -> None:
        response = await self.client.join(room_id)
        assert hasattr(response, "room_id"), response
        await self.wait_for(lambda: room_id in self.client.rooms, what="joined room in sync")

    async def send(
        self, room_id: str, content: dict[str, Any], *, kind: str = "m.room.message"
    ) -> str:
        if self.client.should_query_keys:
            await self.client.keys_query()
        response = await self.client.room_send(
            room_id, kind, content, ignore_unverified_devices=True
        )
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    async def say(
        self, room_id: str, body: str, *, thread_root: str | None = None, html: str | None = None
    ) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if html is not None:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = html
        if thread_root is not None:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread_root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": thread_root},
            }
        return await self.send(room_id, content)

    async def send_before_sharing_key(self, room_id: str, body: str) -> str:
        """Send an encrypted message whose room key is NOT shared yet (a slow client's order).

        Call `share_room_key` afterwards to deliver the key, as a late to-device message.
        """
        olm = self.client.olm
        assert olm is not None
        if self.client.should_query_keys:
            await self.client.keys_query()
        olm.create_outbound_group_session(room_id)
        session = olm.outbound_group_sessions[room_id]
        key_from_start = session.session_key
        session.shared = True  # nio refuses to encrypt with an unshared session
        payload = olm.group_encrypt(
            room_id, {"type": "m.room.message", "content": {"msgtype": "m.text", "body": body}}
        )
        session.shared = False
        # nio would share the key from the session's current index, after our message;
        # share it from the start, as a client that is merely slow would.
        olm.outbound_group_sessions[room_id] = _KeyFromStart(session, key_from_start)
        return await self._send_encrypted(room_id, payload)

    async def send_forged(self, room_id: str, plaintext: dict[str, Any]) -> str:
        """Group-encrypt any event JSON, as a hostile client can: state, a redaction, another
        room's id."""
        olm = self.client.olm
        assert olm is not None
        session = olm.outbound_group_sessions.get(room_id)
        if session is None or not session.shared:
            # nio itself believes its forgeries (a forged leave drops the room key): share anew.
            await self.share_room_key(room_id)
            session = olm.outbound_group_sessions[room_id]
        payload = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "sender_key": olm.account.identity_keys["curve25519"],
            "ciphertext": session.encrypt(json.dumps({"room_id": room_id, **plaintext})),
            "session_id": session.id,
            "device_id": self.client.device_id,
        }
        return await self._send_encrypted(room_id, payload)

    async def _send_encrypted(self, room_id: str, payload: dict[str, Any]) -> str:
        """Send an `m.room.encrypted` payload made by hand, past nio's own encryption."""
        method, path, data = Api.room_send(
            self.client.access_token, room_id, "m.room.encrypted", payload, str(uuid.uuid4())
        )
        response = await self.client._send(
            RoomSendResponse, method, path, data, response_data=(room_id,)
        )
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    async def share_room_key(self, room_id: str) -> None:
        response = await self.client.share_group_session(room_id, ignore_unverified_devices=True)
        assert not hasattr(response, "status_code"), response

    # -- reading what arrived ----------------------------------------------------------------

    def messages_from(self, sender: str, room_id: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("sender") == sender
            and e.get("room_id") == room_id
            and e.get("type") == "m.room.message"
        ]

    def replies_to(self, sender: str, room_id: str, event_id: str) -> list[dict[str, Any]]:
        """Messages from `sender` that answer `event_id` (as a reply or in its thread)."""
        found = []
        for event in self.messages_from(sender, room_id):
            relation = event.get("content", {}).get("m.relates_to", {})
            in_reply_to = relation.get("m.in_reply_to", {}).get("event_id")
            if in_reply_to == event_id:
                found.append(event)
        return found

    async def reply_from(
        self, sender: str, room_id: str, event_id: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        replies = await self.wait_for(
            lambda: self.replies_to(sender, room_id, event_id),
            timeout=timeout,
            what=f"a reply from {sender}",
        )
        return dict(replies[0])

    async def ask(self, room_id: str, body: str, *, bot: str, **kwargs: Any) -> dict[str, Any]:
        """Send a message and wait for the bot's answer to it."""
        event_id = await self.say(room_id, body, **kwargs)
        return await self.reply_from(bot, room_id, event_id)


class _KeyFromStart(OutboundGroupSession):  # type: ignore[misc]
    """An outbound session that exports its key as it was before the first message."""

    def __init__(self, inner: OutboundGroupSession, key: str) -> None:
        self.__dict__.update(inner.__dict__)
        self._key_from_start = key

    @property
    def session_key(self) -> str:
        return self._key_from_start
