"""The council family: proposals the alliance decides movement by movement.

A commons opens a proposal (`!proposal`); every movement decides its position by a consensus
poll in its own room, under its own room's rule; the alliance's rule (`!alliance set rule`)
counts the movements' positions, never people. `proposals` holds the commands and the
reconciler that posts, records and announces; SQL in `store`; pure logic (positions, the
alliance's rules, the outcome, what an amendment changed) in `rules`; `settings` are the
council's settings of `!alliance set`.
"""

from __future__ import annotations

from typing import Final

from bot.contract import Command, Param, Registry, Timer
from bot.permissions import Power
from commands import polls
from commands.alliance.settings import SETTINGS
from commands.alliance.shared import ALLIANCE_FLAG
from commands.council.proposals import (
    CHANGED,
    agreements_command,
    amend_command,
    close_command,
    list_command,
    proposal_command,
    reconcile,
)
from commands.council.settings import ProposersSetting, RuleSetting
from commands.council.store import move_room

__all__ = ["move_room", "register"]

CHECK_S: Final = 2.0


def register(registry: Registry) -> None:
    registry.family("council", "Deciding together", order=35)
    for command in COMMANDS:
        registry.add(command)
    registry.provide(SETTINGS, (RuleSetting(), ProposersSetting()))
    registry.every(
        Timer("council", CHECK_S, reconcile, woken_by=frozenset({CHANGED, polls.CLOSED}))
    )


COMMANDS: Final = (
    Command(
        name="proposal",
        family="council",
        summary="Put a proposal to every movement of the alliance (in the commons), or show one",
        handler=proposal_command,
        params=(Param("proposal", kind="text"),),
        flags=(polls.CLOSES_FLAG, ALLIANCE_FLAG),
        help=(
            "In the commons: every movement gets the proposal in its own room with a "
            "consensus poll, and decides its position under its own rule. When every movement "
            "has decided (or the proposal closes, after 7 days unless --closes says otherwise), "
            "I count the movements under the alliance's rule and post the outcome everywhere. "
            "Discuss it in the proposal's thread in the commons. Commons moderators propose "
            "(or every member, after '{prefix}alliance set proposers members'). "
            "With a number, shows that proposal: each movement's position so far."
        ),
        examples=(
            "{prefix}proposal We hold a joint day of action on 1 May",
            "{prefix}proposal 3",
        ),
    ),
    Command(
        name="proposals",
        family="council",
        summary="List the alliance's proposals, open ones first",
        handler=list_command,
        flags=(ALLIANCE_FLAG,),
        help="Lists the alliance's latest proposals, open and decided.",
        examples=("{prefix}proposals",),
    ),
    Command(
        name="proposal close",
        family="council",
        summary="Close a proposal early (commons moderators)",
        handler=close_command,
        params=(Param("number", kind="int"),),
        power=Power.MODERATOR,
        help=(
            "Counts the movements now: those still deciding take no position. Their polls close."
        ),
        examples=("{prefix}proposal close 3",),
    ),
    Command(
        name="proposal amend",
        family="council",
        summary="Ask every movement again, with a new text (a new round)",
        handler=amend_command,
        params=(Param("number", kind="int"), Param("text", kind="text")),
        flags=(polls.CLOSES_FLAG,),
        help=(
            "After a round that did not pass or drew reservations: I show what changed and "
            "every movement decides again. Commons moderators or whoever proposed it."
        ),
        examples=("{prefix}proposal amend 3 We hold a joint day of action on 2 May",),
    ),
    Command(
        name="agreements",
        family="council",
        summary="List the alliance's agreements: the proposals that passed",
        handler=agreements_command,
        flags=(ALLIANCE_FLAG,),
        help=(
            "Each agreement with its text, date, the rule it passed by, and which movements "
            "agreed, stood aside or blocked. Only another proposal changes an agreement."
        ),
        examples=("{prefix}agreements",),
    ),
)
