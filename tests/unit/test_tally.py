"""Counting native Matrix poll responses the way Element shows them."""

from collections.abc import Collection
from fractions import Fraction

import pytest

from commands.polls.tally import Ballot, Tally, tally

ANSWERS = ("a1", "a2", "a3")


def ballot(sender: str, *answers: str, ts: int, event_id: str | None = None) -> Ballot:
    """A response from ``@sender:hs`` at ``ts``; the event id defaults to one derived from both."""
    user = f"@{sender}:hs"
    return Ballot(event_id=event_id or f"${sender}-{ts}", sender=user, answers=answers, ts=ts)


def count_votes(
    *ballots: Ballot,
    max_selections: int = 1,
    closed_at: int | None = None,
    members: Collection[str] | None = None,
    redacted: Collection[str] = (),
) -> Tally:
    """Tally ``ballots`` for a three-answer poll."""
    return tally(
        ballots,
        answer_ids=ANSWERS,
        max_selections=max_selections,
        closed_at=closed_at,
        members=members,
        redacted=redacted,
    )


def test_no_ballots_lists_every_answer_with_zero() -> None:
    result = count_votes()
    assert result == Tally(counts={"a1": 0, "a2": 0, "a3": 0}, voters=0, spoiled=0, choices={})
    assert result.leading() == ()
    assert result.percent("a1") == 0
    assert result.share("a1") == 0


def test_counts_keep_the_poll_order_of_answers() -> None:
    result = tally([], answer_ids=("z", "b", "a"), max_selections=1)
    assert list(result.counts) == ["z", "b", "a"]


def test_one_vote_each() -> None:
    result = count_votes(
        ballot("ana", "a1", ts=1), ballot("ben", "a2", ts=2), ballot("cy", "a1", ts=3)
    )
    assert result.counts == {"a1": 2, "a2": 1, "a3": 0}
    assert result.voters == 3
    assert result.spoiled == 0
    assert result.choices == {"@ana:hs": ("a1",), "@ben:hs": ("a2",), "@cy:hs": ("a1",)}


def test_accepts_any_iterable_once() -> None:
    result = tally(
        (ballot(name, "a1", ts=1) for name in ("ana", "ben")), answer_ids=ANSWERS, max_selections=1
    )
    assert result.counts["a1"] == 2


def test_a_changed_vote_counts_only_the_latest() -> None:
    result = count_votes(ballot("ana", "a1", ts=1), ballot("ana", "a2", ts=5))
    assert result.counts == {"a1": 0, "a2": 1, "a3": 0}
    assert result.voters == 1
    assert result.choices == {"@ana:hs": ("a2",)}


def test_latest_is_decided_by_timestamp_not_input_order() -> None:
    result = count_votes(ballot("ana", "a2", ts=5), ballot("ana", "a1", ts=1))
    assert result.choices == {"@ana:hs": ("a2",)}


def test_on_equal_timestamps_the_later_in_input_wins() -> None:
    first = ballot("ana", "a1", ts=5, event_id="$first")
    second = ballot("ana", "a2", ts=5, event_id="$second")
    assert count_votes(first, second).choices == {"@ana:hs": ("a2",)}
    assert count_votes(second, first).choices == {"@ana:hs": ("a1",)}


def test_an_empty_answer_list_withdraws_the_vote() -> None:
    result = count_votes(ballot("ana", "a1", ts=1), ballot("ana", ts=2), ballot("ben", "a1", ts=3))
    assert result.counts["a1"] == 1
    assert result.voters == 1
    assert result.spoiled == 0
    assert "@ana:hs" not in result.choices


def test_a_vote_after_a_withdrawal_counts() -> None:
    result = count_votes(ballot("ana", "a1", ts=1), ballot("ana", ts=2), ballot("ana", "a3", ts=3))
    assert result.choices == {"@ana:hs": ("a3",)}


@pytest.mark.parametrize(
    "answers",
    [("nope",), ("a1", "nope"), ("nope", "a1"), ("A1",), ("",), ("a1", "a2", "zz")],
)
def test_any_unknown_answer_spoils_the_whole_vote(answers: tuple[str, ...]) -> None:
    result = count_votes(ballot("ana", *answers, ts=1), max_selections=3)
    assert result.spoiled == 1
    assert result.voters == 0
    assert result.counts == {"a1": 0, "a2": 0, "a3": 0}
    assert result.choices == {}


def test_a_spoiled_latest_vote_replaces_an_earlier_valid_one() -> None:
    result = count_votes(ballot("ana", "a1", ts=1), ballot("ana", "zz", ts=2))
    assert result.spoiled == 1
    assert result.counts["a1"] == 0


def test_a_valid_vote_after_a_spoiled_one_counts() -> None:
    result = count_votes(ballot("ana", "zz", ts=1), ballot("ana", "a1", ts=2))
    assert result.spoiled == 0
    assert result.counts["a1"] == 1


def test_spoiled_votes_are_counted_per_person() -> None:
    result = count_votes(
        ballot("ana", "zz", ts=1),
        ballot("ana", "yy", ts=2),
        ballot("ben", "xx", ts=3),
        ballot("cy", "a2", ts=4),
    )
    assert result.spoiled == 2
    assert result.voters == 1


def test_a_repeated_answer_counts_once() -> None:
    result = count_votes(ballot("ana", "a1", "a1", "a1", ts=1), max_selections=3)
    assert result.counts["a1"] == 1
    assert result.choices == {"@ana:hs": ("a1",)}


@pytest.mark.parametrize(
    ("max_selections", "counted"),
    [
        (1, ("a3",)),
        (2, ("a3", "a1")),
        (3, ("a3", "a1", "a2")),
        (10, ("a3", "a1", "a2")),
    ],
)
def test_only_the_first_max_selections_answers_count(
    max_selections: int, counted: tuple[str, ...]
) -> None:
    result = count_votes(ballot("ana", "a3", "a1", "a2", ts=1), max_selections=max_selections)
    assert result.choices == {"@ana:hs": counted}
    assert result.counts == {answer: int(answer in counted) for answer in ANSWERS}


def test_repeats_are_dropped_before_cutting_to_max_selections() -> None:
    result = count_votes(ballot("ana", "a1", "a1", "a2", "a3", ts=1), max_selections=2)
    assert result.choices == {"@ana:hs": ("a1", "a2")}


def test_too_many_answers_with_an_unknown_one_beyond_the_limit_still_spoil() -> None:
    result = count_votes(ballot("ana", "a1", "a2", "zz", ts=1), max_selections=1)
    assert result.spoiled == 1


@pytest.mark.parametrize("max_selections", [0, -3])
def test_max_selections_below_one_is_treated_as_one(max_selections: int) -> None:
    result = count_votes(ballot("ana", "a2", "a1", ts=1), max_selections=max_selections)
    assert result.choices == {"@ana:hs": ("a2",)}


@pytest.mark.parametrize(
    ("closed_at", "expected"),
    [(None, ("a2",)), (5, ("a2",)), (4, ("a1",)), (1, ("a1",))],
)
def test_responses_after_the_close_are_ignored(
    closed_at: int | None, expected: tuple[str, ...]
) -> None:
    result = count_votes(ballot("ana", "a1", ts=1), ballot("ana", "a2", ts=5), closed_at=closed_at)
    assert result.choices == {"@ana:hs": expected}


def test_a_first_vote_after_the_close_does_not_count() -> None:
    result = count_votes(ballot("ana", "a1", ts=1), ballot("ben", "a1", ts=11), closed_at=10)
    assert result.voters == 1
    assert result.counts["a1"] == 1


def test_a_withdrawal_after_the_close_does_not_withdraw() -> None:
    result = count_votes(ballot("ana", "a1", ts=1), ballot("ana", ts=20), closed_at=10)
    assert result.choices == {"@ana:hs": ("a1",)}


def test_a_spoiled_vote_after_the_close_is_not_counted_as_spoiled() -> None:
    result = count_votes(ballot("ana", "zz", ts=20), closed_at=10)
    assert result.spoiled == 0


def test_non_members_are_ignored() -> None:
    result = count_votes(
        ballot("ana", "a1", ts=1),
        ballot("mallory", "a2", ts=2),
        ballot("eve", "zz", ts=3),
        members={"@ana:hs"},
    )
    assert result.choices == {"@ana:hs": ("a1",)}
    assert result.counts == {"a1": 1, "a2": 0, "a3": 0}
    assert result.spoiled == 0


def test_empty_members_means_nobody_counts() -> None:
    result = count_votes(ballot("ana", "a1", ts=1), members=[])
    assert result.voters == 0


def test_members_accepts_any_collection() -> None:
    result = count_votes(ballot("ana", "a1", ts=1), members=["@ana:hs", "@ben:hs"])
    assert result.voters == 1


def test_a_redacted_latest_vote_makes_the_earlier_one_count() -> None:
    result = count_votes(
        ballot("ana", "a1", ts=1, event_id="$old"),
        ballot("ana", "a2", ts=2, event_id="$new"),
        redacted={"$new"},
    )
    assert result.choices == {"@ana:hs": ("a1",)}


def test_a_redacted_only_vote_is_gone() -> None:
    result = count_votes(ballot("ana", "a1", ts=1, event_id="$only"), redacted=["$only"])
    assert result.voters == 0
    assert result.spoiled == 0


def test_a_redacted_withdrawal_brings_the_vote_back() -> None:
    result = count_votes(
        ballot("ana", "a3", ts=1, event_id="$vote"),
        ballot("ana", ts=2, event_id="$withdraw"),
        redacted=("$withdraw",),
    )
    assert result.choices == {"@ana:hs": ("a3",)}


def test_a_redacted_spoiled_vote_is_not_counted_as_spoiled() -> None:
    result = count_votes(
        ballot("ana", "a1", ts=1, event_id="$ok"),
        ballot("ana", "zz", ts=2, event_id="$bad"),
        redacted={"$bad"},
    )
    assert result.spoiled == 0
    assert result.choices == {"@ana:hs": ("a1",)}


def test_redacting_an_earlier_vote_changes_nothing() -> None:
    result = count_votes(
        ballot("ana", "a1", ts=1, event_id="$old"),
        ballot("ana", "a2", ts=2, event_id="$new"),
        redacted={"$old"},
    )
    assert result.choices == {"@ana:hs": ("a2",)}


def test_all_rules_together() -> None:
    result = tally(
        [
            ballot("ana", "a1", ts=1),
            ballot("ana", "a2", ts=2, event_id="$ana-redacted"),
            ballot("ben", "a2", "a3", "a2", ts=3),
            ballot("cy", "a1", ts=4),
            ballot("cy", ts=5),
            ballot("dee", "a9", ts=6),
            ballot("eve", "a3", ts=7),
            ballot("fay", "a1", ts=8),
            ballot("fay", "a3", ts=99),
        ],
        answer_ids=ANSWERS,
        max_selections=2,
        closed_at=50,
        members={"@ana:hs", "@ben:hs", "@cy:hs", "@dee:hs", "@fay:hs"},
        redacted={"$ana-redacted"},
    )
    assert result.choices == {"@ana:hs": ("a1",), "@ben:hs": ("a2", "a3"), "@fay:hs": ("a1",)}
    assert result.counts == {"a1": 2, "a2": 1, "a3": 1}
    assert result.voters == 3
    assert result.spoiled == 1


@pytest.mark.parametrize(
    ("votes", "answer", "percent"),
    [
        (("a1",), "a1", 100),
        (("a1", "a2"), "a1", 50),
        (("a1", "a2", "a2"), "a1", 33),
        (("a1", "a2", "a2"), "a2", 67),
        (("a1",) + ("a2",) * 7, "a1", 13),  # 12.5 rounds half up
        (("a1",) + ("a2",) * 199, "a1", 1),  # 0.5 rounds half up
        (("a1",) + ("a2",) * 200, "a1", 0),  # 0.4975 rounds down
        (("a2",), "a1", 0),
    ],
)
def test_percent_of_voters(votes: tuple[str, ...], answer: str, percent: int) -> None:
    result = count_votes(*(ballot(f"u{n}", vote, ts=n) for n, vote in enumerate(votes)))
    assert result.percent(answer) == percent


def test_share_is_exact() -> None:
    result = count_votes(*(ballot(f"u{n}", "a1" if n else "a2", ts=n) for n in range(3)))
    assert result.share("a1") == Fraction(2, 3)


def test_percentages_can_add_up_to_more_than_100_with_several_selections() -> None:
    result = count_votes(
        ballot("ana", "a1", "a2", ts=1), ballot("ben", "a1", ts=2), max_selections=2
    )
    assert (result.percent("a1"), result.percent("a2")) == (100, 50)
    assert result.voters == 2


def test_spoiled_and_withdrawn_votes_are_not_in_the_percentage_base() -> None:
    result = count_votes(ballot("ana", "a1", ts=1), ballot("ben", "zz", ts=2), ballot("cy", ts=3))
    assert result.percent("a1") == 100


@pytest.mark.parametrize(
    ("votes", "leading"),
    [
        ((), ()),
        (("a2",), ("a2",)),
        (("a2", "a1", "a2"), ("a2",)),
        (("a3", "a1"), ("a1", "a3")),
        (("a3", "a2", "a1"), ("a1", "a2", "a3")),
    ],
)
def test_leading_answers_in_poll_order(votes: tuple[str, ...], leading: tuple[str, ...]) -> None:
    result = count_votes(*(ballot(f"u{n}", vote, ts=n) for n, vote in enumerate(votes)))
    assert result.leading() == leading


def test_leading_is_empty_when_every_vote_was_withdrawn_or_spoiled() -> None:
    assert count_votes(ballot("ana", ts=1), ballot("ben", "zz", ts=2)).leading() == ()


def test_tally_is_frozen() -> None:
    result = count_votes()
    with pytest.raises(AttributeError):
        result.voters = 3  # type: ignore[misc]


def test_input_ballots_are_not_changed() -> None:
    ballots = [ballot("ana", "a1", "a1", ts=1)]
    count_votes(*ballots)
    assert ballots == [ballot("ana", "a1", "a1", ts=1)]
