"""The council family: proposals the alliance decides movement by movement.

A commons opens a proposal (`!proposal`); every movement decides its position by a consensus
poll in its own room, under its own room's rule; the alliance's rule (`!alliance set rule`)
counts the movements' positions, never people. `proposals` holds the commands and the
reconciler that posts, records and announces; SQL in `store`; pure logic (positions, the
alliance's rules, the outcome, what an amendment changed) in `rules`; `settings` are the
council's settings of `!alliance set`.
"""

from __future__ import annotations

from functools import partial
from typing import Final

from bot.contract import N_, Command, Flag, Listener, Param, Registry, Timer
from bot.pages import PAGE_FLAG, Fit
from bot.permissions import Power
from commands import polls
from commands.alliance.settings import COMPARE_FORMS, SETTINGS
from commands.alliance.shared import ALLIANCE_FLAG
from commands.council.outcomes import ProposalSubject, keep_up
from commands.council.proposals import (
    AgreementsForm,
    agreements_command,
    amend_command,
    close_command,
    list_command,
    proposal_command,
)
from commands.council.settings import ProposersSetting, RuleSetting
from commands.council.spokes import (
    CHANGED,
    PositionSetting,
    TermSetting,
    add_command,
    elect_command,
    on_thread_message,
    position_command,
    remove_command,
)
from commands.council.spokes import list_command as list_spokes
from commands.council.store import move_room

__all__ = ["move_room", "register"]

CHECK_S: Final = 2.0


def register(registry: Registry) -> None:
    registry.family("council", N_("Deciding together"), order=35)
    fit = Fit()
    for command in commands(fit):
        registry.add(command)
    registry.offer(SETTINGS, RuleSetting(), ProposersSetting())
    registry.offer(COMPARE_FORMS, AgreementsForm(fit))
    registry.offer(polls.ROOM_SETTINGS, PositionSetting(), TermSetting())
    registry.offer(polls.SUBJECTS, ProposalSubject())
    registry.listen(
        Listener("spokes in proposal threads", frozenset({"m.room.message"}), on_thread_message)
    )
    registry.every(Timer("council", CHECK_S, keep_up, woken_by=frozenset({CHANGED, polls.CLOSED})))


def commands(fit: Fit) -> tuple[Command, ...]:
    """The family's commands; `!proposal N` measures its pages with `fit`."""
    return (
        Command(
            name="proposal",
            family="council",
            summary=N_("Put a proposal to every movement (in the commons), or show one"),
            handler=partial(proposal_command, fit),
            params=(Param("proposal", kind="text"),),
            flags=(polls.CLOSES_FLAG, ALLIANCE_FLAG, PAGE_FLAG),
            help=N_(
                "In the commons: every movement gets the proposal in its own room with a "
                "consensus poll, and decides its position under its own rule. When every "
                "movement has decided (or the proposal closes, after 7 days unless --closes "
                "says otherwise), I count the movements under the alliance's rule and post "
                "the outcome everywhere. "
                "Discuss it in the proposal's thread in the commons. Commons moderators propose "
                "(or every member, after '{prefix}alliance set proposers members'). "
                "With a number, shows that proposal: each movement's position so far."
            ),
            examples=(
                N_("{prefix}proposal We hold a joint day of action on 1 May"),
                "{prefix}proposal 3",
            ),
        ),
        Command(
            name="proposals",
            family="council",
            summary=N_("List the alliance's proposals, open ones first"),
            handler=list_command,
            flags=(ALLIANCE_FLAG,),
            help=N_("Lists the alliance's latest proposals, open and decided."),
            examples=("{prefix}proposals",),
        ),
        Command(
            name="proposal close",
            family="council",
            summary=N_("Close a proposal early (commons moderators)"),
            handler=close_command,
            params=(Param("number", kind="int"),),
            power=Power.MODERATOR,
            help=N_(
                "Counts the movements now: those still deciding take no position. "
                "Their polls close."
            ),
            examples=("{prefix}proposal close 3",),
        ),
        Command(
            name="proposal amend",
            family="council",
            summary=N_("Ask every movement again, with a new text (a new round)"),
            handler=amend_command,
            params=(Param("number", kind="int"), Param("text", kind="text")),
            flags=(polls.CLOSES_FLAG,),
            help=N_(
                "After a round that did not pass or drew reservations: I show what changed and "
                "every movement decides again. Commons moderators or whoever proposed it."
            ),
            examples=(N_("{prefix}proposal amend 3 We hold a joint day of action on 2 May"),),
        ),
        Command(
            name="agreements",
            family="council",
            summary=N_("List the alliance's agreements: the proposals that passed"),
            handler=agreements_command,
            flags=(ALLIANCE_FLAG,),
            help=N_(
                "Each agreement with its text, date, the rule it passed by, and which movements "
                "agreed, stood aside or blocked. Only another proposal changes an agreement."
            ),
            examples=("{prefix}agreements",),
        ),
        Command(
            name="spokes",
            family="council",
            summary=N_("List a movement's spokes (in the commons: every movement's)"),
            handler=list_spokes,
            flags=(ALLIANCE_FLAG,),
            help=N_(
                "Spokes speak for their movement in the alliance, for a term (13 weeks unless "
                "'{prefix}rules set spoke-term 26w'); then I ask the movement to renew or rotate. "
                "With '{prefix}rules set position spokes', a movement's spokes give its position "
                "on the alliance's proposals in the commons, instead of a poll in its room."
            ),
            examples=("{prefix}spokes",),
        ),
        Command(
            name="spokes add",
            family="council",
            summary=N_("Name a spoke of this movement, or renew their term (moderators)"),
            handler=add_command,
            params=(Param("person"),),
            power=Power.MODERATOR,
            help=N_("The person must be in this room. Naming a spoke again starts a new term."),
            examples=("{prefix}spokes add @ana:example.org",),
        ),
        Command(
            name="spokes remove",
            family="council",
            summary=N_("Take back a spoke's mandate (moderators)"),
            handler=remove_command,
            params=(Param("person"),),
            power=Power.MODERATOR,
            help=N_("The person no longer speaks for this movement."),
            examples=("{prefix}spokes remove @ana:example.org",),
        ),
        Command(
            name="spokes elect",
            family="council",
            summary=N_("Let the movement elect a spoke by a decision poll"),
            handler=elect_command,
            params=(Param("person"),),
            flags=(polls.CLOSES_FLAG,),
            help=N_(
                "Opens a consensus poll in this room under its own rule; if it passes, the "
                "person is a spoke for a term."
            ),
            examples=("{prefix}spokes elect @ana:example.org",),
        ),
        Command(
            name="position",
            family="council",
            summary=N_(
                "Give your movement's position on a proposal, as its spoke (in the commons)"
            ),
            handler=position_command,
            params=(
                Param("number", kind="int"),
                Param("position"),
                Param("reason", kind="text", optional=True),
            ),
            flags=(Flag("movement", "NAME", N_("which movement, if you speak for several")),),
            help=N_(
                "Only for movements whose room says '{prefix}rules set position spokes', after "
                "the movement discussed it: agree, reservations, stand-aside or block, with the "
                "reason in the movement's words. A position once given stays."
            ),
            examples=(N_("{prefix}position 3 reservations Only if the date moves to a weekend"),),
        ),
    )
