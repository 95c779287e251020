"""Rich tables for the terminal: ruled under the header only, so that an 80-column terminal shows whole headers; and
the console they are printed on, which shows control characters instead of sending them (``Terminal``)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from aggregator.text import visible


class Terminal(Console):
    """Rich's console, giving every string it prints to ``text.visible`` first: a title holding ESC (``\\x1b[31m``, an
    OSC 8 hyperlink to a ``file:`` URL) or a reject's reason quoting a ``Location`` with ``\\x1b[2J`` is shown as
    ``\\x1b[31m``, not obeyed. Rich's markup escaping (``escape``) stays the caller's; Rich's own styles are added
    after, as escape sequences it writes itself.

    Rich turns each string into text here, whatever holds it: the arguments of ``print``, a table's cells, title and
    headers, a panel's content. A ``Text`` built by hand does not come by, nor a panel's title or a progress bar's
    description, which Rich parses itself: ``aggregator`` shows none of an archive's text in one."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(visible(text), **options)


WIDE = 150
"""Columns from which a table shows everything on one line a row (below: dates shortened, details folded in)."""


def compact_table(title: str, *, tight: bool = False) -> Table:
    """A table with no vertical rules and no edge padding: columns two spaces apart, or one when ``tight``."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        padding=(0, 0) if tight else (0, 1),
    )


def header_column(table: Table, label: str, *, justify: str = "left", width: int = 0, fold: bool = False) -> None:
    """A column at least as wide as the longest word of its header (a two-word header wraps instead of being cut)
    and as ``width`` (its values' length, when they must not wrap); ``fold``: a longer value folds onto further
    lines, whole, instead of ending in an ellipsis."""
    table.add_column(
        label,
        justify=justify,  # type: ignore[arg-type]
        min_width=max(width, *(len(word) for word in label.split())),
        overflow="fold" if fold else "ellipsis",
    )


def text_and_link_columns(table: Table, text: str, link: str, *, wide: bool, narrow: str | None = None) -> None:
    """A text column (a title, a reason) and its URL beside it, or, narrower than ``WIDE``, one column holding
    the URL under the text (``text_and_link`` fills them), headed ``narrow`` ("text / link" by default)."""
    if wide:
        table.add_column(text, overflow="fold", ratio=3)
        table.add_column(link, overflow="fold", ratio=2)
    else:
        table.add_column(narrow or f"{text} / {link}", overflow="fold")


def text_and_link(text: str, url: str, *, wide: bool) -> list[str]:
    """The cells of ``text_and_link_columns`` for one row: ``text`` is markup (already escaped), ``url`` plain."""
    return [text, escape(url)] if wide else [f"{text}\n[dim]{escape(url)}[/dim]"]


def fits(console: Console, *tables: Table) -> bool:
    """Whether each table shows every column whole within the console's width: its natural width, measured as if
    there were room for anything (a header meant to take two lines says so with a line break). Given less room than
    that, Rich narrows the widest columns by a rule of its own, which keeps to no column's ``min_width``: values were
    cut short (``104… KiB``), and the last columns dropped without a word."""
    unbounded = console.options.update_width(1_000_000)
    return all(Measurement.get(console, unbounded, table).maximum <= console.width for table in tables)
