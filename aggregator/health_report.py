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

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from aggregator.store.models import CrawlRun

HISTORY = 20
"""Runs looked at per source for the latest one with a verdict (a run that failed early has none)."""
DEFAULT_MAX_AGE_HOURS = 24.0
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
            select(CrawlRun.id, CrawlRun.status, CrawlRun.started_at, CrawlRun.finished_at, CrawlRun.health)
            .where(CrawlRun.source == key)
            .order_by(CrawlRun.id.desc())
            .limit(HISTORY)
        )
        runs = conn.execute(stmt).all()
        judged = next((r for r in runs if r.health), None)
        row: dict[str, Any] = {
            "source": key,
            "run": judged.id if judged else None,
            "finished_at": _iso(judged.finished_at) if judged else None,
            "run_status": judged.status if judged else None,
            "latest_run_started_at": _iso(runs[0].started_at) if runs else None,
            "status": UNKNOWN,
            "problems": [unjudged(runs)] if judged is None else [],
        }
        if judged is not None:
            row |= dict(judged.health)
            row["problems"] = list(judged.health.get("problems") or [])
        ended = judged.finished_at or judged.started_at if judged is not None else None
        if max_age is not None and ended is not None and ended < now - max_age:
            row["status"] = "red"
            row["problems"].append(
                f"no judged run since {ended.isoformat(timespec='seconds')} (over {_span(max_age)} ago): "
                "is the schedule running?"
            )
        rows.append(row)
    return rows


def unjudged(runs: Sequence[Any]) -> str:
    """Why a source has no verdict, from its latest runs (newest first)."""
    if not runs:
        return "no run recorded yet: is it scheduled?"
    latest = runs[0]
    if latest.status == "running":
        return f"no judged run yet: run {latest.id} is running since {latest.started_at.isoformat(timespec='seconds')}"
    return f"none of its last {len(runs)} run(s) was judged (run {latest.id}: {latest.status})"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _span(age: timedelta) -> str:
    seconds = age.total_seconds()
    if seconds % 86400 == 0:
        return f"{seconds / 86400:g} d"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min"
