"""A sitemap entry's picture (Google's image extension, ``<image:image><image:loc>``) is the cover of the page it lists
when that page names none, as a feed entry's picture is (tests/test_feed_covers.py): read by ``parse_sitemap``,
carried with the page's request as ``cover_feed``, and archived. The made-up WordPress site crawled here is in
tests/fixtures/sitemap_covers/: a sitemap index naming a Google News sitemap and an SEO plugin's post sitemap, both
listing pictures, and four article pages, two of which name no picture of their own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scrapy.http import XmlResponse
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from aggregator.crawl import project_settings
from aggregator.mirror import serve_mirror
from aggregator.reextract import reextract
from aggregator.sources import Source, registered
from aggregator.store import Archive
from aggregator.store.models import Article
from spiders.feeds import FEED_IMAGE_META, FEED_PUBLISHED_META, parse_feed
from spiders.generic import GenericSpider
from spiders.sitemaps import parse_sitemap
from tests.conftest import run_cli
from tests.crawl_checks import session

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sitemap_covers"
SITE = "https://fotolenta.example"
UPLOADS = f"{SITE}/wp-content/uploads/2026/12"
SOURCES_FILE = """
[[source]]
key = "fotolenta"
name = "Фотолента"
domains = ["fotolenta.example"]
languages = ["ru"]
entry_urls = ["https://fotolenta.example/sitemap_index.xml"]
"""
FOTOLENTA = Source(
    key="fotolenta",
    name="Фотолента",
    domains=("fotolenta.example",),
    languages=("ru",),
    timezone="Asia/Baku",
    homepage=SITE,
    entry_urls=(f"{SITE}/sitemap_index.xml",),
)
IMAGES = 'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"'


def urlset(*urls: str, declared: str = IMAGES) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f"{declared}>\n{''.join(urls)}\n</urlset>"
    ).encode()


def url(path: str, *pictures: str, more: str = "") -> str:
    images = "".join(f"<image:image><image:loc>{picture}</image:loc></image:image>" for picture in pictures)
    return f"<url><loc>{SITE}{path}</loc>{more}{images}</url>\n"


@contextmanager
def spider() -> Iterator[GenericSpider]:
    """The generic spider of the made-up site (registered for the block), its crawler's stats open."""
    with registered(FOTOLENTA):
        spidercls = get_spider_loader(project_settings()).load(FOTOLENTA.key)
        crawler = get_crawler(spidercls, {"TWISTED_REACTOR_ENABLED": False})
        instance = spidercls.from_crawler(crawler)
        crawler.spider = instance
        assert crawler.stats is not None
        crawler.stats.open_spider()
        yield instance


# -- reading the pictures ---------------------------------------------------------------------------------------


def test_a_sitemap_entry_s_picture_is_its_first_web_address() -> None:
    """The first ``<image:image>`` that is an http(s) address, made absolute against the sitemap's: a ``javascript:``
    or ``data:`` one, or one no URL can be made of, gives way to the next; an entry without one has none."""
    body = urlset(
        url("/1", f"{UPLOADS}/a.jpg", f"{UPLOADS}/b.jpg"),
        url("/2", "javascript:alert(1)", "data:image/gif;base64,R0lGODlhAQABAAAAACw=", "//[x/", f"{UPLOADS}/c.jpg"),
        url("/3", "//cdn.fotolenta.example/d.jpg"),
        url("/4", "/wp-content/uploads/e.jpg"),
        url("/5"),
        url("/6", "javascript:alert(1)"),
        url("/7", " ", more="<image:image><image:caption>no address</image:caption></image:image>"),
    )
    entries = parse_sitemap(body, f"{SITE}/post-sitemap.xml").entries
    assert [(e.loc, e.image_url) for e in entries] == [
        (f"{SITE}/1", f"{UPLOADS}/a.jpg"),
        (f"{SITE}/2", f"{UPLOADS}/c.jpg"),
        (f"{SITE}/3", "https://cdn.fotolenta.example/d.jpg"),
        (f"{SITE}/4", f"{SITE}/wp-content/uploads/e.jpg"),
        (f"{SITE}/5", None),
        (f"{SITE}/6", None),
        (f"{SITE}/7", None),
    ]


def test_a_picture_whose_prefix_is_not_declared_is_read_too() -> None:
    """A hand-made sitemap writes ``<image:image>`` without declaring the prefix; the recovering parser keeps it."""
    body = urlset(url("/1", f"{UPLOADS}/a.jpg"), declared="")
    assert parse_sitemap(body, f"{SITE}/sitemap.xml").entries[0].image_url == f"{UPLOADS}/a.jpg"


def test_a_news_sitemap_entry_gives_its_date_and_its_picture() -> None:
    news = (
        '<news:news xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><news:publication_date>'
        "2026-12-04T09:15:00+04:00</news:publication_date><news:title>Снег</news:title></news:news>"
    )
    (entry,) = parse_sitemap(urlset(url("/1", f"{UPLOADS}/a.jpg", more=news)), SITE).entries
    assert (entry.news_published, entry.news_title, entry.image_url) == (
        "2026-12-04T09:15:00+04:00", "Снег", f"{UPLOADS}/a.jpg",
    )  # fmt: skip


# -- the requests the generic spider makes ----------------------------------------------------------------------


def test_the_generic_spider_sends_a_sitemap_entry_s_picture_with_its_page_s_request() -> None:
    """As a feed entry's: the request's meta carries the picture (and a news sitemap's date), so that the page's item
    takes it as ``cover_feed``; an entry that gives neither makes a request with no meta of ours. A page listed twice
    is fetched once, with the first entry that gives a picture or a date."""
    news = (
        '<news:news xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        "<news:publication_date>2026-12-04T09:15:00+04:00</news:publication_date></news:news>"
    )
    body = urlset(
        url("/2026/12/04/a/", f"{UPLOADS}/a.jpg", f"{UPLOADS}/a2.jpg", more=news),
        url("/2026/12/04/b/"),
        url("/2026/12/04/c/", "javascript:alert(1)"),
        url("/2026/12/04/b/", f"{UPLOADS}/b.jpg"),
        url("/2026/12/04/a/", f"{UPLOADS}/not-the-first.jpg"),
    )
    with spider() as instance:
        out = list(instance.parse(XmlResponse(url=f"{SITE}/news-sitemap.xml", body=body)))
    assert [(r.url, r.meta.get(FEED_IMAGE_META), r.meta.get(FEED_PUBLISHED_META)) for r in out] == [
        (f"{SITE}/2026/12/04/a/", f"{UPLOADS}/a.jpg", "2026-12-04T09:15:00+04:00"),
        (f"{SITE}/2026/12/04/b/", f"{UPLOADS}/b.jpg", None),
        (f"{SITE}/2026/12/04/c/", None, None),
    ]
    assert not {FEED_IMAGE_META, FEED_PUBLISHED_META} & set(out[2].meta)
    assert instance.crawler.stats is not None and instance.crawler.stats.get_value("aggregator/listed_links") == 3


def test_a_loc_no_url_can_be_made_of_costs_only_itself() -> None:
    """``<loc>//[x/</loc>`` (a broken host in a protocol-relative address) made ``parse_sitemap`` raise: the spider's
    parse of the sitemap ended, and every other link it listed was lost. It is kept as written and counted as an
    unusable address, as one with a port no request can use is."""
    body = urlset(url("/2026/12/04/a/"), "<url><loc>//[x/</loc></url>", url("/2026/12/04/b/"))
    assert [e.loc for e in parse_sitemap(body, f"{SITE}/sitemap.xml").entries][1] == "//[x/"
    with spider() as instance:
        out = list(instance.parse(XmlResponse(url=f"{SITE}/sitemap.xml", body=body)))
    assert [r.url for r in out] == [f"{SITE}/2026/12/04/a/", f"{SITE}/2026/12/04/b/"]
    assert instance.crawler.stats is not None and instance.crawler.stats.get_value("aggregator/bad_links") == 1


def test_a_feed_picture_no_url_can_be_made_of_costs_only_itself() -> None:
    """The same in a feed: an enclosure at ``//[x/`` made ``parse_feed`` raise, and the whole feed was lost; it gives
    way to the entry's next picture."""
    feed = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>F</title>'
        f'<item><title>A</title><link>{SITE}/a</link><enclosure url="//[x/" type="image/jpeg" length="0"/>'
        f'<media:content url="{UPLOADS}/a.jpg" medium="image"/></item>'
        f"<item><title>B</title><link>{SITE}/b</link></item></channel></rss>"
    ).encode()
    entries = parse_feed(feed, f"{SITE}/feed/").entries
    assert [(e.link, e.image_url) for e in entries] == [(f"{SITE}/a", f"{UPLOADS}/a.jpg"), (f"{SITE}/b", None)]


# -- the made-up site crawled -----------------------------------------------------------------------------------


def _covers(db_url: str) -> dict[str, str | None]:
    with session(db_url) as s:
        return {a.url: a.cover_image_url for a in s.scalars(select(Article).where(Article.source == "fotolenta"))}


def test_a_page_without_a_picture_takes_its_sitemap_entry_s(tmp_path: Path) -> None:
    """A real crawl of the site, added by an operator's sources file with its sitemap index as its way in: the
    gallery page (its pictures only in a script) and the concert page name no picture, and are archived with their
    sitemap entry's first picture (the concert's a protocol-relative CDN address); the bridge page's ``og:image``
    and the fair page's picture in its text are their own covers, not the sitemap's. A re-extraction, which has no
    sitemap at hand, keeps them."""
    sources = tmp_path / "sources.toml"
    sources.write_text(SOURCES_FILE, encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_mirror(FIXTURES) as base:
        done = run_cli(
            "--db", db_url, "crawl", "fotolenta", "--mirror", base,
            cwd=tmp_path, env={"AGGREGATOR_SOURCES_FILE": str(sources)},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    covers = _covers(db_url)
    assert covers == {
        f"{SITE}/2026/12/04/pervyj-sneg-v-baku": f"{UPLOADS}/sneg-bulvar.jpg",  # the first of the entry's two
        f"{SITE}/2026/12/01/koncert-v-filarmonii": "https://cdn.fotolenta.example/2026/12/filarmoniya.jpg",
        f"{SITE}/2026/12/04/novyj-most-na-kure": f"{UPLOADS}/most.jpg",  # its og:image, not most-300x200.jpg
        f"{SITE}/2026/12/02/yarmarka-v-gusare": f"{UPLOADS}/yarmarka.jpg",  # its text's, not yarmarka-oblozhka.jpg
    }

    archive = Archive.open(db_url)
    try:
        with registered(FOTOLENTA):  # as the operator's file registers it in the command's process
            result = reextract(archive)
    finally:
        archive.close()
    assert result.seen == len(covers) and not result.refused
    assert _covers(db_url) == covers
