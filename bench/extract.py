"""Extractor throughput: caliber article pages per second through ``CaliberArticle(response).to_item()``,
against ``lxml.html.fromstring(body)`` alone on the same bodies (the parse floor), in one run; then the generic
path (``GenericArticle(response).to_item()``: metadata, JSON-LD and trafilatura's main text) against the same floor,
on the bundled minval.az pages (the source it reads in a crawl), on the caliber.az sample read as if it were an
unknown site, and on the synthetic pages.

Run from the repo root: ``python bench/extract.py``. Prints figures, asserts nothing.

What each timed batch includes:

* floor: ``lxml.html.fromstring(body)`` on the raw bytes (lxml decodes them itself).
* extractor: ``CaliberArticle(response).to_item()`` on a fresh ``HtmlResponse``, so the batch includes
  ``response.text`` (encoding detection + decode, cached per response object), the Lexbor parse, the
  selections and the ``ArticleItem``. Building the ``HtmlResponse`` objects is done before the clock starts.
* extractor + pipelines: the same, then validate, cleanup and dates ``process_item`` on the item (what
  ``aggregator.extract.extract_page`` runs; pipelines built once, like a crawl does; no ``to_record()``).

Every round times all three on every page (the set repeated ``REPEAT`` times), in an order rotated from round to
round; the table gives the best and the median round. The target (extractor at no less than half the floor's
rate) is judged on the bundled sample pages; the same table on synthetic pages of real size (bench/sitegen.py,
20-40 KB) follows for information. The generic path has no target: its rate and its ratio to the floor are printed.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402
from scrapy.http import HtmlResponse  # noqa: E402

from aggregator.extract import processing_pipelines  # noqa: E402
from pipelines.base import Rejected  # noqa: E402
from spiders.caliber import CaliberArticle  # noqa: E402
from spiders.generic import GenericArticle  # noqa: E402

SITE = ROOT / "data" / "mirror" / "caliber.az"
GENERIC_SITE = ROOT / "data" / "mirror" / "minval.az"
GENERIC_ROUNDS = 5
GENERIC_REPEAT = 3
ROUNDS = 9
REPEAT = 20  # the sample set repeated per batch, so a batch lasts long enough to time
TARGET = 0.5
DEFAULT_CTYPE = "text/html; charset=utf-8"  # what the mirror server sends for .html
SYNTHETIC = 200  # synthetic pages (bench/sitegen.py), for information
JOBS = ("floor", "extractor", "extractor+pipelines")
LABELS = {
    "floor": "lxml.html.fromstring(body) (floor)",
    "extractor": "CaliberArticle(response).to_item()",
    "extractor+pipelines": "  + validate, cleanup, dates",
}


def sample_pages() -> list[tuple[str, bytes, dict[str, str]]]:
    """(real URL, body, headers) of every bundled article page, with the Content-Type the mirror would send."""
    overrides: dict[str, str] = {}
    spec = SITE / "_mirror.toml"
    if spec.is_file():
        for entry in tomllib.loads(spec.read_text(encoding="utf-8")).get("response", []):
            if "content_type" in entry:
                overrides[entry["path"].rstrip("/")] = entry["content_type"]
    pages = []
    for path in sorted(SITE.glob("**/post/*.html")):
        rel = "/" + path.relative_to(SITE).with_suffix("").as_posix()
        pages.append(
            (f"https://caliber.az{rel}", path.read_bytes(), {"Content-Type": overrides.get(rel, DEFAULT_CTYPE)})
        )
    return pages


def responses(pages: list[tuple[str, bytes, dict[str, str]]]) -> list[HtmlResponse]:
    return [HtmlResponse(url=url, body=body, headers=headers) for url, body, headers in pages]


def timed(fn: Callable[[], int]) -> float:
    """Pages per second of one batch."""
    gc.collect()
    start = time.perf_counter()
    n = fn()
    return n / (time.perf_counter() - start)


def measure(pages: list[tuple[str, bytes, dict[str, str]]], repeat: int) -> dict[str, list[float]]:
    """Pages per second of each job, one figure per round."""
    batch = pages * repeat
    bodies = [body for _, body, _ in batch]
    pipelines = processing_pipelines()

    def floor() -> int:
        for body in bodies:
            lxml.html.fromstring(body)
        return len(bodies)

    def extractor(fresh: list[HtmlResponse]) -> Callable[[], int]:
        def run() -> int:
            for response in fresh:
                CaliberArticle(response).to_item()
            return len(fresh)

        return run

    def extractor_pipelines(fresh: list[HtmlResponse]) -> Callable[[], int]:
        def run() -> int:
            for response in fresh:
                item = CaliberArticle(response).to_item()
                try:
                    for pipeline in pipelines:
                        item = pipeline.process_item(item)
                except Rejected:
                    pass
            return len(fresh)

        return run

    # warm up: imports, regex compilation, lru caches
    extractor_pipelines(responses(pages))()
    floor()

    rates: dict[str, list[float]] = {name: [] for name in JOBS}
    for r in range(ROUNDS):
        jobs = {
            "floor": floor,
            "extractor": extractor(responses(batch)),  # built before the clock starts
            "extractor+pipelines": extractor_pipelines(responses(batch)),
        }
        for name in JOBS[r % 3 :] + JOBS[: r % 3]:
            rates[name].append(timed(jobs[name]))
    return rates


def report(rates: dict[str, list[float]], *, headline: bool) -> None:
    best = {name: max(v) for name, v in rates.items()}
    median = {name: statistics.median(v) for name, v in rates.items()}
    print(f"  {'':40} {'best pages/s':>13} {'median pages/s':>15} {'us/page (best)':>15}")
    for name in JOBS:
        print(f"  {LABELS[name]:40} {best[name]:13.0f} {median[name]:15.0f} {1e6 / best[name]:15.1f}")
    ratio_best = best["extractor"] / best["floor"]
    ratio_median = median["extractor"] / median["floor"]
    verdict = ("met" if ratio_best >= TARGET else "NOT met") if headline else "for information"
    print(
        f"  ratio extractor / floor:            {ratio_best:.2f} (best)  {ratio_median:.2f} (median)   "
        f"target >= {TARGET}: {verdict}"
    )
    print(
        f"  ratio extractor+pipelines / floor:  {best['extractor+pipelines'] / best['floor']:.2f} (best)  "
        f"{median['extractor+pipelines'] / median['floor']:.2f} (median)   (for information)"
    )


def synthetic_pages(n: int) -> list[tuple[str, bytes, dict[str, str]]]:
    import random

    import sitegen

    rng = random.Random(7)
    articles = sitegen.make_articles(n, rng)
    return [(a.url, sitegen.article_page(a, articles, rng).encode(), {"Content-Type": DEFAULT_CTYPE}) for a in articles]


def generic_pages() -> list[tuple[str, bytes, dict[str, str]]]:
    """(real URL, body, headers) of the bundled pages of the source the generic spider reads."""
    return [
        (f"https://{GENERIC_SITE.name}/news/{path.stem}", path.read_bytes(), {"Content-Type": DEFAULT_CTYPE})
        for path in sorted(GENERIC_SITE.glob("news/*.html"))
    ]


def measure_generic(pages: list[tuple[str, bytes, dict[str, str]]], repeat: int) -> dict[str, list[float]]:
    """Pages per second of the floor and of the generic extractor, one figure per round, alternating the order."""
    batch = pages * repeat
    bodies = [body for _, body, _ in batch]

    def floor() -> int:
        for body in bodies:
            lxml.html.fromstring(body)
        return len(bodies)

    def generic(fresh: list[HtmlResponse]) -> Callable[[], int]:
        def run() -> int:
            for response in fresh:
                GenericArticle(response).to_item()
            return len(fresh)

        return run

    generic(responses(pages))()  # warm up: trafilatura's imports and caches
    rates: dict[str, list[float]] = {"floor": [], "generic": []}
    for r in range(GENERIC_ROUNDS):
        jobs = {"floor": floor, "generic": generic(responses(batch))}
        for name in ("floor", "generic") if r % 2 == 0 else ("generic", "floor"):
            rates[name].append(timed(jobs[name]))
    return rates


def report_generic(rates: dict[str, list[float]]) -> None:
    best = {name: max(v) for name, v in rates.items()}
    median = {name: statistics.median(v) for name, v in rates.items()}
    print(f"  {'':40} {'best pages/s':>13} {'median pages/s':>15} {'us/page (best)':>15}")
    labels = {"floor": LABELS["floor"], "generic": "GenericArticle(response).to_item()"}
    for name in ("floor", "generic"):
        print(f"  {labels[name]:40} {best[name]:13.0f} {median[name]:15.0f} {1e6 / best[name]:15.1f}")
    print(
        f"  ratio generic / floor:              {best['generic'] / best['floor']:.3f} (best)  "
        f"{median['generic'] / median['floor']:.3f} (median)   (no target: printed, not asserted)"
    )


def main() -> None:
    started = time.perf_counter()
    pages = sample_pages()
    size = sum(len(b) for _, b, _ in pages) / len(pages) / 1024
    print(
        f"extract: {len(pages)} sample article pages (data/mirror/caliber.az/**/post/*.html, {size:.1f} KiB average), "
        f"{len(pages) * REPEAT} pages a batch, {ROUNDS} rounds, fresh HtmlResponse objects every round"
    )
    report(measure(pages, REPEAT), headline=True)

    synthetic = synthetic_pages(SYNTHETIC)
    size = sum(len(b) for _, b, _ in synthetic) / len(synthetic) / 1024
    print(
        f"for information, the same on {len(synthetic)} synthetic pages from bench/sitegen.py "
        f"({size:.1f} KiB average, the size of real caliber.az pages):"
    )
    report(measure(synthetic, 1), headline=False)

    generic = generic_pages()
    size = sum(len(b) for _, b, _ in generic) / len(generic) / 1024
    print(
        f"generic path (metadata + trafilatura): {len(generic)} bundled {GENERIC_SITE.name} pages "
        f"({size:.1f} KiB average), {len(generic) * GENERIC_REPEAT} pages a batch, {GENERIC_ROUNDS} rounds"
    )
    report_generic(measure_generic(generic, GENERIC_REPEAT))
    print(f"generic path on the {len(pages)} {SITE.name} sample pages, read as an unknown site:")
    report_generic(measure_generic(pages, GENERIC_REPEAT))
    print(f"generic path on the {len(synthetic)} synthetic pages:")
    report_generic(measure_generic(synthetic, 1))
    print(f"  total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
