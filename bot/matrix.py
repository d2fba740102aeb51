"""The only module that talks to matrix-nio.

It logs in (reusing one device across restarts), syncs, decrypts, sends and joins, and
checks every response: nio returns errors as values, this module turns them into the
exceptions of `bot.contract.errors`. Everything it hands out is plain data from `bot.events`.

Final or transient (what `_raise_for` decides, so that a retry is never wasted on a request
the homeserver will refuse again, and a request is never given up while it may still work):

- final: an error code in `REFUSALS` (the spec's codes for "this request, as it is, will not
  be accepted": not allowed, no such room or event, too large, malformed, unsupported), and
  any other 4xx answer that names its own error code, except M_UNKNOWN;
- transient: no answer at all (connection refused or dropped, timeout), any 5xx or 408, an
  answer that is not Matrix JSON (a proxy's error page), and M_UNKNOWN unless the status is
  a 4xx (Synapse answers an internal failure with 500 M_UNKNOWN, and a request it cannot
  accept with 400 M_UNKNOWN).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    InviteNameEvent,
    JoinError,
    LocalProtocolError,
    LoginError,
    MegolmEvent,
    RoomGetEventError,
    RoomGetStateEventError,
    RoomLeaveError,
    RoomPreset,
    RoomPutStateError,
    WhoamiError,
)
from nio.exceptions import EncryptionError

from bot.config import Config
from bot.contract import LoginFailed, MatrixError, MatrixUnavailable, RateLimited
from bot.events import Event, Invite, RoomUpdate, SyncBatch, Undecryptable
from bot.ids import EventID, RoomID, UserID
from bot.store import Session, Store

log = logging.getLogger(__name__)

DEVICE_NAME = "multilogue"
KEYS_QUERY = "/_matrix/client/v3/keys/query"
TIMELINE_LIMIT = 50
SPACE_MARK = "org.multilogue.space"  # state event marking a space the bot created, by key
NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, OSError)
"""Failures to get an answer: no connection, a dropped one, a timeout."""

REFUSALS = frozenset(
    {
        "M_FORBIDDEN",  # not allowed: not in the room, not enough power, banned, server ACL
        "M_NOT_FOUND",  # no such room or event (or the bot may not see it)
        "M_TOO_LARGE",  # over the event size limit: the same content never fits
        "M_BAD_JSON",  # the request is malformed: sending it again changes nothing
        "M_NOT_JSON",
        "M_INVALID_PARAM",
        "M_MISSING_PARAM",
        "M_BAD_STATE",
        "M_INVALID_ROOM_STATE",
        "M_UNRECOGNIZED",  # the homeserver does not offer this request
        "M_UNSUPPORTED_ROOM_VERSION",
        "M_INCOMPATIBLE_ROOM_VERSION",
        "M_GUEST_ACCESS_FORBIDDEN",
        "M_USER_DEACTIVATED",
        "M_EXCLUSIVE",
        "M_ROOM_IN_USE",
        "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM",
        "M_SERVER_NOT_TRUSTED",
        "M_UNAUTHORIZED",
    }
)
"""Error codes that say the same request will be refused again (see the module's notes)."""


def http_status(response: ErrorResponse) -> int | None:
    transport = getattr(response, "transport_response", None)
    status = getattr(transport, "status", None)
    return status if isinstance(status, int) else None


def is_final(errcode: str | None, status: int | None) -> bool:
    """Whether the homeserver's refusal is definite (see the module's notes)."""
    if errcode in REFUSALS:
        return True
    if status is None or not 400 <= status < 500 or status in (408, 429):
        return False
    return errcode is not None and not errcode.isdigit()


def _raise_for(response: ErrorResponse, what: str) -> None:
    code = str(response.status_code) if response.status_code is not None else None
    status = http_status(response)
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        raise RateLimited(int(getattr(response, "retry_after_ms", None) or 5000))
    if code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
        raise LoginFailed(f"{what}: the access token was refused", errcode=code)
    if not is_final(code, status):
        shown = " ".join(str(part) for part in (status, code) if part)
        raise MatrixUnavailable(f"{what}: homeserver error {shown}".strip(), errcode=code)
    raise MatrixError(f"{what}: {code}: {response.message}", errcode=code)


class Matrix:
    """A logged-in bot account on one homeserver."""

    def __init__(self, config: Config, store: Store) -> None:
        self._config = config
        self._store = store
        self.forgeries_ignored = 0  # decrypted events that claimed to be state (see _decrypted)
        config.crypto_dir.mkdir(parents=True, exist_ok=True)
        client_config = AsyncClientConfig(
            max_limit_exceeded=0,
            max_timeouts=0,
            encryption_enabled=config.encryption,
            store_sync_tokens=False,
            request_timeout=60,
        )
        self._client = AsyncClient(
            config.homeserver,
            config.user_id,
            store_path=str(config.crypto_dir),
            config=client_config,
        )

    @property
    def user_id(self) -> UserID:
        return self._config.user_id

    @property
    def device_id(self) -> str:
        return str(self._client.device_id)

    @property
    def access_token(self) -> str:
        return str(self._client.access_token)

    @property
    def device_signing_key(self) -> str | None:
        """This device's Ed25519 identity key (what cross-signing vouches for)."""
        olm = self._client.olm
        return str(olm.account.identity_keys["ed25519"]) if olm is not None else None

    # -- login -----------------------------------------------------------------------------

    async def login(self) -> None:
        """Reuse the stored device, or log in once and store the new session."""
        config = self._config
        stored = await self._store.load_session()
        if stored and (stored.user_id != config.user_id or stored.homeserver != config.homeserver):
            log.warning("Stored session is for another account or homeserver; logging in again")
            stored = None
        if stored:
            self._client.restore_login(stored.user_id, stored.device_id, stored.access_token)
            if await self._token_works():
                log.info("Reusing device %s", stored.device_id)
                await self._upload_keys()
                return
            log.warning("Stored access token was refused; logging in again on the same device")
            await self._password_login(device_id=stored.device_id)
            return
        if config.access_token:
            device_id = await self._token_device(config.access_token)
            self._client.restore_login(config.user_id, device_id, config.access_token)
            await self._save_session()
            log.info("Logged in with the configured access token (device %s)", device_id)
            await self._upload_keys()
            return
        await self._password_login(device_id=None)

    async def _password_login(self, *, device_id: str | None) -> None:
        if not self._config.password:
            raise LoginFailed(
                "the stored session is no longer valid and MATRIX_PASSWORD is not set"
            )
        try:
            if device_id:
                self._client.device_id = device_id  # log in again on the same device
            response = await self._client.login(self._config.password, device_name=DEVICE_NAME)
        except NETWORK_ERRORS as exc:
            raise MatrixUnavailable(
                f"login: cannot reach the homeserver ({type(exc).__name__})"
            ) from exc
        if isinstance(response, LoginError):
            code = str(response.status_code)
            if code == "M_FORBIDDEN":
                raise LoginFailed(
                    "login refused: wrong MATRIX_USER_ID or MATRIX_PASSWORD, or the account "
                    "has been deactivated"
                )
            if code == "M_USER_DEACTIVATED":
                raise LoginFailed(f"the account {self._config.user_id} has been deactivated")
            try:
                _raise_for(response, "login")
            except (MatrixUnavailable, RateLimited):
                raise
            except MatrixError as exc:
                raise LoginFailed(f"login refused ({exc.errcode})", errcode=exc.errcode) from exc
        await self._save_session()
        log.info("Logged in with password; device %s", self._client.device_id)
        await self._upload_keys()

    async def _save_session(self) -> None:
        await self._store.save_session(
            Session(
                homeserver=self._config.homeserver,
                user_id=self._config.user_id,
                device_id=self.device_id,
                access_token=self.access_token,
            )
        )

    async def _token_works(self) -> bool:
        response = await self._reach(self._client.whoami(), "whoami")
        if isinstance(response, WhoamiError):
            if str(response.status_code) in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
                return False
            _raise_for(response, "whoami")
        return True

    async def _token_device(self, token: str) -> str:
        """The device of the configured access token, once the homeserver confirms that the
        token is the bot's (MATRIX_USER_ID) and of MATRIX_DEVICE_ID when that is set."""
        config = self._config
        self._client.access_token = token
        response = await self._reach(self._client.whoami(), "whoami")
        if isinstance(response, WhoamiError):
            if str(response.status_code) in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
                raise LoginFailed("MATRIX_ACCESS_TOKEN was refused by the homeserver")
            _raise_for(response, "whoami")
        if response.user_id != config.user_id:
            raise LoginFailed(
                f"MATRIX_ACCESS_TOKEN belongs to {response.user_id}, not to MATRIX_USER_ID "
                f"{config.user_id}"
            )
        device_id = response.device_id or config.device_id
        if not device_id:
            raise LoginFailed("this access token has no device; set MATRIX_DEVICE_ID")
        if config.device_id and response.device_id and config.device_id != response.device_id:
            raise LoginFailed(
                f"MATRIX_ACCESS_TOKEN belongs to device {response.device_id}, not to "
                f"MATRIX_DEVICE_ID {config.device_id}"
            )
        return str(device_id)

    async def _upload_keys(self) -> None:
        """Make sure the homeserver has this device's keys. nio remembers having uploaded them
        once; but a device signed out elsewhere (a server admin, or the account's owner in
        Element's session list) and logged in again has none there, and nio would never upload
        them again: the bot would read and answer nothing encrypted."""
        if not self._config.encryption or self._client.olm is None:
            return
        if not self._client.should_upload_keys and not await self._device_keys_published():
            log.warning(
                "The homeserver has lost this device's encryption keys (was it signed out?); "
                "uploading them again"
            )
            self._client.olm.account.shared = False
        if self._client.should_upload_keys:
            await self._checked(self._client.keys_upload(), "keys upload")

    async def _device_keys_published(self) -> bool:
        """Whether the homeserver holds this device's identity key, as the device has it."""
        body = json.dumps({"device_keys": {self.user_id: [self.device_id]}})
        headers = {
            "Authorization": f"Bearer {self.access_token}",
            "Content-Type": "application/json",
        }

        async def ask() -> tuple[int, Any]:
            response = await self._client.send("POST", KEYS_QUERY, body, headers)
            async with response:
                try:
                    return response.status, await response.json(content_type=None)
                except ValueError:  # not JSON: a proxy's error page
                    return response.status, None

        status, reply = await self._reach(ask(), "keys query")
        if status != 200 or not isinstance(reply, dict):
            raise MatrixUnavailable(f"keys query: homeserver error {status}")
        devices = (reply.get("device_keys") or {}).get(self.user_id) or {}
        device = devices.get(self.device_id)
        keys = device.get("keys") if isinstance(device, dict) else None
        return isinstance(keys, dict) and (
            keys.get(f"ed25519:{self.device_id}") == self.device_signing_key
        )

    @staticmethod
    async def _reach(call: Any, what: str) -> Any:
        """The response to a request; a network or client-side failure as our exceptions."""
        try:
            return await call
        except NETWORK_ERRORS as exc:
            raise MatrixUnavailable(
                f"{what}: cannot reach the homeserver ({type(exc).__name__})"
            ) from exc
        except LocalProtocolError as exc:
            raise MatrixError(f"{what}: {exc}") from exc

    async def _checked(self, call: Any, what: str) -> Any:
        """As `_reach`, and an error response raised as our exceptions too."""
        response = await self._reach(call, what)
        if isinstance(response, ErrorResponse):
            _raise_for(response, what)
        return response

    # -- sync ------------------------------------------------------------------------------

    async def sync(self, *, since: str | None, full_state: bool, timeout_ms: int) -> SyncBatch:
        sync_filter = {
            "room": {"timeline": {"limit": TIMELINE_LIMIT}, "state": {"lazy_load_members": False}}
        }
        response = await self._checked(
            self._client.sync(
                timeout=timeout_ms, sync_filter=sync_filter, since=since, full_state=full_state
            ),
            "sync",
        )
        return self._to_batch(response)

    def _to_batch(self, response: Any) -> SyncBatch:
        batch = SyncBatch(next_batch=str(response.next_batch))
        batch.received_room_keys = bool(response.to_device_events)
        for room_id, info in response.rooms.join.items():
            update = RoomUpdate(
                limited=bool(info.timeline.limited), prev_batch=info.timeline.prev_batch
            )
            for event in info.state:
                update.state.append(Event.from_source(room_id, event.source, encrypted=False))
            for event in info.timeline.events:
                converted = self._convert(RoomID(room_id), event)
                if converted is None:
                    continue
                if isinstance(converted, Undecryptable):
                    update.undecryptable.append(converted)
                    continue
                if self._is_own_join(event.source):
                    update.joined_at = len(update.timeline)
                elif self._is_own_invite(event.source):
                    update.invited_at = len(update.timeline)
                update.timeline.append(converted)
            batch.joined[RoomID(room_id)] = update
        for room_id, info in response.rooms.invite.items():
            batch.invites.append(self._invite(RoomID(room_id), info.invite_state))
        batch.left = [RoomID(room_id) for room_id in response.rooms.leave]
        return batch

    def _convert(self, room_id: RoomID, event: Any) -> Event | Undecryptable | None:
        """nio's event as ours; None for a decrypted payload that claims too much."""
        if isinstance(event, MegolmEvent):
            return Undecryptable(
                event_id=EventID(event.event_id),
                room_id=room_id,
                session_id=str(event.session_id),
                source=event.source,
            )
        if getattr(event, "decrypted", False):
            return self._decrypted(room_id, event.source)
        return Event.from_source(room_id, event.source, encrypted=False)

    def _decrypted(self, room_id: RoomID, source: dict[str, Any]) -> Event | None:
        """A decrypted event, unless it pretends to be state, a redaction or from elsewhere
        (see `Event.from_decrypted`): such forgeries are counted and left out."""
        event = Event.from_decrypted(room_id, source)
        if event is None:
            self.forgeries_ignored += 1
            log.debug(
                "Ignored an encrypted event claiming to be state, a redaction or from another "
                "room in %s (%d so far)",
                room_id,
                self.forgeries_ignored,
            )
        return event

    def _is_own_join(self, source: dict[str, Any]) -> bool:
        """The bot's own arrival in a room (not a later change of its display name)."""
        if source.get("type") != "m.room.member" or source.get("state_key") != self.user_id:
            return False
        content = source.get("content") or {}
        unsigned = source.get("unsigned") or {}
        previous = (unsigned.get("prev_content") or {}).get("membership")
        return bool(content.get("membership") == "join" and previous != "join")

    def _is_own_invite(self, source: dict[str, Any]) -> bool:
        content = source.get("content") or {}
        return bool(
            source.get("type") == "m.room.member"
            and source.get("state_key") == self.user_id
            and content.get("membership") == "invite"
        )

    async def history(
        self, room_id: RoomID, *, start: str, limit: int = 100
    ) -> tuple[list[tuple[Event | Undecryptable, bool]], str | None]:
        """One page of older events, newest first, each paired with "is the bot's own join",
        and the token for the page before it (None when there is nothing older)."""
        response = await self._checked(
            self._client.room_messages(room_id, start=start, limit=limit), "history"
        )
        page = [
            (converted, isinstance(converted, Event) and self._is_own_join(event.source))
            for event in response.chunk
            if (converted := self._convert(room_id, event)) is not None
        ]
        return page, (str(response.end) if response.end and response.chunk else None)

    def _invite(self, room_id: RoomID, invite_state: list[Any]) -> Invite:
        inviter: UserID | None = None
        name: str | None = None
        # nio's invite events drop `content` from `.source`; read their attributes instead.
        for event in invite_state:
            if (
                isinstance(event, InviteMemberEvent)
                and event.state_key == self.user_id
                and event.membership == "invite"
            ):
                inviter = UserID(str(event.sender))
            elif isinstance(event, InviteNameEvent) and isinstance(event.name, str):
                name = event.name
        return Invite(room_id=room_id, inviter=inviter, room_name=name)

    async def keep_keys(self) -> None:
        """The encryption housekeeping nio's own sync loop would do after each sync."""
        if not self._config.encryption:
            return
        client = self._client
        if client.outgoing_to_device_messages:
            # Unsent messages stay queued in nio and go with the next upkeep.
            sent = await self._reach(client.send_to_device_messages(), "to-device send")
            for response in sent:
                if isinstance(response, ErrorResponse):
                    log.warning("Sending encryption keys failed: %s", response.status_code)
        if client.should_upload_keys:
            await self._checked(client.keys_upload(), "keys upload")
        if client.should_query_keys:
            await self._checked(client.keys_query(), "keys query")
        if client.should_claim_keys:
            await self._checked(
                client.keys_claim(client.get_users_for_key_claiming()), "keys claim"
            )

    def try_decrypt(self, pending: Undecryptable) -> Event | None:
        """Decrypt an event that waited for its key; None while the key is still missing."""
        if not self._config.encryption:
            return None
        try:
            event = MegolmEvent.from_dict(pending.source)
            event.room_id = pending.room_id
            decrypted = self._client.decrypt_event(event)
        except (EncryptionError, KeyError, ValueError):
            return None
        if isinstance(decrypted, MegolmEvent) or not hasattr(decrypted, "source"):
            return None
        return self._decrypted(pending.room_id, decrypted.source)

    def is_encrypted(self, room_id: RoomID) -> bool:
        room = self._client.rooms.get(room_id)
        return bool(room and room.encrypted)

    # -- acting ----------------------------------------------------------------------------

    async def send(
        self, room_id: RoomID, *, event_type: str, content: dict[str, Any], txn_id: str
    ) -> EventID:
        """Send one event. The same `txn_id` never creates a second event."""
        response = await self._checked(
            self._client.room_send(
                room_id, event_type, content, tx_id=txn_id, ignore_unverified_devices=True
            ),
            "send",
        )
        return EventID(response.event_id)

    async def upload(
        self, data: bytes, *, filename: str, mimetype: str, encrypt: bool
    ) -> dict[str, Any]:
        """Upload a file; the part of an `m.file` event's content that points to it (`url`,
        or `file` with the keys to decrypt it when `encrypt`)."""
        response, keys = await self._reach(
            self._client.upload(
                io.BytesIO(data),
                content_type=mimetype,
                filename=filename,
                encrypt=encrypt,
                filesize=len(data),
            ),
            "upload",
        )
        if isinstance(response, ErrorResponse):
            _raise_for(response, "upload")
        if encrypt:
            assert keys is not None
            return {"file": {**keys, "url": response.content_uri}}
        return {"url": response.content_uri}

    async def redact(
        self, room_id: RoomID, event_id: EventID, *, reason: str | None, txn_id: str
    ) -> EventID:
        """Redact an event (the bot's own, or any with enough power). The same `txn_id` never
        creates a second redaction."""
        response = await self._checked(
            self._client.room_redact(room_id, event_id, reason=reason, tx_id=txn_id), "redact"
        )
        return EventID(response.event_id)

    async def get_event(self, room_id: RoomID, event_id: EventID) -> Event | None:
        """One event of a room, decrypted when the bot holds its key; None when the homeserver
        does not show it to the bot (unknown, not visible) or it cannot be decrypted."""
        response = await self._reach(self._client.room_get_event(room_id, event_id), "get event")
        if isinstance(response, RoomGetEventError):
            if str(response.status_code) in ("M_NOT_FOUND", "M_FORBIDDEN"):
                return None
            _raise_for(response, "get event")
        event = response.event
        if isinstance(event, MegolmEvent):
            event.room_id = room_id
            try:
                decrypted = self._client.decrypt_event(event) if self._config.encryption else None
            except (EncryptionError, KeyError, ValueError):
                return None
            if decrypted is None or isinstance(decrypted, MegolmEvent):
                return None
            if not hasattr(decrypted, "source"):
                return None
            return self._decrypted(room_id, decrypted.source)
        return Event.from_source(room_id, event.source, encrypted=False)

    async def send_state(
        self, room_id: RoomID, *, event_type: str, state_key: str, content: dict[str, Any]
    ) -> EventID:
        response = await self._checked(
            self._client.room_put_state(room_id, event_type, content, state_key=state_key),
            "put state",
        )
        if isinstance(response, RoomPutStateError):  # pragma: no cover - _checked raised
            _raise_for(response, "put state")
        return EventID(response.event_id)

    async def get_state(
        self, room_id: RoomID, event_type: str, state_key: str = ""
    ) -> dict[str, Any] | None:
        response = await self._reach(
            self._client.room_get_state_event(room_id, event_type, state_key), "get state"
        )
        if isinstance(response, RoomGetStateEventError):
            if str(response.status_code) == "M_NOT_FOUND":
                return None
            _raise_for(response, "get state")
        content = response.content
        return content if isinstance(content, dict) else None

    async def create_space(
        self, *, name: str, topic: str, invite: list[str], key: str | None = None
    ) -> RoomID:
        """Create a Matrix space (a room of type m.space) that the bot administers.

        A `key` is kept in the space as a `SPACE_MARK` state event, for `find_space`.
        """
        initial_state = []
        if key is not None:
            initial_state.append({"type": SPACE_MARK, "state_key": "", "content": {"key": key}})
        response = await self._checked(
            self._client.room_create(
                name=name,
                topic=topic,
                invite=invite,
                space=True,
                preset=RoomPreset.private_chat,
                initial_state=initial_state,
            ),
            "create space",
        )
        return RoomID(response.room_id)

    async def rooms_marked(self, key: str) -> list[RoomID]:
        """The joined rooms that carry the mark `create_space` puts in with `key` (one request
        per room). Anyone may put such a mark in a room of their own: the caller checks that
        the bot created the room."""
        response = await self._checked(self._client.joined_rooms(), "joined rooms")
        marked = []
        for room_id in response.rooms:
            content = await self.get_state(RoomID(room_id), SPACE_MARK)
            if content is not None and content.get("key") == key:
                marked.append(RoomID(room_id))
        return marked

    async def invite(self, room_id: RoomID, user_id: str) -> None:
        await self._checked(self._client.room_invite(room_id, user_id), "invite")

    async def join(self, room_id: RoomID) -> None:
        response = await self._checked(self._client.join(room_id), "join")
        if isinstance(response, JoinError):  # pragma: no cover - _checked raised
            _raise_for(response, "join")

    async def leave(self, room_id: RoomID) -> None:
        response = await self._checked(self._client.room_leave(room_id), "leave")
        if isinstance(response, RoomLeaveError):  # pragma: no cover - _checked raised
            _raise_for(response, "leave")

    async def close(self) -> None:
        """Close connections. Never logs out: that would delete the device and its keys."""
        await self._client.close()
