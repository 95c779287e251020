"""Read API latency: a 100,000-article SQLite archive served by `aggregator serve` (uvicorn, one process), loaded
from a second process on 127.0.0.1 at concurrency 16.

Run from the repo root: ``python bench/api.py``. Prints figures, asserts nothing.

1. The archive is written through the repository's batched upsert (``Archive.save``, 5,000 articles a batch):
   Russian, Azerbaijani and English articles of ~2 KB, published over two years (1% undated), each archived an hour
   after it was published (an UPDATE afterwards: ``save`` stamps them all "now"), a few views each.
2. ``aggregator serve`` runs it in a child process.
3. The load generator (this script with ``--load``) runs in another child process: 16 keep-alive HTTP/1.1
   connections (asyncio streams, no client library in the way), each sending its next request as soon as the
   previous answer is read. Per endpoint: a 1 s warm-up, then ``SECONDS`` of measured requests.
   - ``/api/articles``: the first page, a language's first page, or a page further on (a cursor from a pool
     gathered beforehand), 20 items;
   - ``/api/articles/{id}`` and ``/news/{id}``: a random article.
4. Per endpoint: requests, requests/s, p50 and p99 latency, and whether p99 < 50 ms (target).
"""

from __future__ import annotations

import argparse
import asyncio
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_ARTICLES = 100_000
BATCH = 5_000
CONCURRENCY = 16
SECONDS = 6.0
WARMUP = 1.0
TARGET_P99_MS = 50.0
LANGUAGES = ("ru", "az", "en")
PARAGRAPH = {
    "ru": "Министерство экономики сообщило о росте ненефтяного сектора и новых инвестициях в регионы страны. ",
    "az": "İqtisadiyyat Nazirliyi qeyri-neft sektorunun artımı və regionlara yeni investisiyalar barədə danışıb. ",
    "en": "The Ministry of Economy reported growth in the non-oil sector and new investment in the regions. ",
}


# -- the archive ---------------------------------------------------------------------------------------


def build_archive(db_url: str) -> float:
    from sqlalchemy import text

    from aggregator.items import ArticleItem
    from aggregator.sources import all_sources
    from aggregator.store import Archive

    started = time.perf_counter()
    rng = random.Random(7)
    archive = Archive.open(db_url)
    archive.sync_sources(all_sources())
    newest = datetime.now(UTC) - timedelta(hours=2)
    for start in range(0, N_ARTICLES, BATCH):
        items = []
        for n in range(start, min(start + BATCH, N_ARTICLES)):
            language = LANGUAGES[n % 3]
            published = None if n % 100 == 99 else newest - timedelta(minutes=10 * (N_ARTICLES - n))
            body = "".join(f"<p>{PARAGRAPH[language]}{rng.random()}</p>" for _ in range(8))
            items.append(
                ArticleItem(
                    source="caliber",
                    url=f"https://caliber.az/post/bench-article-{n}",
                    language=language,
                    title=f"Статья номер {n}: новости экономики и политики",
                    body_html=body,
                    body_text=body.replace("<p>", "").replace("</p>", "\n\n"),
                    published_raw=published.isoformat() if published else "скоро",
                    published_at=published,
                    fetched_at=newest,
                    category="ЭКОНОМИКА",
                    attribution_line="Icma.az, ссылаясь на сайт Caliber.az, отмечает.",
                    cited_outlets=["Report"] if n % 5 == 0 else [],
                    raw_body=b"<html></html>",
                )
            )
        archive.save(items)
    with archive.engine.begin() as conn:
        # save() stamps every archive time "now": spread them as in a real archive (an hour after publication; the
        # undated ones where their neighbours are), and give the articles some views.
        conn.execute(
            text(
                "UPDATE articles SET views = id % 97, archived_at = datetime(coalesce(published_at,"
                " datetime(:newest, '-' || ((:total - id + 1) * 10) || ' minutes')), '+1 hour')"
            ),
            {"newest": newest.replace(tzinfo=None).isoformat(sep=" "), "total": N_ARTICLES},
        )
        conn.execute(text("UPDATE articles SET updated_at = archived_at"))
    archive.close()
    return time.perf_counter() - started


# -- the load generator (a process of its own) ---------------------------------------------------------


async def fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str) -> int:
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


async def run_load(port: int, paths: list[str], seconds: float) -> dict[str, float]:
    host = f"127.0.0.1:{port}"
    latencies: list[float] = []
    errors = 0
    rng = random.Random(11)
    measure_from = time.perf_counter() + WARMUP
    stop = measure_from + seconds

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                began = time.perf_counter()
                if began >= stop:
                    return
                status = await fetch(reader, writer, host, rng.choice(paths))
                ended = time.perf_counter()
                if status != 200:
                    errors += 1
                if began >= measure_from:
                    latencies.append(ended - began)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / seconds,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def load_child(port: int, paths_file: Path, seconds: float) -> None:
    paths = json.loads(paths_file.read_text())
    print(json.dumps(asyncio.run(run_load(port, paths, seconds))))


# -- the parent ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--paths", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=SECONDS, help="measured seconds per endpoint")
    parser.add_argument("--archive", type=Path, help="keep the archive in this file, and reuse it if it exists")
    args = parser.parse_args()
    if args.load:
        load_child(args.load, args.paths, args.seconds)
        return

    with tempfile.TemporaryDirectory(prefix="aggregator-bench-api-") as folder:
        db_path = args.archive or Path(folder) / "archive.db"
        db_url = f"sqlite:///{db_path.resolve()}"
        if db_path.exists():
            print(f"archive: reusing {db_path}")
        else:
            took = build_archive(db_url)
            print(f"archive: {N_ARTICLES:,} articles written in {took:.1f} s (Archive.save, {BATCH:,} a batch)")
        port = free_port()
        script = Path(sys.executable).with_name("aggregator")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "aggregator"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
        server = subprocess.Popen(
            [*command, "--db", db_url, "serve", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    get(f"{base}/api/sources")
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"server did not start: {server.stderr.read().decode()}") from None
                    time.sleep(0.2)
            cursors = []
            page = get(f"{base}/api/articles?limit=20")
            rng = random.Random(3)
            for _ in range(200):  # walk some way in, keeping cursors at random depths
                for _ in range(rng.randint(1, 20)):
                    page = get(f"{base}/api/articles?limit=20&cursor={page['next_cursor']}")
                cursors.append(page["next_cursor"])
                if len(cursors) >= 50:
                    break
            ids = [rng.randint(1, N_ARTICLES) for _ in range(2000)]
            endpoints = {
                "/api/articles": ["/api/articles?limit=20"] * 10
                + [f"/api/articles?limit=20&language={lang}" for lang in LANGUAGES] * 3
                + [f"/api/articles?limit=20&cursor={c}" for c in cursors],
                "/api/articles/{id}": [f"/api/articles/{i}" for i in ids],
                "/news/{id}": [f"/news/{i}" for i in ids],
            }
            results = {}
            server_process = psutil.Process(server.pid)
            for name, paths in endpoints.items():
                cpu_before = sum(server_process.cpu_times()[:2])
                paths_file = Path(folder) / "paths.json"
                paths_file.write_text(json.dumps(paths))
                done = subprocess.run(
                    [sys.executable, __file__, "--load", str(port), "--paths", str(paths_file),
                     "--seconds", str(args.seconds)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                results[name] = json.loads(done.stdout)
                served = results[name]["requests"] * (1 + WARMUP / args.seconds)  # warm-up requests used CPU too
                results[name]["cpu_ms"] = (sum(server_process.cpu_times()[:2]) - cpu_before) * 1000 / served
        finally:
            server.terminate()
            server.wait(timeout=10)

    load = os.getloadavg()[0]
    print(f"\nload average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores (other processes share them)")
    print(f"concurrency {CONCURRENCY}, {args.seconds:.0f} s measured per endpoint, one uvicorn process, SQLite")
    print(
        f"{'endpoint':<22}{'requests':>10}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'server CPU ms/req':>19}"
        "  target p99 < 50 ms"
    )
    for name, r in results.items():
        verdict = "met" if r["p99"] < TARGET_P99_MS else "NOT met"
        print(
            f"{name:<22}{r['requests']:>10}{r['errors']:>8}{r['rps']:>9.0f}{r['p50']:>9.1f}{r['p99']:>9.1f}"
            f"{r['cpu_ms']:>19.2f}  {verdict}"
        )


if __name__ == "__main__":
    main()
