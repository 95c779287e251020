"""``aggregator stories rebuild`` on a large archive: every article matched again, in archive order, in batches.

Run from the repo root: ``python bench/stories_rebuild.py [--sizes 20000,100000] [--no-postgres]``. Prints figures,
asserts nothing. The archive is bench/store.py's (``load``): synthetic articles two thousand a day, every one its own
story but for near-duplicate families of three (1% of the articles, real sketches) placed anywhere in the archive's
weeks, so that the five-day limit (``STORY_GAP``) splits most families, as it split the stale joins of a real one;
the other articles have no stored sketch (an archive from before stories), so the first rebuild sketches them.

Measured, each in wall-clock seconds: the first rebuild (sketches computed from the stored text and their buckets
written, families split), then a second (nothing to change: what re-applying a rule to a sketched archive costs),
with the longest batch of each (how long a crawl's batch may wait for the writers' turn behind the rebuild).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from store import load, postgres_archive, postgres_reachable, sqlite_archive  # noqa: E402

from aggregator.store.story_index import REBUILD_BATCH, Rebuild, rebuild  # noqa: E402


def timed_rebuild(archive: Any) -> tuple[float, float, Rebuild]:
    """(seconds, longest batch's seconds, the rebuild's summary). The first batch is not counted among the batches:
    its time holds the rebuild's opening reads too (the counts, every article's story)."""
    marks = [time.perf_counter()]

    def mark(_: Rebuild) -> None:
        marks.append(time.perf_counter())

    result = rebuild(archive.engine, progress=mark)
    total = time.perf_counter() - marks[0]
    longest = max((b - a for a, b in itertools.pairwise(marks[1:])), default=0.0)
    return total, longest, result


def run(label: str, archive: Any, size: int) -> None:
    began = time.perf_counter()
    load(archive, size)
    print(f"{label} {size:>7,} articles: filled in {time.perf_counter() - began:.0f} s", flush=True)
    for name in ("first rebuild", "second rebuild"):
        seconds, longest, result = timed_rebuild(archive)
        print(
            f"  {name}: {seconds:6.1f} s ({result.articles / seconds:,.0f} articles/s), longest batch of "
            f"{REBUILD_BATCH:,} {longest:.2f} s; {result.sketched:,} sketched, {result.moved:,} moved, stories "
            f"{result.stories_before:,} -> {result.stories_after:,}, shared {result.shared_before:,} -> "
            f"{result.shared_after:,}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        with sqlite_archive() as archive:
            run("SQLite    ", archive, size)
    if args.no_postgres:
        return
    if (why := postgres_reachable()) is not None:
        print(f"PostgreSQL skipped: {why}")
        return
    for size in sizes:
        with postgres_archive() as archive:
            run("PostgreSQL", archive, size)


if __name__ == "__main__":
    main()
