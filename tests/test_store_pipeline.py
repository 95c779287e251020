"""The store pipeline's bookkeeping: batches, a run row, and quarantine rows for drops, errors and fetch failures."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from scrapy.utils.test import get_crawler
from sqlalchemy import select
from twisted.python.failure import Failure

from aggregator.crawl import project_settings
from aggregator.items import ArticleItem, FetchFailure
from aggregator.locks import RunLock
from aggregator.store import Archive
from aggregator.store.models import Article, Reject
from pipelines.base import Rejected
from pipelines.store import StorePipeline
from spiders.caliber import CaliberSpider

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def make_pipeline(db_url: str, batch: int = 2, writer: str = "process") -> StorePipeline:
    overrides = {
        "AGGREGATOR_DB_URL": db_url,
        "AGGREGATOR_STORE_BATCH": batch,
        "AGGREGATOR_STORE_WRITER": writer,
        "TWISTED_REACTOR_ENABLED": False,
    }
    settings = project_settings(overrides).copy_to_dict()
    crawler = get_crawler(CaliberSpider, settings)
    crawler.spider = CaliberSpider()
    crawler.stats.open_spider()
    return StorePipeline.from_crawler(crawler)


def article(n: int) -> ArticleItem:
    return ArticleItem(
        source="caliber", url=f"https://caliber.az/post/n-{n}", canonical_url=f"https://caliber.az/post/n-{n}",
        language="ru", title=f"T{n}", body_html=f"<p>B{n}</p>", body_text=f"B{n}", fetched_at=NOW,
        raw_body=b"<html></html>",
    )  # fmt: skip


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_batches_runs_and_quarantine(sqlite_url: str, writer: str) -> None:
    pipeline = make_pipeline(sqlite_url, batch=2, writer=writer)
    pipeline.open_spider()
    archive = Archive.open(sqlite_url)

    async def crawl() -> None:
        await pipeline.process_item(article(1))
        assert archive.count(Article) == 0  # buffered until the batch is full
        await pipeline.process_item(article(2))  # fills the batch: returns once it is written
        assert archive.count(Article) == 2
        spider = pipeline.crawler.spider
        pipeline.item_dropped(article(3), None, Rejected("no title", stage="validate"), spider)
        pipeline.item_error(article(4), None, spider, Failure(ValueError("boom")))
        await pipeline.process_item(FetchFailure("caliber", "https://caliber.az/post/gone", "HTTP 404", 404))
        await pipeline.close_spider()

    asyncio.run(crawl())
    pipeline.spider_closed(pipeline.crawler.spider, "finished")

    rejects = {r.url: r for r in archive.list_rejects()}
    assert rejects["https://caliber.az/post/n-3"].stage == "validate"
    assert rejects["https://caliber.az/post/n-3"].reason == "no title"
    assert rejects["https://caliber.az/post/n-4"].stage == "error"
    assert "ValueError: boom" in rejects["https://caliber.az/post/n-4"].reason
    assert rejects["https://caliber.az/post/gone"].http_status == 404
    assert archive.count(Reject) == 3
    run = archive.list_runs()[0]
    assert run.status == "finished" and run.finish_reason == "finished"
    assert run.stats["aggregator/articles_new"] == 2
    assert run.stats["aggregator/http_errors"] == 1
    assert run.rejected == 1  # the page a pipeline failed on (the refusal was not counted by Scrapy here)
    assert all(a.minhash for a in archive.list_articles())  # sketched by the writer, before its transaction
    archive.close()


def test_an_interrupted_run_is_partial(sqlite_url: str) -> None:
    pipeline = make_pipeline(sqlite_url)
    pipeline.open_spider()

    async def interrupted() -> None:
        await pipeline.process_item(article(1))
        await pipeline.close_spider()

    asyncio.run(interrupted())
    pipeline.spider_closed(pipeline.crawler.spider, "shutdown")
    archive = Archive.open(sqlite_url)
    assert archive.count(Article) == 1  # what was buffered is written on the way out
    assert archive.list_runs()[0].status == "partial"
    archive.close()


def test_a_failing_database_is_counted_not_fatal(tmp_path) -> None:
    db = tmp_path / "a.db"
    pipeline = make_pipeline(f"sqlite:///{db}", batch=1)
    pipeline.open_spider()
    pipeline.archive.engine.dispose()
    db.unlink()
    db.mkdir()  # the database file is gone and its path is now a folder: every write fails

    async def crawl() -> None:
        await pipeline.process_item(article(1))
        await pipeline.close_spider()

    asyncio.run(crawl())
    assert pipeline.stats.get_value("aggregator/store_errors") == 1


def test_a_writer_killed_mid_run_is_replaced_and_the_run_recorded(sqlite_url: str, caplog) -> None:
    """Out of memory, or killed by hand: a new writer process writes the rest of the run's batches (before, every
    later batch was lost), and the run row is closed all the same."""
    import contextlib
    import multiprocessing
    import os
    import signal
    from concurrent.futures import BrokenExecutor

    pipeline = make_pipeline(sqlite_url, batch=1)
    pipeline.open_spider()

    async def crawl() -> None:
        await pipeline.process_item(article(1))  # written
        dead = pipeline._writer
        assert dead is not None
        for writer in multiprocessing.active_children():
            os.kill(writer.pid, signal.SIGKILL)
            writer.join()
        with contextlib.suppress(BrokenExecutor):  # until the pool has noticed: what follows must not race it
            dead.submit(int).exception(timeout=60)
        await pipeline.process_item(article(2))  # the dead writer is replaced: stored
        await pipeline.process_item(article(3))
        await pipeline.close_spider()

    asyncio.run(crawl())
    pipeline.spider_closed(pipeline.crawler.spider, "finished")
    assert pipeline.stats.get_value("aggregator/writer_restarts") == 1
    assert pipeline.stats.get_value("aggregator/store_errors") is None
    assert "The archive writer failed" in caplog.text and "starting a new one" in caplog.text
    archive = Archive.open(sqlite_url)
    assert sorted(a.url for a in archive.list_articles()) == [f"https://caliber.az/post/n-{n}" for n in (1, 2, 3)]
    run = archive.list_runs()[0]
    assert run.status == "finished" and run.finished_at is not None
    assert run.stats["aggregator/articles_new"] == 3
    archive.close()


def test_the_writer_process_loads_neither_scrapy_nor_twisted() -> None:
    """All the writer process imports is its module: Scrapy and Twisted there cost ~30 MiB of the crawl's peak
    memory (a helper of the store that imported Scrapy took the 10,000-article crawl bench over its 400 MiB)."""
    probe = "import sys, aggregator.store.writer; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "'scrapy'" not in loaded and "'twisted'" not in loaded and "'sqlalchemy'" in loaded, loaded


def test_a_site_answering_404_for_everything_withdraws_nothing_until_a_page_answers(sqlite_url: str, caplog) -> None:
    """A site that is down or misconfigured (every address 404) must not take the archive's articles off the
    downstream site: a gone page withdraws its article only once some page of the site has answered in the run."""
    gone_1 = FetchFailure("caliber", "https://caliber.az/post/n-1", "HTTP 404", 404)

    def run(*items: object) -> StorePipeline:
        pipeline = make_pipeline(sqlite_url, batch=10)
        pipeline.open_spider()

        async def crawl() -> None:
            for it in items:
                await pipeline.process_item(it)
            await pipeline.close_spider()

        asyncio.run(crawl())
        pipeline.spider_closed(pipeline.crawler.spider, "finished")
        for extension in pipeline.crawler.extensions.middlewares:  # what the engine's stop does: the lock goes
            if isinstance(extension, RunLock):
                extension.engine_stopped()
        return pipeline

    def withdrawn() -> set[str]:
        archive = Archive.open(sqlite_url)
        try:
            with archive.reading() as session:
                return set(session.scalars(select(Article.url).where(Article.withdrawn_at.is_not(None))))
        finally:
            archive.close()

    run(article(1), article(2))
    outage = run(gone_1, FetchFailure("caliber", "https://caliber.az/post/n-2", "HTTP 410", 410))
    assert withdrawn() == set()
    assert outage.crawler.stats.get_value("aggregator/withdrawals_held") == 2
    assert "2 archived article(s) answered HTTP 404/410 while no page of the site answered" in caplog.text

    back = run(gone_1, article(2))  # the 404 comes first; then a page answers: the site is up, the page is gone
    assert withdrawn() == {"https://caliber.az/post/n-1"}
    assert back.crawler.stats.get_value("aggregator/withdrawals_held") is None
    archive = Archive.open(sqlite_url)
    [reject] = [r for r in archive.list_rejects() if r.url == gone_1.url]
    assert reject.attempts == 2  # one refusal a run: letting the withdrawal through records nothing twice
    archive.close()
