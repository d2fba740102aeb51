"""Counting an alliance-wide poll: per movement, overall by person, one movement one voice."""

from __future__ import annotations

from fractions import Fraction

from commands.polls.tally import Ballot, Tally, tally
from commands.polls.view import (
    OneVoice,
    RoomVotes,
    one_voice,
    one_voice_rows,
    overall_tally,
    straw_answers,
    texts_of,
    voice_text,
)

ANSWERS = straw_answers(["Park", "Library", "Online"])
IDS = tuple(answer.id for answer in ANSWERS)


def vote(sender: str, *answers: str, ts: int) -> Ballot:
    return Ballot(event_id=f"${sender}-{ts}", sender=f"@{sender}:hs", answers=answers, ts=ts)


def counted(*ballots: Ballot) -> Tally:
    """One movement's own tally, as any poll is counted."""
    return tally(ballots, answer_ids=IDS, max_selections=1)


def overall(*rooms: RoomVotes, max_selections: int = 1) -> Tally:
    return overall_tally(rooms, answer_ids=IDS, max_selections=max_selections)


# -- overall, each person once ----------------------------------------------------------------


def test_votes_from_every_room_are_counted_together() -> None:
    camp = RoomVotes([vote("ann", "a1", ts=1), vote("bob", "a2", ts=2)])
    tenants = RoomVotes([vote("cat", "a1", ts=3)])
    commons = RoomVotes([vote("dee", "a3", ts=4)])

    result = overall(camp, tenants, commons)

    assert result.counts == {"a1": 2, "a2": 1, "a3": 1}
    assert result.voters == 4


def test_a_person_voting_in_two_rooms_counts_once_with_their_latest_vote() -> None:
    camp = RoomVotes([vote("bob", "a1", ts=10), vote("ann", "a1", ts=11)])
    tenants = RoomVotes([vote("bob", "a2", ts=20)])  # Bob is in both movements; later here

    result = overall(camp, tenants)

    assert result.counts == {"a1": 1, "a2": 1, "a3": 0}
    assert result.voters == 2
    assert result.choices["@bob:hs"] == ("a2",)
    # ...and the other way round: an earlier vote elsewhere does not replace a later one.
    result = overall(RoomVotes([vote("bob", "a3", ts=30)]), tenants)
    assert result.choices["@bob:hs"] == ("a3",)


def test_withdrawing_in_one_room_withdraws_the_person_s_vote() -> None:
    camp = RoomVotes([vote("bob", "a1", ts=1)])
    tenants = RoomVotes([vote("bob", ts=2)])  # an empty answer list withdraws

    assert overall(camp, tenants).voters == 0


def test_each_room_s_end_and_members_still_apply() -> None:
    camp = RoomVotes(
        [vote("ann", "a1", ts=1), vote("bob", "a1", ts=50), vote("eve", "a2", ts=2)],
        closed_at=10,  # voting ended there at 10: Bob's vote is late
        members={"@ann:hs", "@bob:hs"},  # Eve left the room
    )
    tenants = RoomVotes([vote("bob", "a3", ts=5)])

    result = overall(camp, tenants)

    assert result.choices == {"@ann:hs": ("a1",), "@bob:hs": ("a3",)}


def test_a_late_vote_in_a_closed_room_does_not_replace_an_earlier_one_elsewhere() -> None:
    commons = RoomVotes([vote("bob", "a1", ts=5)], closed_at=100)
    camp = RoomVotes([vote("bob", "a2", ts=150)], closed_at=100)

    assert overall(commons, camp).choices == {"@bob:hs": ("a1",)}


def test_spoiled_and_multiple_choices_follow_the_tally_rules() -> None:
    camp = RoomVotes([vote("ann", "a1", "a2", "a3", ts=1), vote("bob", "zz", ts=2)])

    result = overall(camp, max_selections=2)

    assert result.choices == {"@ann:hs": ("a1", "a2")}
    assert result.spoiled == 1


def test_no_rooms_no_votes() -> None:
    assert overall() == Tally(counts={"a1": 0, "a2": 0, "a3": 0}, voters=0, spoiled=0, choices={})


# -- one movement, one voice -------------------------------------------------------------------


def test_each_movement_s_leading_option_counts_once_however_big_it_is() -> None:
    big = counted(*(vote(f"p{n}", "a1", ts=n) for n in range(10)))  # ten people: Park
    small = counted(vote("ann", "a2", ts=1))  # one person: Library
    smaller = counted(vote("bob", "a2", ts=1))

    result = one_voice([big, small, smaller], answer_ids=IDS)

    assert result.voices == {"a1": Fraction(1), "a2": Fraction(2), "a3": Fraction(0)}
    assert result.leading() == ("a2",)
    assert (result.voiced, result.movements) == (3, 3)
    assert result.leading_by_movement == (("a1",), ("a2",), ("a2",))


def test_a_tie_inside_a_movement_splits_its_voice_equally() -> None:
    tied = counted(vote("ann", "a1", ts=1), vote("bob", "a2", ts=2))
    three_way = counted(vote("ann", "a1", ts=1), vote("bob", "a2", ts=2), vote("cy", "a3", ts=3))
    clear = counted(vote("dee", "a1", ts=1))

    result = one_voice([tied, three_way, clear], answer_ids=IDS)

    assert result.voices == {
        "a1": Fraction(1, 2) + Fraction(1, 3) + 1,
        "a2": Fraction(1, 2) + Fraction(1, 3),
        "a3": Fraction(1, 3),
    }
    assert sum(result.voices.values()) == 3  # every movement that voted weighs exactly one
    assert result.leading() == ("a1",)


def test_a_tie_between_movements_leaves_several_leading() -> None:
    result = one_voice(
        [counted(vote("ann", "a1", ts=1)), counted(vote("bob", "a3", ts=1))], answer_ids=IDS
    )

    assert result.leading() == ("a1", "a3")  # in the poll's order


def test_a_movement_where_nobody_voted_has_no_voice() -> None:
    result = one_voice([counted(), counted(vote("ann", "a2", ts=1))], answer_ids=IDS)

    assert result.voices == {"a1": 0, "a2": 1, "a3": 0}
    assert (result.voiced, result.movements) == (1, 2)
    assert result.leading_by_movement == ((), ("a2",))
    assert one_voice([counted()], answer_ids=IDS).leading() == ()


def test_with_several_choices_the_most_chosen_option_leads_in_the_movement() -> None:
    movement = tally(
        [vote("ann", "a1", "a2", ts=1), vote("bob", "a2", "a3", ts=2)],
        answer_ids=IDS,
        max_selections=2,
    )

    assert one_voice([movement], answer_ids=IDS).voices == {"a1": 0, "a2": 1, "a3": 0}


# -- showing it --------------------------------------------------------------------------------


def test_voices_read_as_whole_numbers_and_fractions() -> None:
    assert voice_text(Fraction(0)) == "0"
    assert voice_text(Fraction(2)) == "2"
    assert voice_text(Fraction(1, 2)) == "1/2"
    assert voice_text(Fraction(4, 3)) == "1 1/3"
    assert voice_text(Fraction(5, 6)) == "5/6"


def test_voice_rows_in_poll_order_with_bars_of_the_voices_cast() -> None:
    result = OneVoice(
        voices={"a1": Fraction(3, 2), "a2": Fraction(1, 2), "a3": Fraction(0)},
        leading_by_movement=(("a1",), ("a1", "a2")),
    )

    assert one_voice_rows(ANSWERS, result) == [
        {"number": 1, "text": "Park", "voices": "1 1/2", "bar": "████████░░"},
        {"number": 2, "text": "Library", "voices": "1/2", "bar": "███░░░░░░░"},
        {"number": 3, "text": "Online", "voices": "0", "bar": "░░░░░░░░░░"},
    ]


def test_texts_of_answer_ids() -> None:
    assert texts_of(ANSWERS, ("a3", "a1", "nope")) == ["Online", "Park"]
