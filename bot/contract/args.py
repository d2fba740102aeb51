"""Parsing a command's arguments from the text after its name.

- Words are separated by spaces or new lines.
- "Quoted text" is one argument; straight and curly quotes both work, because phones
  turn " into “ ”.
- `--flag`, `--flag value` and `--flag=value` may come before or between the words
  (also with the long dash phones put in place of `--`).
- A `text` parameter takes the rest of the message as typed, new lines included.
"""

from __future__ import annotations

from typing import Any

from bot.contract.registry import Args, Command, Flag, Param, Refusal

# Phones turn "--" into a dash: accept those as the start of an option too.
FLAG_STARTS = ("--", "—", "–")
NUMBER_DIGITS = 9  # no poll, shared thread, page or item number gets anywhere near
QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“"}


def short(text: str, limit: int = 50) -> str:
    """What someone typed, on one line and cut short, to show it back in a message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class UsageError(Refusal):
    """The arguments do not fit the command; its words say what is wrong."""


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def read_token(text: str, pos: int) -> tuple[str, int]:
    """Read one word or quoted string starting at `pos` (no leading space)."""
    opening = text[pos]
    closing = QUOTES.get(opening)
    if closing is not None:
        end = text.find(closing, pos + 1)
        if end == -1:
            raise UsageError("usage.quote_not_closed")
        return text[pos + 1 : end], end + 1
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[pos:end], end


def tokenize(text: str) -> list[str]:
    """Split into words and quoted strings."""
    tokens: list[str] = []
    pos = _skip_space(text, 0)
    while pos < len(text):
        token, pos = read_token(text, pos)
        tokens.append(token)
        pos = _skip_space(text, pos)
    return tokens


def split_items(text: str) -> list[str]:
    """A list typed one item per line, or as "quoted" "items" on one line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1:
        return [_unquote(line) for line in lines]
    return tokenize(text)


def _unquote(item: str) -> str:
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


def _find_flag(command: Command, name: str) -> Flag:
    for flag in command.flags:
        if flag.name == name:
            return flag
    raise UsageError("usage.unknown_option", name=name, known=[f.name for f in command.flags])


def parse_args(command: Command, text: str) -> Args:
    values: dict[str, Any] = {}
    flags: dict[str, str | bool] = {}
    params = list(command.params)
    index = 0
    pos = _skip_space(text, 0)
    while pos < len(text):
        if text.startswith(FLAG_STARTS, pos):
            word, after = read_token(text, pos)
            name, _, inline_value = word.lstrip("-—–").partition("=")
            if name:
                flag = _find_flag(command, name.lower())
                if flag.value is None:
                    flags[flag.name] = True
                    pos = _skip_space(text, after)
                    continue
                if not inline_value:
                    after = _skip_space(text, after)
                    if after >= len(text):
                        raise UsageError(
                            "usage.option_needs_value", name=flag.name, value=flag.value
                        )
                    inline_value, after = read_token(text, after)
                flags[flag.name] = inline_value
                pos = _skip_space(text, after)
                continue
        if index >= len(params):
            raise UsageError("usage.too_many_words")
        param = params[index]
        if param.kind == "text":
            values[param.name] = text[pos:].strip()
            pos = len(text)
            index += 1
            break
        token, pos = read_token(text, pos)
        if param.many:
            values.setdefault(param.name, []).append(_convert(param, token))
        else:
            values[param.name] = _convert(param, token)
            index += 1
        pos = _skip_space(text, pos)
    for param in params:
        if param.name not in values and not param.optional:
            raise UsageError("usage.missing", param=param.name)
    return Args(values=values, flags=flags)
