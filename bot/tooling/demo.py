"""`multilogue demo`: a throwaway homeserver on loopback, a demo user, a room, and the bot.

Everything lives in one folder (`.demo/` by default). Running the demo again reuses the
homeserver, the accounts and their passwords; deleting the folder starts afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from bot.config import Config, InviteAllowlist, configure_logging
from bot.ids import UserID
from bot.runner import run_bot
from bot.tooling.demo_seed import ALLIANCE, COMMONS, MOVEMENTS, SeedError, seed_alliance
from bot.tooling.homeserver import HomeserverError, LocalSynapse

DEMO_ROOM_NAME = "multilogue demo"
ACCOUNTS = ("demo-admin", "multilogue", "demo")


def _load_state(path: Path) -> dict[str, Any]:
    if path.is_file():
        data = json.loads(path.read_text("utf-8"))
        if isinstance(data, dict):
            return data
    return {}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
    tmp.replace(path)


def _joined_rooms(hs: Any, token: str) -> list[str]:
    joined = hs.api("GET", "/_matrix/client/v3/joined_rooms", token=token)
    rooms = joined.get("joined_rooms", [])
    return [room for room in rooms if isinstance(room, str)]


def _alliance_hint(prefix: str) -> str:
    p = prefix
    return f"""
 The example alliance "{ALLIANCE}" is ready: its commons is the room
 "{COMMONS}"; its movements: {", ".join(MOVEMENTS)}.
   In "{COMMONS}":  {p}objectives   {p}alliance   {p}movements
   In "{MOVEMENTS[0]}":  {p}endorse 1   (vote with the poll's buttons,
        then {p}poll close)   then {p}compare   {p}bridging   {p}statement
   Proposal 1 is open: every movement room has its poll. Decide it in each
        room (buttons, then {p}poll close N), then in the commons {p}proposal 1
"""


def _banner(url: str, password: str, prefix: str, bot_id: str, *, alliance: bool) -> str:
    p = prefix
    hint = _alliance_hint(prefix) if alliance else ""
    return f"""
========================================================================
 multilogue demo is running (stop it with Ctrl+C)

 1. Open Element: https://app.element.io in a browser on this computer,
    or Element Desktop.
 2. Choose "Sign in", click "Edit" next to the homeserver and enter:
        {url}
 3. Sign in as:   demo
    Password:     {password}
 4. Open the room "{DEMO_ROOM_NAME}" and type:   {p}help
{hint}
 You can also create rooms of your own in Element (encrypted or not) and
 invite {bot_id} to them.
========================================================================
"""


NO_SYNAPSE = """multilogue: the demo needs the Synapse homeserver, which this install does not have.
  - From a clone of multilogue, run scripts/demo: it installs everything into .venv.
  - Or add the demo extra to this install: pip install '.[demo]' (in the clone's folder)."""


def run_demo(folder: Path) -> int:
    if importlib.util.find_spec("synapse") is None:
        print(NO_SYNAPSE, file=sys.stderr)
        return 2
    configure_logging("INFO")
    folder.mkdir(parents=True, exist_ok=True)
    state_path = folder / "demo.json"
    state = _load_state(state_path)
    passwords: dict[str, str] = state.setdefault("passwords", {})
    for name in ACCOUNTS:
        passwords.setdefault(name, secrets.token_urlsafe(12))
    _save_state(state_path, state)

    homeserver = LocalSynapse(folder / "synapse", lift_rate_limits=False)
    print(f"Starting a local Synapse homeserver in {folder / 'synapse'} ...")
    try:
        homeserver.start()
        admin = homeserver.register("demo-admin", passwords["demo-admin"], admin=True)
        bot_account = homeserver.register("multilogue", passwords["multilogue"])
        user = homeserver.register("demo", passwords["demo"])
        # This throwaway server is ours: let the bot send without the default rate limit.
        homeserver.override_ratelimit(admin_token=admin.access_token, user_id=bot_account.user_id)
        # ...and the demo user, who types the example alliance's set-up commands quickly.
        homeserver.override_ratelimit(admin_token=admin.access_token, user_id=user.user_id)
        room_id = state.get("room_id")
        if not isinstance(room_id, str) or room_id not in _joined_rooms(
            homeserver, user.access_token
        ):
            created = homeserver.api(
                "POST",
                "/_matrix/client/v3/createRoom",
                token=user.access_token,
                body={
                    "name": DEMO_ROOM_NAME,
                    "topic": "Try multilogue here: type !help",
                    "preset": "private_chat",
                    "invite": [bot_account.user_id],
                },
            )
            state["room_id"] = created["room_id"]
            _save_state(state_path, state)
        elif room_id not in _joined_rooms(homeserver, bot_account.access_token):
            # The bot left or was removed since the last run: invite it again.
            with contextlib.suppress(HomeserverError):  # already invited
                homeserver.api(
                    "POST",
                    f"/_matrix/client/v3/rooms/{room_id}/invite",
                    token=user.access_token,
                    body={"user_id": bot_account.user_id},
                )
    except HomeserverError as exc:
        homeserver.stop()
        print(f"multilogue: the demo homeserver failed: {exc}", file=sys.stderr)
        return 1

    config = Config(
        homeserver=homeserver.url,
        user_id=UserID(bot_account.user_id),
        password=passwords["multilogue"],
        access_token=None,
        device_id=None,
        data_dir=folder / "bot-data",
        admins=frozenset({UserID(user.user_id)}),
        invite_allowlist=InviteAllowlist(servers=frozenset({homeserver.server_name})),
    )

    async def when_ready() -> None:
        if not state.get("alliance"):
            print("Setting up the example alliance (a commons and three movement rooms) ...")
            try:
                seeded = await asyncio.to_thread(
                    seed_alliance,
                    homeserver,
                    token=user.access_token,
                    bot_id=config.user_id,
                    prefix=config.command_prefix,
                )
            except (SeedError, HomeserverError) as exc:
                print(f"Could not set up the example alliance: {exc}", file=sys.stderr)
            else:
                state["alliance"] = {"commons": seeded.commons, "movements": seeded.movements}
                _save_state(state_path, state)
        print(
            _banner(
                homeserver.url,
                passwords["demo"],
                config.command_prefix,
                config.user_id,
                alliance=bool(state.get("alliance")),
            ),
            flush=True,
        )

    print("Starting the bot ...")
    try:
        return asyncio.run(run_bot(config, on_ready=when_ready))
    except KeyboardInterrupt:
        return 0
    finally:
        homeserver.stop()
        logging.getLogger(__name__).info("Demo homeserver stopped")
