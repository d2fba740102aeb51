"""Replies cut into pages that each fit one Matrix event (bot.pages): even pieces, page
numbers through columns then rows, and layouts where every page fits."""

from __future__ import annotations

from bot.pages import Layout, lay_out, pieces


def test_a_long_list_is_cut_into_even_pieces() -> None:
    cut = pieces(100, 15)
    assert len(cut) == 7
    assert [len(piece) for piece in cut] == [15, 15, 14, 14, 14, 14, 14]
    assert [i for piece in cut for i in piece] == list(range(100))
    assert pieces(16, 15) == (range(0, 8), range(8, 16))  # never a last page of one
    assert pieces(3, 15) == (range(0, 3),)
    assert pieces(0, 15) == (range(0, 0),)  # nothing to show is still one page


def test_pages_are_numbered_through_the_columns_then_the_rows() -> None:
    layout = Layout(rows=pieces(4, 2), columns=pieces(6, 3))
    assert layout.pages == 4
    assert layout.page(1) == (range(0, 2), range(0, 3))
    assert layout.page(2) == (range(0, 2), range(3, 6))
    assert layout.page(3) == (range(2, 4), range(0, 3))
    assert layout.number(range(2, 4), range(3, 6)) == 4


def test_a_layout_gives_every_page_as_much_as_fits() -> None:
    # A page weighs 10 per cell: the rows times the columns on it.
    def size(layout: Layout, number: int) -> int:
        rows, columns = layout.page(number)
        return 10 * len(rows) * len(columns)

    layout, fits = lay_out(size, limit=2000, row_weights=[1] * 50, column_weights=[1] * 3)
    assert fits
    assert layout.pages == 1  # 50 x 3 cells fit on one page: no paging at all

    layout, fits = lay_out(
        size, limit=1000, row_weights=[1] * 10, column_weights=[1] * 100, most_columns=15
    )
    assert fits
    assert (len(layout.rows), len(layout.columns)) == (1, 10)  # 10 rows x 10 columns a page
    assert all(size(layout, n) <= 1000 for n in range(1, layout.pages + 1))

    layout, fits = lay_out(
        size,
        limit=1000,
        row_weights=[1] * 40,
        column_weights=[1] * 100,
        most_columns=15,
        fewest_columns=5,
    )
    assert fits
    assert max(len(c) for c in layout.columns) == 5  # columns shrink no further than 5...
    assert all(size(layout, n) <= 1000 for n in range(1, layout.pages + 1))  # ...then rows do


def test_the_heaviest_page_decides_so_that_every_page_fits() -> None:
    weights = [1] * 20 + [30] * 10  # the last columns carry long names
    measured: list[int] = []

    def size(layout: Layout, number: int) -> int:
        measured.append(number)
        _, columns = layout.page(number)
        return sum(10 * weights[i] for i in columns)

    layout, fits = lay_out(size, limit=1000, row_weights=[1], column_weights=weights)
    assert fits
    assert all(size(layout, n) <= 1000 for n in range(1, layout.pages + 1))
    assert len(measured) < 10 + layout.pages  # not every page of every try


def test_a_page_that_cannot_fit_is_reported() -> None:
    layout, fits = lay_out(lambda _layout, _n: 5000, limit=1000, row_weights=[1, 1])
    assert not fits
    assert layout.pages == 2  # one row a page, as small as it gets
