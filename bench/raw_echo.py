"""The floor: a raw matrix-nio client, no framework, that answers `!ping` with `pong`.

    python -m bench.raw_echo CONFIG.json

CONFIG.json (written by the harness, mode 0600) holds `homeserver`, `user_id`, `device_id`,
`access_token`, `store_dir`, `token_file`, `encryption` and `commands` (the bodies it answers:
`["!ping"]` unless the harness also needs a word multilogue ignores, such as `ping`, to
measure the floor in a room multilogue is in too). The client:

- syncs in its own loop (the first sync after each start with `full_state`, so nio knows
  its rooms again), long-polling 30 s like multilogue;
- answers every `!ping` (or other of its `commands`) from someone else with an `m.notice`
  `pong` as a reply, all the answers of one sync sent at once;
- joins every room it is invited to;
- writes the sync token to `token_file` after answering, and starts from it after a restart
  (so commands sent while it was stopped are answered);
- does nio's encryption upkeep after each sync, as `sync_forever` would;
- stops on SIGTERM or SIGINT without logging out.

It is what a careful developer would write by hand in a few dozen lines: the floor every
multilogue figure is compared with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

log = logging.getLogger("bench.raw_echo")

SYNC_TIMEOUT_MS = 30_000


def pong_to(event_id: str) -> dict[str, Any]:
    return {
        "msgtype": "m.notice",
        "body": "pong",
        "format": "org.matrix.custom.html",
        "formatted_body": "pong",
        "m.mentions": {},
        "m.relates_to": {"m.in_reply_to": {"event_id": event_id}},
    }


async def answer(
    client: AsyncClient, response: SyncResponse, commands: frozenset[str] = frozenset({"!ping"})
) -> None:
    sends = []
    for room_id, info in response.rooms.join.items():
        for event in info.timeline.events:
            if (
                isinstance(event, RoomMessageText)
                and event.sender != client.user_id
                and event.body.strip() in commands
            ):
                sends.append(
                    client.room_send(
                        room_id,
                        "m.room.message",
                        pong_to(event.event_id),
                        ignore_unverified_devices=True,
                    )
                )
    for result in await asyncio.gather(*sends, return_exceptions=True):
        if not isinstance(result, RoomSendResponse):
            log.warning("answering failed: %s", result)


async def keep_keys(client: AsyncClient) -> None:
    if client.outgoing_to_device_messages:
        await client.send_to_device_messages()
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())


async def run(config: dict[str, Any], token_file: Path, since: str | None) -> None:
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
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    stop_wait = asyncio.ensure_future(stopping.wait())
    commands = frozenset(config.get("commands") or ["!ping"])
    full_state = True
    try:
        if client.should_upload_keys:
            await client.keys_upload()
        while not stopping.is_set():
            sync = asyncio.ensure_future(
                client.sync(
                    timeout=0 if full_state else SYNC_TIMEOUT_MS,
                    since=since,
                    full_state=full_state,
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
            await answer(client, response, commands)
            since = response.next_batch
            # A few bytes into the page cache, no fsync: cheaper than a hop to a thread.
            token_file.write_text(since)  # noqa: ASYNC240
            full_state = False
            for room_id in response.rooms.invite:
                await client.join(room_id)
            await keep_keys(client)
    finally:
        stop_wait.cancel()
        with contextlib.suppress(Exception):
            await client.close()  # never logout(): that would delete the device


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.raw_echo CONFIG.json", file=sys.stderr)
        return 2
    config = json.loads(Path(argv[0]).read_text())
    Path(config["store_dir"]).mkdir(parents=True, exist_ok=True)
    token_file = Path(config["token_file"])
    since = token_file.read_text().strip() if token_file.exists() else None
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(run(config, token_file, since))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
