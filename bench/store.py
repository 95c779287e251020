"""The archive at 10,000, 100,000 and 1,000,000 articles: bulk upserts, the downstream site's reads, story matching.

Run from the repo root: ``python bench/store.py [--sizes 10000,100000,1000000] [--no-postgres]``. Prints figures and
"met" / "NOT met" against the targets; asserts nothing. SQLite in a temporary file; PostgreSQL (a temporary
database on 127.0.0.1:5432, dropped afterwards) when reachable, where sizes above ``--pg-max`` are skipped (said
in the output). See bench/README.md for what is generated and measured.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from aggregator.items import ArticleItem  # noqa: E402
from aggregator.metrics import exposition  # noqa: E402
from aggregator.store import Archive  # noqa: E402
from aggregator.store.models import Article, Source, Story  # noqa: E402
from aggregator.store.search import SEARCH_WINDOW  # noqa: E402
from aggregator.store.story_index import candidates  # noqa: E402
from aggregator.stories import BANDS, sketch  # noqa: E402
from aggregator.sweep import pick  # noqa: E402

SEED = 20260914
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PER_DAY = 2_000  # articles a day: the archive grows in days, the last 24 hours hold the same number at any size
SOURCES = [f"bench{i}" for i in range(8)]
VOCABULARY = 20_000
BODY_WORDS = (60, 110)
FAMILIES_SHARE = 0.01  # articles that belong to real near-duplicate families (real sketches and buckets)
FAMILY_SIZE = 3
NAME_SPREAD = 20  # each name token occurs in ~20 articles at every size: a search for one piece of news
BATCH = 10_000  # rows a pre-fill transaction
WRITES = 10_000  # new articles written through Archive.save at each size (the measured write path)
BULK_BATCH = 5_000  # articles an Archive.save call in the bulk measurement
CRAWL_WRITES = 2_000  # new articles written in the crawl's batches (AGGREGATOR_STORE_BATCH's default)
CRAWL_BATCH = 100
PAGE_FURNITURE = 3_800  # bytes of markup around a body in a raw page: ~4.5 KiB pages, as in data/mirror
REPEATS = 200
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_READ_MS = 5.0
TARGET_GROWTH = 2.0
TARGET_UPSERT = 5_000.0

SYLLABLES = ["ba", "ka", "ra", "na", "ma", "ta", "la", "sa", "de", "ve", "ri", "lo", "mu", "zi", "go", "shu",
             "ar", "el", "in", "ov", "ul", "ya", "xa", "qe", "dy", "ny", "ko", "pe"]  # fmt: skip


def vocabulary(rng: random.Random, n: int) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Corpus:
    """Synthetic articles: Zipf-distributed words of a fixed vocabulary, one rare name each, dates at PER_DAY."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rng = random.Random(SEED)
        self.np = np.random.default_rng(SEED)
        self.words = vocabulary(self.rng, VOCABULARY)
        ranks = np.arange(1, VOCABULARY + 1, dtype=np.float64)
        self.cdf = np.cumsum(1 / ranks) / (1 / ranks).sum()
        self.names = [f"name{n}x" for n in range(max(1, size // NAME_SPREAD))]
        self.family_texts: list[str] = []

    def bodies(self, n: int) -> list[str]:
        """``n`` texts at once (one vectorised draw of every word)."""
        lengths = self.np.integers(BODY_WORDS[0], BODY_WORDS[1] + 1, size=n)
        picks = np.searchsorted(self.cdf, self.np.random(int(lengths.sum())))
        words, out, at = self.words, [], 0
        for length in lengths:
            out.append(" ".join([words[i] for i in picks[at : at + length]]))
            at += length
        return out

    def body(self) -> str:
        return self.bodies(1)[0]

    def variant(self, text: str) -> str:
        """A re-telling: a new lead, the rest kept with one word changed."""
        tokens = text.split()
        tokens[len(tokens) // 2] = self.rng.choice(self.words)
        return self.body()[:120] + " " + " ".join(tokens[12:])

    def rows(self, start: int, stop: int) -> Iterator[dict[str, Any]]:
        bodies = self.bodies(stop - start)
        titles = self.bodies(stop - start)
        views = self.np.zipf(1.6, size=stop - start) % 100_000
        names = self.np.integers(0, len(self.names), size=stop - start)
        for n, i in enumerate(range(start, stop)):
            published = NOW - timedelta(seconds=int((i + 0.5) * 86_400 / PER_DAY))
            source = SOURCES[i % len(SOURCES)]
            body = bodies[n] + " " + self.names[names[n]]
            yield {
                "id": i + 1,
                "source": source,
                "url": f"https://bench.example/{source}/post/{i + 1}",
                "fetched_url": f"https://bench.example/{source}/post/{i + 1}/",
                "language": "ru" if i % 3 else "en",
                "title": " ".join(titles[n].split()[:8]),
                "body_html": "<p>" + body + "</p>",
                "body_text": body,
                "published_at": published,
                "published_raw": None,
                "cover_image_url": None,
                "category": None,
                "content_hash": f"{i:064x}",
                "attribution_line": None,
                "cited_outlets": [],
                "archived_at": published,
                "updated_at": published,
                "last_seen_at": published,
                "views": int(views[n]),
                "story_id": i + 1,
                "minhash": None,
            }


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[int], Any], repeats: int = REPEATS) -> tuple[float, float]:
    for i in range(10):
        fn(i)
    samples = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), percentile(samples, 0.99)


def load(archive: Archive, size: int) -> dict[str, Any]:
    """Pre-fill a fresh archive with ``size`` articles, fast (not the measured write path: see ``write_rates``).

    Articles go in through the archive's own upsert statement (multi-row, search triggers on), without snapshots or
    story matching; every article is its own story; bucket rows are bulk-loaded in key
    order (COPY on PostgreSQL).
    """
    corpus = Corpus(size)
    engine = archive.engine
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            insert(Source),
            [{"key": s, "name": s, "homepage": "https://bench.example", "domains": ["bench.example"],
              "languages": ["ru", "en"], "timezone": "Asia/Baku"} for s in SOURCES],
        )  # fmt: skip
    upsert = archive._upsert_article  # the archive's own INSERT .. ON CONFLICT (url) DO UPDATE
    stories = Story.__table__
    statement_s = 0.0
    for start in range(0, size, BATCH):
        rows = list(corpus.rows(start, min(size, start + BATCH)))
        with engine.begin() as conn:
            conn.execute(stories.insert(), [{"id": r["id"], "created_at": NOW, "updated_at": NOW} for r in rows])
            statement_began = time.perf_counter()
            conn.execute(upsert, rows).close()
            statement_s += time.perf_counter() - statement_began
    articles_s = time.perf_counter() - began

    # Buckets: real sketches for the near-duplicate families, random 32-bit values (what unrelated texts give)
    # for every other article, inserted band by band in key order.
    began = time.perf_counter()
    families = max(1, int(size * FAMILIES_SHARE / FAMILY_SIZE))
    family_members = corpus.rng.sample(range(1, size + 1), families * FAMILY_SIZE)
    real: dict[int, Any] = {}
    with engine.begin() as conn:
        for f in range(families):
            base = corpus.body()
            corpus.family_texts.append(base)
            ids = family_members[f * FAMILY_SIZE : (f + 1) * FAMILY_SIZE]
            for member in ids:
                s = sketch(corpus.variant(base))
                real[member] = s
                conn.execute(
                    Article.__table__.update().where(Article.id == member).values(minhash=s.pack(), story_id=ids[0])
                )
    ids = np.arange(1, size + 1, dtype=np.int64)
    random_ids = np.setdiff1d(ids, np.fromiter(real, dtype=np.int64))
    real_buckets = {a: s.buckets() for a, s in real.items()}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")  # the driver is in autocommit mode (see aggregator/store/db.py)
        for band in range(BANDS):
            values = corpus.np.integers(0, 2**32, size=len(random_ids), dtype=np.int64)  # a band is a 32-bit value
            order = np.argsort(values, kind="stable")
            pairs = list(zip(values[order].tolist(), random_ids[order].tolist(), strict=True))
            pairs += [(real_buckets[a][band][1], a) for a in real]
            pairs.sort()
            if engine.dialect.name == "postgresql":
                with cursor.copy("COPY story_buckets (band, bucket, article_id) FROM STDIN") as copy:
                    for bucket, article_id in pairs:
                        copy.write_row((band, bucket, article_id))
            else:
                cursor.executemany(
                    "INSERT INTO story_buckets (band, bucket, article_id) VALUES (?, ?, ?)",
                    ((band, bucket, article_id) for bucket, article_id in pairs),
                )
        raw.commit()
    finally:
        raw.close()
    buckets_s = time.perf_counter() - began
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # ids were given explicitly: move the sequences past them
            for table in ("articles", "stories"):
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        raw = engine.raw_connection()  # outside a transaction (the engine begins every one IMMEDIATE)
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    return {
        "corpus": corpus,
        "articles_s": articles_s,
        "statement_rate": size / statement_s,
        "buckets_s": buckets_s,
        "family_ids": family_members,
    }


def page(body: str) -> bytes:
    """A raw page as a crawl stores it: the article inside a site's markup (furniture compresses well, as it does)."""
    furniture = "".join(f'<li class="menu-item"><a href="/category/{n}/">Раздел {n}</a></li>' for n in range(48))
    return (
        f"<html><head><title>{body[:60]}</title></head><body><ul>{furniture}</ul><article><p>{body}</p>"
        f"</article><footer>{furniture[: PAGE_FURNITURE - len(furniture) // 2]}</footer></body></html>".encode()
    )


def new_items(corpus: Corpus, n: int, tag: str) -> list[ArticleItem]:
    """Articles a crawl brings: new texts, 1% of them re-tellings of a family's text (their matching finds it)."""
    items = []
    bodies = corpus.bodies(n)
    for i in range(n):
        body = bodies[i] if i % 100 else corpus.variant(corpus.family_texts[i // 100 % len(corpus.family_texts)])
        url = f"https://bench.example/{tag}/{i}"
        items.append(
            ArticleItem(
                source=SOURCES[i % len(SOURCES)],
                url=url + "/",
                canonical_url=url,
                language="ru" if i % 3 else "en",
                title=" ".join(body.split()[:8]),
                body_html=f"<p>{body}</p>",
                body_text=body,
                published_at=NOW - timedelta(seconds=i),
                published_raw=None,
                fetched_at=NOW,
                http_status=200,
                raw_body=page(body),
                raw_encoding="utf-8",
                minhash=sketch(body).pack(),
            )
        )  # fmt: skip  (sketching is the dedupe pipeline's work, before the store: not timed)
    return items


def write_rates(archive: Archive, corpus: Corpus) -> dict[str, float]:
    """The crawl's own write path, ``Archive.save`` (upsert, FTS rows by trigger, snapshot with the compressed page,
    story matching, buckets), on new articles: in bulk batches, then in the crawl's batches."""
    rates = {}
    for label, n, batch in (("bulk", WRITES, BULK_BATCH), ("crawl", CRAWL_WRITES, CRAWL_BATCH)):
        items = new_items(corpus, n, label)
        gc.collect()
        began = time.perf_counter()
        written = 0
        for start in range(0, n, batch):
            written += archive.save(items[start : start + batch]).new
        rates[label] = written / (time.perf_counter() - began)
    return rates


def measure(archive: Archive, size: int) -> dict[str, Any]:
    loaded = load(archive, size)
    corpus: Corpus = loaded["corpus"]
    rng = random.Random(SEED + 1)
    some_ids = [rng.randrange(1, size + 1) for _ in range(REPEATS + 10)]
    family_ids = loaded["family_ids"]
    names = [corpus.names[rng.randrange(len(corpus.names))] for _ in range(REPEATS + 10)]
    common = corpus.words[0]
    probes = [sketch(corpus.variant(corpus.family_texts[i % len(corpus.family_texts)])) for i in range(REPEATS + 10)]
    reads: dict[str, tuple[float, float]] = {}
    gc.collect()
    reads["latest 20"] = timed(lambda i: archive.list_articles(limit=20))
    reads["latest 20 of a source"] = timed(lambda i: archive.list_articles(source=SOURCES[i % len(SOURCES)], limit=20))
    reads["article + story siblings"] = timed(
        lambda i: archive.with_siblings(family_ids[i % len(family_ids)] if i % 2 else some_ids[i])
    )
    reads["most read, 24 hours"] = timed(lambda i: archive.most_read(hours=24, limit=20, now=NOW))
    reads["search (a name, ~20 hits)"] = timed(lambda i: archive.search(names[i], limit=20))

    def match(i: int) -> int:
        with archive.engine.connect() as conn:
            return len(candidates(conn, None, probes[i]))

    matching = timed(match)
    found = [match(i) for i in range(20)]
    # Last: before searches ranked only their latest SEARCH_WINDOW matches, this one read ~400 MB of posting lists
    # at 1,000,000 articles, which flushed the page cache of the pooled connection the matching was timed on.
    info: dict[str, tuple[float, float]] = {}
    info["search (a common word)"] = timed(lambda i: archive.search(common, limit=20), repeats=30)
    # A Prometheus scrape (/metrics, `aggregator metrics`): every source's shown and withdrawn articles counted, its
    # newest found (as /api/sources does), its latest runs and verdict; an index scan, so it grows with the archive.
    scrape = timed(lambda i: exposition(archive.reader.connect, list(SOURCES), max_age=None), repeats=20)
    sweep_window: list[int] = []

    def sweep_plan(i: int) -> int:
        """What a run's sweep asks of the store (aggregator/sweep.py): a source's last 30 days, the pick, the
        validators of the 50 it asks for again."""
        window = archive.sweep_window(
            SOURCES[i % len(SOURCES)], dated_since=NOW - timedelta(days=30), seen_before=NOW - timedelta(days=1)
        )
        sweep_window.append(len(window))
        chosen, _ = pick(window, NOW, 50)
        return len(archive.with_validators(chosen))

    sweep = timed(sweep_plan, repeats=40)
    text_sample = corpus.variant(corpus.family_texts[0])
    sketch_ms = timed(lambda i: sketch(text_sample), repeats=50)[0]
    load_before = os.getloadavg()[0]
    rates = write_rates(archive, corpus)
    return {
        "articles_s": loaded["articles_s"],
        "statement_rate": loaded["statement_rate"],
        "buckets_s": loaded["buckets_s"],
        "reads": reads,
        "info": info,
        "matching": matching,
        "matched": statistics.mean(found),
        "sketch_ms": sketch_ms,
        "bulk_rate": rates["bulk"],
        "crawl_rate": rates["crawl"],
        "load": (load_before, os.getloadavg()[0]),
        "sweep": sweep,
        "sweep_window": statistics.mean(sweep_window),
        "scrape": scrape,
    }


@contextmanager
def sqlite_archive() -> Iterator[Archive]:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as folder:
        archive = Archive.open(f"sqlite:///{folder}/archive.db")
        try:
            yield archive
        finally:
            archive.close()


def postgres_reachable() -> str | None:
    import psycopg

    try:
        with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test", connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@contextmanager
def postgres_archive() -> Iterator[Archive]:
    import psycopg

    name = f"aggregator_bench_{uuid.uuid4().hex[:10]}"
    params = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    archive = Archive.open(PG_ADMIN.rsplit("/", 1)[0] + "/" + name)
    try:
        yield archive
    finally:
        archive.close()
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(backend: str, results: dict[int, dict[str, Any]]) -> None:
    sizes = sorted(results)
    print(f"\n== {backend} ==")
    for size in sizes:
        r = results[size]
        print(f"\n{size:,} articles")
        print(
            f"  pre-fill (fast path, not measured: archive's upsert statement, no snapshots or matching; buckets"
            f" bulk-loaded): articles {r['articles_s']:.0f} s, {BANDS} bucket rows each {r['buckets_s']:.0f} s"
        )
        print(
            f"  the pre-fill's upsert statement alone (articles + FTS rows, {BATCH:,}-row transactions; what this"
            f" line measured before): {r['statement_rate']:,.0f} rows/s"
        )
        print(
            f"  bulk upsert, Archive.save() (upsert + FTS + snapshot + story matching + buckets), {WRITES:,} new"
            f" articles in {BULK_BATCH:,}-article batches: {r['bulk_rate']:,.0f} rows/s"
        )
        print(
            f"  the same in the crawl's {CRAWL_BATCH}-article batches ({CRAWL_WRITES:,} articles):"
            f" {r['crawl_rate']:,.0f} rows/s   (load average {r['load'][0]:.1f} -> {r['load'][1]:.1f})"
        )
        print(f"  {'read':34} {'p50 ms':>8} {'p99 ms':>8}")
        for name, (p50, p99) in r["reads"].items():
            print(f"  {name:34} {p50:8.2f} {p99:8.2f}")
        for name, (p50, p99) in r["info"].items():
            print(f"  {name:34} {p50:8.2f} {p99:8.2f}   (information: the latest {SEARCH_WINDOW:,} matches ranked)")
        p50, p99 = r["matching"]
        print(f"  {'story matching (lookup + verify)':34} {p50:8.2f} {p99:8.2f}   ({r['matched']:.1f} verified"
              f" matches per probe; sketching the text: {r['sketch_ms']:.2f} ms, in the pipeline)")  # fmt: skip
        p50, p99 = r["sweep"]
        print(f"  {'sweep plan (a source, 30 days)':34} {p50:8.2f} {p99:8.2f}   (information: once a run; "
              f"{r['sweep_window']:,.0f} articles in the window, 50 picked)")  # fmt: skip
        p50, p99 = r["scrape"]
        print(f"  {'metrics scrape (/metrics)':34} {p50:8.2f} {p99:8.2f}   (information: counts every source's "
              "articles from an index, so grows with the archive)")  # fmt: skip
    first, last = sizes[0], sizes[-1]
    print(f"\n  targets ({backend}, {first:,} -> {last:,}):")
    for name in results[last]["reads"]:
        p50_last = results[last]["reads"][name][0]
        growth = p50_last / max(results[first]["reads"][name][0], 1e-9)
        ok = p50_last < TARGET_READ_MS and growth <= TARGET_GROWTH
        print(f"    {name:34} p50 {p50_last:6.2f} ms (< {TARGET_READ_MS} ms), "
              f"growth x{growth:4.2f} (<= x{TARGET_GROWTH}): {verdict(ok)}")  # fmt: skip
    growth = results[last]["matching"][0] / max(results[first]["matching"][0], 1e-9)
    print(f"    {'story matching':34} growth x{growth:4.2f} (not growing: <= x{TARGET_GROWTH}): "
          f"{verdict(growth <= TARGET_GROWTH)}")  # fmt: skip
    if backend == "SQLite":
        worst = min(results[s]["bulk_rate"] for s in sizes)
        print(f"    {'bulk upsert (Archive.save)':34} {worst:,.0f} rows/s at worst (>= {TARGET_UPSERT:,.0f}): "
              f"{verdict(worst >= TARGET_UPSERT)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated archive sizes")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--pg-max", type=int, default=1_000_000, help="largest size run on PostgreSQL (1,000,000 takes ~17 minutes)"
    )
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    print(f"bench/store.py: sizes {', '.join(f'{s:,}' for s in sizes)}; {PER_DAY:,} articles a day; "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    results: dict[int, dict[str, Any]] = {}
    for size in sizes:
        began = time.perf_counter()
        with sqlite_archive() as archive:
            results[size] = measure(archive, size)
        print(f"  SQLite {size:,}: done in {time.perf_counter() - began:.0f} s", flush=True)
    report("SQLite", results)
    if args.no_postgres:
        return
    problem = postgres_reachable()
    if problem:
        print(f"\nPostgreSQL not reachable ({problem}): skipped")
        return
    pg_sizes = [s for s in sizes if s <= args.pg_max]
    skipped = [s for s in sizes if s > args.pg_max]
    pg: dict[int, dict[str, Any]] = {}
    for size in pg_sizes:
        began = time.perf_counter()
        with postgres_archive() as archive:
            pg[size] = measure(archive, size)
        print(f"  PostgreSQL {size:,}: done in {time.perf_counter() - began:.0f} s", flush=True)
    if pg:
        report("PostgreSQL", pg)
    if skipped:
        print(f"\nPostgreSQL: {', '.join(f'{s:,}' for s in skipped)} skipped (--pg-max {args.pg_max:,})")  # fmt: skip


if __name__ == "__main__":
    main()
