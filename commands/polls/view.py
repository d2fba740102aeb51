"""Native poll events (MSC3381) and what a poll's result looks like.

Pure logic: builds and reads event content, and turns a :class:`~commands.polls.tally.Tally` into
rows for the result templates. No Matrix client, no database, no clock.

An alliance-wide poll is one poll per room (the commons and each movement room) counted
together at three levels, each by :func:`commands.polls.tally.tally`:

- per room (:class:`RoomVotes`): each movement's own tally, as in any poll;
- overall by person (:func:`overall_tally`): every room's eligible responses together, each
  person's latest response anywhere counting once (a person in two movements votes once);
- one movement, one voice (:func:`one_voice`): each movement's leading option counts once.
  When a movement's leading options tie, its one voice is split equally between them
  (two tied options get 1/2 each), so every movement that voted weighs exactly 1.
  A movement where nobody voted has no voice. The commons is not a movement and has no voice.

Polls are sent with the unstable types Element sends; the stable ones are accepted on input.
The start and end events carry a short text fallback for clients without poll support: the
start event's is the question and its numbered options; the end event's words (:func:`end_words`)
are in `templates/refusals/polls.txt`, as are a consensus poll's option names
(:func:`consensus_answers` takes them rendered).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

from bot.contract import Words
from commands.polls.rules import CONSENSUS_OPTIONS, option_words
from commands.polls.tally import Ballot, Tally, tally

START_TYPE: Final = "org.matrix.msc3381.poll.start"
END_TYPE: Final = "org.matrix.msc3381.poll.end"
RESPONSE_TYPES: Final = frozenset({"org.matrix.msc3381.poll.response", "m.poll.response"})
END_TYPES: Final = frozenset({END_TYPE, "m.poll.end"})
DISCLOSED: Final = "org.matrix.msc3381.poll.disclosed"
UNDISCLOSED: Final = "org.matrix.msc3381.poll.undisclosed"
TEXT_KEY: Final = "org.matrix.msc1767.text"
BAR_WIDTH: Final = 10
UNREADABLE: Final = "\x00unreadable"
"""An answer id no poll has: an unreadable response is stored with it, so it counts as spoiled."""


@dataclass(frozen=True)
class Answer:
    """One option of a poll: its id in the events and its text."""

    id: str
    text: str


def straw_answers(options: Sequence[str]) -> tuple[Answer, ...]:
    return tuple(Answer(f"a{number}", text) for number, text in enumerate(options, start=1))


def consensus_answers(say: Callable[[Words], str]) -> tuple[Answer, ...]:
    """The four options of a consensus poll, named by `say` (which renders `Words`)."""
    return tuple(Answer(answer_id, say(option_words(answer_id))) for answer_id in CONSENSUS_OPTIONS)


def fallback_text(question: str, answers: Sequence[Answer]) -> str:
    """The poll as plain text: the question, then the numbered options."""
    lines = [question]
    lines.extend(f"{number}. {answer.text}" for number, answer in enumerate(answers, start=1))
    return "\n".join(lines)


def start_content(
    question: str, answers: Sequence[Answer], *, max_selections: int, hidden: bool
) -> dict[str, Any]:
    """The content of an `org.matrix.msc3381.poll.start` event, as Element sends it."""
    return {
        START_TYPE: {
            "question": {TEXT_KEY: question, "body": question, "msgtype": "m.text"},
            "kind": UNDISCLOSED if hidden else DISCLOSED,
            "max_selections": max_selections,
            "answers": [{"id": answer.id, TEXT_KEY: answer.text} for answer in answers],
        },
        TEXT_KEY: fallback_text(question, answers),
    }


def end_content(start_event_id: str, text: str) -> dict[str, Any]:
    """The content of an `org.matrix.msc3381.poll.end` event ending the poll `start_event_id`."""
    return {
        "m.relates_to": {"rel_type": "m.reference", "event_id": start_event_id},
        END_TYPE: {},
        TEXT_KEY: text,
        "body": text,
        "msgtype": "m.text",
    }


def end_words(answers: Sequence[Answer], tally: Tally) -> Words:
    """The end event's fallback text, worded like Element's: the top answers."""
    return Words("polls.ended", {"top": texts_of(answers, tally.leading())})


def referenced_poll(content: Mapping[str, Any]) -> str | None:
    """The poll a response or end event refers to (its `m.reference`), if any."""
    relation = content.get("m.relates_to")
    if not isinstance(relation, Mapping) or relation.get("rel_type") != "m.reference":
        return None
    event_id = relation.get("event_id")
    return event_id if isinstance(event_id, str) else None


def response_answers(content: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The answer ids of a poll response, unstable or stable form; None if unreadable."""
    for key in ("org.matrix.msc3381.poll.response", "m.poll.response"):
        body = content.get(key)
        if isinstance(body, Mapping):
            return _answer_list(body.get("answers"))
    if "m.selections" in content:
        return _answer_list(content.get("m.selections"))
    return None


def _answer_list(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None
    return tuple(value)


def bar(percent: int, width: int = BAR_WIDTH) -> str:
    """A bar of `width` blocks, filled in proportion to `percent` (0 to 100, more is capped)."""
    filled = min(width, max(0, (percent * width + 50) // 100))
    return "█" * filled + "░" * (width - filled)


def result_rows(answers: Sequence[Answer], tally: Tally) -> list[dict[str, Any]]:
    """One row per option, in the poll's order: number, text, count, percent and bar."""
    rows: list[dict[str, Any]] = []
    for number, answer in enumerate(answers, start=1):
        percent = tally.percent(answer.id)
        rows.append(
            {
                "number": number,
                "text": answer.text,
                "count": tally.counts.get(answer.id, 0),
                "percent": percent,
                "bar": bar(percent),
            }
        )
    return rows


def objections(
    tally: Tally, reasons: Mapping[str, str], names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The blocks, then the stand-asides, then reservations that came with a reason.

    Each entry: `label` (the option's name, `Words`), `name` (the voter's display name) and
    `reason` (None when none was given).
    """
    order = ("block", "stand_aside", "reservations")
    found: list[dict[str, Any]] = []
    for option in order:
        for sender, chosen in tally.choices.items():
            if option not in chosen:
                continue
            reason = reasons.get(sender)
            if option == "reservations" and reason is None:
                continue
            found.append(
                {
                    "label": option_words(option),
                    "name": names.get(sender, sender),
                    "reason": reason,
                }
            )
    return found


# -- alliance-wide polls: one poll per room, counted together ----------------------------------


@dataclass(frozen=True)
class RoomVotes:
    """One room's responses to its copy of an alliance-wide poll, and who counts there."""

    ballots: Sequence[Ballot]
    closed_at: int | None = None
    """Responses sent after this are ignored (the room's poll ended then)."""
    members: Collection[str] | None = None
    """Only responses from these people count (the room's members); None: everyone's."""


def overall_tally(
    rooms: Iterable[RoomVotes], *, answer_ids: Sequence[str], max_selections: int
) -> Tally:
    """Everyone's votes across the rooms, each person once: their latest response anywhere.

    A response counts only where it would count in its own room's tally (in time, from a
    member). Of what remains, the tally's own rules apply to all rooms' responses together,
    so a later response in another room replaces an earlier one (on equal timestamps the
    room given later wins).
    """
    eligible: list[Ballot] = []
    for room in rooms:
        members = None if room.members is None else frozenset(room.members)
        eligible.extend(
            ballot
            for ballot in room.ballots
            if (room.closed_at is None or ballot.ts <= room.closed_at)
            and (members is None or ballot.sender in members)
        )
    eligible.sort(key=lambda ballot: ballot.ts)  # stable: equal times keep the rooms' order
    return tally(eligible, answer_ids=answer_ids, max_selections=max_selections)


@dataclass(frozen=True)
class OneVoice:
    """The "one movement, one voice" tally of an alliance-wide poll."""

    voices: dict[str, Fraction]
    """Each answer id (poll order) and the voices it got; a split voice gives fractions."""
    leading_by_movement: tuple[tuple[str, ...], ...]
    """Each movement's leading answer ids, in the order given; () when nobody voted there."""

    @property
    def voiced(self) -> int:
        """How many movements have a voice (somebody voted there)."""
        return sum(1 for leading in self.leading_by_movement if leading)

    @property
    def movements(self) -> int:
        return len(self.leading_by_movement)

    def leading(self) -> tuple[str, ...]:
        """The answer ids with the most voices, in poll order; several on a tie, none if none."""
        top = max(self.voices.values(), default=Fraction(0))
        if top == 0:
            return ()
        return tuple(answer for answer, voices in self.voices.items() if voices == top)


def one_voice(movements: Iterable[Tally], *, answer_ids: Sequence[str]) -> OneVoice:
    """Each movement's leading option counts once; a tie splits that movement's voice equally."""
    voices = dict.fromkeys(answer_ids, Fraction(0))
    leading_by_movement: list[tuple[str, ...]] = []
    for result in movements:
        leading = tuple(answer for answer in result.leading() if answer in voices)
        leading_by_movement.append(leading)
        for answer in leading:
            voices[answer] += Fraction(1, len(leading))
    return OneVoice(voices=voices, leading_by_movement=tuple(leading_by_movement))


def voice_text(voices: Fraction) -> str:
    """A number of voices as people read it: 2, 1/2, 1 1/3."""
    whole, part = divmod(voices, 1)
    if part == 0:
        return str(int(whole))
    fraction = f"{part.numerator}/{part.denominator}"
    return fraction if whole == 0 else f"{int(whole)} {fraction}"


def one_voice_rows(answers: Sequence[Answer], result: OneVoice) -> list[dict[str, Any]]:
    """One row per option, in the poll's order: number, text, voices (as text) and bar."""
    rows: list[dict[str, Any]] = []
    for number, answer in enumerate(answers, start=1):
        voices = result.voices.get(answer.id, Fraction(0))
        share = 0 if result.voiced == 0 else voices / result.voiced
        rows.append(
            {
                "number": number,
                "text": answer.text,
                "voices": voice_text(voices),
                "bar": bar(int(share * 100 + Fraction(1, 2))),
            }
        )
    return rows


def texts_of(answers: Sequence[Answer], answer_ids: Iterable[str]) -> list[str]:
    """The options' texts for these answer ids, in the order given."""
    texts = {answer.id: answer.text for answer in answers}
    return [texts[answer_id] for answer_id in answer_ids if answer_id in texts]
