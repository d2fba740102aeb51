"""The polls family end to end, with a real SQLite store and the network replaced by a fake.

Commands go through the real router; listeners and the deadline timer are called as the bot
calls them. Every reply and notice is rendered with the real templates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.contract import Reply
from bot.events import Event
from bot.ids import RoomID, UserID
from bot.store import InboxItem, Store
from commands.polls import (
    Objection,
    close_due_polls,
    consensus_outcome,
    consensus_result,
    decided_consensus_polls,
)
from commands.polls import store as db
from commands.polls.lifecycle import CLOSED
from tests.unit.fakes import (
    FakeServices,
    Harness,
    Sent,
    in_thread,
    make_config,
    replying_to,
    room_state,
)

ROOM = RoomID("!room")
ALICE = UserID("@alice:hs")  # the room's creator (v12: unlimited power)
BOB = UserID("@bob:hs")
CAROL = UserID("@carol:hs")
MOD = UserID("@mod:hs")
STRANGER = UserID("@stranger:hs")
START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
END = "org.matrix.msc3381.poll.end"


class World(Harness):
    """A room with Alice (creator), Bob, Carol and a moderator, the bot, and a clock."""

    def event(
        self, sender: str, kind: str, content: dict[str, Any], *, redacts: str | None = None
    ) -> Event:
        return self.make_event(ROOM, sender, kind, content, redacts=redacts)

    async def listen(self, event: Event) -> list[Reply]:
        """The listeners, which answer nothing to what happens in this room."""
        replies = await super().listen(event)
        assert replies == []
        return replies

    async def vote(self, sender: str, start: str, *answers: str, kind: str = RESPONSE) -> Event:
        key = "m.poll.response" if kind == "m.poll.response" else RESPONSE
        event = self.event(
            sender,
            kind,
            {
                "m.relates_to": {"rel_type": "m.reference", "event_id": start},
                key: {"answers": list(answers)},
            },
        )
        await self.listen(event)
        return event

    async def redact(self, sender: str, event_id: str) -> None:
        await self.listen(
            self.event(sender, "m.room.redaction", {"redacts": event_id}, redacts=event_id)
        )

    def starts(self) -> list[Sent]:
        return [s for s in self.services.sent if s.event_type == START]

    def ends(self) -> list[Sent]:
        return [s for s in self.services.sent if s.event_type == END]

    async def poll(self, number: int) -> db.Poll:
        poll = await db.poll_by_number(self.services.store, ROOM, number)
        assert poll is not None
        return poll


@pytest.fixture
def world(tmp_path: Path, store: Store) -> World:
    room = room_state(ROOM, ALICE, members=(BOB, CAROL, MOD), powers={MOD: 50})
    return World(FakeServices(make_config(tmp_path), store, [room]))


async def open_straw(world: World, text: str = "poll Where?\nPark\nLibrary\nOnline") -> str:
    reply, _ = await world.answer(ROOM, ALICE, text)
    assert reply.template == "poll_created", reply
    return world.starts()[-1].event_id


# -- creating ---------------------------------------------------------------------------------


async def test_a_poll_is_sent_as_a_native_poll_and_numbered_per_room(world: World) -> None:
    reply, message = await world.answer(ROOM, ALICE, "poll --multi 2 Where?\nPark\nLibrary\nOnline")

    assert reply.template == "poll_created"
    assert "Poll #1 is open" in message.body
    assert "!vote 1" in message.body
    (start,) = world.starts()
    poll = start.content[START]
    assert poll["question"]["body"] == "Where?"
    assert poll["kind"] == "org.matrix.msc3381.poll.disclosed"
    assert poll["max_selections"] == 2
    assert [a["org.matrix.msc1767.text"] for a in poll["answers"]] == ["Park", "Library", "Online"]
    assert start.content["org.matrix.msc1767.text"] == "Where?\n1. Park\n2. Library\n3. Online"

    await world.answer(ROOM, BOB, 'poll "Lunch?" "Pizza" "Soup"')
    assert (await world.poll(2)).question == "Lunch?"


async def test_running_the_same_command_again_never_makes_a_second_poll(world: World) -> None:
    event = world.event(ALICE, "m.room.message", {"msgtype": "m.text", "body": "!poll Q\nA\nB"})

    await world.route(event, "poll Q\nA\nB")
    await world.route(event, "poll Q\nA\nB")

    assert len(world.starts()) == 1
    rows = await world.services.store.fetch_all("SELECT number FROM polls")
    assert [row[0] for row in rows] == [1]


async def test_a_poll_the_homeserver_refuses_is_not_kept(world: World) -> None:
    world.services.refuse.add(ROOM)  # the homeserver refuses every send to the room

    reply, message = await world.answer(ROOM, ALICE, "poll Q\nA\nB")

    assert reply.template == "command_error"
    assert "could not post the poll" in message.body
    assert await world.services.store.fetch_all("SELECT * FROM polls") == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("poll Where?", "no options"),
        ("poll Where?\nPark", "only one option"),
        ("poll Q\n" + "\n".join(f"o{i}" for i in range(21)), "at most 20"),
        ("poll Q\nA\n" + "x" * 341, "too long"),
        ("poll Q\nPark\npark", "the same"),
        ("poll --closes soon Q\nA\nB", "can't read 'soon'"),
        ("poll --closes 2001-01-01 Q\nA\nB", "already passed"),
        ("poll --multi 3 Q\nA\nB", "more choices than there are options"),
    ],
)
async def test_bad_input_names_the_problem_and_shows_the_usage(
    world: World, text: str, problem: str
) -> None:
    reply, message = await world.answer(ROOM, ALICE, text)

    assert reply.template == "usage_error"
    assert problem in message.body
    assert (
        "Usage: !poll [--multi N] [--closes WHEN] [--hidden] [--alliance] <question>"
        in message.body
    )
    assert world.starts() == []


async def test_the_deadline_is_shown_back_in_the_configured_zone(world: World) -> None:
    reply, message = await world.answer(ROOM, ALICE, "poll --closes 2099-12-01 18:00 Q\nA\nB")

    assert reply.template == "usage_error"  # more than a year ahead
    reply, message = await world.answer(ROOM, ALICE, "poll --closes 3d Q\nA\nB")
    assert "open until" in message.body
    assert "(UTC)" in message.body


# -- votes ------------------------------------------------------------------------------------


async def test_votes_changes_and_withdrawals_are_tallied_like_element(world: World) -> None:
    start = await open_straw(world)
    await world.vote(ALICE, start, "a1")
    await world.vote(BOB, start, "a2")
    await world.vote(BOB, start, "a3")  # changed
    carol = await world.vote(CAROL, start, "a1")
    await world.redact(CAROL, carol.event_id)  # withdrawn
    await world.vote(MOD, start, "a9")  # unknown answer: spoiled
    await world.vote(STRANGER, start, "a1")  # not a member
    await world.vote(BOB, "$not-a-poll", "a1")

    reply, message = await world.answer(ROOM, ALICE, "poll results")

    rows = {row["text"]: row["count"] for row in reply.data["rows"]}
    assert rows == {"Park": 1, "Library": 0, "Online": 1}
    assert reply.data["voters"] == 2
    assert reply.data["spoiled"] == 1
    assert "Park  █████░░░░░ 1 (50%)" in message.body
    assert "<table>" in message.html


async def test_stable_responses_count_too(world: World) -> None:
    start = await open_straw(world)
    await world.vote(BOB, start, "a2", kind="m.poll.response")

    reply, _ = await world.answer(ROOM, ALICE, "poll results 1")

    assert reply.data["rows"][1]["count"] == 1


async def test_a_text_vote_as_a_reply_or_in_the_thread(world: World) -> None:
    start = await open_straw(world)
    await open_straw(world, 'poll "Other?" "X" "Y"')

    reply, message = await world.answer(ROOM, BOB, "vote 2", relates_to=replying_to(start))
    assert reply.template == "poll_vote_counted"
    assert "Counted your vote in poll #1: Library" in message.body
    reply, _ = await world.answer(ROOM, CAROL, "vote online", relates_to=in_thread(start))
    assert reply.template == "poll_vote_counted"
    reply, message = await world.answer(ROOM, CAROL, "vote 7", relates_to=in_thread(start))
    assert "There is no option 7" in message.body
    reply, message = await world.answer(ROOM, CAROL, "vote 1")  # two polls open: which one?
    assert "Several polls are open (#1, #2)" in message.body

    reply, _ = await world.answer(ROOM, ALICE, "poll results 1")
    assert [row["count"] for row in reply.data["rows"]] == [0, 1, 1]


async def test_a_text_vote_for_a_closed_poll_changes_nothing(world: World) -> None:
    start = await open_straw(world)
    await world.vote(BOB, start, "a1")
    await world.answer(ROOM, ALICE, "poll close")

    reply, message = await world.answer(ROOM, CAROL, "vote 2", relates_to=replying_to(start))

    assert reply.template == "poll_closed"
    assert "your vote was not counted" in message.body
    reply, _ = await world.answer(ROOM, ALICE, "poll results 1")
    assert [row["count"] for row in reply.data["rows"]] == [1, 0, 0]


# -- closing ----------------------------------------------------------------------------------


async def test_the_creator_closes_and_others_are_told_who_may(world: World) -> None:
    reply, _ = await world.answer(ROOM, BOB, "poll Q?\nYes\nNo")
    start = world.starts()[-1].event_id
    await world.vote(ALICE, start, "a1")
    await world.vote(CAROL, start, "a1")

    refused, message = await world.answer(ROOM, CAROL, "poll close 1")
    assert refused.template == "poll_close_refused"
    assert "only @bob:hs, who started poll #1, or a moderator" in message.body
    assert world.ends() == []

    closed, message = await world.answer(ROOM, BOB, "poll close 1", then=False)
    assert closed.template == "poll_results"
    assert message.body.startswith("Results of poll #1: Q?\nClosed by @bob:hs, ")
    assert closed.then is not None
    assert world.services.signals == []
    await closed.then()  # once the results are posted, what waits on the outcome is woken
    assert world.services.signals == [CLOSED]
    (end,) = world.ends()
    assert end.content["m.relates_to"] == {"rel_type": "m.reference", "event_id": start}
    assert end.content["body"] == "The poll has ended. Top answer: Yes"

    world.clock += 60_000  # a minute after the close
    await world.vote(BOB, start, "a2")  # after the end: ignored
    reply, _ = await world.answer(ROOM, ALICE, "poll results 1")
    assert [row["count"] for row in reply.data["rows"]] == [2, 0]

    again, message = await world.answer(ROOM, BOB, "poll close 1")
    assert again.template == "poll_closed"
    assert len(world.ends()) == 1


async def test_a_moderator_may_close_anyones_poll(world: World) -> None:
    await open_straw(world)

    reply, _ = await world.answer(ROOM, MOD, "poll close")

    assert reply.template == "poll_results"


async def test_a_reference_to_no_poll_is_explained(world: World) -> None:
    _reply, message = await world.answer(ROOM, ALICE, "poll close 4")
    assert "There is no poll #4 in this room" in message.body
    assert "Usage: !poll close [<number>]" in message.body
    _reply, message = await world.answer(ROOM, ALICE, "poll results")
    assert "There is no open poll in this room" in message.body


async def test_a_question_starting_with_close_is_still_a_poll(world: World) -> None:
    reply, _ = await world.answer(ROOM, ALICE, "poll Close the office on Friday?\nYes\nNo")

    assert reply.template == "poll_created"
    assert (await world.poll(1)).question == "Close the office on Friday?"


async def test_an_end_event_counts_only_from_someone_who_may_redact(world: World) -> None:
    start = await open_straw(world)
    await world.vote(BOB, start, "a1")
    end = {"m.relates_to": {"rel_type": "m.reference", "event_id": start}, END: {}}

    await world.listen(world.event(BOB, END, end))
    assert (await world.poll(1)).is_open

    await world.listen(world.event(MOD, END, end))
    poll = await world.poll(1)
    assert not poll.is_open
    assert poll.closed_via == "end_event"
    assert world.ends() == []  # the moderator's end already ends it in Element
    (notice,) = world.services.notices
    assert notice.reply.template == "poll_results"
    assert notice.answering is not None
    assert notice.answering.event_id == start


async def test_a_redaction_counts_only_from_the_voter_or_someone_who_may_redact(
    world: World,
) -> None:
    start = await open_straw(world)
    alice = await world.vote(ALICE, start, "a1")
    bob = await world.vote(BOB, start, "a2")
    carol = await world.vote(CAROL, start, "a2")

    await world.redact(BOB, alice.event_id)  # a member removing someone else's vote: no
    await world.redact(CAROL, start)  # ... or the whole poll: no
    other_room = world.make_event(
        RoomID("!elsewhere"), MOD, "m.room.redaction", {}, redacts=bob.event_id
    )
    await world.listen(other_room)  # a moderator, but of another room: no
    _, before = await world.answer(ROOM, ALICE, "poll results 1")
    assert "3 voters." in before.body
    assert (await world.poll(1)).is_open

    await world.redact(BOB, bob.event_id)  # their own vote: yes
    await world.redact(MOD, carol.event_id)  # a moderator here: yes
    _, after = await world.answer(ROOM, ALICE, "poll results 1")
    assert "1 voter." in after.body


async def test_a_redacted_poll_is_closed_quietly(world: World) -> None:
    start = await open_straw(world)

    await world.redact(ALICE, start)

    poll = await db.get_poll(world.services.store, 1)
    assert poll is not None
    assert poll.removed
    assert not poll.is_open
    assert world.services.signals == [CLOSED]
    await close_due_polls(world.services)
    assert world.services.notices == []


# -- deadlines --------------------------------------------------------------------------------


async def set_deadline(world: World, number: int, closes_at: int) -> None:
    async with world.services.store.transaction() as conn:
        await conn.execute(
            "UPDATE polls SET closes_at = ? WHERE room_id = ? AND number = ?",
            (closes_at, ROOM, number),
        )


async def test_a_deadline_closes_the_poll_counting_only_votes_in_time(world: World) -> None:
    start = await open_straw(world, "poll --closes 1h Q\nA\nB")
    await world.vote(ALICE, start, "a1")
    await world.vote(BOB, start, "a2")
    deadline = world.clock + 500
    late = await world.vote(CAROL, start, "a2")
    assert late.ts > deadline
    await set_deadline(world, 1, deadline)

    await close_due_polls(world.services)

    poll = await world.poll(1)
    assert poll.closed_at == deadline
    assert poll.closed_via == "deadline"
    assert poll.result is not None
    assert poll.result.counts == {"a1": 1, "a2": 1}
    (end,) = world.ends()
    assert end.content["body"] == "The poll has ended. Top answers: A, B"
    (notice,) = world.services.notices
    assert "Closed at its deadline" in notice.message.body
    assert notice.answering is not None
    assert notice.answering.event_id == start

    await close_due_polls(world.services)
    assert len(world.services.notices) == 1


async def test_a_deadline_waits_for_votes_cast_in_time_that_are_not_read_yet(
    world: World,
) -> None:
    start = await open_straw(world, "poll --closes 1h Q\nA\nB")
    deadline = world.clock + 5000
    await set_deadline(world, 1, deadline)
    waiting = world.event(
        BOB,
        RESPONSE,
        {
            "m.relates_to": {"rel_type": "m.reference", "event_id": start},
            RESPONSE: {"answers": ["a2"]},
        },
    )
    assert waiting.ts <= deadline
    await world.services.store.commit_sync(
        "s1", [InboxItem(waiting.event_id, ROOM, world.clock, waiting.to_json())]
    )
    world.clock = deadline + 60_000  # the deadline has passed

    await close_due_polls(world.services)
    assert (await world.poll(1)).is_open

    await world.listen(waiting)
    await world.services.store.finish(waiting.event_id)
    await close_due_polls(world.services)
    poll = await world.poll(1)
    assert poll.result is not None
    assert poll.result.counts == {"a1": 0, "a2": 1}


async def test_a_half_finished_manual_close_is_announced_by_the_timer(world: World) -> None:
    await open_straw(world)
    poll = await world.poll(1)
    await db.close_poll(
        world.services.store, poll.id, closed_at=world.clock - 200_000, via="command"
    )

    await close_due_polls(world.services)

    assert len(world.ends()) == 1
    assert [n.reply.template for n in world.services.notices] == ["poll_results"]
    assert world.services.signals == [CLOSED]


# -- hidden polls -------------------------------------------------------------------------------


async def test_a_hidden_poll_shows_nothing_before_the_close(world: World) -> None:
    start = await open_straw(world, "poll --hidden Q\nA\nB")
    assert world.starts()[0].content[START]["kind"] == "org.matrix.msc3381.poll.undisclosed"
    await world.vote(BOB, start, "a1")

    reply, message = await world.answer(ROOM, BOB, "poll results")
    assert reply.template == "poll_hidden"
    assert "voter" not in message.body
    assert "%" not in message.body
    listing, message = await world.answer(ROOM, BOB, "poll list")
    assert listing.data["polls"][0]["voters"] is None

    closed, _ = await world.answer(ROOM, ALICE, "poll close")
    assert closed.data["rows"][0]["count"] == 1


async def test_the_list_shows_open_and_closed_polls(world: World) -> None:
    start = await open_straw(world)
    await world.vote(BOB, start, "a1")
    await open_straw(world, 'poll "Second?" "X" "Y"')
    await world.answer(ROOM, ALICE, "poll close 2")

    reply, message = await world.answer(ROOM, BOB, "poll list")

    assert [p["number"] for p in reply.data["polls"]] == [2, 1]
    assert "#1 Where?" in message.body
    assert "1 voter." in message.body
    assert "Closed by @alice:hs" in message.body


# -- consensus ----------------------------------------------------------------------------------


async def test_a_block_asks_for_a_reason_and_the_close_lists_it(world: World) -> None:
    reply, message = await world.answer(ROOM, ALICE, "consensus We join the march")
    assert reply.template == "consensus_created"
    assert "Consensus: passes with at least one Agree and no Block." in message.body
    start = world.starts()[-1]
    labels = [a["org.matrix.msc1767.text"] for a in start.content[START]["answers"]]
    assert labels == ["Agree", "Agree with reservations", "Stand aside", "Block"]

    await world.vote(ALICE, start.event_id, "agree")
    await world.vote(BOB, start.event_id, "block")
    await world.vote(BOB, start.event_id, "block")  # asked once only
    (ask,) = world.services.notices
    assert ask.reply.template == "consensus_reason_ask"
    assert ask.thread_root == start.event_id
    assert "you chose Block on consensus poll #1" in ask.message.body

    noted, _ = await world.answer(
        ROOM, BOB, "reason The route is not accessible", relates_to=in_thread(start.event_id)
    )
    assert noted.template == "consensus_reason_noted"
    _voted, message = await world.answer(
        ROOM, CAROL, "vote stand aside", relates_to=replying_to(start.event_id)
    )
    assert "Please say why you chose Stand aside" in message.body

    closed, message = await world.answer(ROOM, ALICE, "poll close")
    assert closed.data["outcome"]["passed"] is False
    assert "Outcome: Not passed: 1 block." in message.body
    assert '- Block: @bob:hs: "The route is not accessible"' in message.body
    assert "- Stand aside: @carol:hs (no reason given)" in message.body

    poll = await world.poll(1)
    outcome = await consensus_outcome(world.services.store, poll.id)
    assert outcome is not None
    assert outcome.passed is False
    assert outcome.reason_code == "blocked"
    assert outcome.counts.block == 1
    result = await consensus_result(world.services.store, poll.id)
    assert result is not None
    assert result.objections == (
        Objection(BOB, "block", "The route is not accessible"),
        Objection(CAROL, "stand_aside", None),
    )
    assert [p.id for p in await decided_consensus_polls(world.services.store)] == [poll.id]
    assert await decided_consensus_polls(world.services.store, after_id=poll.id) == []


async def test_modified_consensus_passes_over_a_block_and_old_polls_keep_their_rule(
    world: World,
) -> None:
    await world.answer(ROOM, ALICE, "consensus First proposal")
    first = world.starts()[-1].event_id
    set_reply, _message = await world.answer(ROOM, MOD, "rules set modified-consensus 75%")
    assert set_reply.template == "rules_set"
    await world.answer(ROOM, ALICE, "consensus Second proposal")
    second = world.starts()[-1].event_id
    for start in (first, second):
        for voter in (ALICE, CAROL, MOD):
            await world.vote(voter, start, "agree")
        await world.vote(BOB, start, "block")

    await world.answer(ROOM, ALICE, "poll close 1")
    await world.answer(ROOM, ALICE, "poll close 2")

    first_outcome = await consensus_outcome(world.services.store, (await world.poll(1)).id)
    second_outcome = await consensus_outcome(world.services.store, (await world.poll(2)).id)
    assert first_outcome is not None
    assert second_outcome is not None
    assert first_outcome.passed is False
    assert second_outcome.passed is True
    assert world.services.say(ROOM, second_outcome.words) == (
        "Passed: 3 of 4 votes (75%) agree or agree with reservations, at least 75% needed."
    )


async def test_the_outcome_is_none_while_open_and_for_straw_polls(world: World) -> None:
    await world.answer(ROOM, ALICE, "consensus Open proposal")
    await open_straw(world)

    assert await consensus_outcome(world.services.store, (await world.poll(1)).id) is None
    assert await consensus_outcome(world.services.store, (await world.poll(2)).id) is None
    assert await consensus_outcome(world.services.store, 99) is None


async def test_a_reason_needs_a_consensus_poll_that_is_open(world: World) -> None:
    start = await open_straw(world)
    _reply, message = await world.answer(ROOM, BOB, "reason because", relates_to=replying_to(start))
    assert "is a straw poll" in message.body
    assert "Usage: !reason <reason>" in message.body


# -- rules --------------------------------------------------------------------------------------


async def test_rules_are_shown_and_set_by_moderators_only(world: World) -> None:
    _shown, message = await world.answer(ROOM, BOB, "rules")
    assert "consensus (the default)" in message.body
    assert "A moderator can change it" in message.body

    refused, _ = await world.answer(ROOM, BOB, "rules set majority")
    assert refused.template == "permission_denied"

    bad, message = await world.answer(ROOM, MOD, "rules set majority 80%")
    assert bad.template == "usage_error"
    assert "supermajority" in message.body

    await world.answer(ROOM, MOD, "rules set supermajority 2/3")
    _quorum, message = await world.answer(ROOM, MOD, "rules set quorum 5")
    assert "supermajority 2/3 quorum 5" in message.body
    _shown, message = await world.answer(ROOM, BOB, "rules")
    assert "supermajority 2/3 quorum 5." in message.body
    assert "Set by @mod:hs" in message.body


async def test_help_lists_the_poll_commands(world: World) -> None:
    _reply, message = await world.answer(ROOM, BOB, "help poll")

    assert "!poll results [<number>]" in message.body
    assert "!poll close [<number>]" in message.body


async def test_a_close_handled_again_after_a_crash_answers_the_same_way(world: World) -> None:
    start = await open_straw(world)
    await world.vote(BOB, start, "a2")
    event = world.event(ALICE, "m.room.message", {"msgtype": "m.text", "body": "!poll close"})

    first, _ = await world.route(event, "poll close")
    again, _ = await world.route(event, "poll close")

    assert first.template == again.template == "poll_results"
    assert first.data == again.data
    assert len(world.ends()) == 1
