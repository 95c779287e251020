"""Crawl throughput: a synthetic caliber.az mirror crawled bare, with the full pipeline on SQLite and PostgreSQL,
by two scrapy-redis workers, and once more incrementally.

Run from the repo root: ``python bench/crawl.py [--articles 2000] [--rounds 2]``. Prints figures, asserts nothing.

1. ``bench/sitegen.py`` writes the tree (``--articles`` article pages of 20-40 KB, seven listing pages at the
   registry's entry URLs) into a temporary folder.
2. ``python -m aggregator mirror serve`` serves it on 127.0.0.1 from a separate process (so the server does not
   take the crawler's CPU).
3. Each crawl runs in a child process of its own (this script with ``--child``), with the project's settings
   (``aggregator.crawl.project_settings``, ``AGGREGATOR_MIRROR`` = the server, ``LOG_LEVEL=WARNING``):

   a. bare: a ``CaliberSpider`` subclass whose ``parse_article`` yields nothing, ``ITEM_PIPELINES={}``;
   x. extract (for information): the real ``caliber`` spider and its extractor, ``ITEM_PIPELINES={}``;
   b. full: the real ``caliber`` spider, every pipeline, into a fresh SQLite file;
   e. incremental: (b) again on the same SQLite file, over the unchanged mirror (only listings are fetched);
   c. full on PostgreSQL (a fresh database; skipped when no server answers);
   d. two scale-out workers at once (``AGGREGATOR_REDIS_URL``: scrapy-redis scheduler and duplicate filter) into
      one fresh PostgreSQL database (skipped without Redis or PostgreSQL): pages/min over the wall time of both,
      peak memory of the larger.

   Pages per minute = Scrapy's ``response_received_count`` / ``elapsed_time_seconds`` (spider opened to
   spider closed, so the final store flush is included; process start-up and imports are not). Peak memory is
   the largest sum of the child's and its store writer process's resident memory, sampled every 50 ms (each
   one's own peak is printed too).
   "crawler CPU busy" is the child's CPU time (not its writer's) over wall time between spider_opened and
   spider_closed (near 100%: the crawler is CPU-bound; well below: it waits on the
   server). a, x, b and e run ``--rounds`` times, interleaved; the faster run of each is reported.
4. (b)'s CPU time per page (crawler, writer, server), and the b/a that it allows on this machine's CPUs.
5. (b) once more on a mirror of ``--memory-articles`` (10,000) articles, for the peak memory target (skipped when
   ``--articles`` is that large already).
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
import threading
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
TARGET_INCREMENTAL = 0.1  # e's time over b's
TARGET_RSS_MB = 400  # (b) at 10,000 articles: the "400 MB", decimal (381.5 MiB)
MIB_PER_MB = 1_000_000 / 2**20
MEMORY_ARTICLES = 10000
PG_URL = os.environ.get("AGGREGATOR_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("AGGREGATOR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


# -- the child: one crawl ------------------------------------------------------------------------------


def child(kind: str, mirror: str, db_url: str, out: Path, redis_url: str | None = None) -> None:
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from aggregator.crawl import project_settings
    from spiders.caliber import CaliberSpider

    class BareCaliberSpider(CaliberSpider):
        """The caliber spider's listing parse and requests, but nothing done with an article page."""

        def parse_article(self, response: Any) -> Any:
            return iter(())

    overrides: dict[str, Any] = {"AGGREGATOR_MIRROR": mirror, "AGGREGATOR_DB_URL": db_url, "LOG_LEVEL": "WARNING"}
    # Each of the seven generated listings links a seventh of the articles: 1,430 at 10,000, over the default cap of
    # 1,000 links followed from one listing. Every article is crawled here, as the figures assume.
    overrides["AGGREGATOR_MAX_LINKS_PER_LISTING"] = 0
    if redis_url:
        overrides["AGGREGATOR_REDIS_URL"] = redis_url
        overrides["AGGREGATOR_REDIS_IDLE_SECONDS"] = 2
    if kind in {"bare", "extract"}:
        overrides["SPIDERMON_ENABLED"] = False  # no items by design: the health checks would only complain
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

        opened_at = closed_at = 0.0

        def on_opened(self, spider: Any) -> None:
            self.opened, self.cpu_opened, self.opened_at = time.perf_counter(), time.process_time(), time.time()
            threading.Thread(target=self.sample_memory, daemon=True).start()

        children_hwm_kib = 0
        children_cpu = 0.0
        joint_peak_kib = 0

        def sample_memory(self) -> None:
            """The crawler's and its children's resident memory added up, every 50 ms: their joint peak."""
            while not self.closed:
                pids = ["self", *map(str, live_children())]
                self.joint_peak_kib = max(self.joint_peak_kib, sum(status_kib(pid, "VmRSS") for pid in pids))
                time.sleep(0.05)

        def on_closed(self, spider: Any, reason: str) -> None:
            self.closed, self.cpu_closed, self.closed_at = time.perf_counter(), time.process_time(), time.time()
            # Connected before the store pipeline's handler, so its writer process is still alive: its own peak
            # memory and CPU time (the multiprocessing resource tracker's too, a few MiB).
            for pid in live_children():
                self.children_hwm_kib += status_kib(pid, "VmHWM")
                self.children_cpu += cpu_seconds(pid)

    clock = Clock()  # kept referenced: signal receivers are weak references
    crawler.signals.connect(clock.on_opened, signal=signals.spider_opened)
    crawler.signals.connect(clock.on_closed, signal=signals.spider_closed)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    result = {k: v if isinstance(v, int | float | str | bool) or v is None else str(v) for k, v in stats.items()}
    result["bench/wall_seconds"] = clock.closed - clock.opened
    result["bench/opened_at"] = clock.opened_at
    result["bench/closed_at"] = clock.closed_at
    result["bench/cpu_seconds"] = clock.cpu_closed - clock.cpu_opened
    import resource

    result["bench/crawler_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["bench/writer_maxrss_kib"] = clock.children_hwm_kib
    result["bench/writer_cpu_seconds"] = clock.children_cpu
    result["bench/joint_peak_kib"] = clock.joint_peak_kib
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


def live_children() -> list[int]:
    """This process's live child processes (Linux /proc; none elsewhere)."""
    pids: list[int] = []
    for task in Path("/proc/self/task").glob("*"):
        try:
            pids += [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:
            continue
    return pids


def status_kib(pid: int | str, field: str) -> int:
    """A memory figure of a live process from ``/proc/PID/status`` (``VmRSS`` now, ``VmHWM`` its peak), in KiB; 0
    when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_child(kind: str, base: str, db_url: str, work: Path, tag: str, redis_url: str | None = None) -> Any:
    out = work / f"{tag}-{kind}.json"
    log = work / f"{tag}-{kind}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--mirror", base]
    cmd += ["--db", db_url, "--out", str(out)]
    if redis_url:
        cmd += ["--redis", redis_url]
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=err, stderr=subprocess.STDOUT)
    return proc, out, log


def wait_child(kind: str, proc: Any, out: Path, log: Path) -> tuple[dict[str, Any], Any]:
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not out.is_file():
        sys.stderr.write(log.read_text(errors="replace")[-5000:])
        raise RuntimeError(f"crawl {kind} exited with {proc.returncode}")
    return json.loads(out.read_text()), usage


def run_child(kind: str, base: str, work: Path, tag: str, server_pid: int, db_url: str | None = None) -> dict[str, Any]:
    db = work / f"{tag}-{kind}.db"
    db_url = db_url or f"sqlite:///{db}"
    server_cpu = cpu_seconds(server_pid)
    proc, out, log = start_child(kind, base, db_url, work, tag)
    stats, _ = wait_child(kind, proc, out, log)
    server_cpu = cpu_seconds(server_pid) - server_cpu
    elapsed = float(stats.get("elapsed_time_seconds") or stats["bench/wall_seconds"])
    pages = int(stats.get("response_received_count", 0))
    result: dict[str, Any] = {
        "kind": kind,
        "pages": pages,
        "elapsed": elapsed,
        "ppm": pages / elapsed * 60 if elapsed else 0.0,
        # KiB on Linux: the largest sum of the crawler's and its writer process's resident memory, sampled every
        # 50 ms, or the crawler's own peak when larger (a peak between two samples)
        "maxrss_mib": max(stats["bench/joint_peak_kib"], stats["bench/crawler_maxrss_kib"]) / 1024,
        "crawler_mib": stats["bench/crawler_maxrss_kib"] / 1024,
        "writer_mib": stats["bench/writer_maxrss_kib"] / 1024,
        "writer_cpu": stats["bench/writer_cpu_seconds"],
        "busy": stats["bench/cpu_seconds"] / stats["bench/wall_seconds"] if stats["bench/wall_seconds"] else 0.0,
        "crawler_cpu": stats["bench/cpu_seconds"],
        "server_cpu": server_cpu,
        "items": int(stats.get("item_scraped_count", 0)),
        "dropped": int(stats.get("item_dropped_count", 0)),
        "log_lines": [line for line in log.read_text(errors="replace").splitlines() if line.strip()],
    }
    result["db_url"] = db_url
    if kind == "full" and db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            result["stored"] = {
                table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("articles", "snapshots", "rejects")
            }
    return result


def describe(r: dict[str, Any]) -> str:
    writer = (
        f" (peaks: crawler {r['crawler_mib']:.0f}, writer {r['writer_mib']:.0f})" if r.get("writer_mib", 0) > 1 else ""
    )
    cpu = f", writer CPU {r['writer_cpu']:4.1f}s" if r.get("writer_cpu", 0) > 0.05 else ""
    return (
        f"{r['pages']:5d} pages in {r['elapsed']:6.2f}s = {r['ppm']:6.0f} pages/min, "
        f"max RSS {r['maxrss_mib']:5.1f} MiB{writer}, crawler CPU busy {r['busy']:4.0%}{cpu}, "
        f"server CPU {r['server_cpu']:4.1f}s"
    )


def fresh_pg_database(tag: str) -> str | None:
    """A new, empty PostgreSQL database for one crawl, or None when no server answers."""
    try:
        import psycopg
        from sqlalchemy.engine import make_url
    except ImportError:
        return None
    url = make_url(PG_URL)
    params = {"host": url.host, "port": url.port or 5432, "user": url.username, "dbname": url.database}
    name = f"aggregator_bench_{tag}_{os.getpid()}"
    try:
        with psycopg.connect(**params, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"    PostgreSQL at {url.host}:{url.port or 5432} not reachable ({str(exc).strip()[:80]}): skipped")
        return None
    return url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)


def drop_pg_database(db_url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    params = {"host": url.host, "port": url.port or 5432, "user": url.username, "dbname": make_url(PG_URL).database}
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def redis_ready() -> bool:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.flushdb()
        return True
    except Exception as exc:  # any failure means: no Redis here
        print(f"    Redis at {REDIS_URL} not reachable ({str(exc)[:80]}): (d) skipped")
        return False


def stored_articles(db_url: str) -> int:
    from sqlalchemy import create_engine, text

    from aggregator.store.db import normalise_url

    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM articles")).scalar() or 0)
    finally:
        engine.dispose()


def two_workers(base: str, work: Path, db_url: str) -> dict[str, Any]:
    """(d): two scrapy-redis workers started together on one PostgreSQL database; wall time over both."""
    started = time.perf_counter()
    children = [start_child("full", base, db_url, work, f"worker{i}", REDIS_URL) for i in range(2)]
    results = [wait_child("full", *child) for child in children]
    wall = time.perf_counter() - started
    pages = sum(int(stats.get("response_received_count", 0)) for stats, _ in results)
    # Wall time from the first spider opened to the last closed (process start-up excluded, as for the others).
    opened = min(float(stats["bench/opened_at"]) for stats, _ in results)
    closed = max(float(stats["bench/closed_at"]) for stats, _ in results)
    elapsed = closed - opened if closed > opened else wall
    return {
        "kind": "workers",
        "pages": pages,
        "elapsed": elapsed,
        "ppm": pages / elapsed * 60 if elapsed else 0.0,
        "maxrss_mib": max(max(stats["bench/joint_peak_kib"], stats["bench/crawler_maxrss_kib"]) for stats, _ in results)
        / 1024,
        "per_worker": [int(stats.get("response_received_count", 0)) for stats, _ in results],
        "stored": stored_articles(db_url),
        "log_lines": [
            line for _, out, log in children for line in log.read_text(errors="replace").splitlines() if line.strip()
        ],
    }


LABELS = {
    "bare": "(a) bare",
    "extract": "(x) extract",
    "full": "(b) full SQLite",
    "incremental": "(e) incremental",
    "pg": "(c) full PostgreSQL",
    "workers": "(d) 2 redis workers",
}


def crawl_all(root: Path, work: Path, rounds: int, kinds: str = "axbecd") -> dict[str, Any]:
    """Start the mirror server, run every crawl, stop it; the best run of each kind."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "mirror", "serve", "--root", str(root), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in LABELS}
    try:
        wait_until_up(base, server)
        for run in range(rounds):
            for kind in ("bare", "extract", "full"):
                if {"bare": "a", "extract": "x", "full": "b"}[kind] not in kinds:
                    continue
                r = run_child(kind, base, work, f"run{run}", server.pid)
                runs[kind].append(r)
                print(f"    run {run + 1} {LABELS[kind]}: {describe(r)}")
                if kind == "full" and "e" in kinds:
                    r = run_child("full", base, work, f"run{run}-again", server.pid, db_url=r["db_url"])
                    r["kind"] = "incremental"
                    runs["incremental"].append(r)
                    print(f"    run {run + 1} {LABELS['incremental']}: {describe(r)}")
        pg = fresh_pg_database("c") if "c" in kinds else None
        if pg:
            try:
                r = run_child("full", base, work, "pg", server.pid, db_url=pg)
                r["kind"], r["stored"] = "pg", {"articles": stored_articles(pg)}
                runs["pg"].append(r)
                print(f"    {LABELS['pg']}: {describe(r)}")
            finally:
                drop_pg_database(pg)
        pg = fresh_pg_database("d") if "d" in kinds and redis_ready() else None
        if pg:
            try:
                r = two_workers(base, work, pg)
                runs["workers"].append(r)
                print(
                    f"    {LABELS['workers']}: {r['pages']:5d} pages in {r['elapsed']:6.2f}s = {r['ppm']:6.0f} "
                    f"pages/min, max RSS {r['maxrss_mib']:5.1f} MiB, pages per worker {r['per_worker']}, "
                    f"{r['stored']} articles stored"
                )
            finally:
                drop_pg_database(pg)
    finally:
        server.terminate()
        server.wait(timeout=10)
    best: dict[str, Any] = {
        kind: max(rs, key=lambda r: r["ppm"]) if kind != "incremental" else min(rs, key=lambda r: r["elapsed"])
        for kind, rs in runs.items()
        if rs
    }
    best["notes"] = {"lines": sorted({line for rs in runs.values() for r in rs for line in r["log_lines"]})}
    # Each round runs a and b a few seconds apart: their ratio within a round is less exposed to the machine's
    # drift (CPU boost, neighbours) than best against best.
    best["pairs"] = {"b/a": [b["ppm"] / a["ppm"] for a, b in zip(runs["bare"], runs["full"], strict=False) if a["ppm"]]}
    return best


def summarise(best: dict[str, Any], n_articles: int, rounds: int) -> None:
    if not {"bare", "extract", "full", "incremental"} <= set(best):
        for kind, r in best.items():
            if kind in LABELS:
                print(f"      {LABELS[kind]:<22} {r['ppm']:7.0f} pages/min   max RSS {r['maxrss_mib']:6.1f} MiB")
        return
    a, b, x = best["bare"], best["full"], best["extract"]
    print(f"    best of {rounds} (a, x, b, e); c and d once:")
    for kind in ("bare", "extract", "full", "pg", "workers"):
        if kind in best:
            r = best[kind]
            print(f"      {LABELS[kind]:<22} {r['ppm']:7.0f} pages/min   max RSS {r['maxrss_mib']:6.1f} MiB")
    e = best["incremental"]
    print(
        f"      {LABELS['incremental']:<22} {e['pages']:7d} pages in {e['elapsed']:.2f}s "
        f"(b took {b['elapsed']:.2f}s)   max RSS {e['maxrss_mib']:6.1f} MiB"
    )
    ratio = b["ppm"] / a["ppm"] if a["ppm"] else 0.0
    print(f"      ratio b/a: {ratio:.2f}   target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'}")
    pairs = best.get("pairs", {}).get("b/a", [])
    if pairs:
        print(f"        within each round (a, then b a few seconds later): {', '.join(f'{p:.2f}' for p in pairs)}")
    inc = e["elapsed"] / b["elapsed"] if b["elapsed"] else 0.0
    verdict = "met" if inc < TARGET_INCREMENTAL else "NOT met"
    print(f"      time e/b: {inc:.3f}   target < {TARGET_INCREMENTAL}: {verdict}")
    if "pg" in best:
        print(f"      ratio c/b (PostgreSQL against SQLite): {best['pg']['ppm'] / b['ppm']:.2f}")
    if "workers" in best and "pg" in best:
        d_c = best["workers"]["ppm"] / best["pg"]["ppm"]
        print(f"      ratio d/c (two workers against one process, same machine): {d_c:.2f}")
    rss = b["maxrss_mib"]
    if n_articles >= MEMORY_ARTICLES:
        print(f"      peak RSS of (b): {memory_verdict(rss, n_articles)}")
    else:
        print(f"      peak RSS of (b): {rss:.0f} MiB (the {TARGET_RSS_MB} MB target is at 10,000 articles: below)")
    print(
        f"      for information: x/a {x['ppm'] / a['ppm']:.2f} (what extraction costs), "
        f"b/x {b['ppm'] / x['ppm']:.2f} (what the pipelines and the store cost)"
    )
    print_cpu_bound(a, b)
    stored = b["stored"]
    print(
        f"      (b) stored {stored['articles']} articles, {stored['snapshots']} snapshots, {stored['rejects']} rejects "
        f"(items scraped {b['items']}, dropped {b['dropped']})"
    )
    lines = best["notes"]["lines"]
    if lines:
        print(f"    the crawls logged {len(lines)} distinct line(s) at WARNING or above, e.g.: {lines[0][:200]}")


def print_cpu_bound(a: dict[str, Any], b: dict[str, Any]) -> None:
    """What (b)'s CPU time allows on this machine. With its work where it is, (b) can go no faster than its crawling
    process's own CPU time; however the work were spread over the CPUs, no faster than its total CPU time (crawler,
    store writer, mirror server) over their number."""
    pages, cpus = b["pages"], os.cpu_count() or 1
    if not pages or not a["ppm"]:
        return
    parts = {"crawler": b["crawler_cpu"], "writer": b["writer_cpu"], "mirror server": b["server_cpu"]}
    total = sum(parts.values())
    each = ", ".join(f"{name} {seconds / pages * 1000:.2f}" for name, seconds in parts.items())
    print(f"      (b)'s CPU per page: {total / pages * 1000:.2f} ms ({each})")
    for what, floor in (
        ("with the work where it is", b["crawler_cpu"]),
        (f"spread perfectly on {cpus} CPUs", total / cpus),
    ):
        best = pages / floor * 60
        print(
            f"        {what}: >= {floor / pages * 1000:.2f} ms a page, <= {best:.0f} pages/min, "
            f"b/a <= {best / a['ppm']:.2f}"
        )


def parent(n_articles: int, rounds: int, kinds: str, memory_articles: int = MEMORY_ARTICLES) -> None:
    import sitegen

    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aggregator-bench-") as tmp:
        work = Path(tmp)
        site = sitegen.generate(work / "mirror", n_articles)
        size = site.article_bytes / len(site.articles) / 1024
        print(
            f"crawl: synthetic caliber.az mirror, {len(site.articles)} articles ({size:.1f} KiB average), "
            f"{len(site.listings)} listing pages ({site.listing_bytes / len(site.listings) / 1024:.0f} KiB, "
            f"~{len(site.articles) // len(site.listings)} cards each); mirror server in its own process; "
            f"{os.cpu_count()} CPUs"
        )
        summarise(crawl_all(work / "mirror", work, rounds, kinds), n_articles, rounds)
    if "b" in kinds and n_articles < memory_articles:
        memory_check(memory_articles)
    print(f"  total {time.perf_counter() - total:.0f}s")


def memory_check(n_articles: int) -> None:
    """(b) once more, on a mirror of ``n_articles``: the peak memory target's own size."""
    import sitegen

    with tempfile.TemporaryDirectory(prefix="aggregator-bench-") as tmp:
        work = Path(tmp)
        sitegen.generate(work / "mirror", n_articles)
        print(f"  memory: (b) on a mirror of {n_articles:,} articles")
        b = crawl_all(work / "mirror", work, 1, "b")["full"]
    print(f"      peak RSS of (b) at {n_articles:,} articles: {memory_verdict(b['maxrss_mib'], n_articles)}")


def memory_verdict(rss_mib: float, n_articles: int) -> str:
    """A peak in MiB and in (decimal) MB, against the target."""
    limit_mib = TARGET_RSS_MB * MIB_PER_MB
    judged = ("met" if rss_mib < limit_mib else "NOT met") if n_articles >= MEMORY_ARTICLES else "not judged"
    return (
        f"{rss_mib:.1f} MiB = {rss_mib / MIB_PER_MB:.1f} MB   "
        f"target < {TARGET_RSS_MB} MB ({limit_mib:.1f} MiB) at {MEMORY_ARTICLES:,}: {judged}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=N_ARTICLES, help="articles in the generated mirror")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="runs of (a), (x), (b), (e); the best is kept")
    parser.add_argument("--kinds", default="axbecd", help="which crawls to run, e.g. 'b' for the memory check")
    parser.add_argument(
        "--memory-articles",
        type=int,
        default=MEMORY_ARTICLES,
        help="after the crawls, (b) once more on a mirror this large, for the peak memory target (0: not)",
    )
    parser.add_argument("--child", choices=("bare", "extract", "full"))
    parser.add_argument("--mirror")
    parser.add_argument("--db")
    parser.add_argument("--redis")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.mirror, args.db, args.out, args.redis)
    else:
        parent(args.articles, args.rounds, args.kinds, args.memory_articles)


if __name__ == "__main__":
    main()
