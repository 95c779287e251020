"""``aggregator runs`` and ``aggregator health``: what every crawl run did, and how each source is doing."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from aggregator.cli import (
    LONGEST_DAYS,
    MAX_LIMIT,
    _archive,
    _db_url,
    app,
    check_output_file,
    db_app,
    err,
    out,
    print_json,
    reader_gone,
    time_bounds,
    writing,
)
from aggregator.paths import replaced_whole
from aggregator.present import utc_iso
from aggregator.run_counts import SWEPT_GONE, UNKNOWN_COUNTS
from aggregator.sources import UnknownSourceError, all_sources, resolve_keys
from aggregator.tables import WIDE, compact_table, fits, header_column

if TYPE_CHECKING:
    from aggregator.store import Archive


def _when(value: datetime | None, *, short: bool = False) -> str:
    """A time in a table; ``short``: without year and seconds (a narrow terminal)."""
    return value.strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S") if value else ""


def run_summary(run: Any, crawl: int | None = None) -> dict[str, Any]:
    """A run row as `runs` shows it; ``crawl``: the first run of the scale-out crawl it is a worker of."""
    stats = run.stats if isinstance(run.stats, dict) else {}
    return {
        "id": run.id,
        "crawl": crawl,
        "source": run.source,
        "status": run.status,
        "finish_reason": run.finish_reason,
        "started_at": utc_iso(run.started_at),
        "finished_at": utc_iso(run.finished_at),
        "pages": run.pages,
        "new": run.items_new,
        "updated": run.items_updated,
        "unchanged": run.items_unchanged,
        "rejected": run.rejected,
        "http_errors": run.http_errors,
        "dates_unparsed": run.dates_unparsed,
        # older articles the sweep asked for again (aggregator/sweep.py): among the pages, new, updated, unchanged;
        # and those it found gone, which withdraws them: not among the http_errors (aggregator/run_counts.py)
        "swept": int(stats.get("aggregator/swept") or 0),
        "swept_gone": int(stats.get(SWEPT_GONE) or 0),
        "health": (run.health or {}).get("status"),
        "host": run.host,
        "pid": run.pid,
        # the counts of a killed run that nothing it wrote tells (aggregator.store.repository.abandon_stale_runs):
        # shown as "?", their 0 is no count
        "unknown_counts": sorted({_ROW_KEYS.get(k, k) for k in stats.get(UNKNOWN_COUNTS) or ()}),
    }


_ROW_KEYS = {"items_new": "new", "items_updated": "updated", "items_unchanged": "unchanged"}
"""The run row's column -> its key in ``run_summary``, where they differ."""


def _count(row: dict[str, Any], key: str) -> str:
    """A run's count as the tables print it: "?" where it is not known (a killed run's)."""
    return "?" if key in (row.get("unknown_counts") or ()) else str(row.get(key, 0))


def known_or_has_runs(archive: Archive, key: str) -> None:
    """A source key the registry knows, or one the archive holds runs of: a source taken out of the registry keeps
    its run rows, which an operator lists and deletes by its key."""
    try:
        resolve_keys([key])
    except UnknownSourceError:
        if not archive.list_runs(source=key, limit=1):
            raise


@app.command("runs")
def runs_cmd(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option("--source", metavar="SOURCE", help="Only this source's runs.")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="DATE", help="Only runs started at or after this ISO date or time (UTC if no zone)."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="DATE", help="... and before this ISO date or time (a bare date includes that day)."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, max=MAX_LIMIT, help="At most this many, newest first.")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """List crawl runs, newest first: status, finish reason, counts, health, where each ran.

    A scale-out worker's run also says which scale-out crawl (by its first run) it was part of. What a run archived:
    `articles list --run ID`; what it refused: `rejects list --run ID`."""
    from aggregator.store.queries import list_runs

    start, end = time_bounds(since, until)
    archive = _archive(ctx)
    try:
        if source:
            known_or_has_runs(archive, source)
        with archive.reader.connect() as conn:
            runs = list_runs(conn, source=source, since=start, until=end, limit=limit)
        crawls = archive.first_runs(r.crawl_id for r in runs if r.crawl_id)
        rows = [run_summary(r, crawls.get(r.crawl_id) if r.crawl_id else None) for r in runs]
    finally:
        archive.close()
    if as_json:
        print_json(rows)
        return
    for part in runs_view(rows, out):
        out.print(part)


def runs_view(rows: list[dict[str, Any]], console: Console) -> list[RenderableType]:
    """What ``runs`` prints on ``console``: the table (``runs_table``) and the lines under it where it fits whole
    (``tables.fits``), else a few lines a run, each figure named. At 60 columns Rich dropped the table's last columns,
    the HTTP errors and the health, without a word."""
    table, below = runs_table(rows, wide=console.width >= WIDE)
    if console.width >= WIDE or fits(console, table):
        return [table, *below]
    return runs_blocks(rows)


def runs_blocks(rows: list[dict[str, Any]]) -> list[RenderableType]:
    """Each run (``run_summary``) as a line and its counts under it: what a terminal too narrow for the table gets."""
    parts: list[RenderableType] = ["Crawl runs"]
    for row in rows:
        started = datetime.fromisoformat(row["started_at"]) if row["started_at"] else None
        finished = datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None
        status = escape(row["status"])
        if row["finish_reason"] and row["finish_reason"] != row["status"]:
            status += f" ({escape(row['finish_reason'])})"
        head = [status] + ([f"health {escape(row['health'])}"] if row["health"] else [])
        when = [f"started {_when(started)} UTC"] if started else []
        if started and finished:
            when.append(f"took {(finished - started).total_seconds():.0f}s")
        if row.get("crawl"):
            when.append(f"a worker of scale-out crawl {row['crawl']}")
        lines = [
            ", ".join(when),
            (
                f"{_count(row, 'pages')} pages, {_count(row, 'new')} new, {_count(row, 'updated')} updated, "
                f"{_count(row, 'unchanged')} unchanged"
            ),
            (
                f"{_count(row, 'rejected')} rejected, {_count(row, 'http_errors')} HTTP errors, "
                f"{_count(row, 'dates_unparsed')} undated, {_count(row, 'swept')} swept"
            ),
        ]
        parts.append(f"[bold]run {row['id']}[/bold] {escape(row['source'])}: {', '.join(head)}")
        parts += [Padding(line, (0, 0, 0, 2), expand=False) for line in lines if line]
    return parts


def runs_table(rows: list[dict[str, Any]], *, wide: bool) -> tuple[Table, list[str]]:
    """The runs (``run_summary``), a line each, and the lines to print under it. Narrower than ``WIDE`` (80 columns):
    the start without its year and seconds, neither undated items nor host, and under the table a finish reason that
    says more than the status, and which runs were the workers of one scale-out crawl."""
    table = compact_table("Crawl runs", tight=not wide)
    header_column(table, "id", justify="right")
    scaled_out = wide and any(row.get("crawl") for row in rows)  # a column most archives would leave empty
    if scaled_out:
        header_column(table, "crawl", justify="right")
    header_column(table, "source", width=max((len(row["source"]) for row in rows), default=0))
    header_column(table, "started (UTC)" if wide else "started\n(UTC)", width=19 if wide else 11)
    header_column(table, "took", justify="right")
    header_column(table, "status", width=8)
    if wide:
        header_column(table, "reason", fold=True)
    for label in ("pages", "new", "upd", "same", "rejected" if wide else "rej", "http err" if wide else "http\nerr",
                  *(["undated", "swept"] if wide else [])):  # fmt: skip
        header_column(table, label, justify="right")
    header_column(table, "health", width=5)
    if wide:
        header_column(table, "host:pid")
    below: list[str] = []
    for row in rows:
        started = datetime.fromisoformat(row["started_at"]) if row["started_at"] else None
        finished = datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None
        took = f"{(finished - started).total_seconds():.0f}s" if started and finished else ""
        status = {"finished": "[green]finished[/green]", "failed": "[red]failed[/red]"}.get(
            row["status"], row["status"]
        )
        reason = escape(row["finish_reason"] or "")
        if not wide and reason and reason != row["status"]:
            below.append(f"run {row['id']} ({escape(row['source'])}): {escape(row['status'])}, {reason}")
        health = {"green": "[green]green[/green]", "red": "[red]red[/red]"}.get(row["health"] or "", "")
        when = _when(started, short=not wide)
        counts = [_count(row, key) for key in ("pages", "new", "updated", "unchanged", "rejected", "http_errors")]
        if wide:
            counts += [_count(row, "dates_unparsed"), _count(row, "swept")]
        table.add_row(
            str(row["id"]), *([str(row["crawl"] or "")] if scaled_out else []), row["source"], when, took, status,
            *([reason] if wide else []), *counts, health,
            *([f"{row['host'] or ''}:{row['pid'] or ''}"] if wide else []),
        )  # fmt: skip
    if not wide:
        workers: dict[tuple[int, str], list[int]] = {}
        for row in rows:
            if row.get("crawl"):
                workers.setdefault((row["crawl"], row["source"]), []).append(row["id"])
        below += [  # a crawl of one worker is a run like any other: no line of its own
            f"scale-out crawl {crawl} ({escape(source)}): runs {', '.join(map(str, sorted(ids)))}"
            for (crawl, source), ids in sorted(workers.items())
            if len(ids) > 1
        ]
    return table, below


def _share(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "–"


MaxAgeOpt = Annotated[
    str | None,
    typer.Option(
        "--max-age",
        metavar="AGE",
        help="A source whose latest judged run is older than this (30m, 2h, 1d; 0: never) is red "
        "(default: AGGREGATOR_HEALTH_MAX_AGE_HOURS, 24h).",
    ),
]


def verdict_max_age(max_age: str | None) -> timedelta | None:
    """``--max-age`` as ``source_health`` takes it: the setting when not given, None (no limit) for 0."""
    from aggregator.commands.schedule import interval_option
    from aggregator.crawl import project_settings
    from aggregator.health_report import DEFAULT_MAX_AGE_HOURS
    from aggregator.health_report import max_age as health_max_age

    if max_age is None:
        return health_max_age(project_settings().getfloat("AGGREGATOR_HEALTH_MAX_AGE_HOURS", DEFAULT_MAX_AGE_HOURS))
    if max_age.strip() == "0":
        return None
    # A bare number ("2" was 2 seconds: every source red, "over 0.03 min ago") is refused, with its unit asked for.
    note = " (AGGREGATOR_HEALTH_MAX_AGE_HOURS is in hours)"
    return timedelta(seconds=interval_option(max_age, "--max-age", examples="30m, 2h, 1d", unit_note=note))


@app.command("health")
def health_cmd(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option("--source", metavar="SOURCE", help="Only this source.")] = None,
    max_age: MaxAgeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """Each source's health after its latest run: articles against the median, coverage, dates, HTTP errors, stops.

    Exits 1 unless every source is green: when one is red, or unknown (no judged run yet: never run). A source the
    archive has runs of that is not in the registry now is reported by its last run's verdict, which counts where
    AGGREGATOR_SOURCES_FILE is unset (forgotten here?), not where the sources file is set and has no such entry.
    """
    from aggregator.health_report import source_health, unregistered_health

    registered = [s.key for s in all_sources()]
    oldest = verdict_max_age(max_age)
    archive = _archive(ctx)
    try:
        if source:
            known_or_has_runs(archive, source)
        with archive.engine.connect() as conn:
            keys = [k for k in registered if k == source] if source else registered
            rows = [row | {"registered": True} for row in source_health(conn, keys, max_age=oldest)]
            rows += unregistered_health(conn, registered, only=source)
    finally:
        archive.close()
    if as_json:
        print_json(rows)
    else:
        for part in health_view(rows, out):
            out.print(part)
    # a source never judged is not known to be healthy; one taken out of the sources file is not judged
    if any(row["status"] != "green" and row.get("counted", True) for row in rows):
        raise typer.Exit(1)


HEALTH_TITLE = "Source health (latest run)"
COVERAGE_TITLE = "Coverage of the articles extracted"

# Each column of the health tables: its header on a narrow terminal and on a wide one, how it is justified, and how
# wide its values may be (they must not wrap).
_HEALTH_COLUMNS: dict[str, tuple[str, str, str, int]] = {
    "source": ("source", "source", "left", 0),
    "health": ("health", "health", "left", 7),
    "run": ("run", "run", "right", 0),
    "finished": ("finished\n(UTC)", "finished (UTC)", "left", 11),
    "articles": ("found", "found", "right", 4),  # what the listings led to, refused ones too (``Measures.items``)
    "median": ("median", "median", "right", 4),
    "extracted": ("extracted", "extracted", "right", 4),
    "title": ("title", "title", "right", 4),
    "body": ("body", "body", "right", 4),
    "date": ("date", "date", "right", 4),
    "undated": ("undated", "undated", "right", 4),
    "http": ("http\nerr", "http errors", "right", 4),
}
_COUNTS = ("source", "health", "run", "finished", "articles", "median", "http")
_COVERAGE = ("source", "extracted", "title", "body", "date", "undated")


def _health_cells(row: dict[str, Any], *, wide: bool) -> dict[str, str]:
    """One source's verdict (``source_health``) as the cells of the health tables, by column: empty but for its
    source and status where it has no judged run."""
    if row["run"] is None:
        return {"source": row["source"], "health": f"[yellow]{row['status']}[/yellow]"}
    coverage = row.get("coverage") or {}
    median = row.get("median")
    finished = datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None
    return {
        "source": row["source"],
        "health": "[green]green[/green]" if row.get("status") == "green" else "[red]red[/red]",
        # a scale-out crawl's first run and its workers; one worker's is a run like any other
        "run": f"{row['run']}×{row['workers']}"
        if (row.get("workers") or 1) > 1 and row.get("crawl")
        else str(row["run"]),
        "finished": _when(finished, short=not wide),
        "articles": str(row.get("items", "")),
        "median": "–" if median is None else f"{median:g}",
        "extracted": str(row.get("extracted", "")),
        "title": _share(coverage.get("title")),
        "body": _share(coverage.get("body")),
        "date": _share(coverage.get("date")),
        "undated": _share(row.get("undated")),
        "http": _share(row.get("http_error_rate")),
    }


def _health_columns(
    rows: list[dict[str, Any]], title: str, columns: tuple[str, ...], *, wide: bool, problems: bool = False
) -> Table:
    """A table of the health ``columns``, a row a source (``_health_cells``); ``problems``: and a last column of
    each source's problems, folded to the room left."""
    table = compact_table(title, tight=not wide)
    for key in columns:
        narrow, wide_label, justify, width = _HEALTH_COLUMNS[key]
        if key == "source":
            width = max((len(row["source"]) for row in rows), default=0)
        elif key == "finished" and wide:
            width = 19
        header_column(table, wide_label if wide else narrow, justify=justify, width=width)
    if problems:
        table.add_column("problems", overflow="fold", ratio=1)
    for row in rows:
        cells = _health_cells(row, wide=wide)
        table.add_row(*(cells.get(key, "") for key in columns), *([escape(_problems(row))] if problems else []))
    return table


def health_table(rows: list[dict[str, Any]], *, wide: bool) -> tuple[Table, list[str]]:
    """Each source's verdict (``source_health``), a line each, and the lines to print under it: a narrower terminal
    than ``WIDE`` gets the finish time without year and seconds, and each source's problems under the table. The
    coverage shares are of the articles the run extracted, which an incremental run's are few of: the table shows
    how many, beside them (2 of 3 is 67%)."""
    table = _health_columns(rows, HEALTH_TITLE, tuple(_HEALTH_COLUMNS), wide=wide, problems=wide)
    return table, [] if wide else _problem_lines(rows)


def health_view(rows: list[dict[str, Any]], console: Console) -> list[RenderableType]:
    """What ``health`` prints on ``console``: the first of these that shows every figure whole at its width.

    From ``WIDE`` columns, one table, problems in a column of their own; narrower, the same table without them (each
    source's problems under it); narrower still (80 columns, most often), two tables, the runs' counts and their
    coverage (about 50 columns each); below that a few lines a source, each figure named. Given less room than
    its columns need, Rich drops the last ones without a word (at 60 columns the undated and HTTP error shares
    went) or cuts values short; and a narrow table without the extracted count showed coverage shares of a number
    it did not show (an incremental run extracts few of the articles it finds)."""
    if console.width >= WIDE:
        table, _ = health_table(rows, wide=True)
        return [table]
    table, below = health_table(rows, wide=False)
    if fits(console, table):
        return [table, *below]
    counts = _health_columns(rows, HEALTH_TITLE, _COUNTS, wide=False)
    coverage = _health_columns(rows, COVERAGE_TITLE, _COVERAGE, wide=False)
    if fits(console, counts, coverage):
        return [counts, coverage, *below]
    return health_blocks(rows)


def health_blocks(rows: list[dict[str, Any]]) -> list[RenderableType]:
    """Each source's verdict (``source_health``) as a few lines, every figure named and its problems one a line:
    what a terminal too narrow for the tables gets (they fold there, each line indented under its source)."""
    parts: list[RenderableType] = [HEALTH_TITLE]
    for row in rows:
        cells = _health_cells(row, wide=True)
        lines: list[str] = []
        if row["run"] is not None:
            several = row.get("crawl") and (row.get("workers") or 1) > 1
            run = f"scale-out crawl {row['run']} ({row['workers']} runs)" if several else f"run {row['run']}"
            lines.append(f"{run}, finished {cells['finished']} UTC" if cells["finished"] else run)
            lines.append(
                f"{cells['articles']} articles found, median {cells['median']}; HTTP errors {cells['http']} of requests"
            )
            lines.append(
                f"of {cells['extracted']} extracted: title {cells['title']}, body {cells['body']}, date "
                f"{cells['date']}, undated {cells['undated']}"
            )
        lines += [escape(problem) for problem in row.get("problems") or []]
        parts.append(f"[bold]{escape(row['source'])}[/bold] {cells['health']}")
        parts += [Padding(line, (0, 0, 0, 2), expand=False) for line in lines]
    return parts


def _problems(row: dict[str, Any]) -> str:
    return "; ".join(row.get("problems") or [])


def _problem_lines(rows: list[dict[str, Any]]) -> list[str]:
    return [f"[bold]{escape(row['source'])}[/bold]: {escape(_problems(row))}" for row in rows if _problems(row)]


@db_app.command("prune-runs")
def db_prune_runs(
    ctx: typer.Context,
    older_than: Annotated[
        float | None,
        typer.Option(
            "--older-than",
            metavar="DAYS",
            min=0,
            max=LONGEST_DAYS,
            help="Age in days (default: AGGREGATOR_RUNS_KEEP_DAYS, 90).",
        ),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep",
            metavar="N",
            min=0,
            max=MAX_LIMIT,
            help="Runs each source keeps whatever their age (default: AGGREGATOR_RUNS_KEEP_MIN, 20).",
        ),
    ] = None,
    source: Annotated[str | None, typer.Option("--source", metavar="SOURCE", help="Only this source's runs.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was (or would be) deleted as a JSON object.")
    ] = False,
) -> None:
    """Delete old crawl-run rows (crawls do it at their end for their source): rejects stay, without their run."""
    from aggregator.crawl import project_settings
    from aggregator.store.models import utcnow
    from pipelines.store import runs_to_keep

    settings = project_settings()
    days = settings.getfloat("AGGREGATOR_RUNS_KEEP_DAYS", 90.0) if older_than is None else older_than
    kept = runs_to_keep(settings) if keep is None else keep
    if days <= 0 and older_than is None:
        note = "AGGREGATOR_RUNS_KEEP_DAYS is 0: run rows are kept for good (give --older-than to delete some)"
        if as_json:  # the document a script reads says so too: nothing deleted, and no age to delete from
            err.print(note, soft_wrap=True)
            print_json(_pruned(dry_run, None, None, kept, source, {}))
        else:
            out.print(note)
        return
    archive = _archive(ctx)
    try:
        if source:
            known_or_has_runs(archive, source)
        cutoff = utcnow() - timedelta(days=days)
        removed = archive.prune_runs(older_than=cutoff, keep=kept, source=source, dry_run=dry_run)
    finally:
        archive.close()
    if as_json:
        print_json(_pruned(dry_run, days, cutoff, kept, source, removed))
        return
    verb = "would delete" if dry_run else "deleted"
    for key, count in removed.items():
        out.print(f"{key}: {verb} {count} run row(s)")
    age = f"started more than {days:g} day(s) ago" if days else "of any age"
    out.print(f"{verb} {sum(removed.values())} run row(s) {age} (each source keeps its newest {kept})")


def _pruned(
    dry_run: bool, days: float | None, cutoff: datetime | None, kept: int, source: str | None, removed: dict[str, int]
) -> dict[str, Any]:
    """``db prune-runs --json``: the run rows each source lost (or would lose: ``dry_run``), with the rule applied."""
    return {
        "dry_run": dry_run,
        "older_than_days": days,
        "started_before": utc_iso(cutoff),
        "keep": kept,
        "source": source,
        "deleted": removed,
        "total": sum(removed.values()),
    }


@app.command("metrics")
def metrics_cmd(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to this file (replaced whole, for node_exporter's textfile collector).",
        ),
    ] = None,
    max_age: MaxAgeOpt = None,
) -> None:
    """Each source's latest run, health verdict and archive in Prometheus' text format.

    The same text `serve` answers at /metrics."""
    from aggregator.metrics import exposition

    oldest = verdict_max_age(max_age)
    if output is not None:  # before the archive is read: a wrong path is said at once, and nothing is written
        output = output.expanduser()
        check_output_file(output, "metrics", db_url=_db_url(ctx), example="aggregator.prom", replaced=True)
    archive = _archive(ctx)
    try:
        body = exposition(archive.reader.connect, [s.key for s in all_sources()], max_age=oldest)
    finally:
        archive.close()
    if output is None:
        try:
            sys.stdout.buffer.write(body)
            sys.stdout.flush()
        except BrokenPipeError:  # `aggregator metrics | head`: the reader has what it wanted
            reader_gone()
        return
    with writing("metrics", output), replaced_whole(output) as partial:  # a scrape never reads half a file
        partial.write_bytes(body)
