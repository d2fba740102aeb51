"""The composition root and the sync loop.

`Bot` builds the store, the Matrix connection, the command registry and router, and
runs the loop:

1. sync (with backoff while the homeserver is away);
2. update what it knows of room state; answer invites;
3. put the sync's new events and its token into the inbox in ONE transaction
   (events already in the inbox are dropped: nothing is handled twice);
4. hand the new events to their room's worker, which answers and marks them done.

A crash or stop between 3 and 4 loses nothing: pending events are picked up again at the
next start. On the very first start, room history is skipped; after a restart, messages
older than `max_command_age_s` are not answered as commands (they are skipped, unless a
listener asks for old messages with `include_old`, as the relay of shared threads does).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp

from bot.config import Config
from bot.contract import (
    JOINED_A_ROOM,
    LoginFailed,
    MatrixError,
    MatrixUnavailable,
    RateLimited,
    Registry,
    Reply,
    Timer,
    addressed_text,
)
from bot.cross_signing import (
    CrossSigningError,
    CrossSigningStatus,
    ensure_cross_signing,
    fingerprint,
)
from bot.datadir import make_private
from bot.events import Event, Invite, SyncBatch, Undecryptable, timestamp
from bot.families import build_registry
from bot.ids import EventID, RoomID
from bot.matrix import Matrix
from bot.outbox import (
    Outbox,
    Refused,
    RoomQueues,
    backoff_s,
    wall_ms,
)
from bot.room_languages import STATE_TYPE as LANGUAGE_STATE
from bot.rooms import Rooms
from bot.router import Router
from bot.services import BotServices
from bot.store import InboxItem, Store

log = logging.getLogger(__name__)
T = TypeVar("T")

SYNC_TIMEOUT_MS = 30_000
BACKFILL_LOG_EVERY = 10  # pages of missed events between two log lines
ATTEMPTS = 8  # failures of a join, a leave or a page of missed events before giving up
PRUNE_INTERVAL_S = 3600.0  # how often handled events are forgotten while running
SEND_GRACE_S = 0.25  # how long a sync waits for the answers it caused to be sent
TOKEN_SAVE_INTERVAL_S = 30.0  # a sync with nothing to keep saves its token at most this often
MAX_BACKOFF_S = 30.0


class Bot:
    def __init__(self, config: Config, store: Store, *, registry: Registry | None = None) -> None:
        self.config = config
        self.store = store
        self.matrix = Matrix(config, store)
        self.outbox = Outbox(self.matrix)
        self.rooms = Rooms()
        self.registry = registry or build_registry()
        self.services = BotServices(
            config=config,
            store=store,
            registry=self.registry,
            matrix=self.matrix,
            outbox=self.outbox,
            rooms=self.rooms,
            retried=self._retried,
        )
        self.router = Router(
            registry=self.registry, config=config, store=store, services=self.services
        )
        self.inbox_types = frozenset({"m.room.message"}).union(
            *(listener.event_types for listener in self.registry.listeners)
        )
        self.queues = RoomQueues(self._handle_event, self._lane_of)
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.ready = asyncio.Event()  # set after the first successful sync (used by tests)
        self.sync_failures = 0
        self.undecrypted_seen = 0  # encrypted events that waited for their keys
        self._carried_over: list[Event] = []
        self._unsaved_token: str | None = None
        self._token_saved_at = 0.0
        self._pruned_at = time.monotonic()  # `create` prunes before the first sync
        self._invites = asyncio.Lock()  # invites are answered one at a time
        # Messages too old to answer as commands, admitted only for listeners that want them
        # (relaying what was said while the bot was away).
        self._old_messages_wanted = any(
            listener.include_old and "m.room.message" in listener.event_types
            for listener in self.registry.listeners
        )
        self._too_old: set[EventID] = set()

    @classmethod
    async def create(cls, config: Config) -> Bot:
        make_private(config.data_dir)
        store = await Store.open(config.database_path)
        await store.prune()
        return cls(config, store)

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        self._stopping.set()
        for wake in self.services.wake.values():
            wake.set()

    async def run(self) -> None:
        """Log in and sync until `stop()`; then shut down cleanly."""
        try:
            await self._login_with_retry()
            if self._stopping.is_set():
                return
            log.info("Running as %s (device %s)", self.config.user_id, self.matrix.device_id)
            await self.services.languages.load()
            if self.config.encryption:
                await self.cross_sign()
            # Left over from the last run; handled once the first sync has loaded room state
            # (power levels, members), before anything newer.
            oldest_wait_ms = self.config.max_command_age_s * 1000
            for item in await self.store.pending():
                event = Event.from_json(item.source)
                if event.type == "m.room.message" and event.ts < item.received_at - oldest_wait_ms:
                    self._too_old.add(event.event_id)
                self._carried_over.append(event)
            await self._sync_loop()
        finally:
            await self.close()

    def _token_is_stale(self) -> bool:
        return time.monotonic() - self._token_saved_at > TOKEN_SAVE_INTERVAL_S

    async def close(self) -> None:
        await self.queues.stop()
        if self._unsaved_token is not None:
            await self.store.save_sync_token(self._unsaved_token)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.matrix.close()
        await self.store.close()
        log.info("Stopped")

    async def login(self) -> None:
        """Log in once (for one-off commands such as reset-cross-signing)."""
        await self.matrix.login()

    async def cross_sign(self, *, reset: bool = False) -> CrossSigningStatus | None:
        """Make sure Element trusts this device: sign it with the bot's cross-signing keys.

        Without it, Element (which excludes devices not cross-signed by their owner) sends
        the bot no room keys. Problems are logged with what to do; the bot keeps running.
        """
        try:
            status = await ensure_cross_signing(
                homeserver=self.config.homeserver,
                access_token=self.matrix.access_token,
                user_id=self.config.user_id,
                device_id=self.matrix.device_id,
                password=self.config.password,
                data_dir=self.config.data_dir,
                recovery_key=self.config.recovery_key,
                reset=reset,
                device_ed25519_key=self.matrix.device_signing_key,
            )
        except CrossSigningError as exc:
            log.warning("Cross-signing failed: %s", exc)
            return None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("Cross-signing skipped, homeserver unreachable (%s)", type(exc).__name__)
            return None
        if status.state == "foreign-identity":
            log.warning("%s", status.message)
        else:
            log.info("%s", status.message)
        if status.master_key:
            log.info(
                "To verify the bot in Element: device %s, master key %s",
                self.matrix.device_id,
                fingerprint(status.master_key),
            )
        return status

    async def _login_with_retry(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                await self.matrix.login()
                return
            except (MatrixUnavailable, RateLimited) as exc:
                log.warning("Cannot log in yet (%s); retrying in %.0f s", exc, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _spawn(self, coro: object, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sync_loop(self) -> None:
        token = await self.store.sync_token()
        first_ever = token is None
        full_state = True
        backoff = 1.0
        stop_wait = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                sync = asyncio.ensure_future(
                    self.matrix.sync(
                        since=token,
                        full_state=full_state,
                        timeout_ms=0 if full_state else SYNC_TIMEOUT_MS,
                    )
                )
                await asyncio.wait({sync, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not sync.done():
                    sync.cancel()
                    await asyncio.gather(sync, return_exceptions=True)
                    break
                try:
                    batch = sync.result()
                except LoginFailed:
                    # Logged out (by an admin, or in Element's session list): log in again.
                    # Refused for good (account gone, password changed) ends the run.
                    log.warning("The homeserver no longer accepts our session; logging in again")
                    await self._login_with_retry()
                    continue
                except MatrixError as exc:
                    self.sync_failures += 1
                    if self.sync_failures == 1 or self.sync_failures % 10 == 0:
                        log.warning("Sync failed (%s); retrying in %.0f s", exc, backoff)
                    await self._sleep(backoff * (1 + random.random() / 4))
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                if backoff > 1.0:
                    log.info("Connected to the homeserver again")
                backoff = 1.0
                try:
                    await self._handle_batch(batch, history=first_ever)
                except Exception:
                    # Nothing was lost: the token only moves on with the events stored. Retry.
                    reference = secrets.token_hex(3)
                    log.exception("Handling a sync failed (reference %s); retrying", reference)
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                token = batch.next_batch
                first_ever = False
                if full_state:
                    self._start_timers()
                full_state = False
                if not self.ready.is_set():
                    log.info(
                        "Ready: %s (device %s), rooms joined: %d. Waiting for commands and invites",
                        self.config.user_id,
                        self.matrix.device_id,
                        len(self.rooms),
                    )
                    self.ready.set()
                if time.monotonic() - self._pruned_at > PRUNE_INTERVAL_S:
                    await self.store.prune()
                    self._pruned_at = time.monotonic()
                try:
                    await self.matrix.keep_keys()
                except MatrixError as exc:
                    log.warning("Encryption key upkeep failed: %s", exc)
        finally:
            stop_wait.cancel()

    def _start_timers(self) -> None:
        for timer in self.registry.timers:
            self._spawn(self._run_timer(timer), name=f"timer {timer.name}")

    async def _run_timer(self, timer: Timer) -> None:
        wake = self.services.wake[timer.name]
        while not self._stopping.is_set():
            wake.clear()  # a signal from now on calls for another run
            try:
                await timer.handler(self.services)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Timer %s failed (reference %s)", timer.name, secrets.token_hex(3))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=timer.interval_s)

    # -- one sync --------------------------------------------------------------------------

    async def _handle_batch(self, batch: SyncBatch, *, history: bool) -> None:
        now_ms = int(time.time() * 1000)
        oldest_ms = now_ms - self.config.max_command_age_s * 1000
        items: list[InboxItem] = []
        skipped: list[InboxItem] = []
        waiting: list[Undecryptable] = []
        for room_id, update in batch.joined.items():
            state = [*update.state, *(e for e in update.timeline if e.state_key is not None)]
            self.rooms.apply(room_id, state)
            for event in state:
                if event.type == LANGUAGE_STATE and event.state_key == "":
                    await self.services.languages.adopt(room_id, event.content, now_ms=now_ms)
            timeline: list[Event] = update.timeline
            undecryptable = list(update.undecryptable)
            if update.joined_at is not None:
                # Joined in this sync: only what came after the invite is for the bot.
                timeline = timeline[update.first_new_event() :]
            elif update.limited and update.prev_batch and not history:
                older, older_waiting = await self._backfill(room_id, update.prev_batch)
                timeline = older + timeline
                undecryptable = older_waiting + undecryptable
            for event in timeline:
                if event.sender == self.config.user_id or event.type not in self.inbox_types:
                    continue
                item = InboxItem(event.event_id, room_id, now_ms, event.to_json())
                # Old commands are not answered; old votes and redactions still count.
                too_old = event.ts < oldest_ms and event.type == "m.room.message"
                if history or (too_old and not self._old_messages_wanted):
                    skipped.append(item)
                else:
                    if too_old:
                        self._too_old.add(event.event_id)
                    items.append(item)
            if not history:
                waiting.extend(
                    u for u in undecryptable if u.source.get("sender") != self.config.user_id
                )
        if skipped and not history:
            log.info(
                "Skipped %d messages older than %d s", len(skipped), self.config.max_command_age_s
            )
        self.undecrypted_seen += len(waiting)
        fresh: list[InboxItem] = []
        if items or skipped or waiting or self._token_is_stale():
            fresh = await self.store.commit_sync(
                batch.next_batch, items, skipped=skipped, waiting=waiting
            )
            self._token_saved_at = time.monotonic()
            self._unsaved_token = None
        else:
            # Nothing to keep (typically the bot's own reply coming back): the token can
            # wait; if the bot stops before it is written, this sync is simply read again.
            self._unsaved_token = batch.next_batch
        for event in self._carried_over:
            self.queues.put(event)
        self._carried_over = []
        for item in fresh:
            self.queues.put(Event.from_json(item.source))
        if fresh:
            # Let the answers go out before the next sync request competes with them;
            # capped, so a slow command never holds up the other rooms for long.
            await self.queues.wait_idle(at_most=SEND_GRACE_S)
        for invite in batch.invites:
            self._spawn(self._answer_invite(invite), name=f"invite {invite.room_id}")
        for room_id in batch.left:
            self.rooms.forget(room_id)
            log.info("No longer in room %s", room_id)
        if batch.received_room_keys:
            await self._retry_undecrypted(oldest_ms)

    async def _backfill(
        self, room_id: RoomID, token: str
    ) -> tuple[list[Event], list[Undecryptable]]:
        """Events a sync left out (more than it holds), back to what was already seen,
        however many pages that takes; never past the bot's own arrival.

        A page the homeserver fails to give (after retries) fails the whole sync, which is
        then read again: the token moves on only with every event it covers stored.
        """
        events: list[Event] = []
        waiting: list[Undecryptable] = []
        next_token: str | None = token
        pages = 0
        while next_token is not None:
            try:
                page, next_token = await self._retried(
                    functools.partial(self.matrix.history, room_id, start=next_token),
                    "history",
                )
            except (MatrixUnavailable, RateLimited, LoginFailed):
                raise
            except MatrixError as exc:  # refused for good: nothing more can be read
                log.warning("The homeserver refused the missed events of %s: %s", room_id, exc)
                break
            pages += 1
            if pages % BACKFILL_LOG_EVERY == 0:
                log.info("Reading missed events of %s: %d pages so far", room_id, pages)
            for event, is_own_join in page:
                if is_own_join or await self.store.seen(event.event_id):
                    next_token = None
                    break
                if isinstance(event, Event):
                    events.append(event)
                else:
                    waiting.append(event)
        log.info("Read %d missed events in %s", len(events) + len(waiting), room_id)
        events.reverse()
        waiting.reverse()
        return events, waiting

    async def _retry_undecrypted(self, oldest_ms: int) -> None:
        decrypted: list[InboxItem] = []
        done: list[EventID] = []
        now_ms = int(time.time() * 1000)
        for pending in await self.store.undecrypted():
            event = self.matrix.try_decrypt(pending)
            if event is not None:
                if event.type == "m.room.message" and event.ts < oldest_ms:
                    # Its key came too late to answer it as a command; it still counts for
                    # what listens to old messages (relaying what was said).
                    if not self._old_messages_wanted:
                        done.append(pending.event_id)
                        continue
                    self._too_old.add(event.event_id)
                decrypted.append(InboxItem(event.event_id, event.room_id, now_ms, event.to_json()))
                done.append(pending.event_id)
            elif timestamp(pending.source.get("origin_server_ts")) < oldest_ms:
                done.append(pending.event_id)
        if done:
            fresh = await self.store.admit(decrypted, resolved=done)
            for item in fresh:
                self.queues.put(Event.from_json(item.source))

    async def _answer_invite(self, invite: Invite) -> None:
        """Join if the inviter is allowed and the bot has room for one more; else decline.
        One invite at a time (joins are paced), each retried while the homeserver fails."""
        inviter = invite.inviter or "?"  # for the log
        async with self._invites:
            try:
                if not (invite.inviter and self.config.invite_allowlist.allows(invite.inviter)):
                    log.warning(
                        "Declining an invite to %s from %s: not in MULTILOGUE_INVITE_ALLOWLIST",
                        invite.room_id,
                        inviter,
                    )
                    await self._retried(lambda: self.matrix.leave(invite.room_id), "decline")
                elif self._rooms_served() >= self.config.max_rooms:
                    log.warning(
                        "Declining an invite to %s from %s: the bot serves %d rooms already "
                        "(MULTILOGUE_MAX_ROOMS)",
                        invite.room_id,
                        inviter,
                        self._rooms_served(),
                    )
                    await self._retried(lambda: self.matrix.leave(invite.room_id), "decline")
                else:
                    await self._retried(lambda: self.matrix.join(invite.room_id), "join")
                    self.services.joined_since_sync.add(invite.room_id)
                    log.info("Joined room %s (invited by %s)", invite.room_id, inviter)
                    self.services.signal(JOINED_A_ROOM)
            except MatrixError as exc:
                log.warning("Could not answer the invite to %s: %s", invite.room_id, exc)

    def _rooms_served(self) -> int:
        """Rooms joined, counting those joined since the last sync told of them."""
        self.services.joined_since_sync = {
            r for r in self.services.joined_since_sync if r not in self.rooms
        }
        return len(self.rooms) + len(self.services.joined_since_sync)

    async def _retried(self, request: Callable[[], Awaitable[T]], what: str) -> T:
        """A request retried while the homeserver paces or fails: waiting as asked when
        rate-limited, backing off (`backoff_s`) when unavailable, ATTEMPTS failures at most
        (then the error goes to the caller: an invite is offered again at the next start, a
        sync whose missed events could not be read is read again). `what` names the request
        in the log ("join", "decline", "history")."""
        failures = 0
        while True:
            try:
                return await request()
            except RateLimited as exc:
                await self._sleep(exc.retry_after_ms / 1000)
            except MatrixUnavailable as exc:
                failures += 1
                if failures >= ATTEMPTS or self._stopping.is_set():
                    raise
                log.info("The %s request failed (%s); trying again", what, exc)
                await self._sleep(backoff_s(failures))

    # -- one event -------------------------------------------------------------------------

    def _lane_of(self, event: Event) -> str | None:
        """Plain messages in a thread (not commands, not edits) run in that thread's lane."""
        if event.type != "m.room.message" or event.thread_root is None:
            return None
        if event.relates_to.get("rel_type") == "m.replace":
            return None
        room = self.rooms.get(event.room_id)
        addressed = addressed_text(
            event,
            prefix=self.config.command_prefix,
            user_id=self.config.user_id,
            display_name=room.display_names.get(self.config.user_id),
        )
        return None if addressed is not None else str(event.thread_root)

    async def _handle_event(self, event: Event) -> None:
        """Handle one inbox event, behind an error boundary; then mark it done."""
        too_old = event.event_id in self._too_old
        try:
            if event.type == "m.room.message" and not too_old:
                await self._handle_message(event)
            for listener in self.registry.listeners:
                if event.type in listener.event_types and (listener.include_old or not too_old):
                    reply = await listener.handler(self.services, event)
                    if reply is not None:
                        await self._reply(event, reply)
            await self.store.finish(event.event_id)
            self._too_old.discard(event.event_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            reference = secrets.token_hex(3)
            log.exception("Handling an event in %s failed (reference %s)", event.room_id, reference)
            try:
                await self._reply(event, Reply("internal_error", {"reference": reference}))
                await self.store.finish(event.event_id, state="failed")
            except Exception:
                log.exception("Could not report failure %s", reference)

    async def _handle_message(self, event: Event) -> None:
        if event.relates_to.get("rel_type") == "m.replace":
            return  # an edit: never run a command twice because it was corrected
        room = self.rooms.get(event.room_id)
        text = addressed_text(
            event,
            prefix=self.config.command_prefix,
            user_id=self.config.user_id,
            display_name=room.display_names.get(self.config.user_id),
        )
        if text is None:
            return
        reply = await self.router.route(event, room, text)
        await self._reply(event, reply)

    async def _reply(self, event: Event, reply: Reply) -> None:
        """Answer `event`: worth retrying until the command is too old to answer."""
        until_ms = min(event.ts, wall_ms()) + self.config.max_command_age_s * 1000
        done = await self.services.deliver_notice(
            event.room_id, reply, answering=event, txn_key=event.event_id, until_ms=until_ms
        )
        if isinstance(done, Refused) and done.errcode not in ("M_FORBIDDEN", "M_NOT_FOUND"):
            # Someone is waiting for this answer: tell them, in plain words, that it failed.
            await self.services.deliver_notice(
                event.room_id,
                Reply("reply_refused", {"too_large": done.errcode == "M_TOO_LARGE"}),
                answering=event,
                txn_key=f"{event.event_id}/refused",
                until_ms=until_ms,
            )
        if reply.then is not None:
            await reply.then()
