"""Addresses a source page, feed or redirect gives are untrusted: only web addresses on the source's sites are
fetched or published. A security probe found a sitemap's ``file://`` links read the crawl's environment into the
archive, a ``javascript:`` canonical link become the site's "source" link, and a backslash lead the source link to
another site under the source's name."""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.test import get_crawler
from sqlalchemy import create_engine, text

from aggregator.crawl import project_settings
from aggregator.extract import extract_page
from aggregator.mirror import MirrorTree, serve_mirror
from aggregator.redirect_guard import RedirectedOffsite, RedirectGuardMiddleware
from aggregator.sources import get_source
from pipelines.citations import TEXT_LIMIT, find_citations
from spiders.caliber import CaliberSpider
from tests.conftest import ROOT, SAMPLE, run_cli

CALIBER_PAGE = SAMPLE / "caliber.az" / "post" / "153813.html"
PAGE_URL = "https://caliber.az/post/153813"


@pytest.mark.parametrize(
    ("url", "owned"),
    [
        ("https://caliber.az/post/1", True),
        ("HTTP://CDN.CALIBER.AZ/a.jpg", True),
        ("file://caliber.az/etc/passwd", False),
        ("javascript://caliber.az/%0aalert(document.domain)", False),
        ("data://caliber.az/text/html,<script>", False),
        ("ftp://caliber.az/x", False),
        ("https://evil.example\\@caliber.az/post/spoof", False),  # w3lib and browsers: host evil.example
        ("http://169.254.169.254\\@caliber.az/x", False),
        ("http://[x", False),
    ],
)
def test_a_source_owns_web_addresses_on_its_sites_only(url: str, owned: bool) -> None:
    assert get_source("caliber").owns(url) is owned


def test_scrapy_opens_no_local_file_ftp_or_s3_address() -> None:
    handlers = project_settings().getdict("DOWNLOAD_HANDLERS")
    assert all(handlers[scheme] is None for scheme in ("file", "data", "ftp", "s3"))


def _with_canonical(href: str) -> bytes:
    page = CALIBER_PAGE.read_bytes()
    declared = b'<link rel="canonical" href="https://caliber.az/post/153813">'
    assert declared in page
    return page.replace(declared, f'<link rel="canonical" href="{href}">'.encode())


@pytest.mark.parametrize(
    "href", ["javascript://caliber.az/%0aalert(document.domain)", "data://caliber.az/x", "file://caliber.az/x"]
)
def test_a_canonical_link_that_is_no_web_address_is_ignored(href: str) -> None:
    record = extract_page(_with_canonical(href), PAGE_URL)
    assert record["rejected"] is None
    assert record["canonical_url"] == PAGE_URL


def test_a_canonical_link_read_differently_by_browsers_is_not_published() -> None:
    """Its host is evil.example to w3lib and to browsers: another outlet's address, the page a reprint (refused, as
    any page whose canonical link names another site); it was taken for caliber.az's and published."""
    record = extract_page(_with_canonical("https://evil.example\\@caliber.az/post/spoof"), PAGE_URL)
    assert record["rejected"] == {
        "stage": "validate",
        "reason": "URL outside source domains: canonical https://evil.example\\@caliber.az/post/spoof",
    }


def test_a_redirect_read_differently_by_browsers_is_refused() -> None:
    crawler = get_crawler(CaliberSpider)
    crawler.spider = CaliberSpider()
    crawler.stats.open_spider()
    guard = RedirectGuardMiddleware.from_crawler(crawler)
    request = Request("https://caliber.az/post/1")
    moved = Response(request.url, status=302, headers={"Location": "http://169.254.169.254\\@caliber.az/x"})
    with pytest.raises(RedirectedOffsite):
        guard.process_response(request, moved)


def test_a_sitemap_listing_local_files_gets_none_of_them_read(tmp_path: Path) -> None:
    """A generic source's sitemap naming ``file://minval.az/<path>`` links: Scrapy's file handler read each (the
    crawl's /proc/self/environ landed in a reject's page, a local HTML file became a published article)."""
    secret = tmp_path / "secret.html"
    secret.write_text(
        "<html><head><title>SECRET-TITLE</title></head>"
        "<body><h1>SECRET-TITLE</h1><p>SECRET-BODY text</p></body></html>",
        encoding="utf-8",
    )
    mirror = tmp_path / "mirror"
    shutil.copytree(ROOT / "data" / "mirror" / "minval.az", mirror / "minval.az")
    links = [f"file://minval.az{secret}", "file://minval.az/etc/passwd", "https://minval.az/news/124001"]
    entries = "".join(f"<url><loc>{link}</loc></url>" for link in links)
    (mirror / "minval.az" / "rss").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{entries}</urlset>",
        encoding="utf-8",
    )
    (mirror / "minval.az" / "_mirror.toml").unlink()  # served as a file of no particular type: read by its content
    db = tmp_path / "a.db"
    with serve_mirror(mirror) as base:
        done = run_cli("--db", f"sqlite:///{db}", "crawl", "minval", "--mirror", base)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        urls = [u for (u,) in conn.execute(text("SELECT url FROM articles"))]
        pages = [zlib.decompress(raw) for (raw,) in conn.execute(text("SELECT raw_body FROM rejects")) if raw]
        pages += [zlib.decompress(raw) for (raw,) in conn.execute(text("SELECT raw_body FROM snapshots"))]
    engine.dispose()
    assert urls == ["https://minval.az/news/124001"]
    assert not [p for p in pages if b"SECRET" in p or b"root:" in p]


def test_citations_are_read_from_the_first_characters_of_a_huge_text() -> None:
    """A megabyte of "Как сообщает Report, " cost seconds of CPU a page; the text read is capped."""
    filler = "Обычный текст статьи без ссылок на источники. " * (TEXT_LIMIT // 40)
    assert find_citations("Как сообщает Report, в Баку тепло. " + filler, "ru") == ["Report"]
    assert find_citations(filler + " Как сообщает Report, в Баку тепло.", "ru") == []


def test_the_mirror_answers_an_address_with_a_nul_byte_with_nothing_found(tmp_path: Path) -> None:
    (tmp_path / "caliber.az").mkdir()
    tree = MirrorTree(tmp_path)
    assert tree.find("caliber.az", "/post/..\x00") is None
    assert tree.find("caliber.az\x00", "/post/x") is None
