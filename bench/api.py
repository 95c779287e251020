"""Read API latency: a 100,000-article SQLite archive served by `aggregator serve`, loaded from a second process on
127.0.0.1 at concurrency 16.

Run from the repo root: ``python bench/api.py [--workers N] [--rounds N] [--archive FILE]``. Prints figures as it
goes, asserts nothing; about a minute on 2 cores (see bench/README.md).

1. The archive: migrated to head, then 100,000 distinct articles (five sources; Russian, Azerbaijani and English;
   ~1.5 KB of text; over two years, 1% undated, 1% in stories of three) written through the repository's upsert
   statement, 10,000 a transaction. Not through ``Archive.save``: its story matching would take minutes, and the
   API reads only ``story_id``.
2. ``aggregator serve --workers N`` runs it in a child process (its log in a file); the load starts once every
   worker is up.
3. The load generator (this script with ``--load``) runs in another child process: 16 keep-alive HTTP/1.1
   connections (asyncio streams on uvloop, no client library in the way), each sending its next request as soon as
   the previous answer is read. Per endpoint: a 1 s warm-up, then ``SECONDS`` of measured requests, every one
   counted (non-200 answers, timeouts and dropped connections are errors).
   - ``/api/articles``: the first page, a language's first page, or a page further on (a cursor from a pool
     gathered beforehand), 20 items;
   - ``/api/articles/{id}`` and ``/news/{id}``: a random article.
4. Per endpoint: requests, errors, 200s per second, p50/p99/max latency, the server's CPU time per request, the
   load average before and after, and whether p99 < 50 ms (target).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_ARTICLES = 100_000
BATCH = 10_000
CONCURRENCY = 16
SECONDS = 6.0
WARMUP = 1.0
REQUEST_TIMEOUT = 10.0
WORKERS = 1
TARGET_P99_MS = 50.0
LANGUAGES = ("ru", "az", "en")


def say(line: str) -> None:
    """Progress as it happens, also when stdout is a pipe (``make bench | tee``)."""
    print(line, flush=True)


# -- the archive ---------------------------------------------------------------------------------------

SOURCES = ("caliber", "report", "trend", "haqqin", "apa")
SYLLABLES = {
    "ru": "ва ко ли ми но ра се та ну де жи ло пре сто ви ка ер ган ски тель ост ной ная ство про ми",
    "az": "ba lı ya zı qa la ma nı də ər ti si ri kə lə ğı öz üs çi şa va ye ra lar lər ni",
    "en": "an be co de en ga he in ly ma ne on pa re st ti un ve wa er tion ment pro con",
}


def vocabulary(language: str, rng: random.Random, size: int = 4000) -> list[str]:
    syllables = SYLLABLES[language].split()
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(size)]


def paragraphs(language: str, rng: random.Random, count: int = 3000) -> list[str]:
    """A pool of ~180-character paragraphs of Zipf-distributed words: each article draws 8 of them."""
    words = vocabulary(language, rng)
    weights = [1 / rank for rank in range(1, len(words) + 1)]
    pool = []
    for _ in range(count):
        chosen = rng.choices(words, weights, k=rng.randint(20, 30))
        pool.append(" ".join(chosen).capitalize() + ".")
    return pool


def article_rows(newest: datetime) -> Iterator[dict[str, Any]]:
    """The archive's rows, oldest first (ids grow with time, as in a crawled archive). Every text differs; 1% of
    the articles are families of three telling one story (their pages list siblings); 1% are undated."""
    rng = random.Random(7)
    pools = {language: paragraphs(language, rng) for language in LANGUAGES}
    titles = {language: vocabulary(language, rng) for language in LANGUAGES}
    for n in range(N_ARTICLES):
        language = LANGUAGES[n % 3]
        source = SOURCES[n % len(SOURCES)]
        moment = newest - timedelta(minutes=10 * (N_ARTICLES - 1 - n))
        published = None if n % 100 == 99 else moment
        chosen = rng.sample(pools[language], 8)
        story = n + 1 if n % 300 > 2 else (n - n % 300) + 1  # 1%: three articles of one story
        yield {
            "id": n + 1,
            "source": source,
            "url": f"https://{source}.az/post/{n}",
            "fetched_url": f"https://{source}.az/post/{n}?utm=feed",
            "language": language,
            "title": " ".join(rng.choices(titles[language], k=8)).capitalize(),
            "body_html": "".join(f"<p>{p}</p>" for p in chosen),
            "body_text": "\n\n".join(chosen),
            "published_at": published,
            "published_raw": published.isoformat() if published else "скоро",
            "cover_image_url": f"https://{source}.az/images/{n}.jpg" if n % 2 else None,
            "category": "ЭКОНОМИКА",
            "content_hash": f"{n:064x}",
            "attribution_line": f"Icma.az, ссылаясь на сайт {source.capitalize()}.az, отмечает.",
            "cited_outlets": ["Report"] if n % 5 == 0 else [],
            "archived_at": moment + timedelta(hours=1),
            "updated_at": moment + timedelta(hours=1),
            "last_seen_at": moment + timedelta(hours=1),
            "story_id": story,
            "views": min(int(rng.paretovariate(1.1)) - 1, 50_000),
        }


def build_archive(db_url: str) -> float:
    """A fresh archive at ``db_url``: the schema by the migrations, then the rows through the repository's own
    upsert statement (``Archive._upsert_article``, Core executemany, FTS triggers included), 10,000 a
    transaction. Stories and their sketches are not matched (no ``Archive.save``): the API only reads
    ``story_id``, and matching 100,000 articles would take minutes (``bench/store.py`` times that)."""
    from sqlalchemy import insert

    from aggregator.sources import all_sources
    from aggregator.store import Archive
    from aggregator.store.models import Story

    started = time.perf_counter()
    archive = Archive.open(db_url)
    archive.sync_sources(all_sources())
    newest = datetime.now(UTC) - timedelta(hours=2)
    rows = article_rows(newest)
    written = 0
    while written < N_ARTICLES:
        batch = list(itertools.islice(rows, BATCH))
        stories = sorted({r["story_id"] for r in batch})
        with archive.engine.begin() as conn:
            conn.execute(insert(Story), [{"id": s, "created_at": newest, "updated_at": newest} for s in stories])
            conn.execute(archive._upsert_article, batch)
        written += len(batch)
        if written % 20_000 == 0:
            say(f"  {written:,} articles written ({time.perf_counter() - started:.0f} s)")
    archive.close()
    return time.perf_counter() - started


# -- the load generator (a process of its own) ---------------------------------------------------------


async def fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str) -> int:
    """One request on a kept-alive connection; the status, once the whole body has been read."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return status


async def run_load(port: int, paths: list[str], seconds: float) -> dict[str, Any]:
    """CONCURRENCY connections, each sending its next request as soon as it has read the previous answer. Every
    request that began in the measured window counts: a non-200 answer, a timeout or a dropped connection is an
    error (a failed connection is opened again). Requests per second count the 200 answers; latencies are those
    of every HTTP answer (a refused connection would only flatter them)."""
    host = f"127.0.0.1:{port}"
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    rng = random.Random(11)
    measure_from = time.perf_counter() + WARMUP
    stop = measure_from + seconds

    async def worker() -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while True:
            began = time.perf_counter()
            if began >= stop:
                break
            try:
                if connection is None:
                    connection = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), REQUEST_TIMEOUT)
                path = rng.choice(paths)
                status = str(await asyncio.wait_for(fetch(*connection, host, path), REQUEST_TIMEOUT))
            except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                status = type(exc).__name__
                if connection is not None:
                    connection[1].close()
                connection = None
                await asyncio.sleep(0.01)  # a refused connection fails at once: do not spin
            ended = time.perf_counter()
            if began >= measure_from:
                statuses[status] = statuses.get(status, 0) + 1
                if status.isdigit():
                    latencies.append(ended - began)
        if connection is not None:
            connection[1].close()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    latencies.sort()
    if not latencies:
        latencies = [float("nan")]
    return {
        "requests": sum(statuses.values()),
        "errors": sum(count for status, count in statuses.items() if status != "200"),
        "statuses": statuses,
        "rps": statuses.get("200", 0) / seconds,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "max": latencies[-1] * 1000,
    }


def load_child(port: int, paths_file: Path, seconds: float) -> None:
    paths = json.loads(paths_file.read_text())
    try:  # the client's own CPU matters on a small machine: uvloop's event loop costs less than asyncio's
        import uvloop

        result = uvloop.run(run_load(port, paths, seconds))
    except ImportError:
        result = asyncio.run(run_load(port, paths, seconds))
    print(json.dumps(result))


# -- the parent ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def start_server(db_url: str, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``aggregator serve`` in a child process, its log in ``log`` (a pipe nobody reads would fill and stall the
    server at its first burst of errors); returns once every worker process has started and the server answers
    (with the first worker alone up, it would take every connection of the load)."""
    port = free_port()
    script = Path(sys.executable).with_name("aggregator")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "aggregator"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    arguments = ["--db", db_url, "serve", "--port", str(port), "--log-level", "info", "--workers", str(workers)]
    with log.open("wb") as errors:
        server = subprocess.Popen([*command, *arguments], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if log.read_text().count("Application startup complete") >= workers:
                get(f"{base}/api/sources")
                return server, base
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            server.wait()
            raise SystemExit(f"the server did not start; its log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def server_problems(log: Path) -> str:
    """What the server logged besides uvicorn's start and stop lines (warnings, errors, tracebacks)."""
    return "\n".join(line for line in log.read_text().splitlines() if not line.startswith("INFO:"))


def endpoint_paths(base: str) -> dict[str, list[str]]:
    """What each endpoint is asked for: first pages, a language's first page and cursors at random depths; random
    articles."""
    rng = random.Random(3)
    cursors = []
    page = get(f"{base}/api/articles?limit=20")
    for _ in range(50):  # walk some way in, keeping cursors at random depths
        for _ in range(rng.randint(1, 20)):
            page = get(f"{base}/api/articles?limit=20&cursor={page['next_cursor']}")
        cursors.append(page["next_cursor"])
    ids = [rng.randint(1, N_ARTICLES) for _ in range(2000)]
    return {
        "/api/articles": ["/api/articles?limit=20"] * 10
        + [f"/api/articles?limit=20&language={lang}" for lang in LANGUAGES] * 3
        + [f"/api/articles?limit=20&cursor={c}" for c in cursors],
        "/api/articles/{id}": [f"/api/articles/{i}" for i in ids],
        "/news/{id}": [f"/news/{i}" for i in ids],
    }


def measure(
    base: str, server: subprocess.Popen[bytes], name: str, paths: list[str], seconds: float, folder: Path
) -> Any:
    """One endpoint's load, from a child process; the server's CPU time per request (all its processes)."""
    port = base.rsplit(":", 1)[1]
    processes = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]

    def server_cpu() -> float:
        return sum(sum(p.cpu_times()[:2]) for p in processes)

    cpu_before = server_cpu()
    load_before = load_average()
    paths_file = folder / "paths.json"
    paths_file.write_text(json.dumps(paths))
    command = [sys.executable, __file__, "--load", port, "--paths", str(paths_file), "--seconds", str(seconds)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + WARMUP + 60)
    if done.returncode != 0:
        raise SystemExit(f"the load generator failed on {name}:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    served = result["requests"] * (1 + WARMUP / seconds)  # the warm-up's requests used CPU too
    result["cpu_ms"] = (server_cpu() - cpu_before) * 1000 / max(served, 1)
    result["load"] = f"{load_before} -> {load_average()}"
    return result


HEADER = (
    f"{'endpoint':<20}{'requests':>9}{'errors':>7}{'200/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}"
    f"{'CPU ms/req':>11}  {'load 1/5 min':<20}target p99 < {TARGET_P99_MS:.0f} ms"
)


def row(name: str, r: dict[str, Any]) -> str:
    verdict = "met" if r["p99"] < TARGET_P99_MS and r["errors"] == 0 else "NOT met"
    line = (
        f"{name:<20}{r['requests']:>9}{r['errors']:>7}{r['rps']:>7.0f}{r['p50']:>8.1f}{r['p99']:>8.1f}"
        f"{r['max']:>8.1f}{r['cpu_ms']:>11.2f}  {r['load']:<20}{verdict}"
    )
    if r["errors"]:
        line += f"  (answers: {r['statuses']})"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--load", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--paths", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=SECONDS, help="measured seconds per endpoint")
    parser.add_argument("--workers", type=int, default=WORKERS, help="server processes (`aggregator serve --workers`)")
    parser.add_argument("--rounds", type=int, default=1, help="measure every endpoint this many times")
    parser.add_argument("--archive", type=Path, help="keep the archive in this file, and reuse it if it exists")
    args = parser.parse_args()
    if args.load:
        load_child(args.load, args.paths, args.seconds)
        return

    say(f"load average (1/5 min) at the start: {load_average()} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="aggregator-bench-api-") as tmp:
        folder = Path(tmp)
        db_path = args.archive or folder / "archive.db"
        db_url = f"sqlite:///{db_path.resolve()}"
        if db_path.exists():
            say(f"archive: reusing {db_path}")
        else:
            say(f"archive: writing {N_ARTICLES:,} articles into {db_path} ...")
            took = build_archive(db_url)
            say(f"archive: {N_ARTICLES:,} articles written in {took:.1f} s ({BATCH:,} a transaction)")
        say(f"server: aggregator serve --workers {args.workers} ...")
        server, base = start_server(db_url, args.workers, folder / "server.log")
        results: list[tuple[str, dict[str, Any]]] = []
        try:
            endpoints = endpoint_paths(base)
            say(f"load: {CONCURRENCY} keep-alive connections from another process, {WARMUP:.0f} s warm-up and "
                f"{args.seconds:.0f} s measured per endpoint")  # fmt: skip
            say(HEADER)
            for _ in range(args.rounds):
                for name, paths in endpoints.items():
                    result = measure(base, server, name, paths, args.seconds, folder)
                    results.append((name, result))
                    say(row(name, result))
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        problems = server_problems(folder / "server.log")
        if problems:
            say(f"server log (warnings and errors):\n{problems[-3000:]}")

    say(f"\nload average (1/5 min) at the end: {load_average()} on {os.cpu_count()} cores (other processes share them)")
    say(f"SQLite, concurrency {CONCURRENCY}, {args.workers} server process(es), worst round per endpoint:")
    say(HEADER)
    for name in dict(results):
        worst = max((r for n, r in results if n == name), key=lambda r: r["p99"])
        say(row(name, worst))


if __name__ == "__main__":
    main()
