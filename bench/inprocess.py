"""The bot's own code at scale, timed in a process of its own: no homeserver, no network.

    python -m bench.inprocess compare --movements 100 --objectives 50 --runs 50 [--seed N]
    python -m bench.inprocess tally --ballots 10000 --voters 2000 --runs 50 [--seed N]
    ... [--profile FILE]   also write a cProfile of the timed runs to FILE

prints one JSON object: the samples (seconds) of each measure, sizes and what was checked.
`bench/benchmarks/scale.py` runs it and turns that into rows. A process of its own, so the
harness's event loop (its measuring clients keep syncing) does not share the interpreter.

The data is made through the bot's real store functions in a temporary SQLite database
opened by `bot.store.Store.open` (the bot's migrations, WAL, one aiosqlite connection):

- compare: an alliance (`alliance_store.create_alliance`), `--movements` movements asked
  and approved (`request_join`, `decide_movement`), `--objectives` objectives
  (`add_objectives`), a stance for about 70% of the (movement, objective) pairs: decided by
  a closed endorsement poll (`record_stance`: 5 in 6 endorsed, the rest blocked with a
  reason), or a poll still open (`open_endorsement`); and three statement items per movement
  (`apply_statement_change`) linked to objectives (`link_item`), which `!compare` shows as the
  movement's own wording.
- tally: a straw poll of three options (`poll_store.create_poll`) and `--ballots` responses
  from `--voters` people (`poll_store.add_response`), each person voting ballots/voters times
  (changing their mind: only the latest counts), all of them members of the room.

What is timed, per run (`--runs` runs after one untimed warm-up):

- compare.total: `Router.route` of `!compare` in the commons (the real registry, handler,
  store queries and building the reply's data) + `Renderer.render` of its template pair +
  `notice_content`: everything the bot does for the command before the HTTP request;
  compare.route and compare.render are its two parts; compare.store is the handler's store
  reads alone (`movements_of` + `board`), timed in a separate loop.
- tally.pure: `commands.polls.tally.tally` over the ballots (plain data, as `live_tally` calls it:
  with the room's members); tally.live: `commands.polls.live_tally` (the `poll_responses`
  query + the tally: what `!poll results` and `!poll list` compute); tally.command:
  `Router.route` of `!poll results` + render + `notice_content`.

The event loop is the bot's: aiosqlite runs the queries in its thread, awaited like in the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import aiosqlite

from bot.config import Config
from bot.contract import Reply, Services
from bot.events import Event
from bot.families import build_registry
from bot.ids import EventID, RoomID, UserID
from bot.outbox import notice_content
from bot.render import Renderer
from bot.rooms import RoomState
from bot.router import Router
from bot.store import Store
from commands.alliance import objectives_store, statements_store
from commands.alliance.statements_store import StatementChange
from commands.alliance.store import (
    PollRef,
    all_alliances,
    create_alliance,
    decide_movement,
    movements_of,
    request_join,
)
from commands.council import store as council_store
from commands.council.rules import DEFAULT_RULE, PositionKind, Reason, format_alliance_rule
from commands.polls import live_tally
from commands.polls import store as polls_db
from commands.polls.rules import ConsensusCounts, Rule, decide
from commands.polls.tally import Ballot, tally
from commands.polls.view import straw_answers

SERVER = "bench.example"
BOT = UserID(f"@multilogue:{SERVER}")
ADMIN = UserID(f"@ada:{SERVER}")
COMMONS = RoomID(f"!commons:{SERVER}")
POLL_ROOM = RoomID(f"!poll-room:{SERVER}")
CONSENSUS = Rule("consensus", None)
T0 = 1_764_000_000_000  # ms: when the made-up history starts
MOVEMENT_NAMES = (
    "Climate Camp",
    "Housing Co-op",
    "Care Workers Union",
    "Tenants Union",
    "Farmers Network",
)
OBJECTIVE_TEXTS = (
    "Respect for nature",
    "Radical egalitarianism in social relations",
    "Institutional arrangements based in some sense of common interest",
    "Democratic administrative procedures",
    "Labour processes organised directly by the producers",
    "Daily life as the free exploration of new kinds of social relations",
    "Mental conceptions that focus on self-realisation in service to others",
    "Technological and organisational innovation towards the common good",
)
STATEMENT_ITEMS = 3  # per movement, each linked to an objective
POLL_OPTIONS = ("Park", "Library", "Online")


class NotOffered(Exception):
    """A service the in-process measure does not offer (the timed code should not need it)."""


class BenchServices:
    """The part of `bot.contract.registry.Services` the timed commands use: config, store,
    room state and the clock. Anything else (sending, inviting...) raises `NotOffered`: the
    measure would be wrong if the timed code needed the homeserver."""

    def __init__(self, config: Config, store: Store, rooms: dict[RoomID, RoomState]) -> None:
        self._config = config
        self._store = store
        self._rooms = rooms

    @property
    def config(self) -> Config:
        return self._config

    @property
    def store(self) -> Store:
        return self._store

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def room(self, room_id: RoomID) -> RoomState:
        return self._rooms.setdefault(room_id, RoomState(room_id))

    def language(self, room_id: RoomID) -> str:
        return self._config.language

    def __getattr__(self, name: str) -> Any:
        raise NotOffered(name)


def room_with(room_id: RoomID, members: list[str]) -> RoomState:
    """A room Ada created (power 100), with `members` joined."""
    room = RoomState(room_id)
    room.create_sender = ADMIN
    room.create_content = {"room_version": "10", "creator": ADMIN}
    room.power_levels = {"users": {ADMIN: 100, BOT: 50}, "users_default": 0}
    room.members = dict.fromkeys([ADMIN, BOT, *members], "join")
    return room


def command_event(room_id: RoomID, body: str, n: int) -> Event:
    return Event.from_json(
        {
            "event_id": f"$command{n}",
            "room_id": room_id,
            "sender": ADMIN,
            "type": "m.room.message",
            "origin_server_ts": T0 + 10_000_000 + n,
            "content": {"msgtype": "m.text", "body": body},
        }
    )


class Harness:
    """The bot's pieces a command goes through, over one store."""

    def __init__(self, store: Store, folder: Path, rooms: dict[RoomID, RoomState]) -> None:
        self.config = Config(
            homeserver="http://127.0.0.1:1",
            user_id=BOT,
            password=None,
            access_token="unused",
            device_id="BENCH",
            data_dir=folder,
            admins=frozenset({ADMIN}),
        )
        self.bench_services = BenchServices(self.config, store, rooms)
        # Only what the timed commands use is offered; the rest raises (see BenchServices).
        self.services = cast(Services, self.bench_services)
        self.router = Router(
            registry=build_registry(), config=self.config, store=store, services=self.services
        )
        self.renderer = Renderer(globals={"prefix": self.config.command_prefix})
        self.sizes: dict[str, int] = {}
        self.last_reply: Reply | None = None

    async def answer(
        self, event: Event, text: str, timings: dict[str, list[float]] | None, key: str
    ) -> None:
        """What the bot does for one command before sending: route, render, build content.

        Appends the times of each part to `timings` (None: a warm-up, not recorded)."""
        room = self.bench_services.room(event.room_id)
        started = time.perf_counter()
        reply = await self.router.route(event, room, text)
        routed = time.perf_counter()
        message = self.renderer.render(reply.template, reply.data)
        content = notice_content(message, answering=event)
        done = time.perf_counter()
        if timings is not None:
            timings.setdefault(f"{key}.route", []).append(routed - started)
            timings.setdefault(f"{key}.render", []).append(done - routed)
            timings.setdefault(f"{key}.total", []).append(done - started)
        self.last_reply = reply
        self.sizes = {
            "body_bytes": len(message.body.encode()),
            "html_bytes": len(message.html.encode()),
            "content_bytes": len(json.dumps(content, ensure_ascii=False).encode()),
        }


async def timed(
    runs: int,
    what: Callable[[int], Awaitable[None]],
    samples: list[float] | None = None,
    *,
    profile: cProfile.Profile | None = None,
) -> None:
    """`what(n)` once untimed, then `runs` times; appends the wall time of each to `samples`.

    With `profile`, the timed runs (not the warm-up) are profiled.
    """
    await what(0)
    if profile is not None:
        profile.enable()
    try:
        for n in range(1, runs + 1):
            started = time.perf_counter()
            await what(n)
            if samples is not None:
                samples.append(time.perf_counter() - started)
    finally:
        if profile is not None:
            profile.disable()


class RoundTrips:
    """Counts the calls aiosqlite hands to its database thread (each is a thread hop).

    aiosqlite runs every operation (execute, fetch, closing a cursor...) through
    `Connection._execute` in its worker thread; counting those calls counts round trips.
    Installed only for an untimed counting pass, after the timed runs. If aiosqlite's
    internals change, `available` is False and nothing is counted.
    """

    def __init__(self) -> None:
        self.count = 0
        self.available = hasattr(aiosqlite.Connection, "_execute")
        if self.available:
            original: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute
            counter = self

            async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kw: Any) -> Any:
                counter.count += 1
                return await original(self, fn, *args, **kw)

            aiosqlite.Connection._execute = counted  # type: ignore[method-assign]

    async def of(self, what: Callable[[], Awaitable[object]]) -> int | None:
        """How many round trips `what()` makes (None when they cannot be counted)."""
        before = self.count
        await what()
        return self.count - before if self.available else None


async def round_trip_us(samples: int = 300) -> float:
    """Median time of one trip to an aiosqlite thread and back (`SELECT 1`), in µs.

    On a virtual machine this depends on how idle the machine is: waking an idle vCPU for the
    database thread is slow, so a command's round trips cost more on a quiet machine."""
    db = await aiosqlite.connect(":memory:")
    try:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            await db.execute_fetchall("SELECT 1")
            times.append(time.perf_counter() - started)
    finally:
        await db.close()
    return round(statistics.median(times) * 1e6, 1)


# -- compare ----------------------------------------------------------------------------------


async def build_alliance(
    store: Store, *, movements: int, objectives: int, rng: random.Random
) -> dict[str, int]:
    """The alliance of the module docstring; returns how many of each thing it holds."""
    alliance = await create_alliance(
        store,
        name="Bench Alliance",
        commons_room_id=COMMONS,
        created_by=ADMIN,
        created_at=T0,
        command_event_id="$create",
    )
    active = []
    for i in range(movements):
        name = f"{MOVEMENT_NAMES[i % len(MOVEMENT_NAMES)]} {i + 1}"
        asked = await request_join(
            store,
            alliance_id=alliance.id,
            room_id=RoomID(f"!movement{i}:{SERVER}"),
            name=name,
            requested_by=ADMIN,
            requested_at=T0 + i,
            event_id=f"$join{i}",
        )
        active.append(
            await decide_movement(
                store,
                asked.id,
                status="active",
                decided_by=ADMIN,
                decided_at=T0 + i,
                event_id=f"$approve{i}",
            )
        )
    texts = [
        f"{OBJECTIVE_TEXTS[n % len(OBJECTIVE_TEXTS)]}, part {n // len(OBJECTIVE_TEXTS) + 1}"
        for n in range(objectives)
    ]
    added = await objectives_store.add_objectives(
        store,
        alliance_id=alliance.id,
        texts=texts,
        proposed_by=ADMIN,
        proposed_at=T0,
        event_id="$import",
    )
    polls = 0
    counts = {"decided": 0, "pending": 0, "items": 0}
    for movement in active:
        for objective in added:
            draw = rng.random()
            if draw >= 0.7:
                continue  # not decided yet
            polls += 1
            poll = PollRef(movement.room_id, poll_id=polls, event_id=EventID(f"$poll{polls}"))
            if draw < 0.6:
                endorsed = rng.random() < 5 / 6
                votes = ConsensusCounts(agree=rng.randint(2, 9), reservations=rng.randint(0, 2))
                if not endorsed:
                    votes = ConsensusCounts(agree=votes.agree, block=1)
                await objectives_store.record_stance(
                    store,
                    movement_id=movement.id,
                    objective_id=objective.id,
                    outcome=decide(CONSENSUS, votes),
                    reason="",
                    poll=poll,
                    decided_at=T0 + polls,
                    block_reasons=() if endorsed else ("Not before land reform",),
                )
                counts["decided"] += 1
            else:
                await objectives_store.open_endorsement(
                    store,
                    movement_id=movement.id,
                    objective_id=objective.id,
                    poll=poll,
                    opened_at=T0 + polls,
                )
                counts["pending"] += 1
        linked = rng.sample(added, min(STATEMENT_ITEMS, len(added)))
        for n, objective in enumerate(linked, start=1):
            polls += 1
            applied = await statements_store.apply_statement_change(
                store,
                room_id=movement.room_id,
                change=StatementChange.add(f"In our words: {objective.text.lower()} ({n})."),
                outcome=decide(CONSENSUS, ConsensusCounts(agree=4)),
                poll=PollRef(movement.room_id, poll_id=polls, event_id=EventID(f"$poll{polls}")),
                decided_at=T0 + polls,
            )
            assert applied.version is not None
            await objectives_store.link_item(
                store,
                room_id=movement.room_id,
                item_id=applied.version.item_id,
                objective_id=objective.id,
                linked_by=ADMIN,
                linked_at=T0 + polls,
            )
            counts["items"] += 1
    return {"movements": len(active), "objectives": len(added), **counts}


async def measure_compare(
    store: Store,
    folder: Path,
    *,
    movements: int,
    objectives: int,
    runs: int,
    seed: int,
    profile: cProfile.Profile | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    built = await build_alliance(
        store, movements=movements, objectives=objectives, rng=random.Random(seed)
    )
    build_s = time.perf_counter() - started
    harness = Harness(store, folder, {COMMONS: room_with(COMMONS, [])})
    samples: dict[str, list[float]] = {}

    async def compare(n: int) -> None:
        event = command_event(COMMONS, "!compare", n)
        await harness.answer(event, "compare", samples if 0 < n <= runs else None, "compare")

    await timed(runs, compare, profile=profile)
    [alliance] = await all_alliances(store)
    store_samples: list[float] = []

    async def reads(_: int) -> None:
        active = await movements_of(store, alliance.id, statuses=("active",))
        await objectives_store.board(store, alliance, movements=active)

    await timed(runs, reads, store_samples)
    samples["compare.store"] = store_samples
    trips = RoundTrips()
    round_trips = {
        "compare.route": await trips.of(lambda: compare(runs + 1)),
        "compare.store": await trips.of(lambda: reads(0)),
    }
    reply = harness.last_reply
    assert reply is not None
    rows = reply.data.get("rows", [])
    cells = sum(len(row["cells"]) for row in rows)
    return {
        "samples_s": samples,
        "sizes": harness.sizes,
        "data": built,
        "build_s": build_s,
        "reply": {
            "template": reply.template,
            "rows": len(rows),
            "cells": cells,
            "columns": len(reply.data.get("movements", [])),
            "pages": (reply.data.get("page") or {}).get("count", 1),
        },
        "round_trips": round_trips,
        "round_trip_us": await round_trip_us(),
    }


# -- tally ------------------------------------------------------------------------------------


def make_ballots(*, ballots: int, voters: int, rng: random.Random) -> list[Ballot]:
    """`ballots` responses from `voters` people, in the order they were sent."""
    people = [f"@voter{v}:{SERVER}" for v in range(voters)]
    made = []
    for n in range(ballots):
        sender = people[n % voters] if n < voters else rng.choice(people)
        answer = f"a{rng.randint(1, len(POLL_OPTIONS))}"
        made.append(Ballot(event_id=f"$vote{n}", sender=sender, answers=(answer,), ts=T0 + n))
    return made


async def measure_tally(
    store: Store,
    folder: Path,
    *,
    ballots: int,
    voters: int,
    runs: int,
    seed: int,
    profile: cProfile.Profile | None = None,
) -> dict[str, Any]:
    rng = random.Random(seed)
    made = make_ballots(ballots=ballots, voters=voters, rng=rng)
    members = sorted({b.sender for b in made})
    room = room_with(POLL_ROOM, members)
    harness = Harness(store, folder, {POLL_ROOM: room})
    started = time.perf_counter()
    poll = await polls_db.create_poll(
        store,
        polls_db.NewPoll(
            room_id=POLL_ROOM,
            kind="straw",
            question="Where shall we meet?",
            answers=straw_answers(POLL_OPTIONS),
            max_selections=1,
            hidden=False,
            creator=ADMIN,
            created_at=T0 - 1,
            closes_at=None,
            rule=None,
            command_event_id=EventID("$poll-command"),
        ),
    )
    await polls_db.set_start_event(store, poll.id, EventID("$poll-start"))
    poll = await polls_db.get_poll(store, poll.id) or poll
    for ballot in made:
        await polls_db.add_response(
            store,
            event_id=EventID(ballot.event_id),
            poll_id=poll.id,
            sender=UserID(ballot.sender),
            answers=ballot.answers,
            ts=ballot.ts,
            via="poll",
        )
    build_s = time.perf_counter() - started
    samples: dict[str, list[float]] = {"tally.pure": [], "tally.live": []}
    answer_ids = poll.answer_ids

    async def pure(_: int) -> None:
        tally(
            made,
            answer_ids=answer_ids,
            max_selections=poll.max_selections,
            closed_at=poll.closed_at,
            members=room.joined(),
        )

    async def live(_: int) -> None:
        await live_tally(harness.services, poll)

    async def command(n: int) -> None:
        event = command_event(POLL_ROOM, "!poll results", n)
        await harness.answer(
            event, "poll results", samples if 0 < n <= runs else None, "tally.command"
        )

    await timed(runs, pure, samples["tally.pure"], profile=profile)
    await timed(runs, live, samples["tally.live"], profile=profile)
    await timed(runs, command, profile=profile)
    trips = RoundTrips()
    round_trips = {
        "tally.live": await trips.of(lambda: live(0)),
        "tally.command.route": await trips.of(lambda: command(runs + 1)),
    }
    result = await live_tally(harness.services, poll)
    expected = tally(made, answer_ids=answer_ids, max_selections=1, members=members)
    reply = harness.last_reply
    assert reply is not None
    return {
        "samples_s": samples,
        "sizes": harness.sizes,
        "data": {"ballots": len(made), "voters": len(members), "members": len(room.joined())},
        "build_s": build_s,
        "reply": {"template": reply.template, "voters": reply.data.get("voters")},
        "counted": {
            "voters": result.voters,
            "expected": expected.voters,
            "same": result == expected,
        },
        "round_trips": round_trips,
        "round_trip_us": await round_trip_us(),
    }


# -- an alliance proposal ---------------------------------------------------------------------

POSITIONS: tuple[PositionKind, ...] = ("agree", "agree", "reservations", "stand_aside", "block")


async def measure_proposal(
    store: Store,
    folder: Path,
    *,
    movements: int,
    runs: int,
    seed: int,
    profile: cProfile.Profile | None = None,
) -> dict[str, Any]:
    """`!proposal 1` in the commons of an alliance of `movements` movements, each with its
    position on proposal 1 recorded (some with a reason), as the council reconciler records
    them."""
    rng = random.Random(seed)
    started = time.perf_counter()
    await build_alliance(store, movements=movements, objectives=0, rng=rng)
    [alliance] = await all_alliances(store)
    active = await movements_of(store, alliance.id, statuses=("active",))
    _, round_ = await council_store.open_proposal(
        store,
        alliance_id=alliance.id,
        commons_room_id=COMMONS,
        proposer=UserID(ADMIN),
        command_event_id=EventID("$proposal"),
        at=T0,
        text="We hold a joint day of action on the first Saturday of May",
        rule=format_alliance_rule(DEFAULT_RULE),
        closes_at=T0 + 7 * 86_400_000,
        seats=[council_store.NewSeat(m.id, m.name, m.room_id) for m in active],
    )
    for seat in await council_store.seats_of(store, round_.id):
        kind = rng.choice(POSITIONS)
        reasons = () if kind == "agree" else (Reason(kind, "Only if the date suits us"),)
        await council_store.set_position(
            store,
            seat,
            position=kind,
            reasons=reasons,
            voters=rng.randint(3, 40),
            given_by="poll",
            by=None,
            at=T0,
        )
    build_s = time.perf_counter() - started
    harness = Harness(store, folder, {COMMONS: room_with(COMMONS, [])})
    samples: dict[str, list[float]] = {}

    async def show(n: int) -> None:
        event = command_event(COMMONS, "!proposal 1", n)
        await harness.answer(event, "proposal 1", samples if 0 < n <= runs else None, "proposal")

    await timed(runs, show, profile=profile)
    trips = RoundTrips()
    round_trips = {"proposal.route": await trips.of(lambda: show(runs + 1))}
    reply = harness.last_reply
    assert reply is not None
    return {
        "samples_s": samples,
        "sizes": harness.sizes,
        "data": {"movements": len(active)},
        "build_s": build_s,
        "reply": {
            "template": reply.template,
            "seats": len(reply.data.get("seats", [])),
            "pages": (reply.data.get("page") or {}).get("count", 1),
        },
        "round_trips": round_trips,
        "round_trip_us": await round_trip_us(),
    }


# -- command line -----------------------------------------------------------------------------


async def run(
    args: argparse.Namespace, folder: Path, profile: cProfile.Profile | None
) -> dict[str, Any]:
    store = await Store.open(folder / "multilogue.db")
    try:
        if args.kind == "proposal":
            return await measure_proposal(
                store,
                folder,
                movements=args.movements,
                runs=args.runs,
                seed=args.seed,
                profile=profile,
            )
        if args.kind == "compare":
            return await measure_compare(
                store,
                folder,
                movements=args.movements,
                objectives=args.objectives,
                runs=args.runs,
                seed=args.seed,
                profile=profile,
            )
        return await measure_tally(
            store,
            folder,
            ballots=args.ballots,
            voters=args.voters,
            runs=args.runs,
            seed=args.seed,
            profile=profile,
        )
    finally:
        await store.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess")
    parser.add_argument("kind", choices=("compare", "tally", "proposal"))
    parser.add_argument("--movements", type=int, default=100)
    parser.add_argument("--objectives", type=int, default=50)
    parser.add_argument("--ballots", type=int, default=10_000)
    parser.add_argument("--voters", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the timed runs here")
    args = parser.parse_args(argv)
    profile = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory(prefix="multilogue-inprocess-") as name:
        figures = asyncio.run(run(args, Path(name), profile))
    if profile is not None:
        profile.dump_stats(args.profile)
    json.dump(figures, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
