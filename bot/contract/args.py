"""Parsing a command's arguments from the text after its name.

- Words are separated by spaces or new lines.
- "Quoted text" is one argument; straight and curly quotes both work, because phones
  turn " into “ ”.
- `--flag`, `--flag value` and `--flag=value` may come anywhere: before, between or after
  the words, inside a free-text parameter too (also with the long dash phones put in place
  of `--`). A flag's value is on the same line as the flag. A flag that reads a time
  (`Flag(reads="when")`) takes `2026-12-01 18:00` whole.
- Inside free text, only this command's own flags are options: "--everything", "--or--",
  a quoted "--closes" and a dash used as punctuation ("—and") stay text. Before it, an
  unknown option is refused.
- A `text` parameter takes the rest of the message as typed, new lines included. With
  `split_at` (`<alliance> as <movement name>`), `Args.readings` gives every way to split it
  at that word, because names may hold the word too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from bot.contract.registry import Args, Command, Flag, Param, Refusal

# Phones turn "--" into a dash: accept those as the start of an option too.
FLAG_STARTS = ("--", "—", "–")
NUMBER_DIGITS = 9  # no poll, shared thread, page or item number gets anywhere near
QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“"}

_OPTION_RE: Final = re.compile(r"(?:--|—|–)([A-Za-z]+(?:-[A-Za-z]+)*)(?:=(.*))?", re.DOTALL)
_DATE_RE: Final = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_TIME_RE: Final = re.compile(r"\d{1,2}:\d{2}")


def short(text: str, limit: int = 50) -> str:
    """What someone typed, on one line and cut short, to show it back in a message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class UsageError(Refusal):
    """The arguments do not fit the command; its words say what is wrong."""


@dataclass(frozen=True)
class Token:
    """One word or quoted string of what was typed, and where it stood."""

    text: str
    start: int
    end: int
    quoted: bool


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _read(text: str, pos: int, *, strict: bool) -> Token:
    """The word or quoted string at `pos` (no leading space). An unclosed quote is refused
    when `strict`, and read as part of a word otherwise (free text)."""
    closing = QUOTES.get(text[pos])
    if closing is not None:
        end = text.find(closing, pos + 1)
        if end != -1:
            return Token(text[pos + 1 : end], pos, end + 1, True)
        if strict:
            raise UsageError("usage.quote_not_closed")
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    return Token(text[pos:end], pos, end, False)


def read_token(text: str, pos: int) -> tuple[str, int]:
    """Read one word or quoted string starting at `pos` (no leading space)."""
    token = _read(text, pos, strict=True)
    return token.text, token.end


def scan(text: str, *, strict: bool = True) -> list[Token]:
    """Every word and quoted string of `text`, with where each stands."""
    tokens: list[Token] = []
    pos = _skip_space(text, 0)
    while pos < len(text):
        token = _read(text, pos, strict=strict)
        tokens.append(token)
        pos = _skip_space(text, token.end)
    return tokens


def tokenize(text: str) -> list[str]:
    """Split into words and quoted strings."""
    return [token.text for token in scan(text)]


def split_items(text: str) -> list[str]:
    """A list typed one item per line, or as "quoted" "items" on one line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1:
        return [unquote(line) for line in lines]
    return tokenize(text)


def unquote(item: str) -> str:
    """`item` without the quotes around it, if it has them."""
    item = item.strip()
    if len(item) >= 2 and QUOTES.get(item[0]) == item[-1]:
        return item[1:-1].strip()
    return item


def read_number(token: str) -> int | None:
    """`3` or `#3` as 3; None when the token is not a number.

    Raises UsageError for more digits than any number the bot counts (polls, shared threads,
    pages, items) could have, so a typo never reaches the database as an absurd value.
    """
    cleaned = token.strip().lstrip("#")
    if not cleaned.isdecimal():
        return None
    if len(cleaned) > NUMBER_DIGITS:
        raise UsageError("usage.number_too_big", number=short(cleaned, 20))
    return int(cleaned)


def _convert(param: Param, token: str) -> Any:
    if param.kind == "int":
        value = read_number(token)
        if value is None:
            raise UsageError("usage.not_a_number", param=param.name, typed=short(token, 40))
        return value
    return token


def _find_flag(command: Command, name: str) -> Flag | None:
    lowered = name.lower()
    return next((flag for flag in command.flags if flag.name == lowered), None)


def _unknown(command: Command, name: str) -> UsageError:
    return UsageError("usage.unknown_option", name=name, known=[f.name for f in command.flags])


def _same_line(text: str, start: int, end: int) -> bool:
    return "\n" not in text[start:end]


class _Options:
    """Reads the flags of `command` out of `text`, remembering where they stood."""

    def __init__(self, command: Command, text: str, tokens: list[Token]) -> None:
        self.command = command
        self.text = text
        self.tokens = tokens
        self.found: dict[str, str | bool] = {}
        self.cuts: list[tuple[int, int]] = []

    def take(self, index: int, *, in_text: bool) -> int | None:
        """If token `index` is an option, read it (and its value) and return the index of
        the token after it; None when it is not an option here."""
        token = self.tokens[index]
        match = None if token.quoted else _OPTION_RE.fullmatch(token.text)
        if match is None:
            if not in_text and not token.quoted and token.text.startswith(FLAG_STARTS):
                name = token.text.lstrip("-—–").partition("=")[0]
                if name:
                    raise _unknown(self.command, name.lower())
            return None
        name, inline = match[1], match[2]
        flag = _find_flag(self.command, name)
        if flag is None:
            if in_text:
                return None  # "Stop --everything now", "we fight —and win"
            raise _unknown(self.command, name.lower())
        after = index + 1
        end = token.end
        if flag.value is None:
            self.found[flag.name] = True
        else:
            value = inline
            if not value:
                if after >= len(self.tokens) or not _same_line(
                    self.text, token.end, self.tokens[after].start
                ):
                    raise UsageError("usage.option_needs_value", name=flag.name, value=flag.value)
                value = self.tokens[after].text
                end = self.tokens[after].end
                after += 1
            if (
                flag.reads == "when"
                and _DATE_RE.fullmatch(value)
                and after < len(self.tokens)
                and _TIME_RE.fullmatch(self.tokens[after].text)
                and _same_line(self.text, end, self.tokens[after].start)
            ):
                value = f"{value} {self.tokens[after].text}"
                end = self.tokens[after].end
                after += 1
            self.found[flag.name] = value
        self.cuts.append((token.start, end))
        return after

    def rest_without_options(self, start: int) -> str:
        """The text from `start` on with the options in it taken out, new lines kept; a line
        that held only options goes."""
        pieces: list[str] = []
        pos = start
        for cut_start, cut_end in self.cuts:
            if cut_start < start:
                continue
            pieces.append(self.text[pos:cut_start])
            pieces.append("\0")
            pos = cut_end
        pieces.append(self.text[pos:])
        kept: list[str] = []
        for line in "".join(pieces).split("\n"):
            if "\0" in line:
                line = " ".join(line.replace("\0", " ").split())
                if not line:
                    continue
            kept.append(line)
        return "\n".join(kept).strip()


def _readings(text: str, word: str) -> tuple[tuple[str, str], ...]:
    """Every way to read `text` as `<first> word <second>` (quoted words never split)."""
    tokens = scan(text, strict=False)
    return tuple(
        (
            " ".join(t.text for t in tokens[:i]),
            " ".join(t.text for t in tokens[i + 1 :]),
        )
        for i, token in enumerate(tokens)
        if not token.quoted and token.text.lower() == word and 0 < i < len(tokens) - 1
    )


def parse_args(command: Command, text: str) -> Args:
    values: dict[str, Any] = {}
    splits: dict[str, tuple[tuple[str, str], ...]] = {}
    params = list(command.params)
    index = 0
    tokens = scan(text, strict=False)
    options = _Options(command, text, tokens)
    at = 0
    while at < len(tokens):
        after = options.take(at, in_text=False)
        if after is not None:
            at = after
            continue
        if index >= len(params):
            raise UsageError("usage.too_many_words")
        param = params[index]
        if param.kind == "text":
            start = tokens[at].start
            while at < len(tokens):
                at = options.take(at, in_text=True) or at + 1
            rest = options.rest_without_options(start)
            if rest:
                values[param.name] = rest
                if param.split_at:
                    splits[param.name] = _readings(rest, param.split_at)
            index += 1
            break
        token = tokens[at]
        if not token.quoted and QUOTES.get(token.text[:1]) is not None:
            raise UsageError("usage.quote_not_closed")
        at += 1
        if param.many:
            values.setdefault(param.name, []).append(_convert(param, token.text))
        else:
            values[param.name] = _convert(param, token.text)
            index += 1
    for param in params:
        if param.name not in values and not param.optional:
            raise UsageError("usage.missing", param=param.name)
    return Args(values=values, flags=options.found, splits=splits)
