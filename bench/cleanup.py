"""Cleanup + attribution against extraction, on the same 2,000 generated caliber.az pages, in one run.

Run from the repo root: ``python bench/cleanup.py``. Prints figures, asserts nothing.

Pages come from ``bench/sitegen.py`` (the mirror ``bench/crawl.py`` crawls: ~30 KiB caliber-shaped articles with
banners, lazy images, signatures, view counters). Each round, timed separately on the whole set:

- extraction: ``CaliberArticle(response).to_item()`` on fresh ``HtmlResponse`` objects (decoding included);
- cleanup + attribution: ``CleanupPipeline`` then ``AttributionPipeline`` on fresh copies of the extracted items
  (copies made before the clock starts).

Target: cleanup and attribution together cost less than the extraction (ratio cleanup / extraction < 1).
"""

from __future__ import annotations

import copy
import gc
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scrapy.http import HtmlResponse  # noqa: E402

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
)
"""The inputs tests/test_citations.py feeds find_citations to catch runaway regex backtracking."""
N_PAGES = 2000
ROUNDS = 5


def main() -> None:
    import sitegen

    started = time.perf_counter()
    rng = random.Random(20240323)
    articles = sitegen.make_articles(N_PAGES, rng)
    pages = [(a.url, sitegen.article_page(a, articles, rng).encode()) for a in articles]
    size = sum(len(body) for _, body in pages) / len(pages) / 1024
    headers = {"Content-Type": "text/html; charset=utf-8"}
    items = [CaliberArticle(HtmlResponse(url=u, body=b, headers=headers)).to_item() for u, b in pages]
    cleanup, attribution = CleanupPipeline(), AttributionPipeline()
    extract_times: list[float] = []
    clean_times: list[float] = []
    for _ in range(ROUNDS):
        responses = [HtmlResponse(url=u, body=b, headers=headers) for u, b in pages]
        gc.collect()
        t0 = time.perf_counter()
        for response in responses:
            CaliberArticle(response).to_item()
        extract_times.append(time.perf_counter() - t0)

        fresh = [copy.copy(item) for item in items]
        gc.collect()
        t0 = time.perf_counter()
        for item in fresh:
            attribution.process_item(cleanup.process_item(item))
        clean_times.append(time.perf_counter() - t0)

    def rate(times: list[float]) -> tuple[float, float]:
        return len(pages) / min(times), len(pages) / statistics.median(times)

    ex_best, ex_median = rate(extract_times)
    cl_best, cl_median = rate(clean_times)
    cited = sum(1 for item in fresh if item.cited_outlets)
    print(
        f"cleanup: {len(pages)} generated caliber.az pages ({size:.1f} KiB average), {ROUNDS} rounds, best and median"
    )
    print(f"  extraction (CaliberArticle.to_item):    {ex_best:7.0f} pages/s  (median {ex_median:6.0f})"
          f"  {1e6 / ex_best:6.1f} us/page")  # fmt: skip
    print(f"  cleanup + attribution:                  {cl_best:7.0f} pages/s  (median {cl_median:6.0f})"
          f"  {1e6 / cl_best:6.1f} us/page")  # fmt: skip
    ratio = ex_best / cl_best
    verdict = "met" if ratio < 1 else "NOT met"
    print(f"  cost ratio (cleanup + attribution) / extraction: {ratio:.2f}   target < 1: {verdict}")
    print(f"  articles whose text cites an outlet: {cited} of {len(fresh)}")
    print("  adversarial texts through find_citations (tests check their answers; the time is here):")
    for name, text in ADVERSARIAL:
        t0 = time.perf_counter()
        find_citations(text)
        print(f"    {name:15s} {len(text) / 1024:6.0f} KiB  {(time.perf_counter() - t0) * 1e3:7.1f} ms")
    print(f"  total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
