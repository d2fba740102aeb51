"""What a refusal says: its `Words` rendered from the message catalogues, as a room reads it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.contract import Refusal
from bot.render import Renderer

_RENDERER = Renderer(globals={"prefix": "!"})


def said(error: BaseException) -> str:
    """The sentence a refusal stands for (the plain text a person reads)."""
    assert isinstance(error, Refusal), f"{error!r} is not a refusal"
    return _RENDERER.say(error.words)


@contextmanager
def refused(kind: type[Refusal], match: str) -> Iterator[pytest.ExceptionInfo[Refusal]]:
    """As `pytest.raises(kind)`, and what it says must match `match` (a regular expression)."""
    with pytest.raises(kind) as caught:
        yield caught
    assert re.search(match, said(caught.value)), said(caught.value)
