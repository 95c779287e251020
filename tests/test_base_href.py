"""A page's ``<base href>`` is what its relative addresses resolve against, as a browser reads them.

The fixture pages under tests/fixtures/base_href/ declare a base other than their own URL: the site's root while the
page is deep (caliber's article and listing, whose ``<base>`` comes after 4 KiB of inline styles, beyond where
Scrapy's ``response.urljoin`` looks for one), a CDN folder (report's images), a language folder (a site the generic
extractor reads). Resolved against the page's URL instead, their links led to pages that do not exist, their images
showed nothing, and their canonical URL named another page.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

import pytest
from scrapy.http import HtmlResponse
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import select

from aggregator.extract import extract_page
from aggregator.html import base_url, document_base, first_candidate, srcset_candidates
from aggregator.mirror import serve_mirror
from aggregator.store.models import Article
from pipelines.cleanup import clean_body
from spiders.caliber import CaliberSpider
from spiders.metadata import HeadMeta
from tests.conftest import SAMPLE, run_cli
from tests.crawl_checks import session

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "base_href"
HTML = {"Content-Type": "text/html; charset=utf-8"}

SOLAR = "https://caliber.az/en/post/solar-park-opens-near-sumgait"
SOLAR_ADDRESSES = {
    "canonical_url": SOLAR,
    "cover_image_url": "https://caliber.az/media/photos/original/solar-park-cover.webp",
    "body": (
        'src="https://caliber.az/media/photos/normal/solar-panels.webp"',  # a lazy image's data-src
        'href="https://caliber.az/en/post/caspian-shipping-volumes-rise-in-first-quarter"',
        'src="https://caliber.az/media/photos/small/solar-road.webp"',  # srcset's first candidate
    ),
}
KARABAKH = "https://caliber.az/en/category/karabakh"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- which base ----------------------------------------------------------------------------------------------------


def test_the_base_is_resolved_against_the_page_and_only_a_web_address_counts() -> None:
    page = "https://caliber.az/en/post/x"
    assert base_url(page, None) == page
    assert base_url(page, "/") == "https://caliber.az/"
    assert base_url(page, " ../../az/ ") == "https://caliber.az/az/"
    assert base_url(page, "//cdn.caliber.az/media/") == "https://cdn.caliber.az/media/"
    assert base_url(page, "https://static.caliber.az/") == "https://static.caliber.az/"
    # Nothing, or nothing a browser would take as a base: the page's own URL.
    for ignored in ("", "  ", "javascript:alert(1)//", "data:text/html,<p>x</p>", "mailto:desk@caliber.az",
                    "https://[broken/", "ftp://files.caliber.az/"):  # fmt: skip
        assert base_url(page, ignored) == page, ignored


def test_the_first_base_with_an_href_in_the_head_counts() -> None:
    page = "https://caliber.az/en/post/x"

    def base(html: str) -> str:
        tree = LexborHTMLParser(html)
        found = document_base(tree, page)
        assert base_url(page, HeadMeta(tree).base) == found  # the extractors' one query agrees
        return found

    assert base('<head><base target="_blank"><base href="/a/"><base href="/b/"></head>') == "https://caliber.az/a/"
    assert base('<head><base href=""><base href="/b/"></head>') == page  # an empty first one: no base at all
    assert base('<head><base href="javascript:void(0)"></head>') == page
    # A <base> in the body (an embed's markup pasted into an article) does not move the page's links.
    assert base("<head><title>t</title></head><body><p>x</p><base href='https://ads.example/'></body>") == page
    assert base("<p>no head at all</p>") == page


# -- listings --------------------------------------------------------------------------------------------------------


def test_listing_links_resolve_against_a_base_past_the_first_4_kib() -> None:
    body = fixture("caliber_listing.html")
    assert body.index(b"<base") > 4096  # where Scrapy's response.urljoin no longer looks
    requests = list(CaliberSpider().parse(HtmlResponse(KARABAKH, body=body, headers=HTML)))
    assert [r.url for r in requests] == [
        SOLAR,  # "en/post/..." on /en/category/karabakh: /en/category/en/post/... without the base, not followed
        "https://caliber.az/en/post/great-return-first-families-settle-in-lachin-villages",
    ]


def test_a_listing_with_a_javascript_base_resolves_against_its_own_url() -> None:
    """Scrapy took the ``javascript:`` base as the base, and no link of the listing was followed."""
    body = fixture("caliber_listing.html").replace(b'<base href="/">\n', b"")
    body = body.replace(b"<head>\n", b'<head>\n<base href="javascript:void(0)">\n')  # in Scrapy's sight
    listing = "https://caliber.az/en/category/karabakh/"  # "en/post/x" is not an article path under it
    requests = list(CaliberSpider().parse(HtmlResponse(listing, body=body, headers=HTML)))
    assert [r.url for r in requests] == [
        "https://caliber.az/en/post/great-return-first-families-settle-in-lachin-villages"
    ]


# -- articles --------------------------------------------------------------------------------------------------------

ARTICLES = [
    ("caliber_article.html", SOLAR, SOLAR_ADDRESSES),
    (
        "report_article.html",
        "https://report.az/energetika/mingecevir-su-anbarinda-seviyye-qalxib/",
        {
            "canonical_url": "https://report.az/energetika/mingecevir-su-anbarinda-seviyye-qalxib",
            "cover_image_url": "https://static.report.az/photo/2026/11/mingecevir-cover.jpg",  # data-src, on the CDN
            "body": (
                'src="https://static.report.az/photo/2026/11/mingecevir-bend.jpg"',
                'src="https://static.report.az/photo/2026/11/thumbs/mingecevir-xerite.jpg"',
                'href="https://report.az/energetika/"',  # written in full: the base changes nothing
            ),
        },
    ),
    (
        "generic_article.html",  # no registry entry: the generic extractor, trafilatura's main text
        "https://vesti-prikaspiya.example/ru/2026/11/24/tysyacha-derevev-u-naberezhnoj",
        {
            "canonical_url": "https://vesti-prikaspiya.example/ru/2026/11/24/tysyacha-derevev-u-naberezhnoj",
            "cover_image_url": "https://vesti-prikaspiya.example/ru/uploads/2026/11/derevya-og.jpg",
            "body": (
                'src="https://vesti-prikaspiya.example/ru/uploads/2026/11/derevya-posadka.jpg"',
                'href="https://vesti-prikaspiya.example/ru/2026/10/05/novaya-sistema-poliva"',
            ),
        },
    ),
]


@pytest.mark.parametrize(("name", "url", "want"), ARTICLES, ids=[name for name, _, _ in ARTICLES])
def test_an_article_s_addresses_resolve_against_its_base(name: str, url: str, want: dict) -> None:
    """Through the extractor and the pipelines, as ``aggregator extract`` and a crawl run them."""
    got = extract_page(fixture(name), url, headers=HTML)
    assert got["rejected"] is None, got["rejected"]
    assert got["canonical_url"] == want["canonical_url"]
    assert got["cover_image_url"] == want["cover_image_url"]
    for address in want["body"]:
        assert address in got["body_html"], (address, got["body_html"])


def test_without_a_base_trafilatura_s_links_resolve_against_the_page_not_the_site_root() -> None:
    """trafilatura resolved a relative link against the site's root ("2026/10/05/x" on /ru/2026/11/24/y gave
    /2026/10/05/x) while it resolved images against the page: the generic extractor hands it absolute addresses."""
    url = "https://vesti-prikaspiya.example/ru/2026/11/24/tysyacha-derevev-u-naberezhnoj"
    body = fixture("generic_article.html").replace(b'<base href="/ru/">\n', b"")
    got = extract_page(body, url, headers=HTML)
    link = urljoin(url, "2026/10/05/novaya-sistema-poliva")
    assert link == "https://vesti-prikaspiya.example/ru/2026/11/24/2026/10/05/novaya-sistema-poliva"
    assert f'href="{link}"' in got["body_html"], got["body_html"]
    assert f'src="{urljoin(url, "uploads/2026/11/derevya-posadka.jpg")}"' in got["body_html"]


# -- srcset ----------------------------------------------------------------------------------------------------------


def test_a_srcset_address_may_hold_commas() -> None:
    """An image service's address ("w_400,h_300") was cut at its first comma: the picture was another address."""
    srcset = " img/w_400,h_300/a.jpg 400w, img/w_800,h_600/a.jpg (max-width: 9em) 800w,b.jpg 2x,, c.jpg,"
    assert srcset_candidates(srcset) == [
        ("img/w_400,h_300/a.jpg", "400w"),
        ("img/w_800,h_600/a.jpg", "(max-width: 9em) 800w"),
        ("b.jpg", "2x"),
        ("c.jpg", ""),
    ]
    assert first_candidate(srcset) == "img/w_400,h_300/a.jpg"
    assert first_candidate(" , ") is None and first_candidate(None) is None
    safe, _ = clean_body(f'<p>Text.</p><p><img srcset="{srcset}" alt="a"></p>', base_url="https://caliber.az/post/x")
    assert 'src="https://caliber.az/post/img/w_400,h_300/a.jpg"' in safe


def test_an_address_no_url_can_be_made_of_costs_the_article_nothing() -> None:
    """A link or an image with a broken host ("//[x/") raised in the cleanup (ValueError: Invalid IPv6 URL), and the
    whole article was quarantined as a pipeline error: now the link's words stay, unlinked, and the image goes."""
    body = '<p>Words <a href="//[x/">linked</a>.</p><p>An image <img src="//[x/a.jpg"> <img src="b.jpg" alt="b"></p>'
    safe, text = clean_body(body, base_url="https://caliber.az/post/x")
    assert safe == (
        '<p>Words <a rel="nofollow noopener">linked</a>.</p>'
        '<p>An image  <img src="https://caliber.az/post/b.jpg" alt="b"></p>'
    )
    assert text == "Words linked.\n\nAn image"


# -- a crawl ---------------------------------------------------------------------------------------------------------


def test_a_crawl_archives_a_page_with_a_base_under_its_own_addresses(tmp_path: Path) -> None:
    """The listing (its base past 4 KiB) leads to the article; the archive keeps it under its canonical URL, with
    its cover and the addresses of its body resolved against the base."""
    overlay = tmp_path / "overlay"
    (overlay / "caliber.az" / "en" / "post").mkdir(parents=True)
    (overlay / "caliber.az" / "en" / "category").mkdir(parents=True)
    (overlay / "caliber.az" / "en" / "category" / "karabakh.html").write_bytes(fixture("caliber_listing.html"))
    (overlay / "caliber.az" / "en" / "post" / "solar-park-opens-near-sumgait.html").write_bytes(
        fixture("caliber_article.html")
    )
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_mirror(SAMPLE, overlays=(overlay,)) as mirror:
        crawled = run_cli("--db", db, "crawl", "caliber", "--mirror", mirror)
    assert "Traceback" not in crawled.stderr, crawled.stderr[-3000:]
    with session(db) as s:
        article = s.scalars(select(Article).where(Article.title == "Solar park opens near Sumgait")).one()
    assert article.url == SOLAR_ADDRESSES["canonical_url"]
    assert article.cover_image_url == SOLAR_ADDRESSES["cover_image_url"]
    for address in SOLAR_ADDRESSES["body"]:
        assert address in article.body_html, (address, article.body_html)
