"""The objectives family: common objectives, endorsements, and comparing movements.

Commands: `!objective propose`, `!objective import`, `!objectives`, `!endorse`, `!compare`
(three forms), `!bridging`.

Anyone in the commons may propose an objective; importing several at once takes a moderator
of the commons. A movement's stance on an objective is decided by a consensus poll in the
movement's own room (`!endorse`, anyone there); `commands.alliance.settle_decisions` records
it when the poll closes. Everything else here only reads; the computing is done by the plain
functions of `commands.compare`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from bot.permissions import Power
from commands import alliance_store as db
from commands import polls
from commands.alliance import (
    ALLIANCE_FLAG,
    TEXT_MAX,
    check_text,
    commons_alliance,
    find_objective,
    names_list,
    own_movement,
    quoted,
    read_alliance,
    room_link,
    short,
    take_alliance_flag,
)
from commands.alliance_store import Alliance, Movement, Objective, PollRef
from commands.args import tokenize
from commands.compare import (
    STANCE_MARKS,
    STANCE_WORDS,
    Board,
    MovementInfo,
    Stance,
    bridging,
    compare_objective,
    compare_pair,
    format_threshold,
    match_name,
    objective_number,
    percent,
    score_text,
    support,
    text_key,
    two_names,
)
from commands.decision import describe_rule
from commands.registry import Args, Command, CommandError, Context, Param, Registry, Reply

IMPORT_MAX: Final = 50
_BULLET: Final = re.compile(r"^(?:[-*•·–]\s+|#?\d+[.)]\s+|#\d+\s+)")


# -- proposing objectives ---------------------------------------------------------------------


def import_lines(text: str) -> list[str]:
    """One objective per line; list bullets and numbers in front are dropped."""
    lines = []
    for line in text.splitlines():
        line = _BULLET.sub("", line.strip()).strip()
        if line:
            lines.append(line)
    return lines


@dataclass(frozen=True)
class ImportPlan:
    """Which lines become objectives, and which are left out and why."""

    add: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def plan_import(lines: Sequence[str], existing: Mapping[str, int]) -> ImportPlan:
    """Decide each line: `existing` maps the text key of each objective to its number."""
    plan = ImportPlan()
    seen: set[str] = set()
    for line in lines:
        key = text_key(line)
        if len(line) > TEXT_MAX:
            plan.skipped.append((line, f"too long ({len(line)} characters, at most {TEXT_MAX})"))
        elif key in existing:
            plan.skipped.append((line, f"already objective #{existing[key]}"))
        elif key in seen:
            plan.skipped.append((line, "given twice"))
        else:
            seen.add(key)
            plan.add.append(line)
    return plan


async def _existing_keys(ctx: Context, alliance: Alliance) -> dict[str, int]:
    """Objectives not added by this very command (it may be handled a second time)."""
    return {
        text_key(o.text): o.number
        for o in await db.objectives_of(ctx.store, alliance.id)
        if o.command_event_id != ctx.event.event_id
    }


async def propose_objective(ctx: Context, args: Args) -> Reply:
    alliance = await commons_alliance(ctx, doing="propose common objectives")
    text = check_text(
        args.text("text"),
        what="objective",
        example=f"{ctx.prefix}objective propose Respect for nature",
    )
    added = await db.objectives_by_event(ctx.store, ctx.event.event_id)
    if not added:
        existing = await _existing_keys(ctx, alliance)
        if text_key(text) in existing:
            raise CommandError(
                f"That is already objective #{existing[text_key(text)]}. "
                f"Type {ctx.prefix}objectives to see them all."
            )
        added = await _add(ctx, alliance, [text])
    return Reply(
        "objective_proposed",
        {"alliance": alliance.name, "number": added[0].number, "text": added[0].text},
    )


async def import_objectives(ctx: Context, args: Args) -> Reply:
    alliance = await commons_alliance(ctx, doing="import common objectives")
    lines = import_lines(args.text("objectives"))
    if not lines:
        raise CommandError(
            "Put one objective per line after the command (Shift+Enter for a new line), e.g.\n"
            f"{ctx.prefix}objective import\nRespect for nature\nDemocratic procedures"
        )
    if len(lines) > IMPORT_MAX:
        raise CommandError(
            f"That is {len(lines)} objectives; at most {IMPORT_MAX} at once, please. "
            "Send them in parts."
        )
    plan = plan_import(lines, await _existing_keys(ctx, alliance))
    added = await db.objectives_by_event(ctx.store, ctx.event.event_id)
    if not added and plan.add:
        added = await _add(ctx, alliance, plan.add)
    return Reply(
        "objective_imported",
        {
            "alliance": alliance.name,
            "added": [{"number": o.number, "text": o.text} for o in added],
            "skipped": [{"text": short(text, 60), "why": why} for text, why in plan.skipped],
        },
    )


async def _add(ctx: Context, alliance: Alliance, texts: Sequence[str]) -> list[Objective]:
    try:
        return await db.add_objectives(
            ctx.store,
            alliance_id=alliance.id,
            texts=texts,
            proposed_by=ctx.sender,
            proposed_at=ctx.event.ts,
            event_id=ctx.event.event_id,
        )
    except db.Taken:
        raise CommandError(
            f"One of those is already an objective. Type {ctx.prefix}objectives to see them."
        ) from None


# -- listing ----------------------------------------------------------------------------------


async def _board(ctx: Context, alliance: Alliance) -> tuple[Board, list[Movement]]:
    active = await db.movements_of(ctx.store, alliance.id, statuses=("active",))
    return await db.board(ctx.store, alliance, movements=active), active


def _names(movements: Sequence[MovementInfo]) -> list[str]:
    return [m.name for m in movements]


async def list_objectives(ctx: Context, args: Args) -> Reply:
    alliance = await read_alliance(ctx, args.option("alliance"), command="objectives")
    board, _ = await _board(ctx, alliance)
    rows = []
    for objective in board.objectives:
        seen = support(board, objective)
        rows.append(
            {
                "number": objective.number,
                "text": objective.text,
                "common": seen.common,
                "endorsed": names_list(_names(seen.endorsed), empty=""),
                "endorsed_count": sum(1 for m in board.movements if board.endorses(m, objective)),
                "not_endorsed": names_list(_names(seen.not_endorsed), empty=""),
                "pending": names_list(_names(seen.pending), empty=""),
                "needed": seen.needed,
            }
        )
    return Reply(
        "objective_list",
        {
            "alliance": alliance.name,
            "objectives": rows,
            "active": len(board.movements),
            "threshold": format_threshold(alliance.threshold),
            "needed": board.threshold.needed(len(board.movements)) if board.movements else 0,
            "in_commons": alliance.commons_room_id == ctx.event.room_id,
        },
    )


# -- endorsing --------------------------------------------------------------------------------


async def endorse(ctx: Context, args: Args) -> Reply:
    alliance, movement = await own_movement(ctx, args.option("alliance"), command="endorse")
    objective = await find_objective(ctx, alliance, str(args.get("objective")))
    latest = await db.latest_stance(ctx.store, movement_id=movement.id, objective_id=objective.id)
    if (
        latest is not None
        and latest.state == "pending"
        and latest.command_event_id != ctx.event.event_id
    ):
        raise CommandError(
            f"A poll on objective #{objective.number} is already open in this room. "
            "Vote there; the stance is recorded when it closes."
        )
    poll = await polls.open_consensus_poll(
        ctx.services,
        room_id=ctx.event.room_id,
        proposal=(
            f"Does {movement.name} endorse objective #{objective.number} of {alliance.name}: "
            f"“{objective.text}”?"
        ),
        creator=ctx.event.sender,
        txn_key=ctx.event.event_id,
    )
    await db.open_endorsement(
        ctx.store,
        movement_id=movement.id,
        objective_id=objective.id,
        poll=PollRef(ctx.event.room_id, poll.id, poll.start_event_id),
        opened_at=ctx.event.ts,
        command_event_id=ctx.event.event_id,
    )
    return Reply(
        "objective_endorse_opened",
        {
            "number": objective.number,
            "text": objective.text,
            "movement": movement.name,
            "poll": poll.number,
            "was": (latest.state if latest is not None and latest.state != "pending" else ""),
            "rule": describe_rule(polls.rule_of(poll)),
        },
    )


# -- comparing --------------------------------------------------------------------------------


def _cell(stance: Stance) -> dict[str, Any]:
    return {
        "mark": STANCE_MARKS[stance.state],
        "word": STANCE_WORDS[stance.state],
        "state": stance.state,
    }


async def compare(ctx: Context, args: Args) -> Reply:
    wanted, text = take_alliance_flag(args.text("what"))
    alliance = await read_alliance(ctx, args.option("alliance") or wanted, command="compare")
    board, active = await _board(ctx, alliance)
    words = tokenize(text)
    if not words:
        return _matrix(ctx, alliance, board, active)
    if len(words) == 1 and objective_number(words[0]) is not None:
        objective = await find_objective(ctx, alliance, words[0])
        return _one_objective(alliance, board, objective)
    return await _two_movements(ctx, alliance, board, active, words)


def _matrix(ctx: Context, alliance: Alliance, board: Board, active: Sequence[Movement]) -> Reply:
    server = ctx.config.server_name
    rows = []
    for objective in board.objectives:
        seen = support(board, objective)
        rows.append(
            {
                "number": objective.number,
                "text": short(objective.text, 60),
                "common": seen.common,
                "endorsed": sum(1 for m in board.movements if board.endorses(m, objective)),
                "needed": seen.needed,
                "cells": [
                    dict(
                        _cell(board.stance(m, objective)),
                        movement=m.name,
                        label=f"{STANCE_MARKS[board.stance(m, objective).state]} {m.name}",
                    )
                    for m in board.movements
                ],
            }
        )
    return Reply(
        "compare_matrix",
        {
            "alliance": alliance.name,
            "movements": [
                {"name": m.name, "slug": m.slug, "link": room_link(m.room_id, server)}
                for m in active
            ],
            "rows": rows,
        },
    )


def _one_objective(alliance: Alliance, board: Board, objective: Objective) -> Reply:
    info = objective.info()
    seen = support(board, info)
    rows = []
    for entry in compare_objective(board, info):
        stance = entry.stance
        counts = stance.counts
        rows.append(
            dict(
                _cell(stance),
                movement=entry.movement.name,
                was=STANCE_WORDS[stance.decided] if stance.state == "pending" else "",
                votes=(
                    f"{counts.agree} agree, {counts.reservations} with reservations, "
                    f"{counts.stand_aside} stand aside, {counts.block} block"
                    if counts is not None
                    else ""
                ),
                blocks=list(stance.block_reasons) if stance.decided == "not_endorsed" else [],
                wording=entry.wording.text if entry.wording else "",
                item=entry.wording.item_number if entry.wording else None,
            )
        )
    return Reply(
        "compare_objective",
        {
            "alliance": alliance.name,
            "number": objective.number,
            "text": objective.text,
            "common": seen.common,
            "endorsed": len(seen.endorsed),
            "needed": seen.needed,
            "rows": rows,
        },
    )


async def _two_movements(
    ctx: Context,
    alliance: Alliance,
    board: Board,
    active: Sequence[Movement],
    words: Sequence[str],
) -> Reply:
    def find(typed: str) -> Movement | None:
        return match_name(typed, active, name=lambda m: m.name, slug=lambda m: m.slug).found

    names = two_names(words, lambda typed: find(typed) is not None)
    listed = names_list([f"{m.name} ({m.slug})" for m in active], empty="none yet")
    if names is None:
        if len(words) == 1:
            raise CommandError(
                f"Give two movements to compare, or one objective's number. Movements: {listed}. "
                f'Put a name of several words in quotes: {ctx.prefix}compare "Climate Camp" tenants'
            )
        raise CommandError(
            f"I could not find two movements in {quoted(' '.join(words))}. Movements: {listed}. "
            f'Put a name of several words in quotes: {ctx.prefix}compare "Climate Camp" tenants'
        )
    found = [find(typed) for typed in names]
    for typed, movement in zip(names, found, strict=True):
        if movement is None:
            raise CommandError(
                f"{quoted(typed)} is not an active movement of {alliance.name}. "
                f"Movements: {listed}."
            )
    a, b = (m for m in found if m is not None)
    if a.id == b.id:
        raise CommandError("Those are the same movement; give two different ones.")
    pair = compare_pair(board, a.info(), b.info())

    def entries(items: Sequence[Any]) -> list[dict[str, Any]]:
        return [
            {
                "number": e.objective.number,
                "text": e.objective.text,
                "wording_a": e.wording_a.text if e.wording_a else "",
                "wording_b": e.wording_b.text if e.wording_b else "",
            }
            for e in items
        ]

    return Reply(
        "compare_pair",
        {
            "alliance": alliance.name,
            "a": a.name,
            "b": b.name,
            "both": entries(pair.both),
            "only_a": entries(pair.only_a),
            "only_b": entries(pair.only_b),
            "neither": pair.neither,
        },
    )


async def show_bridging(ctx: Context, args: Args) -> Reply:
    alliance = await read_alliance(ctx, args.option("alliance"), command="bridging")
    board, _ = await _board(ctx, alliance)
    report = bridging(board)

    def view(rank: int, row: Any) -> dict[str, Any]:
        return {
            "rank": rank,
            "number": row.objective.number,
            "text": short(row.objective.text, 60),
            "score": score_text(row.score),
            "towards": names_list(_names(row.towards), empty=""),
            "away": names_list(_names(row.away), empty=""),
            "leans": [{"movement": m.name, "percent": percent(v)} for m, v in row.leans],
        }

    voted = any(
        board.stance(m, o).counts is not None for m in board.movements for o in board.objectives
    )
    return Reply(
        "bridging_ranking",
        {
            "alliance": alliance.name,
            "ranked": [view(i, row) for i, row in enumerate(report.ranked, start=1)],
            "dividing": [view(i, row) for i, row in enumerate(report.dividing, start=1)],
            "movements": len(board.movements),
            "voted": voted,
        },
    )


# -- registration -----------------------------------------------------------------------------

BRIDGING_HELP: Final = (
    "Bridging ranks the objectives by how much EVERY movement leans towards them, not by how "
    "many people like them overall. For each movement I take its latest endorsement poll on "
    "the objective and work out its lean: (Agree + Agree with reservations + 1) divided by "
    "(all votes + 2). A movement that has not voted yet counts as one half: neither for nor "
    "against. The score multiplies the leans of all active movements, so a single movement "
    "that leans away pulls the score down however keen the others are, and the top of the "
    "list is what can bring everyone together. An objective divides the alliance when at "
    "least one movement leans towards it and another leans away; those are listed apart, "
    "widest gap first. The idea is Pol.is's group-informed consensus, with the movements as "
    "the groups."
)


def register(registry: Registry) -> None:
    registry.family("objectives", "Common objectives and comparing", order=32)
    for command in COMMANDS:
        registry.add(command)


COMMANDS: Final = (
    Command(
        name="objective propose",
        family="objectives",
        summary="Put forward a common objective (in the commons)",
        handler=propose_objective,
        params=(Param("text", kind="text"),),
        help=(
            "Adds an objective to the alliance, with the next number. Each movement then "
            "decides in its own room whether to endorse it. Anyone in the commons room. "
            f"At most {TEXT_MAX} characters."
        ),
        examples=("{prefix}objective propose Respect for nature",),
    ),
    Command(
        name="objective import",
        family="objectives",
        summary="Propose several objectives at once, one per line (in the commons)",
        handler=import_objectives,
        params=(Param("objectives", kind="text"),),
        power=Power.MODERATOR,
        help=(
            "Put each objective on its own line after the command (Shift+Enter in Element). "
            "Bullets and numbers in front are dropped; duplicates are left out. Only "
            "moderators of the commons room."
        ),
        examples=(
            "{prefix}objective import\nRespect for nature\nDemocratic administrative procedures",
        ),
    ),
    Command(
        name="objectives",
        family="objectives",
        summary="List the alliance's objectives and who endorses each",
        handler=list_objectives,
        flags=(ALLIANCE_FLAG,),
        examples=("{prefix}objectives",),
    ),
    Command(
        name="endorse",
        family="objectives",
        summary="Decide by a consensus poll whether this movement endorses an objective",
        handler=endorse,
        params=(Param("objective"),),
        flags=(ALLIANCE_FLAG,),
        help=(
            "Opens a consensus poll in this movement's room. When it closes, the outcome is "
            "recorded as the movement's stance: endorsed, or not endorsed with the reasons of "
            "any blocks. A later poll can change it."
        ),
        examples=("{prefix}endorse 3",),
    ),
    Command(
        name="compare",
        family="objectives",
        summary="Compare movements: all of them, two, or on one objective",
        handler=compare,
        params=(Param("what", kind="text", optional=True),),
        flags=(ALLIANCE_FLAG,),
        help=(
            "Without anything: a table of every movement's stance on every objective. With two "
            "movements: what both endorse, what only one does, in their own words where their "
            "statements link them. With an objective's number: every movement's stance on it."
        ),
        examples=(
            "{prefix}compare",
            "{prefix}compare climate-camp tenants",
            "{prefix}compare 3",
        ),
    ),
    Command(
        name="bridging",
        family="objectives",
        summary="Rank objectives by how much every movement leans towards them",
        handler=show_bridging,
        flags=(ALLIANCE_FLAG,),
        help=BRIDGING_HELP,
        examples=("{prefix}bridging",),
    ),
)
