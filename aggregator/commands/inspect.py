"""``aggregator stats`` and ``aggregator export``: what came in, per source and day; the archive as files."""

from __future__ import annotations

import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from aggregator.cli import (
    SINCE_HELP,
    UNTIL_HELP,
    _archive,
    _db_url,
    _filter_options,
    app,
    check_output_file,
    fail,
    out,
    print_json,
    writing,
)
from aggregator.sources import resolve_keys
from aggregator.store.models import MAX_ID

BAR_WIDTH = 40


def bar(value: int, largest: int, width: int = BAR_WIDTH) -> str:
    """A bar of block characters proportional to ``value`` (a non-zero value always shows)."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]


@app.command()
def stats(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", min=1, max=3660, help="The last N days (UTC), today included.")] = 7,
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of per-source, per-day rows.")] = False,
) -> None:
    """Articles archived per source per day, how many undated or withdrawn, and rejects: a table and a bar chart."""
    from aggregator.store.queries import daily_stats

    if source:
        resolve_keys([source])
    today = datetime.now(UTC).date()
    archive = _archive(ctx)
    try:
        with archive.reader.connect() as conn:
            counts = daily_stats(conn, days=days, source=source, today=today)
    finally:
        archive.close()
    rows: list[dict[str, Any]] = [
        {
            "day": day.isoformat(),
            "source": key,
            "articles": c.articles,
            "undated": c.undated,
            "withdrawn": c.withdrawn,
            "rejects": c.rejects,
        }
        for (key, day), c in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    if as_json:
        print_json(rows)
        return
    first = today - timedelta(days=days - 1)
    table = Table(title=f"Last {days} day(s), {first} to {today} (UTC)", title_justify="left")
    counted = ("articles", "undated", "withdrawn", "rejects")
    for column in ("day", "source", *counted):
        table.add_column(column, justify="right" if column in counted else "left")
    for r in rows:
        table.add_row(r["day"], escape(r["source"]), *(str(r[k]) for k in counted))
    table.add_section()
    table.add_row("total", "", *(str(sum(r[k] for r in rows)) for k in counted))
    out.print(table)
    per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for (_, day), c in counts.items():
        per_day[day][0] += c.articles
        per_day[day][1] += c.rejects
    largest = max((max(v) for v in per_day.values()), default=0)
    out.print("[bold]articles[/bold] [green]█[/green]  [bold]rejects[/bold] [red]█[/red]")
    for offset in range(days):
        day = first + timedelta(days=offset)
        articles, rejects = per_day.get(day, [0, 0])
        out.print(f"{day}  [green]{bar(articles, largest)}[/green] {articles}")
        if rejects:
            out.print(f"{'':10}  [red]{bar(rejects, largest)}[/red] {rejects}")


@app.command()
def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="jsonl (one JSON object a line) or csv.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of standard output.")
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only this source's articles.")] = None,
    language: Annotated[str | None, typer.Option("--language", help="Only articles in this language.")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="DATE", help=SINCE_HELP)] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="DATE", help=UNTIL_HELP)] = None,
    story: Annotated[
        int | None, typer.Option("--story", metavar="ID", max=MAX_ID, help="Only the articles of this story.")
    ] = None,
    undated: Annotated[bool, typer.Option("--undated", help="Only articles whose date could not be read.")] = False,
    withdrawn: Annotated[
        bool, typer.Option("--withdrawn", help="Only the withdrawn articles (left out otherwise).")
    ] = False,
) -> None:
    """Export articles (newest first, with bodies and attribution) as JSON Lines or CSV, streamed at any size.

    Withdrawn articles are left out, as the downstream site leaves them out; --withdrawn exports only them."""
    from aggregator.export import FORMATS, export_articles

    if fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    chosen = _filter_options(source, language, since, until, story, undated, withdrawn)
    if output is not None:
        check_output_file(output, "export", db_url=_db_url(ctx))
    archive = _archive(ctx)
    try:
        if output is None:
            try:
                export_articles(archive.reader, chosen, fmt, sys.stdout)
                sys.stdout.flush()
            except BrokenPipeError:  # `aggregator export | head`: the reader has all it wanted
                sys.stdout = None  # type: ignore[assignment]  # no second error when Python flushes at exit
            except OSError as exc:  # `aggregator export > file` on a disk that fills up: not a traceback
                sys.stdout = None  # type: ignore[assignment]  # what is left in its buffer cannot be written either
                fail(f"cannot write the export to standard output: {exc.strerror or exc}")
            return
        with writing("export", output), output.open("w", encoding="utf-8", newline="") as stream:
            written = export_articles(archive.reader, chosen, fmt, stream)
    finally:
        archive.close()
    if output is not None:
        out.print(f"exported {written} article(s) to {output}")
