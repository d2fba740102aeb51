"""Reading what people type to make a poll, vote on it or give a reason.

Pure logic: text in, plain data out; no Matrix, no database, no clock.

A poll is typed in one of two ways::

    !poll Where do we meet?            the question on the first line,
    Park                               one option per following line (Shift+Enter);
    Library                            "- Park" and "1. Park" work too

    !poll "Where do we meet?" "Park" "Library" "Online"      all quoted on one line

On one line, unquoted words before the first quoted item are the question
(`!poll Where do we meet? "Park" "Library"`), and unquoted words after it are one-word options.
The options `--multi N`, `--closes WHEN`, `--hidden` and `--alliance` (:data:`POLL_FLAGS`) may
come anywhere: the command parser takes them out before this module reads the rest. Any other
`--word` left in a poll is a typo of an option, and refused.

Every :class:`PollInputError` is meant to be shown to people: its `words` are a sentence of
`templates/refusals/polls.txt` (or `usage.txt`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from bot.contract import N_, QUOTES, Flag, Refusal, short

MIN_OPTIONS: Final = 2
MAX_OPTIONS: Final = 20
MAX_OPTION_CHARS: Final = 340
MAX_QUESTION_CHARS: Final = 2000
MAX_REASON_CHARS: Final = 2000
WITHDRAW_WORDS: Final = frozenset({"none", "clear", "withdraw", "remove", "nothing"})

_FLAG_RE: Final = re.compile(r"--([A-Za-z]+(?:-[A-Za-z]+)*)")
_BULLET_RE: Final = re.compile(r"^(?:[-*•]|\d{1,2}[.)])\s+")
_SEPARATORS_RE: Final = re.compile(r"[,;+]|\band\b", re.IGNORECASE)


CLOSES_HELP: Final = N_(
    "when it closes: 48h, 3d, 90m, 1w, or a date and time like 2026-12-01 18:00"
)
CLOSES_FLAG: Final = Flag("closes", "WHEN", CLOSES_HELP, reads="when")
"""`--closes WHEN` of every command that opens a poll."""

POLL_FLAGS: Final = (
    Flag("multi", "N", N_("people may choose up to N options")),
    CLOSES_FLAG,
    Flag("hidden", None, N_("show the results only when the poll closes")),
    Flag(
        "alliance",
        None,
        N_(
            "in a commons room: post the poll in the commons and in every movement "
            "room of the alliance (commons moderators)"
        ),
    ),
)
"""The options of `!poll`."""


class PollInputError(Refusal, ValueError):
    """Input that cannot make a poll, a vote or a reason; its `words` say what is wrong."""


@dataclass(frozen=True)
class PollRequest:
    """A straw poll as typed: not yet checked against the clock (``closes`` is raw text)."""

    question: str
    options: tuple[str, ...]
    max_selections: int = 1
    hidden: bool = False
    closes: str | None = None
    alliance: bool = False
    """Post it in the commons and every movement room of the alliance (`--alliance`)."""


@dataclass(frozen=True)
class ProposalRequest:
    """A consensus poll as typed."""

    proposal: str
    closes: str | None = None


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int
    quoted: bool


def _scan(line: str, *, strict: bool) -> list[_Token]:
    """Words and quoted items with their positions.

    With ``strict``, an unclosed quote is an error; otherwise the quote is just a character.
    """
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(line) and line[pos].isspace():
            pos += 1
        if pos >= len(line):
            return tokens
        closing = QUOTES.get(line[pos])
        if closing is not None:
            end = line.find(closing, pos + 1)
            if end != -1:
                tokens.append(_Token(line[pos + 1 : end].strip(), pos, end + 1, True))
                pos = end + 1
                continue
            if strict:
                raise PollInputError("usage.quote_not_closed")
        end = pos
        while end < len(line) and not line[end].isspace():
            end += 1
        tokens.append(_Token(line[pos:end], pos, end, False))
        pos = end


def _unquote(item: str) -> str:
    item = item.strip()
    if len(item) >= 2 and QUOTES.get(item[0]) == item[-1]:
        return item[1:-1].strip()
    return item


def _same(text: str) -> str:
    """The form two options are compared in: case and spacing do not matter."""
    return " ".join(text.casefold().split())


def parse_poll(text: str, *, flags: Mapping[str, str | bool] | None = None) -> PollRequest:
    """Read a straw poll from what the command parser left of it: `text` without the options,
    `flags` the options it took."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for line in lines:
        _refuse_unknown_options(line)
    if len(lines) > 1:
        question, options = _unquote(lines[0]), _option_lines(lines[1:])
    elif lines:
        question, options = _one_line(lines[0])
    else:
        question, options = "", []
    return _checked(question, options, flags or {})


def _refuse_unknown_options(line: str) -> None:
    """The command parser leaves unknown options in the text; in a poll they are typos."""
    for token in _scan(line, strict=False):
        match = None if token.quoted else _FLAG_RE.fullmatch(token.text)
        if match is not None:
            known = [flag.name for flag in POLL_FLAGS]
            raise PollInputError("usage.unknown_option", name=match[1].lower(), known=known)


def _option_lines(lines: list[str]) -> list[str]:
    """One option per line; a single line of quoted items is read as several options."""
    if len(lines) == 1:
        tokens = _scan(lines[0], strict=False)
        if len(tokens) > 1 and all(token.quoted for token in tokens):
            return [token.text for token in tokens]
    return [_unquote(_BULLET_RE.sub("", line)) for line in lines]


def _one_line(line: str) -> tuple[str, list[str]]:
    tokens = _scan(line, strict=True)
    if not any(token.quoted for token in tokens):
        return line.strip(), []
    if tokens[0].quoted:
        return tokens[0].text, [token.text for token in tokens[1:]]
    first_quoted = next(i for i, token in enumerate(tokens) if token.quoted)
    question = line[: tokens[first_quoted].start].strip()
    return question, [token.text for token in tokens[first_quoted:]]


def _checked(question: str, options: list[str], flags: Mapping[str, str | bool]) -> PollRequest:
    if not question:
        raise PollInputError("polls.no_question")
    if len(question) > MAX_QUESTION_CHARS:
        raise PollInputError(
            "polls.question_too_long", length=len(question), limit=MAX_QUESTION_CHARS
        )
    if any(not option for option in options):
        raise PollInputError("polls.empty_option")
    if len(options) < MIN_OPTIONS:
        raise PollInputError("polls.too_few_options", count=len(options), minimum=MIN_OPTIONS)
    if len(options) > MAX_OPTIONS:
        raise PollInputError("polls.too_many_options", count=len(options), limit=MAX_OPTIONS)
    for number, option in enumerate(options, start=1):
        if len(option) > MAX_OPTION_CHARS:
            raise PollInputError(
                "polls.option_too_long",
                number=number,
                option=short(option, 40),
                length=len(option),
                limit=MAX_OPTION_CHARS,
            )
    seen: dict[str, int] = {}
    for number, option in enumerate(options, start=1):
        key = _same(option)
        if key in seen:
            raise PollInputError(
                "polls.same_options", first=seen[key], second=number, option=short(option, 40)
            )
        seen[key] = number
    max_selections = _multi(flags.get("multi"), len(options))
    closes = flags.get("closes")
    return PollRequest(
        question=question,
        options=tuple(options),
        max_selections=max_selections,
        hidden=bool(flags.get("hidden")),
        closes=closes if isinstance(closes, str) else None,
        alliance=bool(flags.get("alliance")),
    )


def _multi(value: str | bool | None, options: int) -> int:
    if value is None or value is False:
        return 1
    text = str(value).strip()
    if not text.isdecimal():
        raise PollInputError("polls.multi_not_a_number", typed=short(text, 40))
    number = int(text)
    if number < 1:
        raise PollInputError("polls.multi_below_one")
    if number > options:
        raise PollInputError("polls.multi_above_options", number=number, options=options)
    return number


def parse_proposal(text: str, *, flags: Mapping[str, str | bool] | None = None) -> ProposalRequest:
    """Read a consensus proposal (any text, several lines allowed) from what the command
    parser left of it, and its `--closes`."""
    proposal = _unquote(text.strip())
    if not proposal:
        raise PollInputError("polls.no_proposal")
    if len(proposal) > MAX_QUESTION_CHARS:
        raise PollInputError(
            "polls.proposal_too_long", length=len(proposal), limit=MAX_QUESTION_CHARS
        )
    closes = (flags or {}).get("closes")
    return ProposalRequest(proposal=proposal, closes=closes if isinstance(closes, str) else None)


def parse_choices(
    text: str, options: Sequence[Sequence[str]], *, max_selections: int
) -> tuple[int, ...]:
    """The options chosen with `!vote`, as 0-based indexes; () withdraws the vote.

    ``options`` gives, for each option in order, the names it answers to (its text, and for
    consensus polls its short name). People type numbers (`2`, `1,3`, `1 3`, `#2`) or names.
    """
    wanted = _same(text)
    if not wanted:
        raise PollInputError("polls.say_which_option")
    if wanted in WITHDRAW_WORDS:
        return ()
    names = {_name_key(name): index for index, option in enumerate(options) for name in option}
    whole = names.get(_name_key(wanted))
    if whole is not None:
        return (whole,)
    chosen: list[int] = []
    for part in _SEPARATORS_RE.split(wanted):
        part = part.strip()
        if not part:
            continue
        index = names.get(_name_key(part))
        if index is not None:
            chosen.append(index)
            continue
        for word in part.split():
            chosen.append(_option_number(word, len(options)))
    distinct = tuple(dict.fromkeys(chosen))
    if not distinct:
        raise PollInputError("polls.say_which_option")
    if len(distinct) > max_selections:
        raise PollInputError("polls.too_many_choices", allowed=max_selections, chosen=len(distinct))
    return distinct


def _name_key(name: str) -> str:
    return " ".join(name.casefold().replace("-", " ").replace("_", " ").split())


def _option_number(word: str, count: int) -> int:
    cleaned = word.lstrip("#").rstrip(".")
    if not cleaned.isdecimal():
        raise PollInputError("polls.unreadable_choice", typed=short(word, 30), count=count)
    number = int(cleaned)
    if not 1 <= number <= count:
        raise PollInputError("polls.no_such_option", number=number, count=count)
    return number - 1


def check_reason(text: str) -> str:
    """A reason as it will be kept; refuses empty and over-long ones."""
    reason = text.strip()
    if not reason:
        raise PollInputError("polls.no_reason")
    if len(reason) > MAX_REASON_CHARS:
        raise PollInputError("polls.reason_too_long", length=len(reason), limit=MAX_REASON_CHARS)
    return reason
