"""The polls family: straw polls, consensus polls and each room's decision rule.

Commands: `!poll`, `!poll results [N]`, `!poll list`, `!poll close [N]`, `!vote`,
`!consensus`, `!reason`, `!rules`, `!rules set`.

How a poll lives:

1. `!poll` / `!consensus` stores the poll (keyed by the command's event id, so a re-run after a
   crash finds it) and sends a native poll (`org.matrix.msc3381.poll.start`) with a
   transaction id derived from the command, so it is never posted twice.
2. Votes arrive as poll response events (Element's buttons), caught by a listener, or as
   `!vote` commands. Every response is stored; the tally is computed when needed by
   `commands.polls.tally.tally`, counting only members of the room. Redacting a response withdraws
   it. Voters who stand aside or block are asked for their reason in the poll's thread.
3. A poll closes by `!poll close`, by its deadline (a timer reads deadlines from SQLite, so
   this also happens after a restart, counting only votes sent before the deadline), or by
   a poll end event from someone allowed to redact others' messages (Element offers them
   "End poll"). Closing keeps a snapshot of the tally, sends the native end event and a
   results message.

Alliance-wide straw polls (`!poll --alliance` in an alliance's commons room, by a commons
moderator) post the same poll in the commons and in every active movement room, count the
votes together and close as one: see `commands.polls.groups`.

This module declares the family (its commands as data, its listeners and its deadline timer)
and is what other code imports. The work is done in:

- `commands.polls.commands`: the command handlers;
- `commands.polls.listeners`: native votes, poll ends and redactions;
- `commands.polls.lifecycle`: opening a room's poll, closing, sealing and announcing it, and
  the deadline timer's part for rooms' own polls;
- `commands.polls.groups`: alliance-wide polls, from opening to the deadline;
- `commands.polls.results`: the live tally, the results shown, decision rules, and the outcome
  of a closed consensus poll;
- `commands.polls.store` (SQL), `commands.polls.input` (reading what people type),
  `commands.polls.view` (native poll events, result rows), `commands.polls.tally`,
  `commands.polls.rules` and `commands.polls.deadlines` (plain domain logic).

For the next families: :func:`open_consensus_poll` opens a consensus poll from code and
:func:`consensus_outcome` (or :func:`consensus_result`, with the objections) gives the
structured outcome of a closed one.
"""

from __future__ import annotations

from typing import Final

from bot.contract import N_, Command, Flag, Listener, Param, Registry, Services, Timer
from bot.permissions import Power
from commands.polls.commands import (
    close_poll,
    create_consensus_poll,
    create_straw_poll,
    give_outcome,
    give_reason,
    list_polls,
    set_rules,
    show_results,
    show_rules,
    vote,
    who_hasnt_voted,
    withdraw_poll,
)
from commands.polls.deadlines import DeadlineError, duration_words, parse_deadline, parse_duration
from commands.polls.groups import CONSTITUENCIES, Constituency, Member, close_due_groups
from commands.polls.input import CLOSES_FLAG, POLL_FLAGS
from commands.polls.lifecycle import (
    CLOSED,
    close_due_room_polls,
    close_for,
    decision_closes_at,
    decision_deadline_s,
    open_consensus_poll,
    open_poll,
    start_event,
)
from commands.polls.listeners import on_end, on_redaction, on_response
from commands.polls.outcomes import MAX_OUTCOME, review_days, review_due
from commands.polls.reminders import remind_due
from commands.polls.results import (
    ConsensusResult,
    Objection,
    consensus_outcome,
    consensus_result,
    current_rule,
    decided_consensus_polls,
    live_tally,
    local_time,
    rule_of,
)
from commands.polls.settings import ROOM_SETTINGS, RoomSetting
from commands.polls.store import get_poll, open_polls, settled_among
from commands.polls.subjects import SUBJECTS, Subject
from commands.polls.view import END_TYPES, RESPONSE_TYPES

__all__ = [
    "CLOSED",
    "CLOSES_FLAG",
    "COMMANDS",
    "CONSTITUENCIES",
    "MAX_OUTCOME",
    "ROOM_SETTINGS",
    "SUBJECTS",
    "ConsensusResult",
    "Constituency",
    "DeadlineError",
    "Member",
    "Objection",
    "RoomSetting",
    "Subject",
    "close_due_polls",
    "close_for",
    "consensus_outcome",
    "consensus_result",
    "current_rule",
    "decided_consensus_polls",
    "decision_closes_at",
    "decision_deadline_s",
    "duration_words",
    "get_poll",
    "live_tally",
    "local_time",
    "open_consensus_poll",
    "open_poll",
    "open_polls",
    "parse_deadline",
    "parse_duration",
    "register",
    "review_days",
    "rule_of",
    "settled_among",
    "start_event",
]

DEADLINE_CHECK_S: Final = 5.0


async def close_due_polls(services: Services) -> None:
    """The deadline timer: close polls whose deadline passed, announce unannounced closes."""
    now = services.now_ms()
    await close_due_room_polls(services, now)
    await close_due_groups(services, now)
    await remind_due(services, now)
    await review_due(services, now)


def register(registry: Registry) -> None:
    registry.family("polls", N_("Polls and decisions"), order=10)
    for command in COMMANDS:
        registry.add(command)
    registry.listen(Listener("poll responses", RESPONSE_TYPES, on_response))
    registry.listen(Listener("poll ends", END_TYPES, on_end))
    registry.listen(Listener("poll redactions", frozenset({"m.room.redaction"}), on_redaction))
    registry.every(Timer("poll deadlines", DEADLINE_CHECK_S, close_due_polls))


NUMBER: Final = Param("number", kind="text", optional=True)

COMMANDS: Final = (
    Command(
        name="poll",
        family="polls",
        summary=N_("Start a straw poll that people answer with Element's poll buttons"),
        handler=create_straw_poll,
        params=(Param("question", kind="text"),),
        flags=POLL_FLAGS,
        help=N_(
            "Write the question on the first line and each option on its own line "
            "below it (Shift+Enter makes a new line), or put the question and the options "
            "in quotes on one line. "
            "A poll has 2 to 20 options. Times are in the bot's time zone. "
            "With --alliance, a moderator of an alliance's commons room asks every "
            "movement at once: votes from all the rooms are counted together, by "
            "movement, by person (each person once) and as one movement, one voice. "
            "It closes everywhere at once, from the commons."
        ),
        examples=(
            N_('{prefix}poll "Where do we meet?" "Park" "Library" "Online"'),
            N_('{prefix}poll --multi 2 --closes 48h "Which days?" "Mon" "Tue" "Wed"'),
            N_('{prefix}poll --alliance --closes 3d "Join the march?" "Yes" "No" "Not sure"'),
        ),
    ),
    Command(
        name="poll results",
        family="polls",
        summary=N_("Show a poll's results so far (the latest open poll, or poll number N)"),
        handler=show_results,
        params=(NUMBER,),
        help=N_(
            "Without a number, shows the poll you reply to, or else the latest open poll. "
            "Hidden polls show their results only once they close."
        ),
        examples=("{prefix}poll results", "{prefix}poll results 3"),
    ),
    Command(
        name="poll list",
        family="polls",
        summary=N_("List this room's open and recently closed polls"),
        handler=list_polls,
        examples=("{prefix}poll list",),
    ),
    Command(
        name="poll close",
        family="polls",
        summary=N_("Close a poll now and post its results (its creator or a moderator)"),
        handler=close_poll,
        params=(NUMBER,),
        help=N_(
            "Without a number, closes the poll you reply to, or else the latest open poll. "
            "The person who started the poll or a moderator may close it. An alliance-wide "
            "poll closes everywhere at once, from the commons room."
        ),
        examples=("{prefix}poll close", "{prefix}poll close 3"),
    ),
    Command(
        name="poll withdraw",
        family="polls",
        summary=N_("Take back a poll you opened: it closes and decides nothing"),
        handler=withdraw_poll,
        params=(NUMBER,),
        help=N_(
            "Only the person who opened the poll. It disappears from the room and no result "
            "is recorded: a decision for the movement is simply not taken. Without a number, "
            "withdraws the poll you reply to, or else the latest open poll."
        ),
        examples=("{prefix}poll withdraw", "{prefix}poll withdraw 3"),
    ),
    Command(
        name="vote",
        family="polls",
        summary=N_("Vote by text, for apps without poll buttons (reply to the poll)"),
        handler=vote,
        params=(Param("choices", kind="text"),),
        help=N_(
            "Reply to the poll (or write in its thread) with the number of your choice, "
            "or several numbers for polls that allow them. Voting again changes your vote; "
            "'{prefix}vote none' withdraws it."
        ),
        examples=("{prefix}vote 2", "{prefix}vote 1,3", "{prefix}vote block"),
    ),
    Command(
        name="consensus",
        family="polls",
        summary=N_("Put a proposal to a consensus poll (Agree, Reservations, Stand aside, Block)"),
        handler=create_consensus_poll,
        params=(Param("proposal", kind="text"),),
        flags=(CLOSES_FLAG,),
        help=N_(
            "The proposal is decided by the room's decision rule (see {prefix}rules) "
            "as it is when the poll opens. People who stand aside or block are asked "
            "for their reason."
        ),
        examples=(
            N_("{prefix}consensus We join the climate march on Saturday"),
            N_("{prefix}consensus --closes 3d We co-sign the open letter"),
        ),
    ),
    Command(
        name="reason",
        family="polls",
        summary=N_("Give the reason for your vote in a consensus poll (in its thread)"),
        handler=give_reason,
        params=(Param("reason", kind="text"),),
        help=N_(
            "Write it in the poll's thread or as a reply to the poll. Your latest reason "
            "is listed with the result."
        ),
        examples=(N_("{prefix}reason The route is not accessible for wheelchairs"),),
    ),
    Command(
        name="rules",
        family="polls",
        summary=N_("Show how this room decides consensus polls"),
        handler=show_rules,
        examples=("{prefix}rules",),
    ),
    Command(
        name="outcome",
        family="polls",
        summary=N_("Say in a sentence what a closed consensus poll decided"),
        handler=give_outcome,
        params=(Param("text", kind="text"),),
        flags=(Flag("review", "WHEN", N_("ask the room again then: 6m, 1y, 2w, 30d")),),
        help=N_(
            "Reply to the poll, or write it in the poll's thread: whoever opened the poll, "
            "or a moderator. It is shown with the results. With --review 1y, a year from "
            "now I open a new decision poll asking whether the room still agrees. For an "
            "alliance proposal, write it in the proposal's thread in the commons (whoever "
            "made it, or a commons moderator): --review then asks every movement again."
        ),
        examples=(
            N_("{prefix}outcome We march on Saturday, from the station at 10"),
            N_("{prefix}outcome --review 6m We share one legal team"),
        ),
    ),
    Command(
        name="whohasnt",
        family="polls",
        summary=N_("Who has not voted in a poll yet (names for moderators, a count for others)"),
        handler=who_hasnt_voted,
        params=(NUMBER,),
        help=N_(
            "Reply to a poll, or give its number; without either, the latest open poll. "
            "Moderators see the names of the room's members who have not voted; others see "
            "how many. Who voted how is never shown. In the commons, "
            "'{prefix}whohasnt proposal 2' (or '{prefix}whohasnt' in a proposal's thread) "
            "lists the movements without a position yet, and their spokes."
        ),
        examples=("{prefix}whohasnt", "{prefix}whohasnt 2", "{prefix}whohasnt proposal 1"),
    ),
    Command(
        name="rules set",
        family="polls",
        summary=N_("Change how this room decides consensus polls"),
        handler=set_rules,
        params=(Param("rule", kind="text"),),
        power=Power.MODERATOR,
        help=N_(
            "Rules: consensus (no Block and at least one Agree), modified-consensus 90% "
            "(a Block is heard, but it passes with 90% Agree or Reservations), majority, "
            "supermajority 2/3; each may add a quorum (minimum voters). "
            "'{prefix}rules set quorum 5' changes only the quorum. Polls already open "
            "keep the rule they opened with. '{prefix}rules set deadline 3d' sets how long "
            "the polls that decide for the movement (endorsements, statement changes) stay "
            "open: 24 hours unless changed. In a movement of an alliance, "
            "'{prefix}rules set position spokes' lets its spokes give its position on the "
            "alliance's proposals (see {prefix}help spokes). '{prefix}rules set reminder "
            "12h' posts one reminder 12 hours before a poll closes (24 hours unless changed; "
            "'off' for none); '{prefix}rules set remind mention' lets it mention the members "
            "who have not voted (never those who have), 'quiet' stops that. In a "
            "movement: '{prefix}rules set review 1y' asks the room again every year about "
            "each item of its statement and each endorsement; '{prefix}rules set digest "
            "weekly' brings the alliance's weekly digest here; '{prefix}rules set public no' "
            "keeps its statement off the alliance's public page and '{prefix}rules set "
            "reasons public' lets the reasons for blocking appear there."
        ),
        examples=(
            "{prefix}rules set consensus",
            "{prefix}rules set modified-consensus 90%",
            "{prefix}rules set supermajority 2/3 quorum 5",
            "{prefix}rules set quorum 3",
            "{prefix}rules set deadline 3d",
        ),
    ),
)
