"""The objectives family: common objectives, endorsements, and comparing movements.

Commands: `!objective propose`, `!objective import`, `!objectives`, `!endorse`, `!compare`
(three forms), `!bridging`.

Anyone in the commons may propose an objective; importing several at once takes a moderator
of the commons. A movement's stance on an objective is decided by a consensus poll in the
movement's own room (`!endorse`, anyone there); `commands.alliance.decisions.settle_decisions`
records it when the poll closes. Everything else here only reads; the computing is done by the
plain functions of `commands.alliance.compare`, on a `Board` the store reads in a few queries
whatever the alliance's size.

Answers that grow with the alliance (`!objectives`, `!compare` in its three forms, `!bridging`,
the `!objective import` confirmation) must fit one Matrix event, or the homeserver refuses
them and the person gets no answer at all. The rendering service `bot.pages` measures them:
a long answer is cut into pages (`--page N`; the `!compare` table a few movements side by side
per page), long lists of movements end in "and N more", and texts are shortened only as a
last resort. A small alliance's answers
fit on one page and say nothing about pages.

The family's sentences are in `templates/refusals/objectives.txt`; lists of names come from
`templates/refusals/alliance.txt`, stances and thresholds from `compare.txt`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

from bot.contract import (
    N_,
    Args,
    Command,
    CommandError,
    Context,
    Param,
    Registry,
    Reply,
    Words,
    short,
    tokenize,
)
from bot.pages import PAGE_FLAG, SHORT_TEXT, Fit, Layout, page_view, wanted_page
from bot.permissions import Power
from commands import polls
from commands.alliance import objectives_store
from commands.alliance.compare import (
    STANCE_MARKS,
    Board,
    Bridging,
    MovementInfo,
    MovementStance,
    ObjectiveInfo,
    PairEntry,
    Wording,
    bridging,
    compare_objective,
    compare_pair,
    support,
)
from commands.alliance.names import objective_number, split_names, text_key
from commands.alliance.objectives_store import Objective
from commands.alliance.settings import compare_forms
from commands.alliance.shared import (
    ALLIANCE_FLAG,
    TEXT_MAX,
    check_text,
    clip,
    commons_alliance,
    find_named,
    find_objective,
    own_movement,
    read_alliance,
    words_stay_in,
)
from commands.alliance.store import Alliance, Movement, PollRef, Taken, movements_of
from commands.alliance.thresholds import threshold_words
from commands.links import room_link
from commands.polls.rules import rule_words

IMPORT_MAX: Final = 50
_BULLET: Final = re.compile(r"^(?:[-*•·–]\s+|#?\d+[.)]\s+|#\d+\s+)")


# -- replies that fit one event ---------------------------------------------------------------

MATRIX_COLUMNS: Final = 15
"""Movements side by side on one page of the `!compare` table, at most."""
MATRIX_FEWEST_COLUMNS: Final = 5
"""Fewer than this and a page of the table shows fewer objectives instead."""
NAMES_LISTED: Final = 8
"""A list of movements up to this long is given in full."""
NAMES_SHOWN: Final = 3
"""A longer one: this many names, then "and N more"."""


def again_command(ctx: Context, command: str, alliance: Alliance | None) -> Callable[[int], str]:
    """The command that shows page n (naming the alliance when the person named it)."""
    named = f" --alliance {alliance.slug}" if alliance is not None else ""
    return lambda number: f"{ctx.prefix}{command}{named} --page {number}"


def cut_text(text: str, cut: int | None) -> str:
    return text if cut is None else short(text, cut)


def some_names(movements: Sequence[MovementInfo]) -> tuple[Words | None, bool]:
    """`A, B and C`; a long list as its first names and "and N more" (None for no names). True
    when cut."""
    names = [m.name for m in movements]
    if not names:
        return None, False
    if len(names) <= NAMES_LISTED:
        return Words("alliance.some", {"names": names, "more": 0}), False
    more = len(names) - NAMES_SHOWN
    return Words("alliance.some", {"names": names[:NAMES_SHOWN], "more": more}), True


def weight(value: Any) -> int:
    """A row's share of a reply's text (for finding the heaviest page)."""
    return len(json.dumps(value, default=str))


def span(items: range, total: int, what: str) -> Words:
    """`objectives 1 to 25 of 50` (`what`: objectives or movements)."""
    return Words("objectives.span", _span(items, total, what))


def _span(items: range, total: int, what: str) -> dict[str, Any]:
    return {
        "what": what,
        "first": items.start + 1,
        "last": None if len(items) == 1 else items.stop,
        "total": total,
    }


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
    skipped: list[tuple[str, Words]] = field(default_factory=list)


def plan_import(lines: Sequence[str], existing: Mapping[str, int]) -> ImportPlan:
    """Decide each line: `existing` maps the text key of each objective to its number."""
    plan = ImportPlan()
    seen: set[str] = set()
    for line in lines:
        key = text_key(line)
        if len(line) > TEXT_MAX:
            why = Words("objectives.skip_too_long", {"length": len(line), "limit": TEXT_MAX})
            plan.skipped.append((line, why))
        elif key in existing:
            plan.skipped.append((line, Words("objectives.skip_exists", {"number": existing[key]})))
        elif key in seen:
            plan.skipped.append((line, Words("objectives.skip_twice")))
        else:
            seen.add(key)
            plan.add.append(line)
    return plan


async def _existing_keys(ctx: Context, alliance: Alliance) -> dict[str, int]:
    """Objectives not added by this very command (it may be handled a second time)."""
    return {
        text_key(o.text): o.number
        for o in await objectives_store.objectives_of(ctx.store, alliance.id)
        if o.command_event_id != ctx.event.event_id
    }


async def propose_objective(ctx: Context, args: Args) -> Reply:
    alliance = await commons_alliance(ctx, doing="propose")
    text = check_text(args.text("text"), what="objective")
    added = await objectives_store.objectives_by_event(ctx.store, ctx.event.event_id)
    if not added:
        existing = await _existing_keys(ctx, alliance)
        if text_key(text) in existing:
            raise CommandError("objectives.already_objective", number=existing[text_key(text)])
        added = await _add(ctx, alliance, [text])
    return Reply(
        "objective_proposed",
        {"alliance": alliance.name, "number": added[0].number, "text": added[0].text},
    )


async def import_objectives(fit: Fit, ctx: Context, args: Args) -> Reply:
    alliance = await commons_alliance(ctx, doing="import")
    lines = import_lines(args.text("objectives"))
    if not lines:
        raise CommandError("objectives.import_nothing")
    if len(lines) > IMPORT_MAX:
        raise CommandError("objectives.import_too_many", count=len(lines), limit=IMPORT_MAX)
    plan = plan_import(lines, await _existing_keys(ctx, alliance))
    added = await objectives_store.objectives_by_event(ctx.store, ctx.event.event_id)
    if not added and plan.add:
        added = await _add(ctx, alliance, plan.add)

    def reply(cut: int | None) -> Reply:
        return Reply(
            "objective_imported",
            {
                "alliance": alliance.name,
                "added": [{"number": o.number, "text": cut_text(o.text, cut)} for o in added],
                "skipped": [
                    {"text": short(text, min(60, cut or 60)), "why": why}
                    for text, why in plan.skipped
                ],
            },
        )

    # Fifty objectives of 500 characters do not fit in one message: then shortened.
    return fit.first(
        [reply(cut) for cut in (None, SHORT_TEXT, 40, 20)], prefix=ctx.prefix, language=ctx.language
    )


async def _add(ctx: Context, alliance: Alliance, texts: Sequence[str]) -> list[Objective]:
    try:
        return await objectives_store.add_objectives(
            ctx.store,
            alliance_id=alliance.id,
            texts=texts,
            proposed_by=ctx.sender,
            proposed_at=ctx.event.ts,
            event_id=ctx.event.event_id,
        )
    except Taken:
        raise CommandError("objectives.one_exists") from None


# -- listing ----------------------------------------------------------------------------------


async def _board(ctx: Context, alliance: Alliance) -> tuple[Board, list[Movement]]:
    """The alliance ready to compare: a few queries, however many movements it has."""
    active = await movements_of(ctx.store, alliance.id, statuses=("active",))
    return await objectives_store.board(ctx.store, alliance, movements=active), active


def _named(args: Args, alliance: Alliance) -> Alliance | None:
    """The alliance, when the person named it (so that the next page's command names it too)."""
    return alliance if args.option("alliance") else None


def _objective_row(board: Board, objective: ObjectiveInfo) -> dict[str, Any]:
    seen = support(board, objective)
    endorsed, more_endorsed = some_names(seen.endorsed)
    not_endorsed, more_not = some_names(seen.not_endorsed)
    pending, more_pending = some_names(seen.pending)
    return {
        "number": objective.number,
        "text": objective.text,
        "common": seen.common,
        "endorsed": endorsed,
        "endorsed_count": seen.endorsing,
        "not_endorsed": not_endorsed,
        "pending": pending,
        "needed": seen.needed,
        "cut": more_endorsed or more_not or more_pending,
    }


async def list_objectives(fit: Fit, ctx: Context, args: Args) -> Reply:
    page = wanted_page(args)
    alliance = await read_alliance(ctx, args.option("alliance"), command="objectives")
    board, _ = await _board(ctx, alliance)
    rows = [_objective_row(board, objective) for objective in board.objectives]
    again = again_command(ctx, "objectives", _named(args, alliance))
    active = len(board.movements)

    def build(layout: Layout, number: int, cut: int | None) -> Reply:
        shown, _ = layout.page(number)
        return Reply(
            "objective_list",
            {
                "alliance": alliance.name,
                "objectives": [dict(rows[i], text=cut_text(rows[i]["text"], cut)) for i in shown],
                "cut": any(rows[i]["cut"] for i in shown),
                "active": active,
                "threshold": threshold_words(alliance.threshold),
                "needed": board.threshold.needed(active) if active else 0,
                "in_commons": alliance.commons_room_id == ctx.event.room_id,
                "page": page_view(layout, number, again, span(shown, len(rows), "objectives")),
            },
        )

    return fit.page(
        build,
        prefix=ctx.prefix,
        language=ctx.language,
        wanted=page,
        again=again,
        row_weights=[weight(row) for row in rows],
    )


# -- endorsing --------------------------------------------------------------------------------


async def endorse(ctx: Context, args: Args) -> Reply:
    alliance, movement = await own_movement(ctx, args.option("alliance"), command="endorse")
    objective = await find_objective(ctx, alliance, str(args.get("objective")))
    latest = await objectives_store.latest_stance(
        ctx.store, movement_id=movement.id, objective_id=objective.id
    )
    if (
        latest is not None
        and latest.state == "pending"
        and latest.command_event_id != ctx.event.event_id
    ):
        raise CommandError("objectives.poll_open", number=objective.number)
    closes_at = await polls.decision_closes_at(ctx, args.option("closes"))
    poll = await polls.open_consensus_poll(
        ctx.services,
        room_id=ctx.event.room_id,
        proposal=ctx.services.say(
            ctx.event.room_id,
            Words(
                "objectives.endorse_question",
                {
                    "movement": movement.name,
                    "number": objective.number,
                    "alliance": alliance.name,
                    "text": objective.text,
                },
            ),
        ),
        creator=ctx.event.sender,
        txn_key=ctx.event.event_id,
        closes_at=closes_at,
        decision=True,
    )
    await objectives_store.open_endorsement(
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
            "rule": rule_words(polls.rule_of(poll)),
            "closes": polls.local_time(poll.closes_at or closes_at, ctx),
        },
    )


# -- comparing --------------------------------------------------------------------------------

CHOICES_SHOWN: Final = 20
"""Movements named in a refusal, at most (then: how to list them all)."""
BLOCKS_SHOWN: Final = 5
"""Block reasons shown per movement when texts must be cut short."""


async def compare(fit: Fit, ctx: Context, args: Args) -> Reply:
    page = wanted_page(args)
    alliance = await read_alliance(ctx, args.option("alliance"), command="compare")
    board, active = await _board(ctx, alliance)
    named = _named(args, alliance)
    words = tokenize(args.text("what"))
    if not words:
        return _matrix(fit, ctx, alliance, board, active, page=page, named=named)
    for form in compare_forms(ctx.registry):
        if len(words) == 1 and words[0].lower() == form.name:
            return await form.compare(ctx, alliance, page=page)
    number = objective_number(words[0]) if len(words) == 1 else None
    if number is not None:
        objective = next((o for o in board.objectives if o.number == number), None)
        if objective is None:  # find_objective says which there are
            objective = (await find_objective(ctx, alliance, words[0])).info()
        sealed = sealed_movements(ctx, active)
        return _one_objective(
            fit, ctx, alliance, board, objective, page=page, named=named, sealed=sealed
        )
    return _two_movements(fit, ctx, alliance, board, active, words, page=page, named=named)


def _matrix(
    fit: Fit,
    ctx: Context,
    alliance: Alliance,
    board: Board,
    active: Sequence[Movement],
    *,
    page: int,
    named: Alliance | None,
) -> Reply:
    """The table of every movement's stance on every objective, a few movements per page."""
    server = ctx.config.server_name
    movements = board.movements
    columns = [
        {"name": m.name, "slug": m.slug, "link": room_link(m.room_id, server)} for m in active
    ]
    rows: list[dict[str, Any]] = []
    for objective in board.objectives:
        seen = support(board, objective)
        rows.append(
            {
                "number": objective.number,
                "text": short(objective.text, 60),
                "common": seen.common,
                "endorsed": seen.endorsing,
                "needed": seen.needed,
            }
        )
    again = again_command(ctx, "compare", named)

    def build(layout: Layout, number: int, cut: int | None) -> Reply:
        shown_rows, shown_columns = layout.page(number)
        here = [movements[i] for i in shown_columns]
        page_rows = []
        for i in shown_rows:
            objective = board.objectives[i]
            cells = []
            for movement in here:
                mark = STANCE_MARKS[board.stance(movement, objective).state]
                cells.append({"mark": mark, "label": f"{mark} {movement.name}"})
            page_rows.append(dict(rows[i], text=cut_text(rows[i]["text"], cut), cells=cells))
        what = _span(shown_columns, len(movements), "movements")
        what["names"] = [here[0].name, here[-1].name] if len(here) > 1 else None
        what["objectives"] = None
        if len(layout.rows) > 1:
            first, last = board.objectives[shown_rows[0]], board.objectives[shown_rows[-1]]
            what["objectives"] = [first.number, last.number]
        return Reply(
            "compare_matrix",
            {
                "alliance": alliance.name,
                "movements": [columns[i] for i in shown_columns],
                "rows": page_rows,
                "page": page_view(layout, number, again, Words("objectives.matrix_page", what)),
            },
        )

    return fit.page(
        build,
        prefix=ctx.prefix,
        language=ctx.language,
        wanted=page,
        again=again,
        row_weights=[weight(row["text"]) for row in rows],
        # A name shows in its column's head and on every row of the plain text.
        column_weights=[weight(c["name"]) * (len(rows) + 1) + weight(c["link"]) for c in columns],
        most_columns=MATRIX_COLUMNS,
        fewest_columns=MATRIX_FEWEST_COLUMNS,
    )


def sealed_movements(ctx: Context, active: Sequence[Movement]) -> frozenset[int]:
    """The movements whose words stay in their encrypted room when asked about from here
    (see `words_stay_in`)."""
    return frozenset(m.id for m in active if words_stay_in(ctx, m.room_id))


def _stance_row(entry: MovementStance, *, sealed: bool = False) -> dict[str, Any]:
    """One movement's stance; the block reasons typed in its room only when they may be shown
    here (`sealed`: its room is encrypted and this one is not; then only how many there are)."""
    stance = entry.stance
    counts = stance.counts
    reasons = list(stance.block_reasons) if stance.decided == "not_endorsed" else []
    return {
        "mark": STANCE_MARKS[stance.state],
        "word": Words("compare.stance", {"state": stance.state}),
        "state": stance.state,
        "movement": entry.movement.name,
        "was": (
            Words("compare.stance", {"state": stance.decided})
            if stance.state == "pending"
            else None
        ),
        "votes": (
            Words(
                "compare.votes",
                {
                    "agree": counts.agree,
                    "reservations": counts.reservations,
                    "stand_aside": counts.stand_aside,
                    "block": counts.block,
                },
            )
            if counts is not None
            else None
        ),
        "blocks": [] if sealed else reasons,
        "blocks_more": 0,
        "blocks_hidden": len(reasons) if sealed else 0,
        "words_hidden": sealed and entry.wording is not None,
        "wording": entry.wording.text if entry.wording and not sealed else "",
        "item": entry.wording.item_number if entry.wording else None,
    }


def _cut_stance_row(row: dict[str, Any], cut: int | None) -> dict[str, Any]:
    if cut is None:
        return row
    blocks = [short(reason, cut) for reason in row["blocks"][:BLOCKS_SHOWN]]
    more = max(0, len(row["blocks"]) - BLOCKS_SHOWN)
    return dict(row, blocks=blocks, blocks_more=more, wording=cut_text(row["wording"], cut))


def _one_objective(
    fit: Fit,
    ctx: Context,
    alliance: Alliance,
    board: Board,
    objective: ObjectiveInfo,
    *,
    page: int,
    named: Alliance | None,
    sealed: frozenset[int],
) -> Reply:
    """Every movement's stance on one objective, in its own words."""
    seen = support(board, objective)
    rows = [
        _stance_row(entry, sealed=entry.movement.id in sealed)
        for entry in compare_objective(board, objective)
    ]
    again = again_command(ctx, f"compare {objective.number}", named)

    def build(layout: Layout, number: int, cut: int | None) -> Reply:
        shown, _ = layout.page(number)
        return Reply(
            "compare_objective",
            {
                "alliance": alliance.name,
                "number": objective.number,
                "text": cut_text(objective.text, cut),
                "common": seen.common,
                "endorsed": len(seen.endorsed),
                "needed": seen.needed,
                "rows": [_cut_stance_row(rows[i], cut) for i in shown],
                "page": page_view(layout, number, again, span(shown, len(rows), "movements")),
            },
        )

    return fit.page(
        build,
        prefix=ctx.prefix,
        language=ctx.language,
        wanted=page,
        again=again,
        row_weights=[weight(row) for row in rows],
    )


def _movement_choices(active: Sequence[Movement]) -> dict[str, Any]:
    """The movements to choose from, in a refusal (a long list cut short): the catalogue's
    `choices` and `more`."""
    return {
        "choices": [{"name": m.name, "slug": m.slug} for m in active[:CHOICES_SHOWN]],
        "more": max(0, len(active) - CHOICES_SHOWN),
    }


def _two_movements(
    fit: Fit,
    ctx: Context,
    alliance: Alliance,
    board: Board,
    active: Sequence[Movement],
    words: Sequence[str],
    *,
    page: int,
    named: Alliance | None,
) -> Reply:
    """What two movements both endorse and what only one does, in their own words."""

    names = split_names(words, lambda typed: find_named(typed, active) is not None)
    found = [m for m in (find_named(typed, active) for typed in names) if m is not None]
    if len(found) == 1:
        (only,) = found
        others = [m for m in active if m.id != only.id]
        if not others:
            raise CommandError(
                "objectives.only_movement", movement=only.name, alliance=alliance.name
            )
        raise CommandError(
            "objectives.second_movement",
            movement=only.name,
            other=others[0].name,
            **_movement_choices(active),
        )
    if len(found) != 2:
        unknown = [typed for typed in words if find_named(typed, active) is None]
        if len(words) == 2 and len(unknown) == 1:
            raise CommandError(
                "objectives.not_active",
                typed=clip(unknown[0]),
                alliance=alliance.name,
                **_movement_choices(active),
            )
        raise CommandError(
            "objectives.two_not_found", typed=clip(" ".join(words)), **_movement_choices(active)
        )
    a, b = found
    if a.id == b.id:
        raise CommandError("objectives.same_movement")
    pair = compare_pair(board, a.info(), b.info())
    entries = [
        (part, entry)
        for part, listed_entries in (
            ("both", pair.both),
            ("only_a", pair.only_a),
            ("only_b", pair.only_b),
        )
        for entry in listed_entries
    ]
    again = again_command(ctx, f"compare {a.slug} {b.slug}", named)
    sealed = sealed_movements(ctx, [a, b])

    def own_words(wording: Wording | None, movement: Movement, cut: int | None) -> str:
        return "" if wording is None or movement.id in sealed else cut_text(wording.text, cut)

    def view(entry: PairEntry, cut: int | None) -> dict[str, Any]:
        return {
            "number": entry.objective.number,
            "text": cut_text(entry.objective.text, cut),
            "wording_a": own_words(entry.wording_a, a, cut),
            "wording_b": own_words(entry.wording_b, b, cut),
        }

    def build(layout: Layout, number: int, cut: int | None) -> Reply:
        shown, _ = layout.page(number)
        parts: dict[str, list[dict[str, Any]]] = {"both": [], "only_a": [], "only_b": []}
        for i in shown:
            part, entry = entries[i]
            parts[part].append(view(entry, cut))
        return Reply(
            "compare_pair",
            {
                "alliance": alliance.name,
                "a": a.name,
                "b": b.name,
                **parts,
                "neither": pair.neither if number == layout.pages else 0,
                "sealed": [m.name for m in (a, b) if m.id in sealed],
                "page": page_view(layout, number, again, span(shown, len(entries), "objectives")),
            },
        )

    return fit.page(
        build,
        prefix=ctx.prefix,
        language=ctx.language,
        wanted=page,
        again=again,
        row_weights=[weight(view(entry, None)) for _, entry in entries],
    )


async def show_bridging(fit: Fit, ctx: Context, args: Args) -> Reply:
    page = wanted_page(args)
    alliance = await read_alliance(ctx, args.option("alliance"), command="bridging")
    board, _ = await _board(ctx, alliance)
    report = bridging(board)
    total = len(board.movements)

    def view(rank: int, row: Bridging) -> dict[str, Any]:
        towards, more_towards = some_names(row.towards)
        away, more_away = some_names(row.away)
        parts: list[dict[str, Any]] = []
        if towards:
            parts.append({"kind": "towards", "names": towards})
        if away:
            parts.append({"kind": "away", "names": away})
        if row.split:
            parts.append({"kind": "split", "count": row.split})
        if row.undecided:
            parts.append({"kind": "undecided", "count": len(row.undecided)})
        return {
            "rank": rank,
            "number": row.objective.number,
            "text": short(row.objective.text, 60),
            "everyone": len(row.towards) == total,
            "parts": parts,
            "towards": towards,
            "away": away,
            "cut": more_towards or more_away,
        }

    rows = [("ranked", view(i, row)) for i, row in enumerate(report.ranked, start=1)]
    rows += [("dividing", view(i, row)) for i, row in enumerate(report.dividing, start=1)]
    if report.ranked:  # when nothing is decided, one sentence says so instead of a list
        rows += [
            ("undecided", {"rank": i, "number": o.number, "text": short(o.text, 60)})
            for i, o in enumerate(report.undecided, start=1)
        ]
    again = again_command(ctx, "bridging", _named(args, alliance))

    def build(layout: Layout, number: int, cut: int | None) -> Reply:
        shown = [rows[i] for i in layout.page(number)[0]]
        ranked = [row for part, row in shown if part == "ranked"]
        dividing = [row for part, row in shown if part == "dividing"]
        undecided = [row for part, row in shown if part == "undecided"]
        what = []
        if ranked:
            what.append(_ranks("ranked", ranked, len(report.ranked)))
        if dividing:
            what.append(_ranks("dividing", dividing, len(report.dividing)))
        if undecided:
            what.append(_ranks("undecided", undecided, len(report.undecided)))
        return Reply(
            "bridging_ranking",
            {
                "alliance": alliance.name,
                "objectives": len(board.objectives),
                "ranked": ranked,
                "dividing": dividing,
                "undecided": undecided,
                "divides": bool(report.dividing),
                "cut": any(row["cut"] for row in ranked + dividing),
                "last": number == layout.pages,
                "movements": total,
                "voted": bool(report.ranked),
                "page": page_view(
                    layout, number, again, Words("objectives.ranking_page", {"parts": what})
                ),
            },
        )

    return fit.page(
        build,
        prefix=ctx.prefix,
        language=ctx.language,
        wanted=page,
        again=again,
        row_weights=[weight(row) for _, row in rows],
    )


def _ranks(part: str, rows: Sequence[dict[str, Any]], total: int) -> dict[str, Any]:
    """`the ranking, 1 to 25 of 50` (`part`: ranked, dividing or undecided)."""
    return {"part": part, "first": rows[0]["rank"], "last": rows[-1]["rank"], "total": total}


BRIDGING_HELP: Final = N_(
    "Bridging lists the objectives that can bring every movement together first: not those "
    "that many people like overall, but those that no movement leans away from. For each "
    "objective it says which movements lean towards it, which lean away and which have not "
    "decided yet (with {prefix}endorse in their own room). Objectives that no movement has "
    "decided on yet are listed apart, not ranked. How the order is worked out: for each "
    "movement I take its latest endorsement poll on the objective and work out its lean: "
    "(Agree + Agree with reservations + 1) divided by (all votes + 2). A movement that has not "
    "voted yet counts as one half: neither for nor against. The score multiplies the leans of "
    "all active movements, so a single movement that leans away pulls the score down however "
    "keen the others are. An objective divides the alliance when at least one movement leans "
    "towards it and another leans away; those are listed apart, widest gap first. The idea is "
    "Pol.is's group-informed consensus, with the movements as the groups."
)


def register(registry: Registry) -> None:
    registry.family("objectives", N_("Common objectives and comparing"), order=32)
    for command in commands(Fit()):
        registry.add(command)


def commands(fit: Fit) -> tuple[Command, ...]:
    """The family's commands; those whose replies grow with the alliance measure them with `fit`."""
    return (
        Command(
            name="objective propose",
            family="objectives",
            summary=N_("Put forward a common objective (in the commons)"),
            handler=propose_objective,
            params=(Param("text", kind="text"),),
            help=N_(
                "Adds an objective to the alliance, with the next number. Each movement then "
                "decides in its own room whether to endorse it. Anyone in the commons room. "
                "At most 500 characters."
            ),
            examples=(N_("{prefix}objective propose Respect for nature"),),
        ),
        Command(
            name="objective import",
            family="objectives",
            summary=N_("Propose several objectives at once, one per line (in the commons)"),
            handler=partial(import_objectives, fit),
            params=(Param("objectives", kind="text"),),
            power=Power.MODERATOR,
            help=N_(
                "Put each objective on its own line after the command (Shift+Enter in Element). "
                "Bullets and numbers in front are dropped; duplicates are left out. Only "
                "moderators of the commons room."
            ),
            examples=(
                N_(
                    "{prefix}objective import\nRespect for nature\n"
                    "Democratic administrative procedures"
                ),
            ),
        ),
        Command(
            name="objectives",
            family="objectives",
            summary=N_("List the alliance's objectives and who endorses each"),
            handler=partial(list_objectives, fit),
            flags=(ALLIANCE_FLAG, PAGE_FLAG),
            examples=("{prefix}objectives",),
        ),
        Command(
            name="endorse",
            family="objectives",
            summary=N_("Decide by a consensus poll whether this movement endorses an objective"),
            handler=endorse,
            params=(Param("objective"),),
            flags=(ALLIANCE_FLAG, polls.CLOSES_FLAG),
            help=N_(
                "Opens a consensus poll in this movement's room. It stays open until the room's "
                "deadline (24 hours unless its moderators set another with {prefix}rules set "
                "deadline); --closes may make it longer. Only a moderator closes it earlier; "
                "whoever opened it may withdraw it. When it closes, the outcome is recorded as "
                "the movement's stance: endorsed, or not endorsed with the reasons of any "
                "blocks. A later poll can change it."
            ),
            examples=("{prefix}endorse 3", "{prefix}endorse 3 --closes 3d"),
        ),
        Command(
            name="compare",
            family="objectives",
            summary=N_("Compare movements: all of them, two, or on one objective"),
            handler=partial(compare, fit),
            params=(Param("what", kind="text", optional=True),),
            flags=(ALLIANCE_FLAG, PAGE_FLAG),
            help=N_(
                "Without anything: a table of every movement's stance on every objective. With two "
                "movements: what both endorse, what only one does, in their own words where their "
                "statements link them. With an objective's number: every movement's stance on it. "
                "A big alliance's table comes in pages of at most 15 movements; "
                "the answer says how to see the next one. With 'agreements': where every "
                "movement stood on each of the alliance's agreements."
            ),
            examples=(
                "{prefix}compare",
                N_("{prefix}compare climate-camp tenants"),
                "{prefix}compare 3",
                "{prefix}compare agreements",
                "{prefix}compare --page 2",
            ),
        ),
        Command(
            name="bridging",
            family="objectives",
            summary=N_("Which objectives every movement can stand behind, first"),
            handler=partial(show_bridging, fit),
            flags=(ALLIANCE_FLAG, PAGE_FLAG),
            help=BRIDGING_HELP,
            examples=("{prefix}bridging",),
        ),
    )
