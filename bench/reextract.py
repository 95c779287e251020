"""Re-extraction: `aggregator reextract` over an archive, against extraction alone on the same stored pages, at two
archive sizes.

Run from the repo root: ``python bench/reextract.py [--articles 2000]``. Prints figures, asserts nothing.

1. ``bench/sitegen.py`` writes a caliber-shaped mirror of ``--articles`` pages, and one four times as large; each is
   served by ``python -m aggregator mirror serve`` in its own process and crawled once by ``aggregator crawl`` into a
   fresh SQLite archive.
2. Floor: every article's stored page (read and decompressed before the clock starts) through what a re-extraction
   runs on it, ``aggregator.extract.extract_item`` and the processing pipelines, with no database.
3. ``aggregator.reextract.reextract``, the command's own function: the newest snapshot of every article read in
   batches, extracted, through the pipelines, compared with the article and, when it differs, written.

Both are CPU time of this process (``time.process_time``), best of ``--rounds``. Printed: pages per second of each,
the ratio reextract / floor (what reading and comparing in the store adds), and how the time per page of both grows
from the smaller archive to the larger one.

4. The snapshot reading alone, on archives of 10,000 and 100,000 articles filled by direct inserts (no crawl, tiny
   bodies): its time per 1,000 articles should not grow with the archive. Before the batches read the snapshots by
   article id, each grouped every snapshot of the archive: 100,000 articles took 25 s there, 20 times 10,000's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from crawl import free_port, wait_until_up  # noqa: E402

N_ARTICLES = 2000
ROUNDS = 2
SCAN_SIZES = (10_000, 100_000)


def archive_of(work: Path, n_articles: int) -> str:
    """A SQLite archive holding a crawl of a generated mirror of ``n_articles``."""
    import sitegen

    sitegen.generate(work / "mirror", n_articles)
    db_url = f"sqlite:///{work / 'archive.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "mirror", "serve", "--root", str(work / "mirror"), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_up(base, server)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
        env["AGGREGATOR_MAX_LINKS_PER_LISTING"] = "0"  # a listing links n/7 articles: past 1,000 from 7,000 on
        done = subprocess.run(
            [sys.executable, "-m", "aggregator", "--db", db_url, "crawl", "caliber", "--mirror", base],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"the crawl failed:\n{done.stderr[-3000:]}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return db_url


def floor_seconds(pages: list[tuple[bytes, str, dict[str, str], Any]]) -> float:
    from aggregator.extract import extract_item, processing_pipelines
    from pipelines.base import Rejected

    pipelines = processing_pipelines()
    started = time.process_time()
    for body, url, headers, fetched_at in pages:
        item: Any = extract_item(body, url, headers=headers, fetched_at=fetched_at)
        try:
            for pipeline in pipelines:
                item = pipeline.process_item(item)
        except Rejected:
            pass
    return time.process_time() - started


def measure(db_url: str, rounds: int) -> dict[str, float]:
    from aggregator.extract import stored_page_headers
    from aggregator.reextract import reextract
    from aggregator.store import Archive
    from aggregator.store.repository import decompress

    archive = Archive.open(db_url)
    try:
        pages = [
            (decompress(s.raw_body), s.url, stored_page_headers(s.encoding), s.fetched_at)
            for s in archive.latest_snapshots()
        ]
        floor = full = float("inf")
        seen = 0
        for _ in range(rounds):
            floor = min(floor, floor_seconds(pages))
            started = time.process_time()
            seen = reextract(archive).seen
            full = min(full, time.process_time() - started)
    finally:
        archive.close()
    return {"pages": len(pages), "seen": seen, "floor": floor, "full": full}


def scan_seconds(work: Path, n_articles: int) -> float:
    """Wall time of reading the newest snapshot of each of ``n_articles`` (one or two stored versions each, tiny
    bodies), what a re-extraction reads before it extracts anything. Rows are inserted directly: no crawl."""
    import sqlite3

    from aggregator.sources import get_source
    from aggregator.store import Archive

    path = work / f"scan-{n_articles}.db"
    archive = Archive.open(f"sqlite:///{path}")
    archive.sync_sources([get_source("caliber")])
    archive.close()
    now = "2026-12-01 00:00:00.000000"
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO articles (id, source, url, fetched_url, title, body_html, body_text, content_hash, "
            "archived_at, updated_at, last_seen_at, views) VALUES (?, 'caliber', ?, ?, 't', 'b', 'b', 'h', ?, ?, ?, 0)",
            ((i, f"https://caliber.az/post/{i}", f"https://caliber.az/post/{i}", now, now, now)
             for i in range(1, n_articles + 1)),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO snapshots (article_id, url, fetched_at, http_status, content_hash, compression, raw_body) "
            "VALUES (?, ?, ?, 200, ?, 'zlib', x'00')",
            ((i, f"https://caliber.az/post/{i}", now, f"h{v}")
             for i in range(1, n_articles + 1) for v in range(1 + i % 2)),
        )  # fmt: skip
    archive = Archive.open(f"sqlite:///{path}")
    try:
        started = time.perf_counter()
        assert sum(1 for _ in archive.latest_snapshots()) == n_articles
        return time.perf_counter() - started
    finally:
        archive.close()


def report(label: str, r: dict[str, float]) -> None:
    print(
        f"  {label}: {r['pages']:,.0f} stored pages; floor {r['pages'] / r['floor']:7.0f} pages/s "
        f"({r['floor'] / r['pages'] * 1000:.2f} ms a page); reextract {r['seen'] / r['full']:7.0f} pages/s "
        f"({r['full'] / r['seen'] * 1000:.2f} ms a page); ratio reextract / floor: {r['floor'] / r['full']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=N_ARTICLES)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    total = time.perf_counter()
    print(f"reextract: caliber-shaped archives of {args.articles:,} and {4 * args.articles:,} articles (SQLite)")
    results = {}
    for n in (args.articles, 4 * args.articles):
        with tempfile.TemporaryDirectory(prefix="aggregator-bench-reextract-") as tmp:
            results[n] = measure(archive_of(Path(tmp), n), args.rounds)
        report(f"{n:>7,} articles", results[n])
    small, large = results[args.articles], results[4 * args.articles]
    growth = (large["full"] / large["seen"]) / (small["full"] / small["seen"])
    floor_growth = (large["floor"] / large["pages"]) / (small["floor"] / small["pages"])
    print(
        f"  time per page, {args.articles:,} -> {4 * args.articles:,} articles: reextract x{growth:.2f}, "
        f"floor x{floor_growth:.2f} (for information: not growing is about x1)"
    )
    with tempfile.TemporaryDirectory(prefix="aggregator-bench-reextract-") as tmp:
        scans = {n: scan_seconds(Path(tmp), n) for n in SCAN_SIZES}
    first, last = SCAN_SIZES
    per_k = {n: scans[n] / n * 1000 for n in SCAN_SIZES}
    print(
        f"  reading the newest snapshots alone: {first:,} articles {scans[first]:.2f} s, {last:,} articles "
        f"{scans[last]:.2f} s; per 1,000 articles x{per_k[last] / per_k[first]:.2f} (for information: about x1 when "
        "a batch costs the same however large the archive)"
    )
    print(f"  total {time.perf_counter() - total:.0f}s")


if __name__ == "__main__":
    main()
