"""The floor of relay.burst: a raw matrix-nio relay loop, no framework.

    python -m bench.raw_relay CONFIG.json

CONFIG.json (written by the harness, mode 0600) holds `homeserver`, `user_id`, `device_id`,
`access_token`, `store_dir`, `encryption`, `ready_file` and `threads`: the known threads, each
`{"room_id", "root", "commons_room_id", "commons_root"}` (a thread in a movement room and the
thread in the commons it is copied into; the harness made both before starting the loop).
The client:

- syncs in its own loop, long-polling 30 s, with a timeline of 100 events per room (the most
  Synapse gives); the first sync (with `full_state`, so nio knows its rooms) is history and
  is not relayed; after it, the loop touches `ready_file` (the harness waits for it);
- copies every new text message from someone else in a known thread into the mapped commons
  thread: `<sender>: <body>` as an `m.text` in that thread, pinging nobody, with a
  transaction id derived from the original, so a retry never doubles a copy;
- sends each thread's copies one after another (so they arrive in order), the threads side by
  side, one worker per thread; the sync loop goes on syncing while they send;
- when a sync leaves events out (`limited`), reads them back with `/messages` down to the last
  event it saw in that room, so none is lost;
- retries a send the homeserver refused for the moment (rate limit, error) with the same
  transaction id;
- does nio's encryption upkeep after each sync, as `sync_forever` would;
- stops on SIGTERM or SIGINT without logging out.

What a careful developer would write by hand to relay threads, in a few dozen lines: the
floor relay.burst compares multilogue's relay with.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
import sys
from collections import deque
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    MessageDirection,
    RoomMessagesResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from bench.raw_echo import keep_keys

log = logging.getLogger("bench.raw_relay")

SYNC_TIMEOUT_MS = 30_000
SYNC_FILTER: dict[str, Any] = {
    "room": {"timeline": {"limit": 100}, "state": {"lazy_load_members": False}}
}
BACKFILL_MAX_PAGES = 10
SEND_ATTEMPTS = 10
SEEN_PER_ROOM = 1000  # event ids remembered per room, to know where a backfill stops

Key = tuple[str, str]  # (room id, thread root)
Target = tuple[str, str]  # (commons room id, commons thread root)


def copy_of(event: RoomMessageText, commons_root: str) -> dict[str, Any]:
    return {
        "msgtype": "m.text",
        "body": f"{event.sender}: {event.body}",
        "m.mentions": {},
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": commons_root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": commons_root},
        },
    }


def thread_of(event: RoomMessageText) -> str | None:
    relation = event.source.get("content", {}).get("m.relates_to") or {}
    root = relation.get("event_id") if relation.get("rel_type") == "m.thread" else None
    return root if isinstance(root, str) else None


class Relay:
    def __init__(self, client: AsyncClient, threads: dict[Key, Target]) -> None:
        self.client = client
        self.threads = threads
        self.queues: dict[Key, asyncio.Queue[RoomMessageText]] = {}
        self.workers: list[asyncio.Task[None]] = []
        self.seen: dict[str, deque[str]] = {}  # room id -> recent event ids, newest last

    def start(self) -> None:
        for key in self.threads:
            queue: asyncio.Queue[RoomMessageText] = asyncio.Queue()
            self.queues[key] = queue
            self.workers.append(asyncio.create_task(self._work(key, queue)))

    async def stop(self) -> None:
        for worker in self.workers:
            worker.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)

    def remember(self, room_id: str, events: list[Any]) -> None:
        seen = self.seen.setdefault(room_id, deque(maxlen=SEEN_PER_ROOM))
        seen.extend(e.event_id for e in events)

    def take(self, room_id: str, events: list[Any]) -> None:
        """Queue a copy of every new text message in a known thread."""
        for event in events:
            if not isinstance(event, RoomMessageText) or event.sender == self.client.user_id:
                continue
            root = thread_of(event)
            queue = self.queues.get((room_id, root)) if root is not None else None
            if queue is not None:
                queue.put_nowait(event)

    async def missed(self, room_id: str, prev_batch: str) -> list[Any]:
        """The events a limited sync left out, oldest first."""
        seen = set(self.seen.get(room_id, ()))
        found: list[Any] = []
        token = prev_batch
        for _ in range(BACKFILL_MAX_PAGES):
            page = await self.client.room_messages(
                room_id, start=token, direction=MessageDirection.back, limit=100
            )
            if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                break
            for event in page.chunk:
                if event.event_id in seen:
                    return list(reversed(found))
                found.append(event)
            if not page.end:
                break
            token = page.end
        return list(reversed(found))

    async def _work(self, key: Key, queue: asyncio.Queue[RoomMessageText]) -> None:
        commons_room, commons_root = self.threads[key]
        while True:
            event = await queue.get()
            txn = hashlib.sha256(f"{event.event_id}/{commons_room}".encode()).hexdigest()[:32]
            for attempt in range(SEND_ATTEMPTS):
                response = await self.client.room_send(
                    commons_room,
                    "m.room.message",
                    copy_of(event, commons_root),
                    tx_id=txn,
                    ignore_unverified_devices=True,
                )
                if isinstance(response, RoomSendResponse):
                    break
                wait_ms = getattr(response, "retry_after_ms", None) or 500 * (attempt + 1)
                log.warning("copying failed (%s); retrying in %d ms", response, wait_ms)
                await asyncio.sleep(wait_ms / 1000)


async def run(config: dict[str, Any]) -> None:
    client = AsyncClient(
        config["homeserver"],
        config["user_id"],
        device_id=config["device_id"],
        store_path=config["store_dir"],
        config=AsyncClientConfig(
            encryption_enabled=bool(config["encryption"]), store_sync_tokens=False
        ),
    )
    client.restore_login(config["user_id"], config["device_id"], config["access_token"])
    relay = Relay(
        client,
        {
            (t["room_id"], t["root"]): (t["commons_room_id"], t["commons_root"])
            for t in config["threads"]
        },
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    stop_wait = asyncio.ensure_future(stopping.wait())
    relay.start()
    since: str | None = None
    try:
        if client.should_upload_keys:
            await client.keys_upload()
        while not stopping.is_set():
            first = since is None
            sync = asyncio.ensure_future(
                client.sync(
                    timeout=0 if first else SYNC_TIMEOUT_MS,
                    since=since,
                    full_state=first,
                    sync_filter=SYNC_FILTER,
                )
            )
            await asyncio.wait({sync, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not sync.done():
                sync.cancel()
                await asyncio.gather(sync, return_exceptions=True)
                break
            response = sync.result()
            if not isinstance(response, SyncResponse):
                log.warning("sync failed: %s", response)
                await asyncio.sleep(1)
                continue
            for room_id, info in response.rooms.join.items():
                events = list(info.timeline.events)
                if not first:
                    if info.timeline.limited and info.timeline.prev_batch:
                        events = await relay.missed(room_id, info.timeline.prev_batch) + events
                    relay.take(room_id, events)
                relay.remember(room_id, events)
            since = response.next_batch
            if first:
                Path(config["ready_file"]).touch()  # noqa: ASYNC240 - once, an empty file
            await keep_keys(client)
    finally:
        stop_wait.cancel()
        await relay.stop()
        with contextlib.suppress(Exception):
            await client.close()  # never logout(): that would delete the device


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.raw_relay CONFIG.json", file=sys.stderr)
        return 2
    config = json.loads(Path(argv[0]).read_text())
    Path(config["store_dir"]).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(run(config))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
