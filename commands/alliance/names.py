"""Names as people type them: plain data in, plain data out (no Matrix, no database).

:func:`name_key` (what makes two names "the same", case and spacing aside), :func:`slugify` (the
short form people may type instead), :func:`check_name`, :func:`match_name` (find what someone
meant among named things), :func:`split_names`, :func:`text_key` (duplicate objectives) and
:func:`objective_number`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.contract import Refusal

SLUG_MAX = 24
NAME_MAX = 80
_NO_LIMIT = 10_000
_MIN_PREFIX = 3

_T = TypeVar("_T")


class BadName(Refusal, ValueError):
    """A name that cannot be used; its `words` say why (``what``: alliance or movement)."""


def name_key(name: str) -> str:
    """Two names with the same key are the same name (case and spacing do not matter)."""
    return " ".join(name.casefold().split())


def slugify(name: str, *, limit: int = SLUG_MAX) -> str:
    """A short lower-case form: letters and digits (accents dropped), words joined by ``-``.

    Letters of every script are kept, so a name in Greek or Arabic keeps a slug.
    Cut at a word boundary to at most ``limit`` characters when it can be.
    """
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = [w for w in re.split(r"[^\w]+|_", plain) if w]
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > limit:
            if not slug:
                slug = word[:limit]
            break
        slug = candidate
    return slug


def check_name(name: str, *, what: str) -> str:
    """The name tidied up (spaces collapsed), or :class:`BadName` saying what is wrong."""
    tidy = " ".join(name.split())
    if not tidy:
        raise BadName("compare.no_name", what=what)
    if len(tidy) > NAME_MAX:
        raise BadName("compare.name_too_long", what=what, length=len(tidy), limit=NAME_MAX)
    if not slugify(tidy):
        raise BadName("compare.name_needs_letter", what=what)
    return tidy


def text_key(text: str) -> str:
    """Two objectives with the same key say the same thing (case, spacing, final dot aside)."""
    return name_key(text).rstrip(" .!;")


@dataclass(frozen=True)
class Match(Generic[_T]):
    """What a typed name matched: exactly one thing, or several (ambiguous), or nothing."""

    found: _T | None
    candidates: tuple[_T, ...] = ()


def match_name(
    typed: str, items: Sequence[_T], *, name: Callable[[_T], str], slug: Callable[[_T], str]
) -> Match[_T]:
    """Find what ``typed`` names among ``items``.

    In order: the exact name (case and spacing aside) or slug; the same name written with
    other punctuation; a slug that starts with what was typed (3 characters or more). When
    several fit, nothing is found and ``candidates`` lists them.
    """
    key = name_key(typed.strip().strip("\"'“”‘’«»"))
    if not key:
        return Match(None)
    for item in items:
        if name_key(name(item)) == key or slug(item) == key:
            return Match(item)
    wanted = slugify(key, limit=_NO_LIMIT)
    if not wanted:
        return Match(None)
    same = tuple(item for item in items if slugify(name(item), limit=_NO_LIMIT) == wanted)
    if len(same) == 1:
        return Match(same[0])
    prefixed = tuple(
        item for item in items if len(wanted) >= _MIN_PREFIX and slug(item).startswith(wanted)
    )
    if not same and len(prefixed) == 1:
        return Match(prefixed[0])
    return Match(None, same or prefixed)


def split_names(words: Sequence[str], resolves: Callable[[str], bool]) -> tuple[str, ...]:
    """The names ``words`` hold, read as a person means them (``!compare Climate Camp Tenants``).

    The whole text when it is one name (``Climate Camp``, unquoted). Otherwise two names that
    both resolve, trying the longest first name first; quoted names count as one word. ``()``
    when neither reading works.
    """
    if not words:
        return ()
    whole = " ".join(words)
    if resolves(whole):
        return (whole,)
    for cut in range(len(words) - 1, 0, -1):
        first, second = " ".join(words[:cut]), " ".join(words[cut:])
        if resolves(first) and resolves(second):
            return (first, second)
    return ()


def objective_number(word: str) -> int | None:
    """``3``, ``#3`` or ``no. 3`` as a number; None when the word is not one."""
    cleaned = word.strip().lstrip("#").removeprefix("no.").strip()
    return int(cleaned) if cleaned.isdecimal() and len(cleaned) < 10 else None
