"""Cleanup + attribution against extraction, on the same 2,000 generated caliber.az pages, in one run.

Run from the repo root: ``python bench/cleanup.py``. Prints figures, asserts nothing.

Pages come from ``bench/sitegen.py`` (the mirror ``bench/crawl.py`` crawls: ~30 KiB caliber-shaped articles with
banners, lazy images, signatures, view counters). Each round times both sides on the whole set, in CPU time
(``time.process_time``: time this process ran, so other processes' load on the machine counts far less than on a
wall clock), one right after the other and in alternating order:

- extraction: ``CaliberArticle(response).to_item()`` on fresh ``HtmlResponse`` objects (decoding included);
- cleanup + attribution: ``CleanupPipeline`` then ``AttributionPipeline`` on fresh copies of the extracted items
  (copies made before the clock starts).

Target: cleanup and attribution together cost less than the extraction (ratio cleanup / extraction < 1, the best
round of each side); the ratios of the rounds' pairs are printed beside it to show how steady it is.
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scrapy.http import HtmlResponse  # noqa: E402

from aggregator.items import ArticleItem  # noqa: E402
from pipelines.attribution import AttributionPipeline  # noqa: E402
from pipelines.citations import find_citations  # noqa: E402
from pipelines.cleanup import CleanupPipeline  # noqa: E402
from spiders.caliber import CaliberArticle  # noqa: E402

ADVERSARIAL = (
    ("long-word", "Как сообщает " + "А" * 50_000),
    ("dots", "сообщает " + "a." * 30_000),
    ("quotes", "«" * 50_000 + " сообщает"),
    ("spaces", "Report" + " " * 50_000 + "reports"),
    ("capitals", "Abc " * 20_000 + "reports"),
    ("hyphens", "-".join(["Ab"] * 30_000) + " reports"),
    ("commas", ", citing" * 10_000),
    ("citing-clauses", ", ссылаясь на Калибр" * 4_000 + ", передает Отчет"),
    ("many-anchors", "APA-ya istinadən xəbər verir " * 2_000),
    ("conjunctions", "Как сообщают Report" + " и Trend" * 20_000),
    ("commas-before", "Reuters, " * 20_000 + "AFP и Bloomberg сообщают"),
    ("commas-after", "Как сообщают " + "Reuters, " * 20_000 + "AFP и Bloomberg"),
    ("many-lists", "Как сообщают Report, Trend, APA и ТАСС. " * 2_000),
    ("az-conjunctions", "Report və " * 20_000 + "APA-nın məlumatına görə"),
)
"""The inputs tests/test_citations.py feeds find_citations to catch runaway regex backtracking."""
N_PAGES = 2000
ROUNDS = 9


def main() -> None:
    # --help prints what the run does (it took no arguments, and ran the whole benchmark on --help)
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    import sitegen

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    rng = random.Random(20240323)
    articles = sitegen.make_articles(N_PAGES, rng)
    pages = [(a.url, sitegen.article_page(a, articles, rng).encode()) for a in articles]
    size = sum(len(body) for _, body in pages) / len(pages) / 1024
    headers = {"Content-Type": "text/html; charset=utf-8"}
    items = [CaliberArticle(HtmlResponse(url=u, body=b, headers=headers)).to_item() for u, b in pages]
    cleanup, attribution = CleanupPipeline(), AttributionPipeline()
    fresh: list[ArticleItem] = []

    def extraction() -> float:
        responses = [HtmlResponse(url=u, body=b, headers=headers) for u, b in pages]
        gc.collect()
        t0 = time.process_time()
        for response in responses:
            CaliberArticle(response).to_item()
        return time.process_time() - t0

    def cleanup_and_attribution() -> float:
        nonlocal fresh
        fresh = [copy.copy(item) for item in items]
        gc.collect()
        t0 = time.process_time()
        for item in fresh:
            attribution.process_item(cleanup.process_item(item))
        return time.process_time() - t0

    extract_times: list[float] = []
    clean_times: list[float] = []
    for round_ in range(ROUNDS):
        # Interleaved, and in alternating order: a burst of load from elsewhere hits both sides alike.
        if round_ % 2:
            clean_times.append(cleanup_and_attribution())
            extract_times.append(extraction())
        else:
            extract_times.append(extraction())
            clean_times.append(cleanup_and_attribution())

    def us(seconds: float) -> float:
        return seconds / len(pages) * 1e6

    ex_best, cl_best = min(extract_times), min(clean_times)
    paired = sorted(c / e for c, e in zip(clean_times, extract_times, strict=True))
    cited = sum(1 for item in fresh if item.cited_outlets)
    print(
        f"cleanup: {len(pages)} generated caliber.az pages ({size:.1f} KiB average), {ROUNDS} interleaved rounds, "
        "CPU time (best and median)"
    )
    for label, times in (("extraction (CaliberArticle.to_item):", extract_times),
                         ("cleanup + attribution:", clean_times)):  # fmt: skip
        best, median = us(min(times)), us(statistics.median(times))
        print(f"  {label:39s} {best:6.1f} us/page  (median {median:6.1f})  {len(pages) / min(times):6.0f} pages/s")
    ratio = cl_best / ex_best
    verdict = "met" if ratio < 1 else "NOT met"
    print(f"  cost ratio (cleanup + attribution) / extraction: {ratio:.2f}   target < 1: {verdict}")
    print(f"  per-round ratios: median {statistics.median(paired):.2f}, range {paired[0]:.2f}-{paired[-1]:.2f}")
    print(f"  articles whose text cites an outlet: {cited} of {len(fresh)}")
    print("  adversarial texts through find_citations (tests check their answers; the time is here):")
    for name, text in ADVERSARIAL:
        t0 = time.process_time()
        find_citations(text)
        print(f"    {name:15s} {len(text) / 1024:6.0f} KiB  {(time.process_time() - t0) * 1e3:7.1f} ms")
    load_after = os.getloadavg()[0]
    print(
        f"  total {time.perf_counter() - started:.0f}s, load average {load_before:.2f} before, {load_after:.2f} after"
    )


if __name__ == "__main__":
    main()
