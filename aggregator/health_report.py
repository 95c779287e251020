"""What ``aggregator health`` and the read API's ``/api/health`` report: each source's latest verdict, and whether
its runs have stopped.

A run judges itself (``aggregator.health``), so a schedule that stops running (a dead cron, a crashed container, a
full disk) leaves the last verdict green for ever. Here a source whose latest judged run finished longer ago than
``max_age`` (``AGGREGATOR_HEALTH_MAX_AGE_HOURS``, 24 by default) is red too, with the time of that run: the probe an
external monitor calls then notices what no run can report.

A source with no verdict at all (never run: a source just added, a schedule that never started; or only runs still
going, or killed before they were judged) is ``unknown``, not green: nothing has said it is healthy, and a probe that
passed on it would tell the operator of a cron job that never fired that all is well.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from aggregator.backoff import note_hold
from aggregator.health_checks import (
    LOOKED_IN,
    NOT_MEASURES,
    UNREAD_DATE,
    Measures,
    Thresholds,
    cap_problem,
    coverage_problem,
    dates_problem,
    http_problem,
    items_problem,
    store_problem,
)
from aggregator.present import utc_iso
from aggregator.run_counts import requeued_for
from aggregator.source_hints import not_registered_said
from aggregator.sources import SOURCES_FILE_VARIABLE
from aggregator.store.models import CrawlRun
from aggregator.store.queries import item_history

HISTORY = 20
"""Runs looked at per source for the latest one with a verdict (a run that failed early has none)."""
DEFAULT_MAX_AGE_HOURS = 24.0
RATIO_CHECKS = (coverage_problem, dates_problem, http_problem, store_problem, cap_problem)
"""What a crawl that is not through yet is judged on (its article count is what some of its workers found), the
items its workers could not store, and the links past the cap they did not follow."""
UNKNOWN = "unknown"
"""The status of a source with no verdict: neither green nor red, and not healthy."""


def max_age(hours: float) -> timedelta | None:
    """``AGGREGATOR_HEALTH_MAX_AGE_HOURS`` as ``source_health``'s ``max_age``: 0 (or less) is no limit."""
    return timedelta(hours=hours) if hours > 0 else None


def source_health(
    conn: Connection,
    keys: Sequence[str],
    *,
    now: datetime | None = None,
    max_age: timedelta | None = timedelta(hours=DEFAULT_MAX_AGE_HOURS),
) -> list[dict[str, Any]]:
    """One row per source in ``keys``: the verdict of its latest judged run (``status`` green or red, the run's
    measures, ``problems``), ``status`` unknown when it has none (``problems`` says why). With ``max_age``, a verdict
    older than that is red ("no judged run since ..."), whatever it said."""
    now = now or datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for key in keys:
        stmt = (
            select(
                CrawlRun.id,
                CrawlRun.status,
                CrawlRun.started_at,
                CrawlRun.finished_at,
                CrawlRun.health,
                CrawlRun.crawl_id,
            )
            .where(CrawlRun.source == key)
            .order_by(CrawlRun.id.desc())
            .limit(HISTORY)
        )
        runs = conn.execute(stmt).all()
        judged = next((r for r in runs if r.health), None)
        row: dict[str, Any] = {
            "source": key,
            "run": judged.id if judged else None,
            "finished_at": utc_iso(judged.finished_at) if judged else None,
            "run_status": judged.status if judged else None,
            "latest_run_started_at": utc_iso(runs[0].started_at) if runs else None,
            "crawl": None,
            "workers": None,
            "status": UNKNOWN,
            "problems": [unjudged(runs)] if judged is None else [],
        }
        ended = judged.finished_at or judged.started_at if judged is not None else None
        if judged is not None and judged.crawl_id is not None:
            verdict, ended = crawl_verdict(conn, key, judged.crawl_id)
            row |= verdict
        elif judged is not None:
            row |= dict(judged.health)
            row["problems"] = list(judged.health.get("problems") or [])
        if max_age is not None and ended is not None and ended < now - max_age:
            row["status"] = "red"
            row["problems"].append(
                f"no judged run since {ended.isoformat(timespec='seconds')} (over {_span(max_age)} ago): "
                "is the schedule running?"
            )
        note_hold(conn, row, now)  # a hold of the site's Retry-After: its runs are skipped, and record nothing
        rows.append(row)
    return rows


def unregistered_health(
    conn: Connection, registered: Collection[str], *, only: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Rows as ``source_health``'s for the sources the archive holds runs of that the registry does not know now
    (``only``: that one, if so), each marked ``registered: False`` with a first problem saying so. A process without
    ``AGGREGATOR_SOURCES_FILE`` knows none of the file's sources: ``health`` left them out and exited 0 while one's
    last run was red. The verdict is the last run's, not aged (``max_age``).

    ``counted``: whether the verdict goes into the exit status. It does where this process has no sources file (the
    variable missing from a cron line or a unit is what this is for); where it has one that names no such entry, the
    source was taken out of it, on purpose as far as can be told, and a red last run would have kept ``health`` red
    for good (``db prune-runs`` keeps a source's newest runs): it is shown, and left out of the exit status."""
    stmt = select(CrawlRun.source).distinct().where(CrawlRun.source.not_in(list(registered)))
    if only is not None:
        stmt = stmt.where(CrawlRun.source == only)
    keys = sorted(conn.execute(stmt).scalars())
    rows = source_health(conn, keys, now=now, max_age=None)
    counted = not os.environ.get(SOURCES_FILE_VARIABLE)
    for row in rows:
        row["registered"] = False
        row["counted"] = counted
        said = not_registered_said("not in the registry now (the verdict is its last run's)")
        row["problems"].insert(0, said if counted else f"{said}: left out of the exit status")
    return rows


def crawl_verdict(conn: Connection, key: str, crawl_id: str) -> tuple[dict[str, Any], datetime]:
    """The verdict of a scale-out crawl as a whole, from its workers' runs (``crawl_runs.crawl_id``), and when its
    latest worker ended. Each worker judged what it saw, an arbitrary share of the crawl (the last to finish may have
    fetched a handful of pages): here the counts of those with a verdict are summed and judged again, by the limits
    they ran with.

    The article count: against earlier crawls' once every worker has finished; none at all is red once no worker is
    still running (and not every one was cut short), as a run of its own is red at none, whatever the workers' own
    verdicts (they do not judge the count). A worker that was killed (its run abandoned, or gone with requests that
    another worker queued again) has no count: the crawl is red for it, "incomplete" unless another worker took up
    what it had in hand, and its count is not judged (what the killed worker archived is nobody's)."""
    workers = conn.execute(
        select(
            CrawlRun.id,
            CrawlRun.status,
            CrawlRun.finish_reason,
            CrawlRun.started_at,
            CrawlRun.finished_at,
            CrawlRun.stats,
            CrawlRun.health,
            CrawlRun.host,
            CrawlRun.pid,
        )
        .where(CrawlRun.source == key, CrawlRun.crawl_id == crawl_id)
        .order_by(CrawlRun.id)
    ).all()
    judged = [w for w in workers if isinstance(w.health, dict)]
    given = judged[-1].health.get("limits") or {}
    limits = Thresholds(**{f.name: given[f.name] for f in fields(Thresholds) if f.name in given})
    summed: Counter[str] = Counter()
    for worker in judged:
        summed.update({k: v for k, v in (worker.stats or {}).items() if isinstance(v, int) and not isinstance(v, bool)})
    first = workers[0].id
    history = [n for n in item_history(conn, key, limit=limits.history, before_run=first) if n]
    # Every worker runs the same spider: where it looks is any worker's (a string, which the sum leaves out)
    looked_in = next((w.stats[LOOKED_IN] for w in judged if isinstance(w.stats, dict) and w.stats.get(LOOKED_IN)), None)
    # and a date text one of them could not read, the one "could not be read" quotes (``UNREAD_DATE``)
    unread = next(
        (w.stats[UNREAD_DATE] for w in judged if isinstance(w.stats, dict) and w.stats.get(UNREAD_DATE)), None
    )
    measures = Measures.from_stats({**summed, LOOKED_IN: looked_in, UNREAD_DATE: unread}, history)
    taken_up = {  # host:pid -> (the run that queued again what it had in hand, how many requests)
        gone: (w.id, count) for w in judged for gone, count in requeued_for(w.stats or {}).items()
    }
    lost = [w for w in workers if _killed(w, taken_up)]
    statuses = ["failed" if w in lost else w.status for w in workers]  # a killed worker's row may say "running"
    problems = [_killed_said(w, taken_up) for w in lost]
    # A worker still running, killed, or cut short has found only part of its share: the count against earlier
    # crawls' waits for all of them.
    whole = all(w.status == "finished" and isinstance(w.health, dict) for w in workers)
    through = "running" not in statuses and not lost and not all(w.status == "partial" for w in judged)
    if whole:
        checks: tuple[Callable[[Measures, Thresholds], str | None], ...] = (items_problem, *RATIO_CHECKS)
    elif through:
        checks = (_nothing_found, *RATIO_CHECKS)
    else:
        checks = RATIO_CHECKS
    problems += [problem for check in checks if (problem := check(measures, limits))]
    ended = max(w.finished_at or w.started_at for w in judged)
    verdict = {k: v for k, v in asdict(measures).items() if k not in NOT_MEASURES}
    return verdict | {
        "status": "red" if problems else "green",
        "problems": problems,
        "run": first,
        "crawl": first,
        "workers": len(workers),
        "finished_at": utc_iso(ended),
        "run_status": crawl_status(statuses),
    }, ended


def _nothing_found(measures: Measures, limits: Thresholds) -> str | None:
    """``items_problem``'s rule without the median: no article at all."""
    return items_problem(measures, limits) if measures.items == 0 else None


def _killed(worker: Any, taken_up: dict[str, tuple[int, int]]) -> bool:
    """Whether a worker's run ended without its verdict, killed: its row closed as abandoned (or otherwise
    unjudged), or still "running" though another worker found its heartbeat expired with requests in hand (a worker
    on another host: no run abandons its row before ``AGGREGATOR_STALE_RUN_HOURS``)."""
    if isinstance(worker.health, dict):
        return False
    return worker.status != "running" or f"{worker.host}:{worker.pid}" in taken_up


def _killed_said(worker: Any, taken_up: dict[str, tuple[int, int]]) -> str:
    how = worker.finish_reason if worker.status != "running" else "its heartbeat expired"
    what = f"worker run {worker.id} was killed ({how or worker.status})"
    if (found := taken_up.get(f"{worker.host}:{worker.pid}")) is not None:
        by, count = found
        return f"{what}: run {by} queued again the {count} request(s) it had in hand"
    return f"incomplete: {what}, and no worker queued again what it may have had in hand (the next crawl finds it)"


def crawl_status(statuses: Iterable[str]) -> str:
    """The status of a crawl made of several workers' runs: running while any runs, else the worst of them (failed,
    then partial), finished when all finished."""
    found = set(statuses)
    return next((s for s in ("running", "failed", "partial") if s in found), "finished")


def unjudged(runs: Sequence[Any]) -> str:
    """Why a source has no verdict, from its latest runs (newest first)."""
    if not runs:
        return "no run recorded yet: is it scheduled?"
    latest = runs[0]
    if latest.status == "running":
        return f"no judged run yet: run {latest.id} is running since {latest.started_at.isoformat(timespec='seconds')}"
    return f"none of its last {len(runs)} run(s) was judged (run {latest.id}: {latest.status})"


def _span(age: timedelta) -> str:
    seconds = age.total_seconds()
    if seconds % 86400 == 0:
        return f"{seconds / 86400:g} d"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds < 60 or seconds % 60:
        return f"{seconds:g} s"  # "30 s", not "0.5 min"
    return f"{seconds / 60:g} min"
