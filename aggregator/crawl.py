"""Run the spiders of one or more sources in one Scrapy process, with live progress and a summary."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from aggregator.mirror import serve_mirror
from aggregator.paths import mirror_dir
from aggregator.settings import user_agent
from aggregator.sources import Source

# (column title, stats key) of the live table and the summary
COUNTERS: tuple[tuple[str, str], ...] = (
    ("pages", "response_received_count"),
    ("articles", "aggregator/articles"),
    ("new", "aggregator/articles_new"),
    ("updated", "aggregator/articles_updated"),
    ("unchanged", "aggregator/articles_unchanged"),
    ("rejected", "item_dropped_count"),
    ("fetch errors", "aggregator/http_errors"),
    ("undated", "aggregator/dates_unparsed"),
)


@dataclass
class SourceOutcome:
    source: str
    finish_reason: str | None
    stats: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def project_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Our Scrapy settings (module defaults, then the environment), with ``overrides`` on top."""
    settings = Settings()
    settings.setmodule("aggregator.settings", priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    if overrides and "AGGREGATOR_CONTACT_URL" in overrides and "USER_AGENT" not in overrides:
        settings.set("USER_AGENT", user_agent(overrides["AGGREGATOR_CONTACT_URL"]), priority="cmdline")
    return settings


class _Board:
    """The live progress table: one row per source, read from each crawler's stats."""

    def __init__(self, crawlers: dict[str, Crawler]) -> None:
        self.crawlers = crawlers

    def __rich__(self) -> Table:
        return stats_table(
            {key: c.stats.get_stats() if c.stats else {} for key, c in self.crawlers.items()},
            title="Crawling…",
        )


def stats_table(per_source: dict[str, dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("source")
    for label, _ in COUNTERS:
        table.add_column(label, justify="right")
    for key, stats in per_source.items():
        table.add_row(key, *(str(stats.get(stat, 0)) for _, stat in COUNTERS))
    return table


@contextmanager
def _offline_mirror(offline: bool, mirror: str | None, root: Path | None) -> Iterator[str | None]:
    if offline:
        with serve_mirror(root or mirror_dir()) as base:
            yield base
    else:
        yield mirror


def run_crawl(
    sources: Sequence[Source],
    *,
    db_url: str | None = None,
    offline: bool = False,
    mirror: str | None = None,
    mirror_root: Path | None = None,
    settings: dict[str, Any] | None = None,
    console: Console | None = None,
    live: bool | None = None,
) -> list[SourceOutcome]:
    """Crawl ``sources`` concurrently in this process (the Twisted reactor runs once per process)."""
    console = console or Console(stderr=True)
    live = console.is_terminal if live is None else live
    overrides: dict[str, Any] = dict(settings or {})
    if db_url:
        overrides["AGGREGATOR_DB_URL"] = db_url
    if live:
        overrides.setdefault("LOG_LEVEL", "WARNING")
    with _offline_mirror(offline, mirror, mirror_root) as base:
        if base:
            overrides["AGGREGATOR_MIRROR"] = base
        process = CrawlerProcess(project_settings(overrides))
        crawlers: dict[str, Crawler] = {}
        for source in sources:
            crawler = process.create_crawler(source.key)
            crawlers[source.key] = crawler
            process.crawl(crawler)
        display = Live(_Board(crawlers), console=console, refresh_per_second=4, transient=True)
        with display if live else nullcontext():
            process.start()
    outcomes = []
    for key, crawler in crawlers.items():
        stats = crawler.stats.get_stats() if crawler.stats else {}
        outcome = SourceOutcome(key, stats.get("finish_reason"), stats)
        if outcome.finish_reason != "finished":
            outcome.problems.append(f"crawl ended with {outcome.finish_reason!r}")
        exceptions = sum(v for k, v in stats.items() if k.startswith("spider_exceptions/"))
        if exceptions:
            outcome.problems.append(f"{exceptions} spider exception(s): see the log")
        if stats.get("aggregator/store_errors", 0):
            outcome.problems.append(f"{stats['aggregator/store_errors']} item(s) could not be written to the archive")
        if not stats.get("response_received_count", 0):
            outcome.problems.append("no page was fetched")
        if stats.get("feed/not_a_feed", 0):
            outcome.problems.append(f"{stats['feed/not_a_feed']} feed URL(s) answered with something not a feed")
        outcomes.append(outcome)
    return outcomes


def print_summary(outcomes: Sequence[SourceOutcome], console: Console | None = None) -> None:
    console = console or Console()
    console.print(stats_table({o.source: o.stats for o in outcomes}, title="Crawl summary"))
    for outcome in outcomes:
        elapsed = outcome.stats.get("elapsed_time_seconds")
        timing = f" in {elapsed:.1f}s" if isinstance(elapsed, int | float) else ""
        if outcome.ok:
            console.print(f"[green]✓[/green] {outcome.source}: {outcome.finish_reason}{timing}")
        else:
            print(f"{outcome.source}: " + "; ".join(outcome.problems), file=sys.stderr)
