"""The demo's example alliance, set up the way people would do it: by typing commands.

The demo user creates a commons room and three movement rooms, invites the bot, and
types the commands a real alliance would use (`!alliance create`, `!movement join`,
`!movement approve`, `!objective import`, `!proposal`), each time waiting for the bot's answer. Only
the standard library is used; the HTTP calls go through `LocalSynapse.api`.
"""

from __future__ import annotations

import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

ALLIANCE = "Earth Alliance"
COMMONS = "Earth Alliance commons"
MOVEMENTS = ("Climate Camp", "Housing Co-op", "Care Workers Union")
# From the alliance-building note that started multilogue.
OBJECTIVES = (
    "Respect for nature",
    "Radical egalitarianism in social relations",
    "Institutional arrangements based in some sense of common interest",
    "Democratic administrative procedures",
    "Labour processes organised directly by the producers",
    "Daily life as the free exploration of new kinds of social relations and living arrangements",
    "Mental conceptions that focus on self-realisation in service to others",
    "Technological and organisational innovation oriented towards the pursuit of the common good",
)
# One open alliance proposal, so that a newcomer sees every movement room asked at once.
PROPOSAL = "We hold a joint day of action on the first Saturday of May"
REPLY_TIMEOUT_S = 60.0


class SeedError(Exception):
    """The example alliance could not be set up (the message says at which step)."""


class Api(Protocol):
    def api(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...


@dataclass
class Seeded:
    commons: str
    movements: dict[str, str] = field(default_factory=dict)  # name -> room id


@dataclass
class _Person:
    """The demo user, typing commands and reading the bot's answers via plain HTTP."""

    server: Api
    token: str
    bot_id: str
    since: str | None = None

    def sync(self, timeout_ms: int) -> dict[str, Any]:
        query = {"timeout": str(timeout_ms)}
        if self.since:
            query["since"] = self.since
        reply = self.server.api(
            "GET", "/_matrix/client/v3/sync?" + urllib.parse.urlencode(query), token=self.token
        )
        self.since = str(reply["next_batch"])
        return reply

    def create_room(self, name: str) -> str:
        room = self.server.api(
            "POST",
            "/_matrix/client/v3/createRoom",
            token=self.token,
            body={"name": name, "preset": "private_chat", "invite": [self.bot_id]},
        )
        return str(room["room_id"])

    def wait_for_bot(self, room_ids: list[str]) -> None:
        waiting = set(room_ids)
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while waiting:
            if time.monotonic() > deadline:
                raise SeedError("the bot did not join the example rooms")
            for room_id in list(waiting):
                members = self.server.api(
                    "GET",
                    f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/joined_members",
                    token=self.token,
                )
                if self.bot_id in members.get("joined", {}):
                    waiting.discard(room_id)
            if waiting:
                self.sync(500)

    def command(self, room_id: str, text: str) -> str:
        """Type a command and return the bot's answer (its plain text)."""
        if self.since is None:
            self.sync(0)
        sent = self.server.api(
            "PUT",
            f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/send/m.room.message/"
            f"seed-{uuid.uuid4().hex}",
            token=self.token,
            body={"msgtype": "m.text", "body": text},
        )
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while time.monotonic() < deadline:
            rooms = self.sync(2000).get("rooms", {}).get("join", {})
            for event in rooms.get(room_id, {}).get("timeline", {}).get("events", []):
                relation = event.get("content", {}).get("m.relates_to", {})
                if relation.get("m.in_reply_to", {}).get("event_id") == sent["event_id"]:
                    return str(event["content"].get("body", ""))
        first_line = text.splitlines()[0]
        raise SeedError(f"the bot did not answer '{first_line}'")


def slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def seed_alliance(server: Api, *, token: str, bot_id: str, prefix: str = "!") -> Seeded:
    """Create the example alliance through the bot's own commands."""
    person = _Person(server, token, bot_id)
    commons = person.create_room(COMMONS)
    rooms = {name: person.create_room(name) for name in MOVEMENTS}
    person.wait_for_bot([commons, *rooms.values()])
    person.command(commons, f"{prefix}alliance create {ALLIANCE}")
    for name, room_id in rooms.items():
        person.command(room_id, f"{prefix}movement join {ALLIANCE} as {name}")
        person.command(commons, f"{prefix}movement approve {slug(name)}")
    person.command(commons, f"{prefix}objective import\n" + "\n".join(OBJECTIVES))
    person.command(commons, f"{prefix}proposal {PROPOSAL}")
    return Seeded(commons=commons, movements=rooms)
