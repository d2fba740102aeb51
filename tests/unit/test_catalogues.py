"""Every language the bot ships is complete: each message a person may read (extracted from
the code and the templates now, as `scripts/i18n update` does) is translated, not fuzzy, with
the same placeholders and markup as the English, and compiled into the `.mo` the bot reads."""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot import languages

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [code for code in languages.SHIPPED if code != languages.SOURCE]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TAG = re.compile(r"</?([a-z][a-z0-9]*)\b[^>]*>")

MessageId = str | tuple[str, ...]


@cache
def extracted() -> dict[MessageId, str]:
    """Every message id in the code and templates now, with where it is (for the report)."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)

    def only_ours(path: str) -> bool:
        relative = Path(path).resolve().relative_to(ROOT)
        return not relative.parts or relative.parts[0] in ("bot", "commands", "templates")

    found: dict[MessageId, str] = {}
    for filename, lineno, message, _, _ in extract_from_dir(
        str(ROOT), method_map, options_map, directory_filter=only_ours
    ):
        key = message if isinstance(message, str) else tuple(m for m in message if m)
        found.setdefault(key, f"{filename}:{lineno}")
    return found


def catalogue(language: str) -> Catalog:
    path = languages.locale_dir() / language / "LC_MESSAGES" / f"{languages.DOMAIN}.po"
    with path.open("rb") as po:
        return read_po(po, locale=language)


def _problems(language: str) -> Iterator[str]:
    po = catalogue(language)
    translated = {m.id if isinstance(m.id, str) else tuple(m.id): m for m in po if m.id}
    for key, where in extracted().items():
        message = translated.get(key)
        ids = (key,) if isinstance(key, str) else key
        if message is None:
            yield f"{where}: {ids[0][:60]!r} is missing"
            continue
        strings = (
            (message.string,) if isinstance(message.string, str) else tuple(message.string or ())
        )
        if message.fuzzy:
            yield f"{where}: {ids[0][:60]!r} is fuzzy"
        if not all(strings):
            yield f"{where}: {ids[0][:60]!r} is not translated"
            continue
        wanted = {name for text in ids for name in PLACEHOLDER.findall(text)}
        for text in strings:
            got = set(PLACEHOLDER.findall(text))
            # A plural form may say "one" in words instead of %(count)s.
            if got - wanted or wanted - got - {"count"}:
                yield f"{where}: {ids[0][:60]!r} has placeholders {sorted(got)}"
            if sorted(TAG.findall(text)) != sorted(TAG.findall(ids[0])):
                yield f"{where}: {ids[0][:60]!r} changes the markup"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_with_its_placeholders(language: str) -> None:
    assert list(_problems(language)) == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogue_is_the_translated_one(language: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, catalogue(language))
    path = languages.locale_dir() / language / "LC_MESSAGES" / f"{languages.DOMAIN}.mo"
    assert path.read_bytes() == compiled.getvalue(), (
        f"run scripts/i18n compile ({path.name} is not compiled from its .po)"
    )


def test_the_checks_see_the_messages() -> None:
    # A check over nothing would pass for nothing: templates, refusals and help all count.
    places = {where.split(":")[0].split("/")[0] for where in extracted().values()}
    assert places >= {"templates", "commands"}
    assert len(extracted()) > 300
    assert any(isinstance(key, tuple) for key in extracted())  # plural messages too


@pytest.mark.parametrize("language", languages.SHIPPED)
@pytest.mark.parametrize("count", [1, 2, 5, 21])
def test_plural_forms_follow_the_language(language: str, count: int) -> None:
    translations = languages.translations(language)
    singular, plural = (
        "That changed the language of %(count)s room.",
        "That changed the language of %(count)s rooms.",
    )
    said = translations.ngettext(singular, plural, count)
    if language == languages.SOURCE:
        assert said == (singular if count == 1 else plural)
        return
    po = catalogue(language)
    forms = po[(singular, plural)].string
    assert isinstance(forms, tuple | list)
    assert len(forms) == po.num_plurals
    form = gettext.c2py(po.plural_expr)(count)
    # One room is the first form everywhere; 2, 5 and 21 the form for "other" (Spanish and
    # French have a third, for a million and its multiples).
    assert form == (0 if count == 1 else po.num_plurals - 1)
    assert said == forms[form]
    assert str(count) in said % {"count": count}
