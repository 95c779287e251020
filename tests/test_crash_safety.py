"""Crash safety: a crawl killed with SIGKILL mid-run leaves no half-written article; the next run completes the set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from aggregator.mirror import serve_mirror
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, Snapshot
from tests.conftest import ROOT

N = 300

PAGE = """<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>{title}</title>
<link rel="canonical" href="https://caliber.az/post/crash-{n}"></head><body>
<div class="post"><h1 class="post_title">{title}</h1><div class="post_time">{day:02d} Марта 2024 18:14</div>
<div class="post_body"><p>Первый абзац новости номер {n}: в Баку прошло заседание, на котором обсудили планы.</p>
<p>Второй абзац новости номер {n}, в котором приводятся подробности и комментарии участников.</p></div>
</div></body></html>"""


def build_site(root: Path) -> None:
    post = root / "caliber.az" / "post"
    post.mkdir(parents=True)
    cards = []
    for n in range(N):
        title = f"Новость номер {n} о заседании в Баку"
        (post / f"crash-{n}.html").write_text(PAGE.format(n=n, title=title, day=1 + n % 28), encoding="utf-8")
        cards.append(
            f'<div class="float_block"><a href="/post/crash-{n}"><h2 class="float_block_title">{title}</h2></a></div>'
        )
    (root / "caliber.az" / "index.html").write_text(
        "<html><body>" + "".join(cards) + "</body></html>", encoding="utf-8"
    )


def crawl(mirror: str, db_url: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    return subprocess.Popen(
        [sys.executable, "-m", "scrapy", "crawl", "caliber", "-s", f"AGGREGATOR_MIRROR={mirror}",
         "-s", f"AGGREGATOR_DB_URL={db_url}", "-s", "LOG_LEVEL=WARNING", *extra],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def children(pid: int) -> list[int]:
    """A live process's child processes (Linux /proc)."""
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def counts(db_url: str) -> tuple[int, int]:
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as conn:
            articles = conn.scalar(select(func.count()).select_from(Article)) or 0
            snapshots = conn.scalar(select(func.count()).select_from(Snapshot)) or 0
            return articles, snapshots
    except Exception:  # the schema is not there yet
        return 0, 0
    finally:
        engine.dispose()


def test_sigkill_mid_run_then_rerun(db_url: str, tmp_path: Path) -> None:
    build_site(tmp_path / "site")
    with serve_mirror(tmp_path / "site") as mirror:
        # Slowed down (one request at a time, small batches) so that the kill lands mid-run.
        slow = ("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "DOWNLOAD_DELAY=0.01", "-s", "AGGREGATOR_STORE_BATCH=7")
        first = crawl(mirror, db_url, *slow)
        deadline = time.monotonic() + 120
        while counts(db_url)[0] < 20 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert first.poll() is None, "the crawl finished before it could be killed: slow it down further"
        writers = children(first.pid)
        assert writers, "the crawl has no archive writer process"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        # Its archive writer goes with it (and with it any batch it was writing, rolled back whole).
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in writers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in writers), "the killed crawl's writer process outlived it"

        articles, snapshots = counts(db_url)
        assert 0 < articles < N
        engine = create_engine(normalise_url(db_url))
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            # No half-written article: each one whole, with exactly its snapshot (written in the same transaction).
            rows = conn.execute(select(Article.id, Article.title, Article.body_text, Article.published_at)).all()
            assert all(title and body and published for _, title, body, published in rows)
            orphans = conn.scalar(select(func.count()).select_from(Article).where(~Article.snapshots.any()))
            assert orphans == 0 and snapshots == articles
            running = conn.execute(text("SELECT status FROM crawl_runs")).scalars().all()
            assert running == ["running"]  # the killed run never finished: its row says so
        engine.dispose()

        second = crawl(mirror, db_url)
        _, err = second.communicate(timeout=300)
        assert second.returncode == 0, err.decode()[-2000:]
    assert counts(db_url) == (N, N)


def test_a_stop_signal_while_the_writer_process_starts_does_not_kill_it() -> None:
    """``systemctl stop`` signals every process of the unit, and Ctrl-C the terminal's whole group: the writer
    process must outlive them, to write what the crawl fetched while it stops gracefully. It ignored them only once
    it had imported what it runs (a second or so): a SIGTERM in that second killed it, and the crawl's close failed
    with BrokenProcessPool. It is now born with them blocked."""
    from aggregator.store import writer

    executor = writer._start("process")
    try:
        (pid,) = executor._processes  # type: ignore[attr-defined]  # the one writer, importing still
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGINT)
        executor.submit(writer._started).result(timeout=60)
        assert alive(pid)
    finally:
        executor.shutdown(wait=True)
