"""Extractor throughput: article pages per second through each site's extractor, exactly as a crawl runs it, against
``lxml.html.fromstring(body)`` alone on the same bodies (the parse floor); then the generic path
(``GenericArticle(response).to_item()``: metadata, JSON-LD and trafilatura's main text) against the same floor.

Run from the repo root: ``python bench/extract.py``. Prints figures, asserts nothing.

The pages of each site are the bundled sample's articles a crawl of it reaches (``data/mirror/<host>/``): the
source's entry listings or feeds are read with its spider's own link rules, each article link is looked up in the
mirror tree as the mirror server would, and a page the mirror answers with an error status (which a crawl records
as a failed fetch, never extracts) is left out. Each page carries the headers the mirror server sends with it
(Content-Type, ``_mirror.toml`` overrides included; ETag; Last-Modified), and the response object is the class
Scrapy would build for them.

What each timed batch includes:

* floor: ``lxml.html.fromstring(body)`` on the raw bytes (lxml decodes them itself).
* extractor: ``spider.parse_article(response)`` run to its item, the spider's callback for an article page: the
  HTML check, the choice of extractor version (``spiders.versions.pick_extractor``, for a page fetched now), the
  extractor (decoding, parse, selections, ``ArticleItem``). Fresh responses every round, built before the clock
  starts, so the figure includes what Scrapy caches per response object (the encoding, ``response.text``).
* + pipelines (for information): the same, then validate, cleanup and dates ``process_item`` on the item (what
  ``aggregator.extract.extract_page`` runs; pipelines built once, as in a crawl; no ``to_record()``).

Timing is CPU time of this process (``time.process_time``), so that other processes on the machine do not count,
and every round times each site's floor and extractor next to each other, in an order that alternates from round
to round (``+pipelines`` is timed afterwards, in 3 rounds). Per site: the best round of each job, and the median
of the per-round ratios. The target (extractor at no less than half the floor's rate) must hold for both, the
best-of-rounds ratio and the median round's.

For information: the caliber extractor on synthetic pages of real size (bench/sitegen.py, 20-40 KB); and the
generic path, which has no target, on the bundled minval.az pages, on the caliber.az sample read as an unknown site
and on the synthetic pages.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402
from scrapy.http import HtmlResponse, Request, Response  # noqa: E402
from scrapy.responsetypes import responsetypes  # noqa: E402
from scrapy.spiderloader import get_spider_loader  # noqa: E402

from aggregator.crawl import project_settings  # noqa: E402
from aggregator.extract import processing_pipelines  # noqa: E402
from aggregator.mirror import MirrorTree, _content_type  # noqa: E402
from aggregator.sources import get_source  # noqa: E402
from pipelines.base import Rejected  # noqa: E402
from spiders.feed_source import FeedSourceSpider  # noqa: E402
from spiders.feeds import parse_feed  # noqa: E402
from spiders.generic import GenericArticle  # noqa: E402
from spiders.versions import extractor_versions, pick_extractor  # noqa: E402

MIRROR = ROOT / "data" / "mirror"
SITES = ("caliber", "haqqin", "apa", "report", "trend")
GENERIC_SITE = MIRROR / "minval.az"
ROUNDS = 9
BATCH = 1500  # pages a timed batch holds at least (a site's sample repeated), ~0.1-0.3 s of CPU
PIPELINE_ROUNDS = 3
GENERIC_ROUNDS = 5
GENERIC_REPEAT = 3
TARGET = 0.5
DEFAULT_CTYPE = "text/html; charset=utf-8"  # what the mirror server sends for .html
SYNTHETIC = 200  # synthetic pages (bench/sitegen.py), for information
JOBS = ("floor", "extractor", "pipelines")

Page = tuple[str, bytes, dict[str, str]]


@dataclass
class Site:
    key: str
    spider: Any
    pages: list[Page]
    versions: Counter[str]


# -- the pages ---------------------------------------------------------------------------------------------------


def _mirror_page(tree: MirrorTree, url: str) -> Page | None:
    """(url, body, headers) as the mirror server answers ``url``; None for an error status or a missing file."""
    parts = urlsplit(url)
    override = tree.override(parts.netloc, parts.path)
    file = tree.find(parts.netloc, parts.path)
    if file is None or int(override.get("status", 200)) != 200:
        return None
    body = file.read_bytes()
    headers = {
        "Content-Type": override.get("content_type") or _content_type(file),
        "ETag": '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"',
        "Last-Modified": formatdate(int(file.stat().st_mtime), usegmt=True),
        **{name: str(value) for name, value in override.get("headers", {}).items()},
    }
    return url, body, headers


def response(page: Page) -> Response:
    url, body, headers = page
    cls = responsetypes.from_args(headers=headers, url=url, body=body)  # type: ignore[arg-type]
    return cls(url=url, body=body, headers=headers)


def site_pages(key: str) -> Site:
    """The bundled sample's article pages a crawl of source ``key`` fetches and extracts."""
    tree = MirrorTree(MIRROR)
    spider_cls = get_spider_loader(project_settings()).load(key)
    spider = spider_cls()
    source = get_source(key)
    links: list[str] = []
    for entry in source.entry_urls:
        page = _mirror_page(tree, entry)
        if page is None:
            continue
        if issubclass(spider_cls, FeedSourceSpider):
            links += [e.link for e in parse_feed(page[1], entry).entries]
        else:
            links += [r.url for r in spider.parse(response(page)) if isinstance(r, Request)]  # as a crawl reads it
    pages: list[Page] = []
    for url in dict.fromkeys(links):
        if source.owns(url) and spider_cls.ARTICLE_PATH.match(urlsplit(url).path):
            page = _mirror_page(tree, url)
            if page is not None:
                pages.append(page)
    versions = extractor_versions(spider_cls)
    used = Counter(pick_extractor(versions, None, body).__name__ for _, body, _ in pages)
    return Site(key, spider, pages, used)


def synthetic_pages(n: int) -> list[Page]:
    import random

    import sitegen

    rng = random.Random(7)
    articles = sitegen.make_articles(n, rng)
    return [(a.url, sitegen.article_page(a, articles, rng).encode(), {"Content-Type": DEFAULT_CTYPE}) for a in articles]


def generic_pages() -> list[Page]:
    """(real URL, body, headers) of the bundled pages of the source the generic spider reads."""
    return [
        (f"https://{GENERIC_SITE.name}/news/{path.stem}", path.read_bytes(), {"Content-Type": DEFAULT_CTYPE})
        for path in sorted(GENERIC_SITE.glob("news/*.html"))
    ]


def kib(pages: list[Page]) -> float:
    return sum(len(b) for _, b, _ in pages) / len(pages) / 1024


# -- timing ------------------------------------------------------------------------------------------------------


def cpu_seconds(fn: Callable[[], object]) -> float:
    """CPU time of one batch (this process only: other processes' load does not count)."""
    gc.collect()
    start = time.process_time()
    fn()
    return time.process_time() - start


@dataclass
class Rates:
    """Pages per second of each job, one figure per round."""

    pages: int
    seconds: dict[str, list[float]]

    def best(self, job: str) -> float:
        return self.pages / min(self.seconds[job])

    def median(self, job: str) -> float:
        return self.pages / statistics.median(self.seconds[job])

    def ratio_best(self, job: str) -> float:
        return self.best(job) / self.best("floor")

    def ratio_median(self, job: str) -> float:
        """The median of the rounds' ratios (each round's job against the same round's floor)."""
        return statistics.median(f / s for f, s in zip(self.seconds["floor"], self.seconds[job], strict=True))


def run_rounds(jobs: dict[str, Callable[[], Callable[[], object]]], pages: int, rounds: int) -> Rates:
    """Each round: every job once, in an order rotated from round to round. A job factory builds its batch's
    inputs (fresh responses) before the clock starts."""
    names = list(jobs)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            batch = jobs[name]()
            seconds[name].append(cpu_seconds(batch))
    return Rates(pages, seconds)


def floor_job(bodies: list[bytes]) -> Callable[[], Callable[[], object]]:
    def make() -> Callable[[], object]:
        def run() -> None:
            for body in bodies:
                lxml.html.fromstring(body)

        return run

    return make


def crawl_jobs(site: Site, batch: list[Page], pipelines: list[Any]) -> dict[str, Callable[[], Callable[[], object]]]:
    parse_article = site.spider.parse_article

    def extractor() -> Callable[[], object]:
        fresh = [response(p) for p in batch]

        def run() -> None:
            for r in fresh:
                for _ in parse_article(r):
                    pass

        return run

    def with_pipelines() -> Callable[[], object]:
        fresh = [response(p) for p in batch]

        def run() -> None:
            for r in fresh:
                for item in parse_article(r):
                    try:
                        for pipeline in pipelines:
                            item = pipeline.process_item(item)
                    except Rejected:
                        pass

        return run

    return {"floor": floor_job([b for _, b, _ in batch]), "extractor": extractor, "pipelines": with_pipelines}


def measure_sites(sites: list[Site]) -> dict[str, Rates]:
    """Every round times every site's floor and extractor, the sites in turn (so that a slow spell hits all of
    them), the two jobs in an order alternating from round to round; then ``+pipelines``, for information, in
    fewer rounds (it costs several times the extractor)."""
    pipelines = processing_pipelines()
    plans: dict[str, tuple[dict[str, Callable[[], Callable[[], object]]], int]] = {}
    for site in sites:
        repeat = -(-BATCH // len(site.pages))
        batch = site.pages * repeat
        plans[site.key] = (crawl_jobs(site, batch, pipelines), len(batch))
        for job in plans[site.key][0].values():  # warm up: imports, regex compilation, caches
            job()()
    seconds: dict[str, dict[str, list[float]]] = {s.key: {name: [] for name in JOBS} for s in sites}
    for r in range(ROUNDS):
        for key, (jobs, _) in plans.items():
            for name in ("floor", "extractor") if r % 2 == 0 else ("extractor", "floor"):
                seconds[key][name].append(cpu_seconds(jobs[name]()))
    for _ in range(PIPELINE_ROUNDS):
        for key, (jobs, _) in plans.items():
            seconds[key]["pipelines"].append(cpu_seconds(jobs["pipelines"]()))
    return {key: Rates(n, seconds[key]) for key, (_, n) in plans.items()}


# -- output ------------------------------------------------------------------------------------------------------


def report_sites(sites: list[Site], rates: dict[str, Rates]) -> None:
    print(
        f"  {'site':8} {'pages':>5} {'KiB':>5}  {'floor/s':>8} {'extractor/s':>11} {'us/page':>8}  "
        f"{'ratio best':>10} {'median':>6}  {'target >= ' + str(TARGET):16} {'+pipelines/s':>12} {'ratio':>5}"
    )
    for site in sites:
        r = rates[site.key]
        best, median = r.ratio_best("extractor"), r.ratio_median("extractor")
        verdict = "met" if min(best, median) >= TARGET else "NOT met"
        print(
            f"  {site.key:8} {len(site.pages):5} {kib(site.pages):5.1f}  {r.best('floor'):8.0f} "
            f"{r.best('extractor'):11.0f} {1e6 / r.best('extractor'):8.1f}  {best:10.2f} {median:6.2f}  "
            f"{verdict:16} {r.best('pipelines'):12.0f} {r.ratio_best('pipelines'):5.2f}"
        )
    for site in sites:
        if len(site.versions) > 1 or site.key == "report":
            used = ", ".join(f"{name} x{n}" for name, n in sorted(site.versions.items()))
            print(f"  {site.key} extractor versions picked: {used}")


def measure_synthetic(pages: list[Page]) -> Rates:
    caliber = site_pages("caliber")
    jobs = crawl_jobs(Site("caliber", caliber.spider, pages, Counter()), pages, processing_pipelines())
    for job in jobs.values():
        job()()
    rates = run_rounds({name: jobs[name] for name in ("floor", "extractor")}, len(pages), ROUNDS)
    rates.seconds["pipelines"] = [cpu_seconds(jobs["pipelines"]()) for _ in range(PIPELINE_ROUNDS)]
    return rates


def measure_generic(pages: list[Page], repeat: int) -> Rates:
    batch = pages * repeat

    def generic() -> Callable[[], object]:
        fresh = [HtmlResponse(url=u, body=b, headers=h) for u, b, h in batch]

        def run() -> None:
            for r in fresh:
                GenericArticle(r).to_item()

        return run

    for u, b, h in pages:  # warm up: trafilatura's imports and caches
        GenericArticle(HtmlResponse(url=u, body=b, headers=h)).to_item()
    return run_rounds({"floor": floor_job([b for _, b, _ in batch]), "generic": generic}, len(batch), GENERIC_ROUNDS)


def report_pair(rates: Rates, job: str, label: str, note: str) -> None:
    print(f"  {'':40} {'best pages/s':>13} {'median pages/s':>15} {'us/page (best)':>15}")
    for name, text in (("floor", "lxml.html.fromstring(body) (floor)"), (job, label)):
        print(f"  {text:40} {rates.best(name):13.0f} {rates.median(name):15.0f} {1e6 / rates.best(name):15.1f}")
    print(
        f"  ratio {job} / floor: {rates.ratio_best(job):.3f} (best)  {rates.ratio_median(job):.3f} (median round)"
        f"   {note}"
    )


def main() -> None:
    # --help prints what the run does (it took no arguments, and ran the whole benchmark on --help)
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    started = time.perf_counter()
    sites = [site_pages(key) for key in SITES]
    print(
        f"extract: each site's extractor as a crawl runs it (spider.parse_article) on the bundled sample pages a "
        f"crawl of it extracts, against lxml.html.fromstring; CPU time, best and median of {ROUNDS} rounds, "
        f">= {BATCH} pages a batch (the sample repeated), fresh responses every round"
    )
    report_sites(sites, measure_sites(sites))
    print(f"  ({time.perf_counter() - started:.0f}s so far)")

    synthetic = synthetic_pages(SYNTHETIC)
    print(
        f"for information, caliber on {len(synthetic)} synthetic pages from bench/sitegen.py "
        f"({kib(synthetic):.1f} KiB average, the size of real caliber.az pages), {ROUNDS} rounds:"
    )
    rates = measure_synthetic(synthetic)
    report_pair(rates, "extractor", "CaliberSpider.parse_article(response)", "(for information)")
    print(
        f"  + validate, cleanup, dates: {rates.best('pipelines'):.0f} pages/s, "
        f"ratio {rates.ratio_best('pipelines'):.2f} (for information)"
    )

    no_target = "(no target: printed, not asserted)"
    generic = generic_pages()
    print(
        f"generic path (metadata + trafilatura): {len(generic)} bundled {GENERIC_SITE.name} pages "
        f"({kib(generic):.1f} KiB average), {len(generic) * GENERIC_REPEAT} pages a batch, {GENERIC_ROUNDS} rounds"
    )
    label = "GenericArticle(response).to_item()"
    report_pair(measure_generic(generic, GENERIC_REPEAT), "generic", label, no_target)
    caliber = sites[0].pages
    print(f"generic path on the {len(caliber)} caliber.az sample pages, read as an unknown site:")
    report_pair(measure_generic(caliber, GENERIC_REPEAT), "generic", label, no_target)
    print(f"generic path on the {len(synthetic)} synthetic pages:")
    report_pair(measure_generic(synthetic, 1), "generic", label, no_target)
    print(f"  total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
