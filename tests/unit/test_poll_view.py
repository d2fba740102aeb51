"""Native poll event content, and the rows of a result."""

from __future__ import annotations

import pytest

from bot.render import Renderer
from commands.polls.tally import Ballot, Tally, tally
from commands.polls.view import (
    UNREADABLE,
    Answer,
    bar,
    consensus_answers,
    end_content,
    end_words,
    objections,
    referenced_poll,
    response_answers,
    result_rows,
    start_content,
    straw_answers,
)

ANSWERS = straw_answers(["Park", "Library", "Online"])
SAY = Renderer(globals={"prefix": "!"}).say


def test_the_start_event_has_the_shape_element_sends() -> None:
    content = start_content("Where?", ANSWERS[:2], max_selections=1, hidden=False)

    assert content == {
        "org.matrix.msc3381.poll.start": {
            "question": {
                "org.matrix.msc1767.text": "Where?",
                "body": "Where?",
                "msgtype": "m.text",
            },
            "kind": "org.matrix.msc3381.poll.disclosed",
            "max_selections": 1,
            "answers": [
                {"id": "a1", "org.matrix.msc1767.text": "Park"},
                {"id": "a2", "org.matrix.msc1767.text": "Library"},
            ],
        },
        "org.matrix.msc1767.text": "Where?\n1. Park\n2. Library",
    }


def test_a_hidden_poll_is_undisclosed() -> None:
    content = start_content("Q", ANSWERS, max_selections=2, hidden=True)
    assert content["org.matrix.msc3381.poll.start"]["kind"] == "org.matrix.msc3381.poll.undisclosed"


def test_consensus_answers_are_the_four_options() -> None:
    assert consensus_answers(SAY) == (
        Answer("agree", "Agree"),
        Answer("reservations", "Agree with reservations"),
        Answer("stand_aside", "Stand aside"),
        Answer("block", "Block"),
    )


def test_the_end_event_refers_to_the_start_and_has_a_text_fallback() -> None:
    assert end_content("$start", "The poll has ended.") == {
        "m.relates_to": {"rel_type": "m.reference", "event_id": "$start"},
        "org.matrix.msc3381.poll.end": {},
        "org.matrix.msc1767.text": "The poll has ended.",
        "body": "The poll has ended.",
        "msgtype": "m.text",
    }


def counted(*votes: tuple[str, tuple[str, ...]]) -> Tally:
    ballots = [Ballot(f"$e{i}", sender, answers, i) for i, (sender, answers) in enumerate(votes)]
    return tally(ballots, answer_ids=[a.id for a in ANSWERS], max_selections=2)


def test_the_end_text_names_the_top_answers() -> None:
    assert SAY(end_words(ANSWERS, counted())) == "The poll has ended. No votes were cast."
    one = counted(("@a", ("a2",)))
    assert SAY(end_words(ANSWERS, one)) == "The poll has ended. Top answer: Library"
    tie = counted(("@a", ("a1",)), ("@b", ("a3",)))
    assert SAY(end_words(ANSWERS, tie)) == "The poll has ended. Top answers: Park, Online"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"org.matrix.msc3381.poll.response": {"answers": ["a1"]}}, ("a1",)),
        ({"m.poll.response": {"answers": ["a1", "a2"]}}, ("a1", "a2")),
        ({"m.selections": ["a3"]}, ("a3",)),
        ({"org.matrix.msc3381.poll.response": {"answers": []}}, ()),
        ({"org.matrix.msc3381.poll.response": {"answers": "a1"}}, None),
        ({"org.matrix.msc3381.poll.response": {"answers": [1]}}, None),
        ({"org.matrix.msc3381.poll.response": {}}, None),
        ({}, None),
    ],
)
def test_response_answers_in_every_form(
    content: dict[str, object], expected: tuple[str, ...] | None
) -> None:
    assert response_answers(content) == expected


def test_an_unreadable_response_is_spoiled_by_the_tally() -> None:
    result = tally([Ballot("$1", "@a", (UNREADABLE,), 1)], answer_ids=["a1"], max_selections=1)
    assert (result.voters, result.spoiled) == (0, 1)


def test_only_a_reference_names_the_poll() -> None:
    reference = {"m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"}}
    assert referenced_poll(reference) == "$poll"
    assert referenced_poll({"m.relates_to": {"rel_type": "m.thread", "event_id": "$p"}}) is None
    assert referenced_poll({"m.relates_to": {"rel_type": "m.reference"}}) is None
    assert referenced_poll({}) is None


@pytest.mark.parametrize(
    ("percent", "shown"),
    [
        (0, "░░░░░░░░░░"),
        (4, "░░░░░░░░░░"),
        (5, "█░░░░░░░░░"),
        (67, "███████░░░"),
        (100, "██████████"),
        (150, "██████████"),
    ],
)
def test_bars(percent: int, shown: str) -> None:
    assert bar(percent) == shown


def test_rows_have_count_percent_and_bar_in_poll_order() -> None:
    result = counted(("@a", ("a1", "a2")), ("@b", ("a1",)), ("@c", ("a3",)))

    rows = result_rows(ANSWERS, result)

    assert rows == [
        {"number": 1, "text": "Park", "count": 2, "percent": 67, "bar": "███████░░░"},
        {"number": 2, "text": "Library", "count": 1, "percent": 33, "bar": "███░░░░░░░"},
        {"number": 3, "text": "Online", "count": 1, "percent": 33, "bar": "███░░░░░░░"},
    ]


def test_objections_list_blocks_then_stand_asides_then_reasoned_reservations() -> None:
    ids = [a.id for a in consensus_answers(SAY)]
    ballots = [
        Ballot("$1", "@sam", ("stand_aside",), 1),
        Ballot("$2", "@bea", ("block",), 2),
        Ballot("$3", "@ann", ("agree",), 3),
        Ballot("$4", "@rei", ("reservations",), 4),
        Ballot("$5", "@ron", ("reservations",), 5),
    ]
    result = tally(ballots, answer_ids=ids, max_selections=1)

    found = objections(result, {"@bea": "Too risky", "@rei": "Cost"}, {"@bea": "Bea"})

    assert [{**entry, "label": SAY(entry["label"])} for entry in found] == [
        {"label": "Block", "name": "Bea", "reason": "Too risky"},
        {"label": "Stand aside", "name": "@sam", "reason": None},
        {"label": "Agree with reservations", "name": "@rei", "reason": "Cost"},
    ]
