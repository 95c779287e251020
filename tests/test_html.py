"""The shortcuts of aggregator/html.py, spiders/metadata.py and the extractors give what the plain way gives.

Each shortcut (one query for several selectors, parsing a page's bytes instead of its text, the encoding from a
cache, whitespace left alone when it needs no collapsing, a header read from the dict) is checked against the
plain form it replaces, on the saved pages, the bundled mirror and pages written to trip it up.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from scrapy.http import Headers, HtmlResponse, TextResponse, XmlResponse
from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.html import (
    BASE,
    TagGroup,
    collapse_whitespace,
    css,
    css_first,
    http_url,
    inline_text,
    link_urls,
    page_encoding,
    parse_page,
    raw_header,
    subject_tag,
)
from aggregator.mirror import MirrorTree
from aggregator.sources import get_source
from spiders.caliber import CaliberSpider
from spiders.feed_source import header_value
from spiders.metadata import _PUBLISHED_META_ANY, _PUBLISHED_META_KEYS, CANONICAL, OG_IMAGE, HeadMeta
from spiders.report import ReportSpider
from spiders.trend import TrendSpider, host_of
from spiders.versions import pick_extractor
from tests.regenerate_pages import all_cases

ROOT = Path(__file__).resolve().parents[1]
MIRROR_PAGES = sorted(p for p in (ROOT / "data" / "mirror").glob("**/*.html"))
SAVED_PAGES = [c.page for c in all_cases()]
PAGES = MIRROR_PAGES + SAVED_PAGES

TRICKY_HTML = [
    # quirks mode (no doctype): classes and ids match ignoring ASCII case
    '<html><body><div class="Post_Title">a</div><h1 class="TITLE">b</h1><span class="date">c</span></body></html>',
    # standards mode: they do not
    '<!doctype html><body><div class="Post_Title">a</div><h1 class="title">b</h1><span class="DATE">c</span>',
    # SVG and MathML names, mixed case, a type that two selectors share
    (
        '<!doctype html><body><svg><foreignObject class="x"><img class="c"></foreignObject><image class="c"/></svg>'
        '<h1 class="title"><span class="date">x</span></h1><IMG class="c" src=1><li class="t">1</li><li>2</li>'
    ),
    # whitespace a class attribute splits on, and some it does not
    '<!doctype html><body><h1 class="a\x0ctitle">x</h1><span class="date\xa0x">y</span><img class="c\x0bd">',
    # nested matches and a match that is also the scope
    (
        '<!doctype html><body><div class="post"><h1 class="title"><h1 class="title">inner</h1></h1>'
        '<span class="date"><span class="date">1</span></span><div class="cover"><img><img></div></div>'
    ),
    "",
    "<p>no structure at all",
]

SELECTOR_SETS = [
    ("h1.title", "span.date", ".cover img", "div.body", "li"),
    ("h1", "h1.title", "span.date", "p"),  # a shared type: those two keep their own queries
    ("h2.title_news", "span.date", ".main_img img"),
    ("h1.article-title", "span.date-time", "div.article-content.article-paddings", ".article-image img"),
    ("h1.section-title", "ul.news__date li", "div.news-detail__desc", ".news-detail__image img"),
    ("foreignobject", "image", "img"),
    ("h1.news-inner__title", ".news-inner__image img", ".news-inner__date"),
]


def tricky_docs() -> list[str]:
    return TRICKY_HTML + [p.read_text(encoding="utf-8", errors="replace") for p in PAGES]


def ids_of(nodes: list[LexborNode]) -> list[int]:
    return [n.mem_id for n in nodes]


# -- collapse_whitespace -----------------------------------------------------------------------------------------


def test_collapse_whitespace_is_split_and_join() -> None:
    # every character str.split splits on is the ASCII space or one isprintable refuses
    assert not [i for i in range(0x110000) if chr(i).isspace() and chr(i) != " " and chr(i).isprintable()]
    rng = random.Random(8)
    alphabet = ["a", "б", "ə", " ", "  ", "\n", "\t", "\xa0", "\u2003", "\u200b", "\x1c", "\x0b", "\x00", "\u3000"]
    for _ in range(50_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        assert collapse_whitespace(text) == " ".join(text.split()), repr(text)


# -- parse_page and page_encoding --------------------------------------------------------------------------------

CONTENT_TYPES = [
    "text/html; charset=utf-8",
    "text/html; charset=UTF8",
    'text/html; charset="utf-8"',
    "text/html",
    "text/html; charset=windows-1251",
    "text/html; charset=latin1",
    "",
]
BODIES = [
    b"<html><head><title>plain ascii</title></head><body><p>x</p></body></html>",
    "<p>кириллица и əöüğış</p>".encode(),
    b"\xef\xbb\xbf<p>BOM \xd0\xb0</p>",
    b"\xff\xfe<\x00p\x00>\x00",
    b"<p>broken \xff utf-8 \xe2\x82</p>",
    '<meta charset="windows-1251"><p>Баку</p>'.encode("cp1251"),
    b"",
]


@pytest.mark.parametrize("ctype", CONTENT_TYPES)
@pytest.mark.parametrize("cls", [HtmlResponse, TextResponse, XmlResponse])
def test_page_encoding_and_tree_are_the_plain_ones(ctype: str, cls: type[TextResponse]) -> None:
    for body in BODIES:
        for kwargs in ({}, {"encoding": "cp1251"}):
            headers = {"Content-Type": ctype} if ctype else {}
            plain = cls(url="https://example.az/a", body=body, headers=headers, **kwargs)
            fast = cls(url="https://example.az/a", body=body, headers=headers, **kwargs)
            assert page_encoding(fast) == plain.encoding, (ctype, body, kwargs)
            assert parse_page(fast).html == LexborHTMLParser(plain.text).html, (ctype, body, kwargs)


LISTING_SPIDERS = (CaliberSpider, ReportSpider, TrendSpider)
ENTRY_LISTINGS = [
    (spider, url) for spider in LISTING_SPIDERS for url in get_source(spider.name).entry_urls
]  # fmt: skip


@pytest.mark.parametrize(("spider_cls", "url"), ENTRY_LISTINGS, ids=[url for _, url in ENTRY_LISTINGS])
def test_listing_links_are_parsels_and_leave_no_tree_behind(spider_cls: type, url: str) -> None:
    """The bundled entry listings: the links read from the lexbor tree are those parsel reads, and once the
    listing's requests are made the response holds no tree (a 1 MiB listing's would be ~10 MiB, kept as long as its
    requests take to be scheduled)."""
    parts = urlsplit(url)
    page = MirrorTree(ROOT / "data" / "mirror").find(parts.hostname or "", parts.path)
    assert page is not None, url
    response = HtmlResponse(url=url, body=page.read_bytes(), headers={"Content-Type": "text/html; charset=utf-8"})
    spider = spider_cls()
    requests = list(spider.parse(response))
    assert requests and all(r.callback == spider.parse_article for r in requests)
    assert response._cached_selector is None  # parsel's tree was never built
    again = HtmlResponse(url=url, body=page.read_bytes(), headers={"Content-Type": "text/html; charset=utf-8"})
    by_parsel = [h.strip() for h in again.css(f"{spider.LISTING_LINKS}::attr(href)").getall() if h.strip()]
    assert link_urls(response, spider.LISTING_LINKS) == list(dict.fromkeys(again.urljoin(h) for h in by_parsel))


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_parse_page_on_real_pages(page: Path) -> None:
    body = page.read_bytes()
    for ctype in ("text/html; charset=utf-8", "text/html"):
        response = HtmlResponse(url="https://example.az/a", body=body, headers={"Content-Type": ctype})
        assert page_encoding(response) == response.encoding
        assert parse_page(response).html == LexborHTMLParser(response.text).html


def test_header_value_is_headers_get() -> None:
    headers = Headers({"ETag": '"x"', "last-modified": ["a", "b"], "X-Empty": []})
    for name in (b"ETag", b"etag", b"Last-Modified", b"LAST-MODIFIED", b"X-Empty", b"Missing"):
        value = headers.get(name)
        assert header_value(headers, name) == (value.decode("latin-1") if value else None)
    assert header_value({b"ETag": b"y"}, b"ETag") == "y"  # any mapping with get()
    assert raw_header(headers, b"last-modified") == headers.get(b"last-modified")


# -- TagGroup ----------------------------------------------------------------------------------------------------


def test_subject_tag() -> None:
    assert subject_tag("h1.title") == "h1"
    assert subject_tag(".cover img") == "img"
    assert subject_tag("ul.news__date > li") == "li"
    assert subject_tag("div.a.b") == "div"
    for other in (".title", "h1, h2", "img[src]", "a:not(.b)", "H1", "*", "h1 .title", ""):
        assert subject_tag(other) is None, other


@pytest.mark.parametrize("selectors", SELECTOR_SETS, ids=[",".join(s) for s in SELECTOR_SETS])
def test_tag_group_gives_each_selectors_matches(selectors: tuple[str, ...]) -> None:
    group = TagGroup(selectors)
    assert len(group.selectors) >= 2
    answered = 0
    for html in tricky_docs():
        tree = LexborHTMLParser(html)
        for scope in (tree.root, tree.body, css_first(tree, "div")):
            found = group.select(scope)
            if found is None:  # the caller then queries each selector; never for the pages of our sources
                continue
            answered += 1
            assert set(found) == set(group.selectors)
            for selector in group.selectors:
                expected = css(scope, selector) if scope is not None else []
                assert ids_of(found[selector]) == ids_of(expected), (selector, html[:80])
    assert answered


def test_tag_group_leaves_shared_and_untyped_selectors_out() -> None:
    group = TagGroup(["h1", "h1.title", ".date", "span.date", "img"])
    assert group.selectors == ("span.date", "img")


# -- HeadMeta ----------------------------------------------------------------------------------------------------

HEADS = [
    (
        '<link rel="Canonical" href="/a"><link rel="canonical alternate" href="/b"><link rel=canonical href="/c">'
        '<meta property="OG:image" content="x"><meta PROPERTY="og:image" content="y"><meta property="og:image">'
    ),
    (
        '<meta name="pubdate" content="1"><meta property="article:published_time" content=" "><meta '
        'itemprop="datePublished" content="2"><meta property="article:published_time" content="3">'
    ),
    (
        '<meta property="og:image" name="pubdate" content="i"><meta name="PUBDATE" content="4">'
        '<meta property="datePublished" name="pubdate" content="5"><meta name="publish-date" content="6">'
    ),
    '<noscript><link rel="canonical" href="/ns"><meta property="og:image" content="ns"></noscript>',
    '<base target="_top"><BASE HREF="/first/"><link rel=canonical href="c"><base href="/second/">',
    '<base href><meta property="og:image" content="i"><base href="/later/">',
    "",
]


def plain_head(tree: LexborHTMLParser) -> tuple[int | None, int | None, str | None, str | None]:
    """What the extractors read from <head> with one query per thing."""
    head = tree.head
    if head is None:
        return None, None, None, None
    base = css_first(head, BASE)
    canonical = css_first(head, CANONICAL)
    og_image = css_first(head, OG_IMAGE)
    found: dict[str | None, str] = {}
    for node in css(head, _PUBLISHED_META_ANY):
        content = (node.attrs.get("content") or "").strip()
        key = node.attrs.get("property") or node.attrs.get("name") or node.attrs.get("itemprop")
        if content and key not in found:
            found[key] = content
    published = next((found[k] for k in _PUBLISHED_META_KEYS if k in found), None)
    return (
        canonical.mem_id if canonical is not None else None,
        og_image.mem_id if og_image is not None else None,
        published,
        (base.attrs.get("href") or "") if base is not None else None,
    )


def test_head_meta_is_one_query_per_thing() -> None:
    docs = [f"<html><head>{h}</head><body><meta name='pubdate' content='body'></body></html>" for h in HEADS]
    docs += [f"<!doctype html><html><head>{h}</head></html>" for h in HEADS]
    for html in docs + tricky_docs():
        tree = LexborHTMLParser(html)
        meta = HeadMeta(tree)
        got = (
            meta.canonical.mem_id if meta.canonical is not None else None,
            meta.og_image.mem_id if meta.og_image is not None else None,
            meta.published,
            meta.base,
        )
        assert got == plain_head(tree), html[:120]


# -- trend's host, and the single version ------------------------------------------------------------------------


def test_host_of_is_urlsplit_hostname() -> None:
    urls = [
        "https://www.trend.az/azerbaijan/society/4101188.html",
        "http://AZ.Trend.az?x=1",
        "https://en.trend.az#f",
        "https://u:p@x.az:80/",
        "https://[::1]/",
        "https://x%41.az/",
        " https://x.az/",
        "https://x.az /",
        "https://x.az\t/",
        "HTTPS://X.AZ/",
        "https://",
        "https:///x",
        "https://ж.az/",
        "ftp://x/",
    ]
    rng = random.Random(3)
    alphabet = list("hts:/.azw@?#[]%: \tX\x00\x7fж")
    for _ in range(20_000):
        scheme = rng.choice(("https://", "http://"))
        urls.append(scheme + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10))))
    for url in urls:
        try:
            expected: str | None = (urlsplit(url).hostname or "").lower()
        except ValueError:
            expected = None
        try:
            got: str | None = host_of(url)
        except ValueError:
            got = None
        assert got == expected, url


def test_one_version_is_picked_without_the_clock() -> None:
    class Only:
        VALID_FROM = datetime(2030, 1, 1, tzinfo=UTC)
        MARKER = "only-marker"

    for fetched in (None, datetime(2020, 1, 1, tzinfo=UTC)):
        for body in (b"", b"only-marker"):
            assert pick_extractor((Only,), fetched, body) is Only  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("href", "url"),
    [
        ("/media/a.webp", "https://caliber.az/media/a.webp"),
        ("//cdn.caliber.az/a.webp", "https://cdn.caliber.az/a.webp"),
        ("  HTTPS://cdn.caliber.az/a.webp ", "https://cdn.caliber.az/a.webp"),
        ("http://caliber.az/a.webp", "http://caliber.az/a.webp"),
        ("data:image/gif;base64,R0lGODlhAQABAAAAACw=", None),
        ("javascript:alert(1", None),
        (" JaVaScRiPt:alert(1)", None),
        ("jav\tascript:alert(1)", None),
        ("mailto:a@b.c", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_http_url_gives_web_addresses_only(href: str | None, url: str | None) -> None:
    assert http_url("https://caliber.az/post/x", href) == url


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        # formatting inside a title: no space where the page has none (node_text printed "« Али и Нино »", "м 2")
        ("Премьера фильма «<em>Али и Нино</em>» прошла в Баку", "Премьера фильма «Али и Нино» прошла в Баку"),
        ("выручка — 2,5 млн м<sup>2</sup>, CO<sub>2</sub>", "выручка — 2,5 млн м2, CO2"),
        ("Баку&nbsp;и <b>Ереван</b>: «новый этап»", "Баку и Ереван: «новый этап»"),
        ("«<span>Али</span>»", "«Али»"),
        # a title and a subtitle in elements of their own stay apart
        (
            "Костер в Ханкенди<span class='sub'>«События» с Мурадом Абиевым</span>",
            "Костер в Ханкенди «События» с Мурадом Абиевым",
        ),
        ("Заголовок<span>Подзаголовок</span>", "Заголовок Подзаголовок"),
        ("Заголовок.<a href='/x'>Подзаголовок</a>", "Заголовок. Подзаголовок"),
        ("Заголовок<br>Подзаголовок", "Заголовок Подзаголовок"),
        ("<div>Заголовок</div><div>- подзаголовок</div>", "Заголовок - подзаголовок"),
        ("Заголовок <!-- x --> и <i></i>", "Заголовок и"),
        ("<b> </b>", None),
    ],
)
def test_inline_text_reads_a_title_as_a_reader_sees_it(markup: str, text: str | None) -> None:
    node = LexborHTMLParser(f"<h1>{markup}</h1>").css_first("h1")
    assert inline_text(node) == text
    assert inline_text(None) is None
