"""Unattended crawls: incremental re-fetch, conditional requests, locks, stale runs, exit statuses, health, robots.txt.

Every crawl here is a real ``aggregator crawl`` child process against the bundled sample served on 127.0.0.1,
sometimes with an overlay tree whose files replace some of the sample's (an edited article, a re-designed layout,
emptied listings, a robots.txt).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from aggregator.mirror import _MirrorHandler, serve_mirror
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun, Redirect, Reject, Snapshot
from tests.conftest import ROOT, SAMPLE, run_cli
from tests.crawl_checks import expected
from tests.helpers.slow_site import served_by

HOST = "caliber.az"
EDITED = "post/153813.html"
# Long enough that every sample article (2024-2025) is inside the recheck window.
EVERYTHING_RECENT = {"AGGREGATOR_RECHECK_HOURS": "1000000"}


def caliber(kind: str) -> list[dict]:
    """The sample's expectations for caliber alone (the sample may hold other sources' sites too)."""
    return [e for e in expected()[kind] if e["url"].startswith(f"https://{HOST}/")]


def crawl(db: str, mirror: str, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("--db", db, "crawl", "caliber", "--mirror", mirror, *extra, env=env)


def all_runs(db: str) -> list[CrawlRun]:
    with Session(create_engine(normalise_url(db))) as s:
        return list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))


def overlay(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    (root / HOST).mkdir(parents=True)
    return root


def crawl_twice(tmp_path: Path, root: Path) -> tuple[str, list[CrawlRun]]:
    """Two runs of caliber over the sample with an overlay, into a new SQLite file: the file and the two run rows."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with serve_mirror(SAMPLE, overlays=(root,)) as mirror:
        for _ in range(2):
            done = crawl(db, mirror)
            assert done.returncode == 0, done.stderr[-3000:]
    return db, all_runs(db)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Three mirrors of the sample on 127.0.0.1: as it is, with one article edited, with every article re-designed."""
    edited = overlay(tmp_path, "edited")
    page = (SAMPLE / HOST / EDITED).read_text(encoding="utf-8")
    (edited / HOST / "post").mkdir()
    (edited / HOST / EDITED).write_text(
        page.replace(
            '<div class="post_body">', '<div class="post_body"><p>Обновлено: редакция дополнила материал.</p>'
        ),
        encoding="utf-8",
    )
    redesigned = overlay(tmp_path, "redesigned")
    for path in (SAMPLE / HOST).rglob("*.html"):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        if 'class="post_body"' not in text:
            continue  # listings stay as they were: only the article markup is renamed
        target = redesigned / path.relative_to(SAMPLE)
        target.parent.mkdir(parents=True, exist_ok=True)
        renamed = re.sub(r'class="post(_[a-z]+)?"', lambda m: f'class="story{m.group(1) or ""}x"', text)
        target.write_text(renamed.replace("<h1", "<h2").replace("</h1>", "</h2>"), "utf-8", errors="surrogateescape")
    with (
        serve_mirror(SAMPLE) as plain,
        serve_mirror(SAMPLE, overlays=(edited,)) as with_edit,
        serve_mirror(SAMPLE, overlays=(redesigned,)) as broken,
    ):
        yield {"plain": plain, "edited": with_edit, "redesigned": broken}


def test_second_run_rechecks_with_conditional_requests_and_catches_an_edit(
    served: dict[str, str], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    first = crawl(db, served["plain"], env=EVERYTHING_RECENT)
    assert first.returncode == 0, first.stderr[-3000:]
    n = len(caliber("articles"))
    second = crawl(db, served["edited"], env=EVERYTHING_RECENT)
    assert second.returncode == 0, second.stderr[-3000:]
    _, run = all_runs(db)
    # Every archived article was asked for with its validators; the sample answered 304 for all but the edited one.
    assert run.stats["aggregator/rechecked"] == n
    assert run.stats["aggregator/not_modified"] == n - 1
    assert (run.items_new, run.items_updated, run.items_unchanged) == (0, 1, n - 1)
    assert run.stats.get("aggregator/skipped_known", 0) == 0
    engine = create_engine(normalise_url(db))
    with Session(engine) as s:
        article = s.scalars(select(Article).where(Article.url == "https://caliber.az/post/153813")).one()
        assert article.body_text.startswith("Обновлено: редакция дополнила материал.")
        assert s.scalar(select(func.count()).where(Snapshot.article_id == article.id)) == 2
        assert s.scalar(select(func.count()).select_from(Snapshot)) == n + 1
        # A 304 is a sighting too: every article, answered 304 or fetched, was last seen during the second run.
        seen = s.scalars(select(Article.last_seen_at).where(Article.url.startswith(f"https://{HOST}/"))).all()
        assert len(seen) == n and all(t >= run.started_at for t in seen), (run.started_at, sorted(seen)[:3])


def test_outside_the_recheck_window_only_listings_are_fetched_and_refresh_fetches_all(
    served: dict[str, str], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert crawl(db, served["plain"]).returncode == 0
    second = crawl(db, served["edited"])  # the edit is not seen: the article is older than the window
    assert second.returncode == 0, second.stderr[-3000:]
    refresh = crawl(db, served["edited"], "--refresh")
    assert refresh.returncode == 0, refresh.stderr[-3000:]
    first, incremental, refreshed = all_runs(db)
    n = len(caliber("articles"))
    listings = 7  # the registry's entry URLs
    assert incremental.stats["aggregator/skipped_known"] + incremental.stats.get("aggregator/not_modified", 0) == n
    article_pages = incremental.pages - listings - 1  # robots.txt
    # The undated article (its age is its archive time: rechecked), and the page that answered 500 (retried once at
    # the next run); the other broken pages wait (test_refused_pages_are_left_alone_for_a_while_and_keep_one_row_each).
    assert article_pages <= 1 + len([e for e in caliber("http_errors") if e["status"] >= 500])
    assert incremental.items_updated == 0
    assert refreshed.pages == first.pages
    assert (refreshed.items_new, refreshed.items_updated, refreshed.items_unchanged) == (0, 1, n - 1)
    assert "aggregator/skipped_known" not in refreshed.stats


def test_refused_pages_are_left_alone_for_a_while_and_keep_one_row_each(served: dict[str, str], tmp_path: Path) -> None:
    """A crawl scheduled every few minutes meets the sample's broken pages at every run: each is fetched again only
    once its wait is over (a server error once at once), and keeps one quarantine row however often it is refused."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    broken = {e["url"] for e in caliber("rejects")} | {e["url"] for e in caliber("http_errors")}
    server_errors = {e["url"] for e in caliber("http_errors") if e["status"] >= 500}
    assert server_errors and broken - server_errors
    said = []
    for env in ({}, {}, {"AGGREGATOR_REFUSED_RETRY_HOURS": "0"}, {}):
        done = crawl(db, served["plain"], env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        said.append(" ".join(done.stdout.split()))
    assert f"{len(broken - server_errors)} refused page(s) left alone for now" in said[1]
    assert "left alone" not in said[0] + said[2]
    first, second, waited_out, fourth = all_runs(db)
    assert "aggregator/skipped_refused" not in first.stats
    # The next run: only the server error is fetched again (it may have been a passing fault).
    assert second.stats["aggregator/skipped_refused"] == len(broken - server_errors)
    assert second.stats["aggregator/known_refused"] == len(broken - server_errors)
    # With no wait, every broken page is fetched and refused again; then all of them wait, the server error too.
    assert "aggregator/skipped_refused" not in waited_out.stats
    assert fourth.stats["aggregator/skipped_refused"] == len(broken)
    assert fourth.pages == second.pages - len(server_errors)
    with Session(create_engine(normalise_url(db))) as s:
        rows = list(s.scalars(select(Reject).where(Reject.url.in_(broken))))
    assert sorted(r.url for r in rows) == sorted(broken)  # one row a page
    attempts = {r.url: r.attempts for r in rows}
    assert attempts == {url: 3 if url in server_errors else 2 for url in broken}
    assert all(r.crawl_run_id == waited_out.id for r in rows)


def test_pages_reached_through_a_redirect_are_known_by_the_address_the_listing_links(tmp_path: Path) -> None:
    """The site moved an article and a broken page to new addresses and redirects the old ones, which its listings
    still link: the next run knows both by the linked address, and fetches neither (nor follows the redirects)."""
    moved, refused = "turciya-snizila-klyuchevuyu-stavku", "zayavlenie-mid-po-itogam-vstrechi-v-bryussele"
    root = overlay(tmp_path, "moved")
    (root / HOST / "post").mkdir()
    page = (SAMPLE / HOST / "post" / f"{moved}.html").read_text(encoding="utf-8")
    (root / HOST / "post" / f"{moved}-na-2-punkta.html").write_text(
        page.replace(f"/post/{moved}", f"/post/{moved}-na-2-punkta"), encoding="utf-8"
    )
    (root / HOST / "post" / f"{refused}-2.html").write_bytes((SAMPLE / HOST / "post" / f"{refused}.html").read_bytes())
    (root / HOST / "_mirror.toml").write_text(
        f'[[response]]\npath = "/post/{moved}"\nstatus = 301\n'
        f'headers = {{ Location = "https://caliber.az/post/{moved}-na-2-punkta" }}\n'  # absolute, as most sites
        f'[[response]]\npath = "/post/{refused}"\nstatus = 301\nheaders = {{ Location = "/post/{refused}-2" }}\n',
        encoding="utf-8",
    )
    db, (first, second) = crawl_twice(tmp_path, root)
    assert first.stats["downloader/response_status_count/301"] == 2
    with Session(create_engine(normalise_url(db))) as s:
        article = s.scalars(select(Article).where(Article.url == f"https://{HOST}/post/{moved}-na-2-punkta")).one()
        assert article.linked_url == f"https://{HOST}/post/{moved}"
        assert s.scalar(select(func.count()).where(Article.url == f"https://{HOST}/post/{moved}")) == 0
        reject = s.scalars(select(Reject).where(Reject.url == f"https://{HOST}/post/{refused}-2")).one()
        assert (reject.linked_url, reject.reason, reject.attempts) == (f"https://{HOST}/post/{refused}", "no body", 1)
    # The second run asked for neither old address: no redirect was followed, nothing was archived or refused again.
    assert second.stats.get("downloader/response_status_count/301", 0) == 0
    assert second.items_new == second.items_updated == 0
    broken = [e for e in caliber("rejects") + caliber("http_errors") if e.get("status", 0) < 500]
    assert second.stats["aggregator/skipped_refused"] == len(broken)  # the moved one among them, by its old address


def test_an_article_linked_at_several_redirecting_addresses_is_known_by_each_of_them(tmp_path: Path) -> None:
    """Two addresses a listing links redirect to a third article it links as well. The first run fetches the article
    once, and Scrapy's duplicate filter drops both redirected requests: the store keeps both redirects all the same,
    so the next run fetches none of the three (an archive that knew one linked address an article would fetch one of
    them again at every run)."""
    numeric, old_slug = "pogoda-v-baku-na-vyhodnye-bez-osadkov", "anama-za-nedelyu-obnaruzheno-312-min"
    target = "azerbajdzhan-i-bolgariya-obsudili-postavki-gaza"
    root = overlay(tmp_path, "aliases")
    (root / HOST / "_mirror.toml").write_text(
        "".join(
            f'[[response]]\npath = "/post/{moved}"\nstatus = 301\nheaders = {{ Location = "/post/{target}" }}\n'
            for moved in (numeric, old_slug)
        ),
        encoding="utf-8",
    )
    db, (first, second) = crawl_twice(tmp_path, root)
    assert first.stats["downloader/response_status_count/301"] == 2
    assert first.stats["dupefilter/filtered"] >= 2  # the two redirected requests, among others
    with Session(create_engine(normalise_url(db))) as s:
        redirects = {r.url: r.target for r in s.scalars(select(Redirect))}
        stored = set(s.scalars(select(Article.url).where(Article.url.contains("/post/"))))
        target_id = s.scalar(select(Article.id).where(Article.url == f"https://{HOST}/post/{target}"))
    shown = run_cli("--db", db, "articles", "show", str(target_id), "--json")
    assert json.loads(shown.stdout)["linked_urls"] == sorted(f"https://{HOST}/post/{m}" for m in (numeric, old_slug))
    assert redirects == {
        f"https://{HOST}/post/{moved}": f"https://{HOST}/post/{target}" for moved in (numeric, old_slug)
    }
    assert f"https://{HOST}/post/{target}" in stored and not {f"https://{HOST}/post/{numeric}",
                                                              f"https://{HOST}/post/{old_slug}"} & stored  # fmt: skip
    # The second run asked for none of the three: no redirect was followed, no article fetched.
    assert second.stats.get("downloader/response_status_count/301", 0) == 0
    assert second.items_new == second.items_updated == 0
    # Each old article counted once, at whichever of its addresses; the undated one is rechecked instead.
    assert second.stats["aggregator/skipped_known"] + second.stats["aggregator/rechecked"] == first.items_new


def test_an_address_that_redirects_off_the_site_or_in_a_loop_is_a_fetch_reject_left_alone(tmp_path: Path) -> None:
    """Scrapy drops both unseen (its offsite filter, its duplicate filter): the linked page was in no table. Each is a
    quarantine row with its redirect chain now, and the next run does not ask again."""
    away, looping = "pogoda-v-baku-na-vyhodnye-bez-osadkov", "anama-za-nedelyu-obnaruzheno-312-min"
    broken = "baku-i-ankara-obsudili-energeticheskij-koridor"
    root = overlay(tmp_path, "bad-redirects")
    (root / HOST / "_mirror.toml").write_text(
        f'[[response]]\npath = "/post/{away}"\nstatus = 301\nheaders = {{ Location = "https://evil.example/x" }}\n'
        f'[[response]]\npath = "/post/{looping}"\nstatus = 302\nheaders = {{ Location = "/post/{looping}" }}\n'
        f'[[response]]\npath = "/post/{broken}"\nstatus = 301\nheaders = {{ Location = "https://[caliber.az/x" }}\n',
        encoding="utf-8",
    )
    db, (first, second) = crawl_twice(tmp_path, root)
    with Session(create_engine(normalise_url(db))) as s:
        refused = {r.url: (r.stage, r.reason, r.attempts) for r in s.scalars(select(Reject))}
        stored = set(s.scalars(select(Article.url)))
    away_url, loop_url = f"https://{HOST}/post/{away}", f"https://{HOST}/post/{looping}"
    assert refused[away_url] == (
        "fetch",
        f"redirected off the source's sites (301): {away_url} -> https://evil.example/x",
        1,
    )
    assert refused[loop_url] == ("fetch", f"redirect loop (302): {loop_url} -> {loop_url}", 1)
    # A Location that is no address failed as "ValueError: Invalid IPv6 URL" (in the mirror's handler, and in Scrapy's
    # redirect middleware on a real site), naming neither the header nor its value.
    broken_url = f"https://{HOST}/post/{broken}"
    assert refused[broken_url][0] == "fetch"
    assert refused[broken_url][1].startswith("redirect (301) to no address: Location 'https://[caliber.az/x' (")
    assert not {away_url, loop_url, broken_url} & stored
    assert first.stats["aggregator/redirected_offsite"] == first.stats["aggregator/redirect_loop"] == 1
    assert first.stats["aggregator/redirect_unreadable"] == 1
    # Left alone by the next run, as any refused page: neither is asked for again.
    assert second.stats.get("downloader/response_status_count/301", 0) == 0
    assert second.stats.get("downloader/response_status_count/302", 0) == 0


def test_a_second_run_of_a_locked_source_exits_at_once_with_status_3(db_url: str) -> None:
    from aggregator.locks import source_locks

    with source_locks(db_url, ["caliber"]) as (locked, busy):
        assert (locked, busy) == (["caliber"], [])
        done = run_cli("--db", db_url, "crawl", "caliber", "--offline")
        with source_locks(db_url, ["caliber"]) as (_, busy_again):
            assert busy_again == ["caliber"]
    assert done.returncode == 3, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "caliber: skipped: another run of this source is in progress (locked)"
    )
    assert [r.source for r in all_runs(db_url)] == []  # it did not even start a run
    with source_locks(db_url, ["caliber"]) as (locked, _):
        assert locked == ["caliber"]  # released with the block


def test_plain_scrapy_crawl_takes_the_lock_too(db_url: str, tmp_path: Path) -> None:
    """Scrapyd runs `scrapy crawl`: such a run locks its source, and one that finds the source busy does not start."""
    from scrapy.utils.test import get_crawler

    from aggregator.crawl import project_settings
    from aggregator.locks import RunLock, source_locks
    from aggregator.store import Archive
    from spiders.caliber import CaliberSpider

    Archive.open(db_url).close()  # an archive that exists, so that the refused run could have left a row
    overrides = {"AGGREGATOR_DB_URL": db_url, "TWISTED_REACTOR_ENABLED": False}
    # Building a crawler builds its extensions, as `scrapy crawl` does before it opens the spider.
    crawler = get_crawler(CaliberSpider, project_settings(overrides).copy_to_dict())
    [lock] = [e for e in crawler.extensions.middlewares if isinstance(e, RunLock)]
    assert RunLock.held_by(crawler)  # so its store pipeline may close the runs that lock proves dead
    with source_locks(db_url, ["caliber"]) as (_, busy):
        assert busy == ["caliber"]
    lock.engine_stopped()
    with source_locks(db_url, ["caliber"]) as (locked, _):
        assert locked == ["caliber"]

        env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
        refused = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "caliber", "-s", f"AGGREGATOR_DB_URL={db_url}",
             "-s", "AGGREGATOR_MIRROR=http://127.0.0.1:9"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    # One warning naming the holder (this process), and the spider closed with that reason: it used to end in
    # asyncio's "Task exception was never retrieved" and a 22-line traceback, exit status 1, in every Scrapyd job
    # scheduled while another ran.
    assert refused.returncode == 0, refused.stderr[-3000:]
    holder = f"pid {os.getpid()}" + (f" on {socket.gethostname()}" if db_url.startswith("postgresql") else "")
    said = [line.split("] ", 1)[1] for line in refused.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert said == [
        f"WARNING: caliber: another run of this source is in progress (locked by {holder}); this run does not start"
    ], refused.stderr[-3000:]
    assert "Traceback" not in refused.stderr and "Task exception" not in refused.stderr
    assert "Spider closed (source_busy)" in refused.stderr and "'finish_reason': 'source_busy'" in refused.stderr
    assert "Enabled item pipelines:\n[]" in refused.stderr  # nothing opened that could write to the archive
    assert all_runs(db_url) == []  # refused before any pipeline opened: no run row


def test_runs_left_running_by_dead_processes_are_marked_failed(sqlite_url: str) -> None:
    from aggregator.store import Archive

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    archive = Archive.open(sqlite_url)
    dead_here = archive.start_run("caliber", "caliber", host=socket.gethostname(), pid=gone.pid)
    old_elsewhere = archive.start_run("caliber", "caliber", host="another-host", pid=1)
    with archive.session.begin() as s:
        s.get(CrawlRun, old_elsewhere).started_at = datetime.now(UTC) - timedelta(hours=30)
    archive.close()
    done = run_cli("--db", sqlite_url, "crawl", "caliber", "--offline")
    assert done.returncode == 0, done.stderr[-3000:]
    by_id = {r.id: r for r in all_runs(sqlite_url)}
    for stale in (dead_here, old_elsewhere):
        assert by_id[stale].status == "failed"
        assert by_id[stale].finish_reason.startswith("abandoned")
    latest = max(by_id.values(), key=lambda r: r.id)
    assert (latest.status, latest.host, latest.pid) == ("finished", socket.gethostname(), latest.pid)
    assert latest.pid and latest.pid != gone.pid


def test_a_run_whose_process_is_alive_on_this_host_is_not_marked_failed_by_the_next_run(sqlite_url: str) -> None:
    """The next run holds the lock, and took that to mean no run of the source could be alive: a run whose lock had
    gone with its connection (PostgreSQL: tests/test_lost_lock.py) was marked "left running: marked failed" while
    it crawled. A pid another process has taken since (it started after the run did) is no live run."""
    from aggregator.store import Archive

    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        archive = Archive.open(sqlite_url)
        live = archive.start_run("caliber", "caliber", host=socket.gethostname(), pid=alive.pid)
        reused = archive.start_run("caliber", "caliber", host=socket.gethostname(), pid=alive.pid)
        with archive.session.begin() as s:
            s.get(CrawlRun, reused).started_at = datetime.now(UTC) - timedelta(hours=1)  # before the process began
        archive.close()
        done = run_cli("--db", sqlite_url, "crawl", "caliber", "--offline")
    finally:
        alive.kill()
        alive.wait()
    assert done.returncode == 0, done.stderr[-3000:]
    by_id = {r.id: r for r in all_runs(sqlite_url)}
    assert (by_id[live].status, by_id[live].finished_at) == ("running", None)
    assert by_id[reused].status == "failed" and by_id[reused].finish_reason.startswith("abandoned")


@pytest.mark.parametrize("first", ["SIGTERM", "SIGINT"])
def test_a_stop_signal_to_every_process_then_sigterm_again_stops_the_crawl_cleanly(sqlite_url: str, first: str) -> None:
    """`systemctl stop` sends SIGTERM to every process of the unit, the archive writer too, and Ctrl-C sends SIGINT to
    the terminal's process group; under `aggregator schedule` the crawl then gets the SIGTERM its scheduler passes
    on as well. The writer must outlive the crawl's graceful stop and the second signal must not force an unclean
    one: the pages fetched so far are stored and the run row is closed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    with serve_mirror(SAMPLE) as mirror:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scrapy", "crawl", "caliber", "-s", f"AGGREGATOR_DB_URL={sqlite_url}",
             "-s", f"AGGREGATOR_MIRROR={mirror}", "-s", "AGGREGATOR_STORE_BATCH=3",
             "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "DOWNLOAD_DELAY=0.25", "-s", "LOG_LEVEL=INFO"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        engine = create_engine(normalise_url(sqlite_url))
        deadline = time.monotonic() + 120
        stored = 0
        while time.monotonic() < deadline and proc.poll() is None and stored < 6:  # some batches written
            try:
                with engine.connect() as conn:
                    stored = conn.execute(select(func.count()).select_from(Article)).scalar_one()
            except Exception:  # no schema yet
                pass
            time.sleep(0.05)
        engine.dispose()
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        os.killpg(proc.pid, getattr(signal, first))  # the crawl and its writer process
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)  # what `aggregator schedule` passes on to its crawl
        _, err = proc.communicate(timeout=120)
    assert "forcing unclean shutdown" not in err and "SIGTERM again while stopping gracefully: ignored" in err
    (run,) = all_runs(sqlite_url)
    assert run.status == "partial" and run.finish_reason == "shutdown", err[-3000:]
    assert "store_errors" not in err and "archive writer failed" not in err, err[-3000:]
    with Session(create_engine(normalise_url(sqlite_url))) as s:
        archived = s.scalar(select(func.count()).select_from(Article))
    assert run.stats["aggregator/articles"] == archived >= stored  # every article scraped before the stop is stored
    assert archived < len(caliber("articles"))  # stopped mid-way


def test_a_sigterm_while_the_crawl_closes_lets_the_close_finish(tmp_path: Path) -> None:
    """A stop asked for while the spider is closing (systemd's, the schedule's: they come whenever they come) cut the
    close short: Scrapy stopped the reactor while the store was closing the run, which stayed "running"."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.helpers.signal_while_closing", f"sqlite:///{tmp_path / 'a.db'}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert rows == [["caliber", "finished", "finished"]], done.stderr[-3000:]
    assert "SIGTERM while the crawl is closing: it closes as it was" in done.stderr


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_stop_while_the_spider_opens_stops_the_crawl_once_it_has_started(tmp_path: Path, how: str) -> None:
    """Ctrl-C or ``systemctl stop`` while a crawl starts (the store loading the archive's known URLs, longer the
    larger the archive): Scrapy stopped the reactor under the opening, the run stayed "running" and the crawl ended
    "with None" (exit status 1, ``OnFailure=`` alerting). Now the crawl starts, then stops as any stopped crawl."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    command = [sys.executable, "-m", "tests.helpers.signal_while_opening", f"sqlite:///{tmp_path / 'a.db'}"]
    done = subprocess.run(
        command + (["--sigint"] if how == "SIGINT" else []), cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert rows == [["caliber", "partial", "shutdown"]], done.stderr[-3000:]


def test_a_sigterm_while_one_crawl_closes_and_another_crawls_stops_only_the_other(tmp_path: Path) -> None:
    """`crawl --all`: the stop came while caliber was closing and haqqin crawling. Scrapy's graceful stop stopped both,
    and cut caliber's close short (its run stayed "running"); now haqqin is stopped, and caliber's close finishes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.helpers.signal_while_closing", f"sqlite:///{tmp_path / 'a.db'}", "haqqin"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert rows == [["caliber", "finished", "finished"], ["haqqin", "partial", "shutdown"]], done.stderr[-3000:]


def test_graceful_stop_wraps_the_handlers_once_and_only_from_the_main_thread() -> None:
    """Signals can only be set from the main thread: a reactor run elsewhere (Scrapy embedded in a program) leaves
    them to that program. Run in a child process, whose handlers the test may change."""
    code = """if True:
        import signal, threading
        from aggregator import shutdown
        # Python's own SIGINT handler, as in a foreground process: a shell starts a background job with SIGINT
        # ignored, and an ignored signal is left ignored (there is no handler to wrap).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        before = signal.getsignal(signal.SIGINT)
        errors = []

        def install_elsewhere():
            try:
                shutdown.install()
            except Exception as exc:  # signal.signal refuses any thread but the main one
                errors.append(exc)

        worker = threading.Thread(target=install_elsewhere)
        worker.start()
        worker.join()
        assert not errors and signal.getsignal(signal.SIGINT) is before, errors
        shutdown.install()
        wrapped = signal.getsignal(signal.SIGINT)
        assert getattr(wrapped, "_aggregator_graceful_stop", False), "not wrapped"
        shutdown.install()
        assert signal.getsignal(signal.SIGINT) is wrapped, "wrapped twice"
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # no handler to wrap: the default action stays
    """
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_crawl_deletes_its_sources_old_run_rows_and_prune_runs_does_it_by_hand(sqlite_url: str) -> None:
    """A schedule every ten minutes adds 50,000 run rows a year a source: a run deletes its source's rows older than
    AGGREGATOR_RUNS_KEEP_DAYS (keeping the newest AGGREGATOR_RUNS_KEEP_MIN); other sources' wait for their runs."""
    from aggregator.store import Archive

    archive = Archive.open(sqlite_url)
    old: dict[str, list[int]] = {"caliber": [], "haqqin": []}
    for source, n in (("caliber", 15), ("haqqin", 15)):
        for _ in range(n):
            run = archive.start_run(source, source)
            archive.finish_run(run, status="finished", reason="finished", stats={})
            old[source].append(run)
    with archive.session.begin() as s:
        for run_id in old["caliber"] + old["haqqin"]:
            s.get(CrawlRun, run_id).started_at = datetime.now(UTC) - timedelta(days=120)
    archive.close()

    done = run_cli(
        "--db", sqlite_url, "crawl", "caliber", "--offline", env={"AGGREGATOR_RUNS_KEEP_MIN": "12"}
    )  # the health history (10) is kept in any case
    assert done.returncode == 0, done.stderr[-3000:]
    left = {r.id for r in all_runs(sqlite_url)}
    newest = max(left)
    assert left == {*old["caliber"][-11:], newest, *old["haqqin"]}  # 12 caliber runs with this one; haqqin untouched

    preview = run_cli("--db", sqlite_url, "db", "prune-runs", "--keep", "2", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "caliber: would delete 10 run row(s)" in preview.stdout
    assert "haqqin: would delete 13 run row(s)" in preview.stdout
    assert {r.id for r in all_runs(sqlite_url)} == left
    pruned = run_cli("--db", sqlite_url, "db", "prune-runs", "--keep", "2", "--source", "haqqin")
    assert pruned.returncode == 0, pruned.stderr
    assert "haqqin: deleted 13 run row(s)" in pruned.stdout and "caliber" not in pruned.stdout
    assert {r.id for r in all_runs(sqlite_url)} == {*old["caliber"][-11:], newest, *old["haqqin"][-2:]}
    kept_for_good = run_cli("--db", sqlite_url, "db", "prune-runs", env={"AGGREGATOR_RUNS_KEEP_DAYS": "0"})
    assert "kept for good" in kept_for_good.stdout


def test_a_source_taken_out_of_the_registry_keeps_runs_that_can_be_listed_and_deleted(sqlite_url: str) -> None:
    """`runs --source` and `db prune-runs --source` refused its key as unknown, although `runs` listed its rows."""
    from aggregator.store import Archive

    archive = Archive.open(sqlite_url)
    for _ in range(3):
        run = archive.start_run("retired", "retired")
        archive.finish_run(run, status="finished", reason="finished", stats={})
    archive.close()
    listed = run_cli("--db", sqlite_url, "runs", "--source", "retired", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["source"] for r in json.loads(listed.stdout)] == ["retired"] * 3
    pruned = run_cli("--db", sqlite_url, "db", "prune-runs", "--source", "retired", "--keep", "0", "--older-than", "0")
    assert pruned.returncode == 0, pruned.stderr
    assert "retired: deleted 3 run row(s)" in pruned.stdout
    assert all_runs(sqlite_url) == []
    # A key that is neither registered nor in the archive is still a mistake.
    typo = run_cli("--db", sqlite_url, "runs", "--source", "calibre")
    assert typo.returncode == 2 and "unknown source 'calibre'" in typo.stderr


def test_a_redesigned_article_layout_turns_health_red_and_fails_the_job(served: dict[str, str], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    done = crawl(db, served["redesigned"])
    assert done.returncode == 1, done.stderr[-3000:]
    reason = [line for line in done.stderr.splitlines() if line.startswith("caliber: ")]
    assert len(reason) == 1 and "unhealthy" in reason[0] and "(layout change?)" in reason[0], done.stderr[-3000:]
    (run,) = all_runs(db)
    assert run.status == "finished" and run.health["status"] == "red"
    assert run.health["coverage"]["title"] < 0.1 and run.health["coverage"]["body"] < 0.1
    shown = run_cli("--db", db, "health")
    assert shown.returncode == 1
    assert "red" in shown.stdout and "caliber" in shown.stdout
    rows = json.loads(run_cli("--db", db, "health", "--json").stdout)
    assert rows[0]["source"] == "caliber" and rows[0]["status"] == "red"
    # The next run fetches none of the refused pages (they wait), and judges them as they were: still red.
    again = crawl(db, served["redesigned"])
    assert again.returncode == 1 and "(layout change?)" in again.stderr, again.stderr[-3000:]
    _, rerun = all_runs(db)
    assert rerun.stats["aggregator/skipped_refused"] >= len(caliber("articles"))
    assert rerun.health["coverage"]["title"] < 0.1 and rerun.health["extracted"] == run.health["extracted"]


def test_health_is_green_on_the_sample_and_red_when_the_listings_lose_their_articles(
    served: dict[str, str], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert crawl(db, served["plain"]).returncode == 0
    emptied = overlay(tmp_path, "emptied")
    for listing in ("index.html", "en.html", "az.html", "category/politika.html", "category/mir.html",
                    "en/category/karabakh.html", "az/category/siyaset.html"):  # fmt: skip
        target = emptied / HOST / listing
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("<html><body><div class='feed'></div></body></html>", encoding="utf-8")
    with serve_mirror(SAMPLE, overlays=(emptied,)) as mirror:
        done = crawl(db, mirror)
    assert done.returncode == 1
    assert "caliber: unhealthy: no article found on the listings" in done.stderr
    green, red = all_runs(db)
    assert green.health["status"] == "green" and green.health["items"] >= len(caliber("articles"))
    assert red.health["status"] == "red" and red.health["median"] == green.health["items"]
    listed = json.loads(run_cli("--db", db, "runs", "--json").stdout)
    assert [(r["id"], r["health"]) for r in listed] == [(red.id, "red"), (green.id, "green")]
    only = run_cli("--db", db, "runs", "--source", "caliber")
    assert only.returncode == 0 and "finished" in only.stdout


def test_exit_status_1_with_one_line_per_source_when_the_site_is_down(tmp_path: Path) -> None:
    # A server that hangs up on every connection: the site is down, though something answers at its address (where
    # nothing does, `crawl --mirror` stops before crawling: tests/test_environment.py).
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        port = server.getsockname()[1]

        def hang_up() -> None:
            with contextlib.suppress(OSError):
                while True:
                    server.accept()[0].close()

        threading.Thread(target=hang_up, daemon=True).start()
        mirror = f"http://127.0.0.1:{port}"
        done = run_cli("--db", f"sqlite:///{tmp_path / 'a.db'}", "crawl", "caliber", "--mirror", mirror)
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)  # wakes the thread's accept()
    assert done.returncode == 1, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("caliber: ")]
    assert len(lines) == 1 and "no page was fetched" in lines[0]


def test_robots_txt_disallow_is_obeyed(tmp_path: Path) -> None:
    robots = overlay(tmp_path, "robots")
    (robots / HOST / "robots.txt").write_text("User-agent: *\nDisallow: /post/153813\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with serve_mirror(SAMPLE, overlays=(robots,)) as mirror:
        done = crawl(db, mirror)
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = all_runs(db)
    assert run.stats["robotstxt/forbidden"] >= 1
    assert run.items_new == len(caliber("articles")) - 1
    with Session(create_engine(normalise_url(db))) as s:
        urls = set(s.scalars(select(Article.url)))
    assert "https://caliber.az/post/153813" not in urls
    # Obeyed, not failed: it was a fetch reject and an HTTP error, and a section disallowed turned the source red on
    # every run ("31% of the requests failed": requests never made) over a policy the operator cannot change.
    assert run.http_errors == len(caliber("http_errors"))  # the sample's own broken pages only
    with Session(create_engine(normalise_url(db))) as s:
        assert not list(s.scalars(select(Reject.url).where(Reject.url == "https://caliber.az/post/153813")))


def test_a_page_larger_than_the_download_limit_is_a_failed_fetch_and_the_crawl_goes_on(tmp_path: Path) -> None:
    """Scrapy would buffer up to 1 GiB a response: a broken or hostile server could fill the crawler's memory."""
    huge = overlay(tmp_path, "huge")
    (huge / HOST / "post").mkdir()
    page = (SAMPLE / HOST / EDITED).read_text(encoding="utf-8")
    padding = "<p>" + "Текст. " * 180_000 + "</p>"  # ~2.3 MiB
    (huge / HOST / EDITED).write_text(page.replace("</body>", padding + "</body>"), encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with serve_mirror(SAMPLE, overlays=(huge,)) as mirror:
        done = crawl(db, mirror, env={"AGGREGATOR_MAX_DOWNLOAD_MB": "1"})
    (run,) = all_runs(db)
    assert run.items_new == len(caliber("articles")) - 1, done.stderr[-3000:]
    with Session(create_engine(normalise_url(db))) as s:
        (refused,) = s.scalars(select(Reject).where(Reject.url.like("%/post/153813%")))
    # The smaller limit binds, and is named: AGGREGATOR_MAX_DOWNLOAD_MB's 1 MiB, under an HTML page's own 5 MiB
    assert (refused.stage, refused.reason) == (
        "fetch",
        "too large: an HTML page may have 1 MiB at most (AGGREGATOR_MAX_DOWNLOAD_MB), the server announced 2.1 MiB",
    )


class _SlowHandler(_MirrorHandler):
    """The sample, each article page answered after a pause: a site that keeps a crawl busy."""

    def _answer(self, *, send_body: bool) -> None:
        if "/post/" in self.path:
            time.sleep(1.0)
        super()._answer(send_body=send_body)


def test_a_run_stops_at_its_time_limit_as_partial_and_the_next_run_goes_on(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with served_by(_SlowHandler) as site:
        # 1.8 s, of the 4 s or more that 53 article pages a second each take, 16 at a time at the most.
        cut = crawl(db, site, env={"AGGREGATOR_MAX_RUN_MINUTES": "0.03"})
        assert cut.returncode == 0, cut.stderr[-3000:]  # cut short on purpose, not broken
        said = " ".join(cut.stdout.split())  # the console folds the line at 80 columns
        assert re.search(r"caliber: stopped at the run time limit \(0\.03 min\) after [\d.]+s; the next run goes on",
                         said), cut.stdout  # fmt: skip
        (first,) = all_runs(db)
        assert first.status == "partial" and first.finish_reason == "closespider_timeout"
        assert 0 < first.items_new < len(caliber("articles"))
        rest = crawl(db, site)  # the default limit: an hour
        assert rest.returncode == 0, rest.stderr[-3000:]
    second = all_runs(db)[1]
    assert second.status == "finished"
    assert first.items_new + second.items_new == len(caliber("articles"))


class _StalledHandler(_MirrorHandler):
    """The sample, its listings answered only after the run's time limit (their links are then not followed)."""

    def _answer(self, *, send_body: bool) -> None:
        if "/post/" not in self.path and not self.path.endswith("/robots.txt"):
            time.sleep(2.0)
        super()._answer(send_body=send_body)


def test_a_run_cut_short_before_any_article_is_not_a_broken_listing(tmp_path: Path) -> None:
    """A run stopped at its time limit before an article came back was judged red, "no article found on the
    listings", and failed the job (exit 1): what a cut run found is what it had time for."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with served_by(_StalledHandler) as site:
        cut = crawl(db, site, env={"AGGREGATOR_MAX_RUN_MINUTES": "0.02"})
    (run,) = all_runs(db)
    assert run.status == "partial" and run.finish_reason == "closespider_timeout"
    assert run.items_new == 0  # no listing answered in time
    assert cut.returncode == 0, cut.stderr[-3000:]
    assert run.health["status"] == "green", run.health
    assert "stopped at the run time limit (0.02 min) after" in " ".join(cut.stdout.split())


def test_a_crawl_stopped_by_sigterm_exits_0_with_its_run_partial(tmp_path: Path) -> None:
    """`systemctl stop` (a deploy, a reboot) sends SIGTERM to the unit's processes: the crawl stops gracefully and
    its run is `partial`. It exited 1, "crawl ended with 'shutdown'", so systemd marked the unit failed and
    `OnFailure=` alerted for a stop the operator asked for."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    with served_by(_SlowHandler) as site:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--db", db, "crawl", "caliber", "--mirror", site],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all_runs_if_any(db):
            time.sleep(0.1)
        time.sleep(1.5)  # some article pages in flight (each takes a second)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        os.killpg(proc.pid, signal.SIGTERM)  # every process of the unit, as systemd does
        out, err = proc.communicate(timeout=120)
    (run,) = all_runs(db)
    assert run.status == "partial" and run.finish_reason == "shutdown", err[-3000:]
    assert proc.returncode == 0, err[-3000:]
    said = " ".join(out.split())  # the console folds the line at 80 columns
    assert re.search(r"caliber: stopped on request \(SIGTERM or Ctrl-C\) after [\d.]+s; the next run goes on", said), (
        out
    )


def all_runs_if_any(db: str) -> list[CrawlRun]:
    try:
        return all_runs(db)
    except Exception:  # no archive or no schema yet
        return []


def test_politeness_settings() -> None:
    from aggregator.crawl import project_settings

    settings = project_settings({"AGGREGATOR_CONTACT_URL": "https://example.org/crawler"})
    assert settings.getint("DOWNLOAD_MAXSIZE") == 64 * 1024 * 1024  # not Scrapy's 1 GiB
    assert settings.getfloat("CLOSESPIDER_TIMEOUT") == 3600  # a run stops after an hour (Scrapy: never)
    from aggregator.environment import env_settings

    assert env_settings({"AGGREGATOR_MAX_RUN_MINUTES": "0"})["CLOSESPIDER_TIMEOUT"] == 0
    assert env_settings({"AGGREGATOR_MAX_RUN_MINUTES": "90"})["CLOSESPIDER_TIMEOUT"] == 5400
    assert settings.getbool("ROBOTSTXT_OBEY")
    assert settings.getbool("AUTOTHROTTLE_ENABLED")
    assert 0 < settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 8
    assert settings["USER_AGENT"].startswith("aggregator/") and "+https://example.org/crawler" in settings["USER_AGENT"]


def test_scrapyd_deploy_target_is_declared() -> None:
    from configparser import ConfigParser

    from tests.conftest import ROOT

    config = ConfigParser()
    config.read(ROOT / "scrapy.cfg")
    assert config["settings"]["default"] == "aggregator.settings"
    assert config["deploy"]["project"] == "aggregator" and config["deploy"]["url"].startswith("http")
    # Scrapyd reads the settings module of a deployed egg from this entry point.
    from importlib.metadata import entry_points

    (settings,) = entry_points(group="scrapy", name="settings")
    assert settings.value == "aggregator.settings"


def test_copy_of_the_sample_is_untouched() -> None:
    """The overlays above never write into the bundled sample."""
    assert "Обновлено" not in (SAMPLE / HOST / EDITED).read_text(encoding="utf-8")
