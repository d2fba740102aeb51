"""Replies that fit one Matrix event: a service of rendering that every family may use.

A homeserver refuses an event over 64 KiB, and a command whose answer grows with what it lists
(an alliance's objectives, a comparison, a ranking) would then go unanswered. :class:`Fit`
renders a reply as it will be sent and measures it against :data:`REPLY_LIMIT`; a long answer
is cut into pages (:meth:`Fit.page`, the `--page N` option :data:`PAGE_FLAG`), laid out by
:func:`lay_out` so that every page fits whichever is asked for, and texts are shortened only as
a last resort (:data:`SHORT_TEXT`). A reply that fits says nothing about pages
(:func:`page_view`). The sentences are in `templates/refusals/pages.txt`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from math import ceil
from typing import Any, Final

from bot.contract import N_, Args, CommandError, Flag, Reply, Words, short
from bot.languages import SOURCE
from bot.render import REPLY_BUDGET, Message, Renderer, Voices

PAGE_FLAG: Final = Flag("page", value="N", help=N_("which page of a long answer"))

REPLY_LIMIT: Final = REPLY_BUDGET
"""The most a page may weigh, by :func:`reply_size`: the renderer's own budget for one event
(`bot.render.REPLY_BUDGET`), so that a page is never cut again when it is sent. A homeserver
refuses an event over 64 KiB; in an encrypted room the message's JSON grows by a third in
base64, and the event's own fields take a kilobyte or two more."""
SHORT_TEXT: Final = 100
"""Texts are cut to this many characters when one row alone would not fit otherwise."""


def pieces(count: int, most: int) -> tuple[range, ...]:
    """``count`` items cut into the fewest pieces of at most ``most``, as even as can be.

    ``pieces(100, 15)`` gives 7 pieces of 15 or 14 (never a last piece of one). No items: one
    empty piece, so that there is always a first page.
    """
    number = max(1, ceil(count / max(1, most)))
    size, extra = divmod(count, number)
    cut: list[range] = []
    start = 0
    for index in range(number):
        end = start + size + (1 if index < extra else 0)
        cut.append(range(start, end))
        start = end
    return tuple(cut)


@dataclass(frozen=True)
class Layout:
    """A reply cut into pages: pieces of its rows, and of its columns (the movements of the
    ``!compare`` matrix; one piece for replies without columns). Page 1 is the first column
    piece of the first row piece, then come the other column pieces, then the next rows."""

    rows: tuple[range, ...]
    columns: tuple[range, ...] = (range(1),)

    @property
    def pages(self) -> int:
        return len(self.rows) * len(self.columns)

    def page(self, number: int) -> tuple[range, range]:
        """The rows and columns on page ``number`` (1 is the first)."""
        index = number - 1
        return self.rows[index // len(self.columns)], self.columns[index % len(self.columns)]

    def number(self, rows: range, columns: range) -> int:
        return self.rows.index(rows) * len(self.columns) + self.columns.index(columns) + 1


def _heaviest(cut: tuple[range, ...], weights: Sequence[int]) -> range:
    return max(cut, key=lambda piece: sum(weights[i] for i in piece))


def lay_out(
    size: Callable[[Layout, int], int],
    *,
    limit: int,
    row_weights: Sequence[int],
    column_weights: Sequence[int] = (0,),
    most_columns: int | None = None,
    fewest_columns: int = 1,
    wanted: int = 1,
) -> tuple[Layout, bool]:
    """The layout with the most on each page whose pages all measure at most ``limit``.

    ``size(layout, n)`` measures page ``n``. It starts with every row and at most
    ``most_columns`` columns on a page; while a page is too big, columns go first (down to
    ``fewest_columns``), then rows, then the last columns. The weights say where a page holds
    the most (a row's or a column's share of the text): only the heaviest page and page
    ``wanted`` are measured, so that every page of the layout fits, whichever is asked for,
    without measuring them all. Returns the layout and whether it fits: a page of one row and
    one column can still be too big, and the caller then shortens its texts.
    """
    columns = len(column_weights)
    most_rows = max(1, len(row_weights))
    most_cols = max(1, min(most_columns or columns, columns))
    fewest = max(1, min(fewest_columns, most_cols))
    while True:
        layout = Layout(pieces(len(row_weights), most_rows), pieces(columns, most_cols))
        heaviest = layout.number(
            _heaviest(layout.rows, row_weights), _heaviest(layout.columns, column_weights)
        )
        numbers = {heaviest, wanted} if 1 <= wanted <= layout.pages else {heaviest}
        biggest = max(size(layout, number) for number in sorted(numbers))
        if biggest <= limit:
            return layout, True
        share = limit / biggest
        if most_cols > fewest:
            most_cols = max(fewest, min(most_cols - 1, int(most_cols * share)))
        elif most_rows > 1:
            most_rows = max(1, min(most_rows - 1, int(most_rows * share)))
        elif most_cols > 1:
            fewest = 1
            most_cols = max(1, min(most_cols - 1, int(most_cols * share)))
        else:
            return layout, False


def reply_size(message: Message) -> int:
    """What a message weighs against :data:`REPLY_LIMIT`: its body and formatted_body as JSON
    strings with every non-ASCII character escaped, as they travel. Never less than their
    UTF-8 size."""
    return len(json.dumps(message.body)) + len(json.dumps(message.html))


PageBuilder = Callable[[Layout, int, int | None], Reply]
"""Makes page `n` of a layout; the third argument cuts texts to that many characters."""


class Fit:
    """Measures replies as they will be sent, to keep each within one Matrix event.

    It renders with a renderer of its own over the bot's templates (one per command prefix and
    language, so that the catalogues' words have them too), so the measure follows the
    templates as the room will read them.
    """

    def __init__(self, renderer: Renderer | None = None, *, limit: int = REPLY_LIMIT) -> None:
        self._renderer = renderer
        self._voices: dict[str, Voices] = {}
        self.limit = limit

    def _renderer_for(self, prefix: str, language: str) -> Renderer:
        if self._renderer is not None:
            return self._renderer
        if prefix not in self._voices:
            self._voices[prefix] = Voices(globals={"prefix": prefix})
        return self._voices[prefix](language)

    def size(self, reply: Reply, *, prefix: str, language: str = SOURCE) -> int:
        renderer = self._renderer_for(prefix, language)
        return reply_size(renderer.render(reply.template, {**reply.data, "prefix": prefix}))

    def first(self, replies: Iterable[Reply], *, prefix: str, language: str = SOURCE) -> Reply:
        """The first of `replies` that fits (the last one when none does)."""
        reply = None
        for reply in replies:
            if self.size(reply, prefix=prefix, language=language) <= self.limit:
                return reply
        assert reply is not None, "no reply to choose from"
        return reply

    def page(
        self,
        build: PageBuilder,
        *,
        prefix: str,
        language: str = SOURCE,
        wanted: int,
        again: Callable[[int], str],
        row_weights: Sequence[int],
        column_weights: Sequence[int] = (0,),
        most_columns: int | None = None,
        fewest_columns: int = 1,
    ) -> Reply:
        """Page `wanted` of a reply cut into pages that all fit (:func:`lay_out` finds them).

        Everything on one page when it fits. Texts are cut short only when a page of a single
        row still does not fit. `again(n)` is the command that shows page n.
        """
        built: dict[tuple[Layout, int, int | None], Reply] = {}

        def made(layout: Layout, number: int, cut: int | None) -> Reply:
            key = (layout, number, cut)
            if key not in built:
                built[key] = build(layout, number, cut)
            return built[key]

        def measure(cut: int | None) -> Callable[[Layout, int], int]:
            return lambda layout, number: self.size(
                made(layout, number, cut), prefix=prefix, language=language
            )

        cut: int | None = None
        for cut in (None, SHORT_TEXT):
            layout, fits = lay_out(
                measure(cut),
                limit=self.limit,
                row_weights=row_weights,
                column_weights=column_weights,
                most_columns=most_columns,
                fewest_columns=fewest_columns,
                wanted=wanted,
            )
            if fits:
                break
        if wanted > layout.pages:
            if layout.pages == 1:
                raise CommandError("pages.one_page")
            raise CommandError("pages.no_such_page", pages=layout.pages, last=again(layout.pages))
        return made(layout, wanted, cut)


def page_view(
    layout: Layout, number: int, again: Callable[[int], str], what: Words
) -> dict[str, Any] | None:
    """What a page's reply says about paging: nothing when it all fits on one page. `what`
    says what the page holds."""
    if layout.pages == 1:
        return None
    return {
        "number": number,
        "count": layout.pages,
        "what": what,
        "next": again(number + 1) if number < layout.pages else "",
        "first": again(1),
    }


def wanted_page(args: Args) -> int:
    """The page asked for (`--page N`), 1 when none."""
    value = args.option("page")
    if value is None:
        return 1
    number = value.strip().lstrip("#")
    if not number.isdecimal() or len(number) > 6 or int(number) < 1:
        raise CommandError("pages.page_number", typed=short(value, 20))
    return int(number)
