"""The languages the bot speaks: gettext catalogues made with Babel, and Babel's formats.

The catalogues are `templates/locale/<language>/LC_MESSAGES/multilogue.po`, compiled to
`.mo` files that ship in the wheel (`scripts/i18n` extracts, updates and compiles them; the
README's "For developers" says how to add a language or a message). English is the source
language: its messages are the message ids themselves, so it needs no translations.

Everything here is pure and cached: a catalogue is read once per process.
"""

from __future__ import annotations

import gettext
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final, Literal

from babel import Locale
from babel.dates import format_date, format_datetime
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


def day(moment: date, language: str, style: str = "medium") -> str:
    """A date as people write it where `language` is spoken: "4 dic 2026"."""
    return str(format_date(moment, format=style, locale=language))


def moment(when: datetime, language: str) -> str:
    """A date and time on the wall clock `when` carries: "4 déc. 2026, 18:00"."""
    return str(format_datetime(when, format="medium", locale=language, tzinfo=when.tzinfo))


def number(value: float, language: str) -> str:
    """A number with the locale's separators: 1,000 / 1.000 / 1 000."""
    return str(format_decimal(value, locale=language))


ListStyle = Literal["standard", "or"]


def listing(items: Sequence[str], language: str, style: ListStyle = "standard") -> str:
    """A list in the locale's words: "A, B and C" / "A, B y C" / "A, B et C" / "A, B und C"."""
    return str(format_list(list(items), style=style, locale=language))
