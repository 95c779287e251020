"""The crawl's state in Prometheus' text format: per source, its latest run, its health verdict and its archive.

Read from the archive at each scrape (runs and verdicts are rows there, written by whichever process or host ran
the crawl), so every read-API process answers the same, and ``aggregator metrics`` prints the same for
node_exporter's textfile collector. What to alert on: ``aggregator_source_healthy == 0`` (a layout change, an
HTTP error rate, a schedule that stopped, a source never judged: the verdict of ``aggregator health``), and
``time() - aggregator_source_last_run_finished_timestamp_seconds`` for a crawl that stopped running at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select

from aggregator.health_report import crawl_status, source_health
from aggregator.run_counts import RUN_COUNTS
from aggregator.store import queries
from aggregator.store.models import Article, CrawlRun, Reject
from aggregator.store.repository import WITHDRAWN_BY_OPERATOR, WITHDRAWN_BY_SOURCE

RUN_STATUSES = ("running", "finished", "partial", "failed")
COVERAGE_FIELDS = ("title", "body", "date")
SWEEP_COUNTS = ("swept", "sweep_due", "swept_gone")
"""Kinds of ``source_last_run_count`` from the run's stats (``aggregator/<kind>``): what the sweep asked for, what was
due, and what it found gone (which withdraws its article, and is not among the ``http_errors``: ``run_counts``)."""


def latest_runs(conn: Connection, keys: Sequence[str]) -> dict[str, list[Any]]:
    """Each source's newest run row (by id), for the sources that have one: alone, or with the other workers' rows
    when it is one worker of a scale-out crawl (``crawl_runs.crawl_id``), oldest first. A worker found an arbitrary
    share of the crawl (the last to finish may have fetched a handful of pages): the crawl is what an operator
    watches."""
    newest = select(func.max(CrawlRun.id)).where(CrawlRun.source.in_(keys)).group_by(CrawlRun.source)
    latest = {row.source: row for row in conn.execute(select(CrawlRun.__table__).where(CrawlRun.id.in_(newest)))}
    crawls = {(row.source, row.crawl_id) for row in latest.values() if row.crawl_id is not None}
    workers: dict[tuple[str, str], list[Any]] = {}
    if crawls:
        stmt = select(CrawlRun.__table__).where(CrawlRun.crawl_id.in_({crawl for _, crawl in crawls}))
        for row in conn.execute(stmt.order_by(CrawlRun.id)):
            if (row.source, row.crawl_id) in crawls:
                workers.setdefault((row.source, row.crawl_id), []).append(row)
    return {key: workers.get((key, row.crawl_id), [row]) for key, row in latest.items()}


def families(conn: Connection, keys: Sequence[str], *, max_age: timedelta | None) -> list[Metric]:
    """The metric families of the sources ``keys``, read through ``conn``."""

    def gauge(name: str, doc: str, labels: Sequence[str] = ("source",)) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"aggregator_{name}", doc, labels=list(labels))

    healthy = gauge(
        "source_healthy",
        "1 when the source's latest verdict is green, 0 when red or when it has none (never run: no verdict time).",
    )
    judged_at = gauge("source_last_verdict_timestamp_seconds", "When the run the latest verdict is of ended.")
    coverage = gauge(
        "source_coverage_ratio", "Share of the latest judged run's items with the field.", ("source", "field")
    )
    status = gauge("source_last_run_status", "1 for the latest run's status.", ("source", "status"))
    started = gauge("source_last_run_started_timestamp_seconds", "When the source's latest run started.")
    finished = gauge(
        "source_last_run_finished_timestamp_seconds", "When the source's latest run ended (absent while it runs)."
    )
    counts = gauge("source_last_run_count", "What the source's latest run counted.", ("source", "kind"))
    workers = gauge("source_last_run_workers", "Processes that ran the source's latest crawl (1 unless scaled out).")
    articles = gauge("source_articles", "Articles of the source the downstream site shows (withdrawn ones left out).")
    withdrawn = gauge(
        "source_withdrawn_articles",
        "Articles of the source withdrawn (its page gone, or by an operator).",
        ("source", "by"),
    )
    newest = gauge("source_latest_archived_timestamp_seconds", "When the source's newest shown article was archived.")
    rejects = gauge("source_rejects", "Rejects of the source kept in the archive (quarantine rows).")

    for row in source_health(conn, keys, max_age=max_age):
        # A source never judged is 0, not absent: an alert on == 0 would pass over a schedule that never started.
        healthy.add_metric([row["source"]], 1.0 if row["status"] == "green" else 0.0)
        if (ended := row.get("finished_at")) is not None:
            judged_at.add_metric([row["source"]], datetime.fromisoformat(ended).timestamp())
        for field in COVERAGE_FIELDS:
            share = (row.get("coverage") or {}).get(field)
            if share is not None:
                coverage.add_metric([row["source"], field], float(share))
    for key, runs in sorted(latest_runs(conn, keys).items()):
        for name in RUN_STATUSES:
            status.add_metric([key, name], 1.0 if crawl_status(run.status for run in runs) == name else 0.0)
        started.add_metric([key], min(run.started_at for run in runs).timestamp())
        if all(run.finished_at is not None for run in runs):
            finished.add_metric([key], max(run.finished_at for run in runs).timestamp())
        workers.add_metric([key], float(len(runs)))
        for column in RUN_COUNTS:  # the counts a run row keeps: pages, items_new (kind "new"), ...
            total = sum(getattr(run, column) or 0 for run in runs)
            counts.add_metric([key, column.removeprefix("items_")], float(total))
        for kind in SWEEP_COUNTS:  # from its stats: what the sweep asked for, and what was due (aggregator/sweep.py)
            total = sum(
                (run.stats if isinstance(run.stats, dict) else {}).get(f"aggregator/{kind}") or 0 for run in runs
            )
            counts.add_metric([key, kind], float(total))
    wanted = set(keys)
    for source in queries.list_sources(conn):
        if source.key not in wanted:
            continue
        articles.add_metric([source.key], float(source.articles))
        if source.latest is not None:
            newest.add_metric([source.key], source.latest.timestamp())
    for rejected_source, count in conn.execute(
        select(Reject.source, func.count()).where(Reject.source.in_(keys)).group_by(Reject.source)
    ):
        rejects.add_metric([str(rejected_source)], float(count))
    taken_down = {(key, by): 0 for key in sorted(wanted) for by in (WITHDRAWN_BY_SOURCE, WITHDRAWN_BY_OPERATOR)}
    for withdrawn_source, by, count in conn.execute(
        select(Article.source, Article.withdrawn_by, func.count())
        .where(Article.withdrawn_at.is_not(None), Article.source.in_(keys))
        .group_by(Article.source, Article.withdrawn_by)
    ):
        taken_down[(str(withdrawn_source), str(by))] = count
    for (key, by), count in taken_down.items():
        withdrawn.add_metric([key, by], float(count))
    return [
        healthy,
        judged_at,
        coverage,
        status,
        started,
        finished,
        counts,
        workers,
        articles,
        withdrawn,
        newest,
        rejects,
    ]


class ArchiveCollector(Collector):
    """A Prometheus collector over an archive: ``connect()`` gives a read connection (a context manager)."""

    def __init__(self, connect: Any, keys: Sequence[str], *, max_age: timedelta | None) -> None:
        self.connect = connect
        self.keys = list(keys)
        self.max_age = max_age

    def collect(self) -> Iterator[Metric]:
        with self.connect() as conn:
            yield from families(conn, self.keys, max_age=self.max_age)


def exposition(connect: Any, keys: Sequence[str], *, max_age: timedelta | None) -> bytes:
    """The metrics in Prometheus' text format (``CONTENT_TYPE_LATEST``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ArchiveCollector(connect, keys, max_age=max_age))
    return generate_latest(registry)
