"""The languages the bot speaks: gettext catalogues made with Babel, and Babel's formats.

The catalogues are `templates/locale/<language>/LC_MESSAGES/multilogue.po`, compiled to
`.mo` files that ship in the wheel (`scripts/i18n` extracts, updates and compiles them; the
README's "For developers" says how to add a language or a message). English is the source
language: its messages are the message ids themselves, so it needs no translations.

Everything here is pure and cached: a catalogue is read once per process.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton, format_time
from babel.lists import format_list
from babel.numbers import format_decimal

DOMAIN: Final = "multilogue"
SOURCE: Final = "en"
SHIPPED: Final = ("en", "es", "fr", "de")
"""Every language the bot speaks, the source language first."""


def locale_dir() -> Path:
    """Where the compiled catalogues are, also when multilogue is installed as a wheel."""
    return Path(str(resources.files("templates"))) / "locale"


def is_shipped(language: str) -> bool:
    return language in SHIPPED


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of `language` (English: none, the messages are their own ids)."""
    if language == SOURCE:
        return gettext.NullTranslations()
    if not is_shipped(language):
        raise ValueError(f"multilogue does not speak {language!r}")
    return gettext.translation(DOMAIN, localedir=str(locale_dir()), languages=[language])


@cache
def name_of(language: str, *, in_language: str | None = None) -> str:
    """What `language` is called, in `in_language` (by default in itself): "español"."""
    return str(Locale.parse(language).get_display_name(in_language or language))


def day(moment: date, language: str) -> str:
    """A date as people write it where `language` is spoken: "4 dic 2026", "04.12.2026".
    English keeps the bot's first form, which reads the same everywhere: 2026-12-04."""
    if language == SOURCE:
        return moment.isoformat()
    return str(format_date(moment, format="medium", locale=language))


def moment(when: datetime, language: str, zone: str | None = None, *, brief: bool = False) -> str:
    """A date and time on the wall clock `when` carries, with its weekday and the zone's
    name when given: "Tue 1 Dec 2026, 18:00 (Europe/Berlin)", "Di., 1. Dez. 2026, 18:00".
    `brief`: the date without the weekday, "2026-12-04 18:00" in English."""
    if brief:
        if language == SOURCE:
            return f"{when:%Y-%m-%d %H:%M}"
        return "{} {}".format(
            format_date(when, "short", locale=language),
            format_time(when, "HH:mm", locale=language, tzinfo=when.tzinfo),
        )
    if language == SOURCE:
        text = str(format_datetime(when, "EEE d MMM y, HH:mm", locale="en", tzinfo=when.tzinfo))
    else:
        text = "{}, {}".format(
            format_skeleton("yMMMEd", when, locale=language, tzinfo=when.tzinfo, fuzzy=True),
            format_time(when, "HH:mm", locale=language, tzinfo=when.tzinfo),
        )
    return f"{text} ({zone})" if zone else text


class Day(str):
    """A date in a message's data: reads as English text (2026-12-04) wherever it is used as
    a string, and the renderer writes it as the room's language does."""

    on: date

    def __new__(cls, on: date) -> Day:
        made = super().__new__(cls, day(on, SOURCE))
        made.on = on
        return made

    def __getnewargs__(self) -> tuple[date]:  # type: ignore[override]
        return (self.on,)

    def said_in(self, language: str) -> str:
        return day(self.on, language)


class Moment(str):
    """A date and time in a message's data (a poll's closing time), like :class:`Day`."""

    when: datetime
    zone: str | None
    brief: bool

    def __new__(cls, when: datetime, zone: str | None = None, *, brief: bool = False) -> Moment:
        made = super().__new__(cls, moment(when, SOURCE, zone, brief=brief))
        made.when, made.zone, made.brief = when, zone, brief
        return made

    def __getnewargs_ex__(self) -> tuple[tuple[datetime, str | None], dict[str, bool]]:
        return (self.when, self.zone), {"brief": self.brief}

    def said_in(self, language: str) -> str:
        return moment(self.when, language, self.zone, brief=self.brief)


def localized(value: Any, language: str) -> Any:
    """`value` with every :class:`Day` and :class:`Moment` in it (in dicts, lists and tuples)
    written as `language` writes them; the same object when there is nothing to change."""
    if language == SOURCE:
        return value
    if isinstance(value, Day | Moment):
        return value.said_in(language)
    if isinstance(value, Mapping):
        changed = {key: localized(item, language) for key, item in value.items()}
        same = all(changed[key] is item for key, item in value.items())
        return value if same else changed
    if isinstance(value, list | tuple):
        items = [localized(item, language) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    return value


def number(value: float, language: str) -> str:
    """A number with the locale's separators: 1,000 / 1.000 / 1 000."""
    return str(format_decimal(value, locale=language))


ListStyle = Literal["standard", "or"]


def listing(items: Sequence[str], language: str, style: ListStyle = "standard") -> str:
    """A list in the locale's words: "A, B and C" / "A, B y C" / "A, B et C" / "A, B und C"."""
    return str(format_list(list(items), style=style, locale=language))
