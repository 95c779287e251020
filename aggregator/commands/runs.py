"""``aggregator runs`` and ``aggregator health``: what every crawl run did, and how each source is doing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from aggregator.cli import _archive, app, db_app, out
from aggregator.sources import all_sources, resolve_keys


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def run_summary(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "source": run.source,
        "status": run.status,
        "finish_reason": run.finish_reason,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "pages": run.pages,
        "new": run.items_new,
        "updated": run.items_updated,
        "unchanged": run.items_unchanged,
        "rejected": run.rejected,
        "http_errors": run.http_errors,
        "dates_unparsed": run.dates_unparsed,
        "health": (run.health or {}).get("status"),
        "host": run.host,
        "pid": run.pid,
    }


@app.command("runs")
def runs_cmd(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option("--source", help="Only this source's runs.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """List crawl runs, newest first: status, finish reason, counts, health, and where each ran."""
    if source:
        resolve_keys([source])
    archive = _archive(ctx)
    try:
        rows = [run_summary(r) for r in archive.list_runs(source=source, limit=limit)]
    finally:
        archive.close()
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="Crawl runs", title_justify="left")
    for column in ("id", "source", "started (UTC)", "took", "status", "reason", "pages", "new", "upd", "same",
                   "rejected", "http err", "undated", "health", "host:pid"):  # fmt: skip
        table.add_column(column, justify="right" if column in {"id", "pages", "new", "upd", "same"} else "left")
    for row in rows:
        started = datetime.fromisoformat(row["started_at"]) if row["started_at"] else None
        finished = datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None
        took = f"{(finished - started).total_seconds():.0f}s" if started and finished else ""
        status = {"finished": "[green]finished[/green]", "failed": "[red]failed[/red]"}.get(
            row["status"], row["status"]
        )
        health = {"green": "[green]green[/green]", "red": "[red]red[/red]"}.get(row["health"] or "", "")
        table.add_row(
            str(row["id"]), row["source"], _when(started), took, status, escape(row["finish_reason"] or ""),
            str(row["pages"]), str(row["new"]), str(row["updated"]), str(row["unchanged"]), str(row["rejected"]),
            str(row["http_errors"]), str(row["dates_unparsed"]), health, f"{row['host'] or ''}:{row['pid'] or ''}",
        )  # fmt: skip
    out.print(table)


def _share(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "–"


@app.command("health")
def health_cmd(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age",
            metavar="AGE",
            help="A source whose latest judged run is older than this (30m, 2h, 1d; 0: never) is red "
            "(default: AGGREGATOR_HEALTH_MAX_AGE_HOURS, 24h).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """Each source's health after its latest run: articles against the median, field coverage, dates, HTTP errors,
    and whether its runs have stopped.

    Exits 1 when a source is red.
    """
    from aggregator.commands.schedule import parse_interval
    from aggregator.crawl import project_settings
    from aggregator.health_report import DEFAULT_MAX_AGE_HOURS, source_health
    from aggregator.health_report import max_age as health_max_age

    keys = [s.key for s in resolve_keys([source])] if source else [s.key for s in all_sources()]
    if max_age is None:
        oldest = health_max_age(project_settings().getfloat("AGGREGATOR_HEALTH_MAX_AGE_HOURS", DEFAULT_MAX_AGE_HOURS))
    elif max_age.strip() == "0":
        oldest = None
    else:
        try:
            oldest = timedelta(seconds=parse_interval(max_age))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--max-age") from None
    archive = _archive(ctx)
    try:
        with archive.engine.connect() as conn:
            rows = source_health(conn, keys, max_age=oldest)
    finally:
        archive.close()
    if as_json:
        print(json.dumps([r for r in rows if r["run"] is not None], ensure_ascii=False, indent=2))
    else:
        table = Table(title="Source health (latest run)", title_justify="left")
        for column in ("source", "health", "run", "finished (UTC)", "articles", "median", "title", "body", "date",
                       "undated", "http errors", "problems"):  # fmt: skip
            table.add_column(column)
        for row in rows:
            if row["run"] is None:
                table.add_row(row["source"], "–", "", "", "", "", "", "", "", "", "", "no run recorded yet")
                continue
            status = "[green]green[/green]" if row.get("status") == "green" else "[red]red[/red]"
            coverage = row.get("coverage") or {}
            median = row.get("median")
            table.add_row(
                row["source"], status, str(row["run"]),
                _when(datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None),
                str(row.get("items", "")), "–" if median is None else f"{median:g}",
                _share(coverage.get("title")), _share(coverage.get("body")), _share(coverage.get("date")),
                _share(row.get("undated")), _share(row.get("http_error_rate")),
                escape("; ".join(row.get("problems") or [])),
            )  # fmt: skip
        out.print(table)
    if any(row.get("status") == "red" for row in rows):
        raise typer.Exit(1)


@db_app.command("prune-runs")
def db_prune_runs(
    ctx: typer.Context,
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", min=0, help="Age in days (default: AGGREGATOR_RUNS_KEEP_DAYS, 90)."),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep", min=0, help="Runs each source keeps whatever their age (default: AGGREGATOR_RUNS_KEEP_MIN, 20)."
        ),
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only this source's runs.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")] = False,
) -> None:
    """Delete old crawl-run rows (crawls do it at their end for their source): rejects stay, without their run."""
    from aggregator.crawl import project_settings
    from aggregator.store.models import utcnow
    from pipelines.store import runs_to_keep

    if source:
        resolve_keys([source])
    settings = project_settings()
    days = settings.getfloat("AGGREGATOR_RUNS_KEEP_DAYS", 90.0) if older_than is None else older_than
    if days <= 0 and older_than is None:
        out.print("AGGREGATOR_RUNS_KEEP_DAYS is 0: run rows are kept for good (give --older-than to delete some)")
        return
    kept = runs_to_keep(settings) if keep is None else keep
    archive = _archive(ctx)
    try:
        removed = archive.prune_runs(
            older_than=utcnow() - timedelta(days=days), keep=kept, source=source, dry_run=dry_run
        )
    finally:
        archive.close()
    verb = "would delete" if dry_run else "deleted"
    for key, count in removed.items():
        out.print(f"{key}: {verb} {count} run row(s)")
    out.print(
        f"{verb} {sum(removed.values())} run row(s) started more than {days:g} days ago "
        f"(each source keeps its newest {kept})"
    )
