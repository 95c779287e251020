"""Crawl throughput: a 2,000-article synthetic caliber.az mirror, crawled bare and with the full pipeline.

Run from the repo root: ``python bench/crawl.py``. Prints figures, asserts nothing.

1. ``bench/sitegen.py`` writes the tree (2,000 article pages of 20-40 KB, seven listing pages at the registry's
   entry URLs) into a temporary folder.
2. ``python -m aggregator mirror serve`` serves it on 127.0.0.1 from a separate process (so the server does not
   take the crawler's CPU).
3. Each crawl runs in a child process of its own (this script with ``--child``), with the project's settings
   (``aggregator.crawl.project_settings``, ``AGGREGATOR_MIRROR`` = the server, ``LOG_LEVEL=WARNING``):

   a. bare: a ``CaliberSpider`` subclass whose ``parse_article`` yields nothing, ``ITEM_PIPELINES={}``;
   x. extract (for information): the real ``caliber`` spider and its extractor, ``ITEM_PIPELINES={}``;
   b. full: the real ``caliber`` spider, every pipeline, into a fresh SQLite file.

   Pages per minute = Scrapy's ``response_received_count`` / ``elapsed_time_seconds`` (spider opened to
   spider closed, so the final store flush is included; process start-up and imports are not). Peak memory is
   the child's ``ru_maxrss`` from ``os.wait4``. "crawler CPU busy" is the child's CPU time over wall time
   between spider_opened and spider_closed (near 100%: the crawler is CPU-bound; well below: it waits on the
   server). Each crawl runs ``ROUNDS`` times, interleaved a, b, a, b; the faster run of each is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_ARTICLES = 2000
ROUNDS = 2
TARGET = 0.8


# -- the child: one crawl ------------------------------------------------------------------------------


def child(kind: str, mirror: str, db_url: str, out: Path) -> None:
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from aggregator.crawl import project_settings
    from spiders.caliber import CaliberSpider

    class BareCaliberSpider(CaliberSpider):
        """The caliber spider's listing parse and requests, but nothing done with an article page."""

        def parse_article(self, response: Any) -> Any:
            return iter(())

    overrides: dict[str, Any] = {"AGGREGATOR_MIRROR": mirror, "AGGREGATOR_DB_URL": db_url, "LOG_LEVEL": "WARNING"}
    if kind == "bare":
        overrides["ITEM_PIPELINES"] = {}
        spider: Any = BareCaliberSpider
    elif kind == "extract":
        overrides["ITEM_PIPELINES"] = {}  # the real spider and its extractor, items thrown away
        spider = "caliber"
    else:
        from aggregator.store import Archive

        Archive.open(db_url).close()  # what `aggregator crawl` does before it starts the crawl
        spider = "caliber"
    process = CrawlerProcess(project_settings(overrides))
    crawler = process.create_crawler(spider)

    class Clock:
        opened = closed = cpu_opened = cpu_closed = 0.0

        def on_opened(self, spider: Any) -> None:
            self.opened, self.cpu_opened = time.perf_counter(), time.process_time()

        def on_closed(self, spider: Any, reason: str) -> None:
            self.closed, self.cpu_closed = time.perf_counter(), time.process_time()

    clock = Clock()  # kept referenced: signal receivers are weak references
    crawler.signals.connect(clock.on_opened, signal=signals.spider_opened)
    crawler.signals.connect(clock.on_closed, signal=signals.spider_closed)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    result = {k: v if isinstance(v, int | float | str | bool) or v is None else str(v) for k, v in stats.items()}
    result["bench/wall_seconds"] = clock.closed - clock.opened
    result["bench/cpu_seconds"] = clock.cpu_closed - clock.cpu_opened
    out.write_text(json.dumps(result, indent=1))


# -- the parent ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(base: str, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the mirror server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/caliber.az/", timeout=2) as answer:
                answer.read()
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"the mirror server at {base} did not answer within {timeout}s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(kind: str, base: str, work: Path, tag: str, server_pid: int) -> dict[str, Any]:
    db = work / f"{tag}-{kind}.db"
    out = work / f"{tag}-{kind}.json"
    log = work / f"{tag}-{kind}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--mirror", base]
    cmd += ["--db", f"sqlite:///{db}", "--out", str(out)]
    server_cpu = cpu_seconds(server_pid)
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=err, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    server_cpu = cpu_seconds(server_pid) - server_cpu
    if proc.returncode != 0 or not out.is_file():
        sys.stderr.write(log.read_text(errors="replace")[-5000:])
        raise RuntimeError(f"crawl {kind} exited with {proc.returncode}")
    stats = json.loads(out.read_text())
    elapsed = float(stats.get("elapsed_time_seconds") or stats["bench/wall_seconds"])
    pages = int(stats.get("response_received_count", 0))
    result: dict[str, Any] = {
        "kind": kind,
        "pages": pages,
        "elapsed": elapsed,
        "ppm": pages / elapsed * 60 if elapsed else 0.0,
        "maxrss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
        "busy": stats["bench/cpu_seconds"] / stats["bench/wall_seconds"] if stats["bench/wall_seconds"] else 0.0,
        "server_cpu": server_cpu,
        "items": int(stats.get("item_scraped_count", 0)),
        "dropped": int(stats.get("item_dropped_count", 0)),
        "log_lines": [line for line in log.read_text(errors="replace").splitlines() if line.strip()],
    }
    if kind == "full":
        with sqlite3.connect(db) as conn:
            result["stored"] = {
                table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("articles", "snapshots", "rejects")
            }
    return result


def describe(r: dict[str, Any]) -> str:
    return (
        f"{r['pages']:5d} pages in {r['elapsed']:6.2f}s = {r['ppm']:6.0f} pages/min, "
        f"max RSS {r['maxrss_mib']:5.1f} MiB, crawler CPU busy {r['busy']:4.0%}, server CPU {r['server_cpu']:4.1f}s"
    )


def crawl_pair(root: Path, work: Path) -> dict[str, dict[str, Any]]:
    """Start the mirror server, crawl it ROUNDS times (a, b, a, b), stop it; the best run of each kind."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "mirror", "serve", "--root", str(root), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "extract": [], "full": []}
    try:
        wait_until_up(base, server)
        for run in range(ROUNDS):
            for kind in ("bare", "extract", "full"):
                r = run_child(kind, base, work, f"run{run}", server.pid)
                runs[kind].append(r)
                label = {"bare": "(a) bare", "extract": "(x) extract", "full": "(b) full"}[kind]
                print(f"    run {run + 1} {label}: {describe(r)}")
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {kind: max(rs, key=lambda r: r["ppm"]) for kind, rs in runs.items()} | {
        "notes": {"lines": sorted({line for rs in runs.values() for r in rs for line in r["log_lines"]})}
    }


def summarise(best: dict[str, dict[str, Any]]) -> None:
    a, b = best["bare"], best["full"]
    print(f"    best of {ROUNDS}:")
    print(f"      (a) bare spider, no pipelines: {a['ppm']:7.0f} pages/min   max RSS {a['maxrss_mib']:6.1f} MiB")
    x = best["extract"]
    print(f"      (x) caliber, no pipelines:     {x['ppm']:7.0f} pages/min   max RSS {x['maxrss_mib']:6.1f} MiB")
    print(f"      (b) caliber + all pipelines:   {b['ppm']:7.0f} pages/min   max RSS {b['maxrss_mib']:6.1f} MiB")
    ratio = b["ppm"] / a["ppm"] if a["ppm"] else 0.0
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"      ratio b/a: {ratio:.2f}   target >= {TARGET}: {verdict}")
    print(
        f"      for information: x/a {x['ppm'] / a['ppm']:.2f} (what extraction costs), "
        f"b/x {b['ppm'] / x['ppm']:.2f} (what the pipelines and the store cost)"
    )
    stored = b["stored"]
    print(
        f"      (b) stored {stored['articles']} articles, {stored['snapshots']} snapshots, {stored['rejects']} rejects "
        f"(items scraped {b['items']}, dropped {b['dropped']})"
    )
    lines = best["notes"]["lines"]
    if lines:
        print(f"    the crawls logged {len(lines)} distinct line(s) at WARNING or above, e.g.: {lines[0][:200]}")


def parent() -> None:
    import sitegen

    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aggregator-bench-") as tmp:
        work = Path(tmp)
        site = sitegen.generate(work / "mirror", N_ARTICLES)
        size = site.article_bytes / len(site.articles) / 1024
        print(
            f"crawl: synthetic caliber.az mirror, {len(site.articles)} articles ({size:.1f} KiB average), "
            f"{len(site.listings)} listing pages ({site.listing_bytes / len(site.listings) / 1024:.0f} KiB, "
            f"~{len(site.articles) // len(site.listings)} cards each); mirror server in its own process; "
            f"{os.cpu_count()} CPUs"
        )
        summarise(crawl_pair(work / "mirror", work))
    print(f"  total {time.perf_counter() - total:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=("bare", "extract", "full"))
    parser.add_argument("--mirror")
    parser.add_argument("--db")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.mirror, args.db, args.out)
    else:
        parent()


if __name__ == "__main__":
    main()
