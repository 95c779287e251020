"""An archived article is withdrawn by its source only when its own page is gone: a 404 or 410 at an address the
crawl asked that is the article's own (its canonical address as the site serves it: a trailing slash, ``www.`` or
``http`` make no other page), or at the address the site sent such a request to.

A 404 at another of its addresses says only that the site dropped that address: an AMP or mobile copy
(``https://m.report.az/...``, ``.../amp``), an alias whose page named the article in its canonical link (a numeric
link, an old slug, a ``?from=`` query), an old address that used to redirect to it. The sweep asks an article at
its own address when it was last fetched at such an alternate one, so its page is judged where it lives.

The store half on SQLite and PostgreSQL; the sweep's requests alone; then real crawls of the bundled report.az sample
with an overlay (``tests/helpers/report_overlay.py``) that drops an article's alternate address while its page
lives on.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from aggregator.incremental import url_hash
from aggregator.mirror import serve_mirror
from aggregator.store import Archive
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun
from aggregator.store.repository import RedirectRecord, RejectRecord, SweepCandidate
from aggregator.sweep import address as sweep_address
from aggregator.sweep import pick, request_for
from spiders.caliber import CaliberSpider
from tests.conftest import SAMPLE, run_cli, status_overlay
from tests.helpers.report_overlay import SECTION, listing, put
from tests.test_store import item

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def gone(url: str, status: int = 404, linked: str | None = None) -> RejectRecord:
    return RejectRecord("caliber", url, "fetch", f"HTTP {status}", http_status=status, linked_url=linked)


def withdrawn(archive: Archive) -> dict[int, str | None]:
    """Each article's number (from its title) -> by whom it was withdrawn (None: shown)."""
    with Session(archive.engine) as s:
        rows = s.execute(select(Article.title, Article.withdrawn_by)).all()
    return {int(title.split()[-1]): by for title, by in rows}


# -- the store -------------------------------------------------------------------------------------------------------


def test_a_gone_alternate_form_of_the_articles_address_withdraws_nothing(archive: Archive) -> None:
    """Rows last fetched at an AMP or mobile address (their key is the canonical form, which folds those): the site
    dropping that address is no deleted article."""
    archive.save(
        [
            item(1, url="https://m.caliber.az/post/story-1/"),
            item(2, url="https://caliber.az/post/story-2/amp"),
            item(3, url="https://amp.caliber.az/post/story-3"),
            item(4),
        ]
    )
    result = archive.save(
        [],
        [
            gone("https://m.caliber.az/post/story-1/"),
            gone("https://caliber.az/post/story-2/amp", 410),
            gone("https://amp.caliber.az/post/story-3"),
            gone("https://m.caliber.az/post/story-4/"),  # never fetched there, and no more its page than the others
        ],
    )
    assert result.withdrawn == 0
    assert withdrawn(archive) == {1: None, 2: None, 3: None, 4: None}
    # Its own address gone, in any spelling of it the site serves the same page at, withdraws it.
    result = archive.save(
        [],
        [
            gone("https://caliber.az/post/story-1"),
            gone("http://www.caliber.az/post/story-2/", 410),
            gone("https://caliber.az/post/story-3/?utm_source=feed"),
        ],
    )
    assert result.withdrawn == 3 and withdrawn(archive) == {1: "source", 2: "source", 3: "source", 4: None}


def test_a_gone_address_that_led_to_the_article_withdraws_nothing(archive: Archive) -> None:
    """An address kept in ``redirects`` (one that redirected to the article, or served its page with its canonical
    link naming it) that a listing links and the site answers 404 at: the article may still be at its own."""
    archive.save([item(n) for n in (1, 2, 3)])
    archive.record_redirects([RedirectRecord("caliber", "https://caliber.az/post/98765", item(1).url)])
    # As the store keeps an alias it fetched the page at: an unchanged page, at an address its row does not name.
    archive.save([item(2, url="https://caliber.az/post/story-2-old/")])
    assert ("https://caliber.az/post/story-2-old/", item(2).canonical_url) in archive.redirects("caliber")
    result = archive.save(
        [],
        [
            gone("https://caliber.az/post/98765", 410),
            gone("https://caliber.az/post/story-2-old/"),
            gone("https://caliber.az/post/story-2/?from=top"),  # a query the canonical form keeps: another address
            # An alias that now redirects somewhere gone: the article's own address was not asked.
            gone("https://caliber.az/deleted", linked="https://caliber.az/post/98765"),
        ],
    )
    assert result.withdrawn == 0 and withdrawn(archive) == {1: None, 2: None, 3: None}
    # Asked at its own address, which the site redirects to a page that is gone (a site sending deleted articles
    # to its 404 page): that is its own page gone.
    result = archive.save([], [gone("https://caliber.az/not-found", linked="https://caliber.az/post/story-3/")])
    assert result.withdrawn == 1 and withdrawn(archive) == {1: None, 2: None, 3: "source"}


# -- the sweep's requests --------------------------------------------------------------------------------------------


def swept(fetched_url: str, url: str = "https://caliber.az/post/story-1") -> SweepCandidate:
    return SweepCandidate(url, fetched_url, NOW - 10 * DAY, NOW - 6 * DAY)


def test_the_sweep_asks_an_article_fetched_at_an_alternate_address_at_its_own() -> None:
    spider = CaliberSpider()
    key = "https://caliber.az/post/story-1"
    for fetched in (
        "https://m.caliber.az/post/story-1/",
        "https://caliber.az/post/story-1/amp/",
        "https://amp.caliber.az/post/story-1",
        "https://caliber.az/post/12345",  # a numeric link whose page named the article
        "https://caliber.az/post/story-1?from=main",
    ):
        assert request_for(swept(fetched), spider).url == key, fetched
    # Fetched at its own address as the site spells it (a trailing slash, www.): asked there, as before.
    for fetched in ("https://caliber.az/post/story-1/", "https://www.caliber.az/post/story-1/"):
        assert request_for(swept(fetched), spider).url == fetched
    # Its alternate address waiting out a refusal (the 404 there) does not keep it from being asked at its own.
    chosen, due = pick(
        [swept("https://m.caliber.az/post/story-1/")], NOW, 10, {url_hash("https://caliber.az/post/12345")}
    )
    assert due == 1 and len(chosen) == 1
    chosen, due = pick([swept("https://caliber.az/post/12345")], NOW, 10, {url_hash("https://caliber.az/post/12345")})
    assert due == 1 and len(chosen) == 1
    chosen, due = pick([swept("https://caliber.az/post/12345")], NOW, 10, {url_hash(key)})
    assert (due, chosen) == (0, [])


# -- real crawls -----------------------------------------------------------------------------------------------------

TEMPLATE = f"{SECTION}/liven-v-baku-podtopleny-ulicy-v-treh-rajonah-stolicy.html"
TEMPLATE_TITLE = "Ливень в Баку: подтоплены улицы в трёх районах столицы"
ARTICLE = f"https://{SECTION}/most-zakryt"


def _page(title: str) -> str:
    """A page of the section whose canonical link names ``ARTICLE``."""
    page = (SAMPLE / TEMPLATE).read_text(encoding="utf-8").replace(TEMPLATE_TITLE, title)
    return re.sub(r'<link rel="canonical" href="[^"]*">', f'<link rel="canonical" href="{ARTICLE}/">', page, count=1)


def _crawl(db: str, mirror: str, env: dict[str, str], *, unhealthy: bool = False) -> dict[str, object]:
    """A crawl of report.az; ``unhealthy``: one whose few requests include a 404 that is no withdrawal, which the
    health check counts among the failed requests (exit status 1)."""
    done = run_cli("--db", db, "crawl", "report", "--mirror", mirror, env=env)
    if unhealthy:
        assert done.returncode == 1 and "requests failed" in done.stderr, done.stderr[-3000:]
    else:
        assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    with Session(create_engine(normalise_url(db))) as s:
        run = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert run is not None
        return dict(run.stats or {})


def _row(db: str) -> tuple[str, str | None]:
    """The article's (fetched_url, withdrawn_by)."""
    with Session(create_engine(normalise_url(db))) as s:
        (row,) = s.execute(select(Article.fetched_url, Article.withdrawn_by).where(Article.url == ARTICLE)).all()
    return row[0], row[1]


@pytest.mark.parametrize("host", ["", "www."], ids=["own-host", "www-only"])
def test_a_sweep_of_an_article_fetched_at_its_mobile_address_asks_its_own_when_the_site_dropped_it(
    host: str, tmp_path: Path
) -> None:
    """``www-only``: a site that serves its pages only at ``www.``, where the archive's key (no ``www.``) answers 404:
    asked at the key, the article was withdrawn on that 404. It is asked where its page's canonical link says."""
    site = tmp_path / "site"
    own = f"https://{host}{SECTION}/most-zakryt/"
    page = _page("Мост закрыт на ремонт до конца месяца").replace(f"{ARTICLE}/", own)
    put(site, f"m.{SECTION}/most-zakryt.html", page)  # the mobile copy the listing links
    put(site, f"{host}{SECTION}/most-zakryt.html", page)  # and its own address
    listing(site, [f"https://m.{SECTION}/most-zakryt/"])
    db = f"sqlite:///{tmp_path / 'a.db'}"
    env = {"AGGREGATOR_SWEEP_DAYS": "100000", "AGGREGATOR_SWEEP_PER_RUN": "1000", "AGGREGATOR_RECHECK_HOURS": "0"}
    with serve_mirror(SAMPLE, overlays=(site,)) as mirror:
        _crawl(db, mirror, env)
    assert _row(db) == (f"https://m.{SECTION}/most-zakryt/", None)

    # The site drops its mobile copies (and the listing no longer links the article): the page lives on.
    dropped = status_overlay(tmp_path / "dropped", {f"https://m.{SECTION}/most-zakryt/": 404})
    listing(site, [])
    with Session(create_engine(normalise_url(db))) as s:
        s.execute(update(Article).values(last_seen_at=datetime.now(UTC) - 10 * DAY))
        s.commit()
    with serve_mirror(SAMPLE, overlays=(dropped, site)) as mirror:
        stats = _crawl(db, mirror, env)
    assert stats.get("aggregator/articles_withdrawn", 0) == 0 and stats.get("aggregator/swept_gone", 0) == 0
    assert _row(db)[1] is None
    # Found at its own address: seen now.
    with Session(create_engine(normalise_url(db))) as s:
        seen = s.scalar(select(Article.last_seen_at).where(Article.url == ARTICLE))
    assert seen is not None and seen.replace(tzinfo=UTC) > datetime.now(UTC) - DAY

    # Gone at its own address too: the sweep withdraws it.
    with Session(create_engine(normalise_url(db))) as s:
        s.execute(update(Article).values(last_seen_at=datetime.now(UTC) - 10 * DAY))
        s.commit()
    deleted = status_overlay(tmp_path / "deleted", {own: 404, f"https://m.{SECTION}/most-zakryt/": 404})
    with serve_mirror(SAMPLE, overlays=(deleted, site)) as mirror:
        stats = _crawl(db, mirror, env)
    assert stats.get("aggregator/articles_withdrawn", 0) == 1 and _row(db)[1] == "source"


def test_a_gone_alias_a_listing_links_within_the_recheck_window_does_not_withdraw_the_article(tmp_path: Path) -> None:
    site = tmp_path / "site"
    page = _page("Мост закрыт на ремонт до конца месяца")
    put(site, f"{SECTION}/most-zakryt.html", page)
    put(site, f"{SECTION}/most-zakryt-staryj.html", page)  # an old slug the CMS still serves
    listing(site, ["/ru/proisshestviya/most-zakryt/"])
    db = f"sqlite:///{tmp_path / 'a.db'}"
    env = {"AGGREGATOR_SWEEP_PER_RUN": "0", "AGGREGATOR_RECHECK_HOURS": "1000000"}
    with serve_mirror(SAMPLE, overlays=(site,)) as mirror:
        _crawl(db, mirror, env)
        # A listing links it at the old slug too: the store keeps that address as one that leads to the article.
        listing(site, ["/ru/proisshestviya/most-zakryt/", "/ru/proisshestviya/most-zakryt-staryj/"])
        _crawl(db, mirror, env)
    assert _row(db) == (f"{ARTICLE}/", None)
    archive = Archive.open(db, migrate=False)
    try:
        assert (f"https://{SECTION}/most-zakryt-staryj/", ARTICLE) in archive.redirects("report")
    finally:
        archive.close()

    # The CMS stops serving the old slug; the listing links the article there alone (the recheck window holds it).
    dropped = status_overlay(tmp_path / "dropped", {f"https://{SECTION}/most-zakryt-staryj/": 404})
    listing(site, ["/ru/proisshestviya/most-zakryt-staryj/"])
    with serve_mirror(SAMPLE, overlays=(dropped, site)) as mirror:
        stats = _crawl(db, mirror, env, unhealthy=True)
    assert stats.get("aggregator/http_errors", 0) == 1  # the 404 was met, and recorded
    assert stats.get("aggregator/articles_withdrawn", 0) == 0 and _row(db)[1] is None


# -- the own address as the site spells it ---------------------------------------------------------------------------

WWW_KEY = "https://caliber.az/post/story-1"


def _head(canonical: str, base: str | None = None) -> bytes:
    base_tag = f'<base href="{base}">' if base else ""
    return f'<html><head>{base_tag}<link rel="canonical" href="{canonical}"></head><body>…</body></html>'.encode()


def test_the_sweep_asks_an_article_fetched_elsewhere_where_the_site_spells_its_own_address() -> None:
    """The key is the canonical form (https, no ``www.``, no trailing slash), which a site need not answer at."""
    spider = CaliberSpider()
    mobile = "https://m.caliber.az/post/story-1/"
    plain = SweepCandidate(WWW_KEY, mobile, NOW - 10 * DAY, NOW - 6 * DAY)
    assert request_for(plain, spider).url == WWW_KEY  # nothing says how the site spells it: the key
    # An earlier version was fetched at its own address: the newest such spelling.
    fetched_before = replace(
        plain, spellings=(mobile, "https://www.caliber.az/post/story-1/", "http://caliber.az/post/story-1")
    )
    assert request_for(fetched_before, spider).url == "https://www.caliber.az/post/story-1/"
    # Never fetched there: its page's canonical link (relative, against the page's <base href>) names it.
    page = (mobile, _head("post/story-1/", base="https://www.caliber.az/"), "utf-8")
    assert request_for(replace(plain, spellings=(mobile,), page=page), spider).url == (
        "https://www.caliber.az/post/story-1/"
    )
    windows_1251 = (mobile, _head("http://www.caliber.az/post/story-1").decode().encode("cp1251"), "cp1251")
    assert request_for(replace(plain, page=windows_1251), spider).url == "http://www.caliber.az/post/story-1"
    # A canonical link naming another page (or another page's copy), none, or an encoding Python does not know: the
    # key, as before.
    for other in (
        _head("https://www.caliber.az/post/story-2/"),
        _head("https://www.caliber.az/post/story-1/amp/"),
        b"<html><head></head><body>no link</body></html>",
    ):
        assert request_for(replace(plain, page=(mobile, other, "utf-8")), spider).url == WWW_KEY
    unknown = (mobile, _head("https://www.caliber.az/post/story-1/"), "x-no-such-codec")
    assert request_for(replace(plain, page=unknown), spider).url == "https://www.caliber.az/post/story-1/"


def test_with_validators_reads_how_the_site_spells_an_article_fetched_elsewhere(archive: Archive) -> None:
    mobile = "https://m.caliber.az/post/story-1/"
    numbered = "https://caliber.az/post/12345"
    page = _head("https://www.caliber.az/post/story-1/")
    first = item(1, url=mobile, canonical_url=WWW_KEY, raw_body=page)
    own = item(2, url="https://www.caliber.az/post/story-2/")
    archive.save([first, own])
    candidates = [
        SweepCandidate(WWW_KEY, mobile, NOW - 10 * DAY, NOW - 6 * DAY),
        SweepCandidate("https://caliber.az/post/story-2", own.url, NOW - 10 * DAY, NOW - 6 * DAY),
    ]
    story_1, story_2 = archive.with_validators(candidates)
    assert story_1.spellings == (mobile,) and story_1.page is not None and story_1.page[:2] == (mobile, page)
    assert sweep_address(story_1) == "https://www.caliber.az/post/story-1/"
    # Fetched at its own address: nothing more is read.
    assert (story_2.spellings, story_2.page) == ((), None) and sweep_address(story_2) == own.url
    # A later version fetched at an alias: the earlier snapshot at its own address says how the site spells it, and
    # no page is read.
    archive.save([item(1, url=numbered, canonical_url=WWW_KEY, raw_body=page + b" ", title="Story 1 edited")])
    archive.save([item(1, url="https://www.caliber.az/post/story-1", canonical_url=WWW_KEY, title="Story 1 again")])
    archive.save([item(1, url=numbered, canonical_url=WWW_KEY, title="Story 1 once more")])
    (story_1,) = archive.with_validators([replace(candidates[0], fetched_url=numbered)])
    assert story_1.page is None and story_1.spellings[0] == numbered
    assert sweep_address(story_1) == "https://www.caliber.az/post/story-1"
