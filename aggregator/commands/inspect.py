"""``aggregator stats`` and ``aggregator export``: what came in, per source and day; the archive as files."""

from __future__ import annotations

import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from aggregator.cli import (
    SINCE_HELP,
    UNTIL_HELP,
    _archive,
    _db_url,
    _filter_options,
    app,
    check_output_file,
    choices,
    fail,
    out,
    print_json,
    usage,
    writing,
)
from aggregator.export import FORMATS
from aggregator.sources import resolve_keys
from aggregator.store.models import MAX_ID
from aggregator.tables import compact_table, fits, header_column

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
    days: Annotated[
        int | None,
        typer.Option("--days", metavar="N", min=1, max=3660, help="The last N days (UTC), today included (7)."),
    ] = None,
    source: Annotated[str | None, typer.Option("--source", metavar="SOURCE", help="Only this source.")] = None,
    totals: Annotated[
        bool,
        typer.Option(
            "--totals", help="The whole archive instead: rows and stored page bytes per source, the database's size."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of per-source, per-day rows.")] = False,
) -> None:
    """Articles archived per source per day, how many undated or withdrawn, and rejects: a table and a bar chart.

    --totals: how big the archive is and what it is made of, per source."""
    from aggregator.store.queries import daily_stats

    if source:
        resolve_keys([source])
    if totals:
        if days is not None:
            usage("--totals counts the whole archive: it takes no --days")
        archive_totals(ctx, source, as_json=as_json)
        return
    days = days or 7
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


TOTAL_COLUMNS = ("articles", "withdrawn", "undated", "without_cover", "versions", "page_bytes", "rejects_open",
                 "rejects", "reject_page_bytes", "redirects", "runs")  # fmt: skip


def archive_totals(ctx: typer.Context, source: str | None, *, as_json: bool) -> None:
    """``stats --totals``: each source's rows and stored page bytes, a total, and the database's size on disk."""
    from dataclasses import asdict

    from aggregator.store.db import sqlite_file
    from aggregator.store.queries import SourceTotals, database_bytes, source_totals

    archive = _archive(ctx)
    try:
        with archive.reader.connect() as conn:
            found = source_totals(conn)
            size = database_bytes(conn)
    finally:
        archive.close()
    database = sqlite_file(_db_url(ctx))
    if database is not None:  # the database and the write-ahead log beside it (commits not yet copied back)
        size = sum(f.stat().st_size for f in (database, database.with_name(database.name + "-wal")) if f.exists())
    if source:
        found = {source: found.get(source, SourceTotals())}
    rows = [{"source": key, **asdict(t)} for key, t in found.items()]
    total = {name: sum(int(row[name]) for row in rows) for name in TOTAL_COLUMNS}
    if as_json:
        print_json({"sources": rows, "total": total, "database_bytes": size})
        return
    for part in totals_view(rows, total, out):
        out.print(part)
    if size is not None:
        out.print(f"database on disk: {byte_size(size)}")


TOTALS_TITLE = "The archive, per source"
_ARTICLE_TOTALS = ("articles", "withdrawn", "undated", "without_cover", "versions", "page_bytes")
_OTHER_TOTALS = ("rejects", "rejects_open", "reject_page_bytes", "redirects", "runs")


def _total_cells(row: dict[str, Any]) -> dict[str, str]:
    """A row of ``stats --totals`` (a source's, or the total) as its cells, by column: sizes in KiB or MiB."""
    shown = {name: byte_size(row[name]) if name.endswith("bytes") else f"{row[name]:,}" for name in TOTAL_COLUMNS}
    return {"source": escape(row["source"])} | shown


def _totals_table(cells: list[dict[str, str]], title: str, columns: tuple[str, ...], *, stacked: bool) -> Table:
    """The ``columns`` of the totals, a row a source and the total under them, every value whole on its line;
    ``stacked``: each header a word a line ("reject", "page", "bytes")."""
    table = compact_table(title)
    header_column(table, "source", width=max(len(row["source"]) for row in cells))
    for name in columns:
        label = name.replace("_", "\n" if stacked else " ")
        header_column(table, label, justify="right", width=max(len(row[name]) for row in cells))
    for row in cells:
        table.add_row(*(row[key] for key in ("source", *columns)), end_section=row is cells[-2])
    return table


def totals_view(rows: list[dict[str, Any]], total: dict[str, int], console: Console) -> list[RenderableType]:
    """What ``stats --totals`` prints on ``console``: the first of these that shows every figure whole at its width
    (``tables.fits``). One table of the eleven counts (120 columns and more); two, the articles and their stored
    pages, then the rejects, redirects and runs (80 columns); narrower, a few lines a source, each figure named. One
    table at 80 columns cut its headers and values short (``sou…``, ``104… KiB``) and still wrapped them at 120."""
    cells = [_total_cells(row) for row in [*rows, {"source": "total", **total}]]
    table = _totals_table(cells, TOTALS_TITLE, _ARTICLE_TOTALS + _OTHER_TOTALS, stacked=True)
    if fits(console, table):
        return [table]
    articles = _totals_table(cells, "The archive's articles, per source", _ARTICLE_TOTALS, stacked=False)
    others = _totals_table(cells, "Its rejects, redirects and runs", _OTHER_TOTALS, stacked=False)
    if fits(console, articles, others):
        return [articles, others]
    parts: list[RenderableType] = [TOTALS_TITLE]
    for row in cells:
        lines = [
            (
                f"{row['articles']} article(s): {row['withdrawn']} withdrawn, {row['undated']} undated, "
                f"{row['without_cover']} without a cover"
            ),
            f"{row['versions']} version(s), their pages {row['page_bytes']}",
            f"{row['rejects']} reject(s), {row['rejects_open']} open, their pages {row['reject_page_bytes']}",
            f"{row['redirects']} redirect(s), {row['runs']} run row(s)",
        ]
        parts.append(f"[bold]{row['source']}[/bold]")
        parts += [Padding(line, (0, 0, 0, 2), expand=False) for line in lines]
    return parts


def byte_size(value: int) -> str:
    """A size in bytes as a reader takes it in: 812 B, 16.6 KiB, 1,204.3 MiB."""
    if value < 1024:
        return f"{value} B"
    if value < 2**20:
        return f"{value / 1024:,.1f} KiB"
    return f"{value / 2**20:,.1f} MiB"


@app.command()
def export(
    ctx: typer.Context,
    fmt: Annotated[
        str, typer.Option("--format", metavar=choices(FORMATS), help="jsonl (one JSON object a line) or csv.")
    ] = "jsonl",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write to this file instead of standard output."),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", metavar="SOURCE", help="Only this source's articles.")
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", metavar="LANG", help="Only articles in this language.")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="DATE", help=SINCE_HELP)] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="DATE", help=UNTIL_HELP)] = None,
    story: Annotated[
        int | None, typer.Option("--story", metavar="ID", max=MAX_ID, help="Only the articles of this story.")
    ] = None,
    undated: Annotated[bool, typer.Option("--undated", help="Only articles whose date could not be read.")] = False,
    withdrawn: Annotated[
        bool, typer.Option("--withdrawn", help="Only the withdrawn articles (left out otherwise).")
    ] = False,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            metavar="DATE",
            help="Every article changed at or after this ISO date or time (archived, edited, withdrawn, shown again), "
            "oldest change first, withdrawn ones as tombstones: /api/changes' list.",
        ),
    ] = None,
) -> None:
    """Export articles (newest first, with bodies and attribution) as JSON Lines or CSV, streamed at any size.

    Withdrawn articles are left out, as the downstream site leaves them out; --withdrawn exports only them.
    --changed-since exports what changed since a copy was made (changes of the last minute are left for the next)."""
    from aggregator.export import export_articles
    from aggregator.present import parse_instant, utc_iso
    from aggregator.store.queries import change_horizon

    if fmt not in FORMATS:
        usage(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    start: datetime | None = None
    before: datetime | None = None  # a change export: the changes before this instant
    if changed_since is not None:
        others = {"--since": since, "--until": until, "--story": story, "--undated": undated, "--withdrawn": withdrawn}
        given = [option for option, value in others.items() if value]
        if given:  # they choose by publication time and state, the change export by change time
            usage(f"--changed-since exports every change: it takes no {', '.join(given)} (--source, --language do)")
        try:
            start = parse_instant(changed_since)
        except ValueError:
            usage(f"--changed-since: not an ISO 8601 date or time: {changed_since!r}")
        before = change_horizon()
    chosen = _filter_options(source, language, since, until, story, undated, withdrawn)
    if output is not None:
        check_output_file(output, "export", db_url=_db_url(ctx))
    archive = _archive(ctx)
    try:
        if output is None:
            try:
                export_articles(archive.reader, chosen, fmt, sys.stdout, changed_since=start, changed_before=before)
                sys.stdout.flush()
            except BrokenPipeError:  # `aggregator export | head`: the reader has all it wanted
                sys.stdout = None  # type: ignore[assignment]  # no second error when Python flushes at exit
            except OSError as exc:  # `aggregator export > file` on a disk that fills up: not a traceback
                sys.stdout = None  # type: ignore[assignment]  # what is left in its buffer cannot be written either
                fail(f"cannot write the export to standard output: {exc.strerror or exc}")
            return
        with writing("export", output), output.open("w", encoding="utf-8", newline="") as stream:
            written = export_articles(archive.reader, chosen, fmt, stream, changed_since=start, changed_before=before)
    finally:
        archive.close()
    if output is not None and before is not None:
        resume = utc_iso(before)
        out.print(f"exported {written} article(s) changed before {resume} to {output} (next: --changed-since {resume})")
    elif output is not None:
        out.print(f"exported {written} article(s) to {output}")
