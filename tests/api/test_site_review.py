"""What a reader sees of the site (`aggregator serve` over the demo archive), as an operator's review found it: the
cover shown on the article page, the views counted from it, the most-read list of its edition, undated articles not
printed as if dated, honest edition links, one answer for a language the site has not, and sources by their names."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import get_args

import lxml.html
from fastapi.testclient import TestClient

from aggregator import present
from aggregator.api import create_app
from aggregator.api.app import Edition, shown_cover
from aggregator.sources import LANGUAGES, get_source
from tests.api.conftest import item, save, view_as
from tests.api.test_pages import printed, text

COVER = "https://caliber.az/media/photos/original/bridge.webp"


def page_of(client: TestClient, path: str, **params: str):
    answer = client.get(path, params=params)
    assert answer.status_code == 200, (path, answer.text[:300])
    return lxml.html.fromstring(answer.text)


# -- 1. the cover ---------------------------------------------------------------------------------------------------


def test_the_cover_is_shown_above_the_body_unless_the_body_shows_it(sqlite_url: str) -> None:
    """The cover was only in ``og:image``: a reader never saw it. It is a figure above the body, but not a second
    time when the body holds that picture, however its address is spelt (``http``, ``www.``)."""
    day = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    body_with = '<p><img src="http://www.caliber.az/media/photos/original/bridge.webp" alt="x"></p><p>Текст.</p>'
    body_other = '<p><img src="https://caliber.az/media/photos/normal/other.webp" alt="x"></p><p>Текст.</p>'
    covered, repeated, other, bare, scripted = save(
        sqlite_url,
        [
            item("cover-1", published=day, title='Мост "открыт"', cover_image_url=COVER),
            item("cover-2", published=day, cover_image_url=COVER, body_html=body_with),
            item("cover-3", published=day, cover_image_url=COVER, body_html=body_other),
            item("cover-4", published=day),
            item("cover-5", published=day, cover_image_url=COVER),
        ],
    )
    # An archive written before the crawl refused them may hold a cover that is no web address.
    from sqlalchemy import update

    from aggregator.store import Archive
    from aggregator.store.models import Article

    archive = Archive.open(sqlite_url)
    try:
        with archive.session.begin() as session:
            session.execute(update(Article).where(Article.id == scripted).values(cover_image_url="javascript:alert(1)"))
    finally:
        archive.close()
    with TestClient(create_app(sqlite_url)) as client:
        page = page_of(client, f"/news/{covered}")
        (figure,) = page.cssselect("article figure.cover")
        (image,) = figure.cssselect("img")
        assert image.get("src") == COVER and image.get("alt") == 'Мост "открыт"'
        assert image.get("loading") == "lazy"
        # Above the body: the figure comes before it in the article.
        parts = [e.get("id") for e in page.cssselect("article > *")]
        assert parts.index("cover") < parts.index("body")
        assert [i.get("src") for i in page.cssselect("img")] == [COVER]  # once
        # The body shows the same picture: not twice.
        assert not page_of(client, f"/news/{repeated}").cssselect("figure.cover")
        # The body shows another picture: the cover too.
        shown = page_of(client, f"/news/{other}")
        assert [i.get("src") for i in shown.cssselect("img")] == [
            COVER,
            "https://caliber.az/media/photos/normal/other.webp",
        ]
        assert not page_of(client, f"/news/{bare}").cssselect("figure")
        never = client.get(f"/news/{scripted}").text
        assert "<figure" not in never and "javascript:" not in never


def test_pictures_from_the_source_sites_are_asked_for_without_a_referer(client: TestClient) -> None:
    """The cover and the body's pictures are the source sites' own files: a site that refuses a picture asked for from
    another site's page (hotlink protection reads the Referer) showed a broken one. The link to the source still says
    where the reader came from, by the site's origin."""
    for path in ("/", "/news/1"):
        page = page_of(client, path)
        assert [m.get("content") for m in page.cssselect('head meta[name="referrer"]')] == ["no-referrer"], path
    (link,) = page_of(client, "/news/1").cssselect("#source a")
    assert link.get("referrerpolicy") == "origin"


def test_a_cover_is_compared_with_the_bodys_pictures_as_canonical_addresses() -> None:
    assert shown_cover(COVER, "<p>Текст.</p>") == COVER
    assert shown_cover(None, f'<img src="{COVER}">') is None
    for spelling in (COVER, COVER.replace("https://", "http://"), COVER.replace("caliber.az", "www.caliber.az")):
        assert shown_cover(COVER, f'<p>Лид.</p><p><img alt="" src="{spelling}"></p>') is None, spelling
    assert shown_cover(COVER + "?w=800&h=600", f'<img src="{COVER}?h=600&amp;w=800">') is None  # the query's order
    assert shown_cover(COVER, '<img src="https://caliber.az/media/photos/original/other.webp">') == COVER
    assert shown_cover(COVER, '<a href="' + COVER + '">picture</a>') == COVER  # a link to it shows nothing


# -- 2. the views and the most-read list ----------------------------------------------------------------------------


def test_the_article_page_carries_its_own_view_counting_script(client: TestClient) -> None:
    """The page said "no JavaScript" and counted nothing, so views never changed. Its one script is inline and posts
    to its own article's counter; the page works without it (the count is in the HTML)."""
    article_id = client.get("/api/articles", params={"limit": 1}).json()["items"][0]["id"]
    page = page_of(client, f"/news/{article_id}")
    (script,) = page.cssselect("script")
    assert script.get("src") is None
    assert (
        'fetch("/api/articles/" + shown.dataset.article + "/views", {method: "POST", keepalive: true})' in script.text
    )
    assert page.cssselect("#view-count")[0].get("data-article") == str(article_id)  # the script reads its id there
    assert text(page, "#views") == "Просмотров: 0"  # the server's count, script or not
    assert client.get(f"/api/articles/{article_id}").json()["views"] == 0  # the GET counted nothing
    for path in ("/", "/search?q=Баку"):  # the other pages have none
        assert not page_of(client, path).cssselect("script"), path


def test_most_read_lists_the_editions_read_articles(sqlite_url: str) -> None:
    """Most read listed the unread articles of every language in id order: an English page showed Russian titles. It
    lists the page's edition's read articles, by views, then the newest; none read, no list."""
    now = datetime.now(UTC)
    ids = save(
        sqlite_url,
        [
            item("ru-read", published=now - timedelta(hours=3)),
            item("ru-unread", published=now - timedelta(hours=2)),
            item("en-one", published=now - timedelta(hours=5), language="en", title="One view"),
            item("en-two", published=now - timedelta(hours=6), language="en", title="Two views"),
            item("en-one-newer", published=now - timedelta(hours=1), language="en", title="One view, newer"),
            item("en-unread", published=now - timedelta(hours=1), language="en", title="Unread"),
            item("az-unread", published=now - timedelta(hours=1), language="az", title="Oxunmayıb"),
        ],
    )
    ru_read, ru_unread, en_one, en_two, en_newer, en_unread, az_unread = ids
    with TestClient(create_app(sqlite_url, most_read_ttl=0)) as client:
        for n, article_id in enumerate([ru_read, ru_read, ru_read, en_one, en_two, en_two, en_newer]):
            assert view_as(client.app, f"192.0.2.{n + 1}", article_id).json()["counted"]
        english = page_of(client, f"/news/{en_unread}")
        assert text(english, "#most-read h2") == "Most read"
        listed = [a.get("href") for a in english.cssselect("#most-read li a")]
        assert listed == [f"/news/{en_two}", f"/news/{en_newer}", f"/news/{en_one}"]  # views, then the newest
        russian = page_of(client, f"/news/{ru_unread}")
        assert [a.get("href") for a in russian.cssselect("#most-read li a")] == [f"/news/{ru_read}"]
        assert "Просмотров: 3" in text(russian, "#most-read li")
        # No Azerbaijani article read: no list (an empty heading, or the other editions' articles, said nothing).
        azerbaijani = page_of(client, f"/news/{az_unread}")
        assert (
            not azerbaijani.cssselect("#most-read") and "Ən çox oxunanlar" not in client.get(f"/news/{az_unread}").text
        )
        # The API's list is not an edition's: it stays every language's.
        assert {i["language"] for i in client.get("/api/most-read").json()["items"]} == {"ru", "en", "az"}


# -- 3. undated articles --------------------------------------------------------------------------------------------


def test_an_undated_article_is_listed_by_its_archive_time_printed_as_that(client: TestClient) -> None:
    """The sample's template-trap page printed no date (``{{ post.published… }}``): listed by its archive time, first,
    that time was printed as if it were its date. The order stays; the time says what it is."""
    latest = client.get("/api/articles", params={"limit": 30}).json()["items"]
    undated = [i for i in latest if i["published_at"] is None]
    assert undated, "the sample holds an undated article"
    front = page_of(client, "/")
    lines = {
        a.get("href"): li.cssselect(".meta")[0].text_content()
        for li in front.cssselect("#latest li")
        for a in li.cssselect("a")
    }
    for entry in latest:
        line = lines[f"/news/{entry['id']}"]
        if entry["published_at"] is None:
            archived = datetime.fromisoformat(entry["archived_at"])
            assert line.startswith(f"Заархивирована: {printed(archived, 'ru')} · "), line
        else:
            assert "Заархивирована" not in line, line
    # RSS: pubDate is the date the article was published, optional: an undated item has none. Atom requires
    # <updated> (the entry's last change), and has <published> only for a dated one.
    channel = ET.fromstring(client.get("/feeds/all.rss").content).find("channel")
    assert channel is not None
    dates = {i.findtext("link", "").rsplit("/", 1)[1]: i.find("pubDate") for i in channel.iter("item")}
    for entry in latest:
        if str(entry["id"]) in dates:
            assert (dates[str(entry["id"])] is None) == (entry["published_at"] is None), entry
    atom = ET.fromstring(client.get("/feeds/all.atom").content)
    name = "{http://www.w3.org/2005/Atom}"
    for entry in atom.iter(f"{name}entry"):
        assert entry.find(f"{name}updated") is not None


def test_an_undated_articles_time_is_labelled_in_its_editions_words(sqlite_url: str) -> None:
    (undated,) = save(sqlite_url, [item("undated-en", published=None, language="en", title="No date")])
    with TestClient(create_app(sqlite_url)) as client:
        archived = datetime.fromisoformat(client.get(f"/api/articles/{undated}").json()["archived_at"])
        edition = page_of(client, "/", language="en")
        assert text(edition, "#latest li .meta").startswith(f"Archived: {printed(archived, 'en')} · ")
        found = page_of(client, "/search", q="undated", language="en")  # the search cards print it alike
        assert [text(found, "#results li .meta")] == [f"Archived: {printed(archived, 'en')} · Caliber.az"]


# -- 4. the editions' links -----------------------------------------------------------------------------------------


def test_the_header_links_every_edition_and_each_one_honestly(client: TestClient) -> None:
    """ "RU" linked to ``/`` and was marked current there, but ``/`` lists every language. ``/`` has its own link,
    marked there; RU is the Russian edition's front page."""
    front = page_of(client, "/")
    links = front.cssselect("header nav.editions a")
    assert [(a.text_content(), a.get("href")) for a in links] == [
        ("Все", "/"), ("RU", "/?language=ru"), ("AZ", "/?language=az"), ("EN", "/?language=en")
    ]  # fmt: skip
    assert [a.get("href") for a in links if a.get("aria-current")] == ["/"]
    assert not front.cssselect("form.search input[name=language]")  # its search box searches every edition
    russian = page_of(client, "/", language="ru")
    assert [a.get("href") for a in russian.cssselect("nav.editions a[aria-current]")] == ["/?language=ru"]
    listed = client.get("/api/articles", params={"limit": 30, "language": "ru"}).json()["items"]
    assert [a.get("href") for a in russian.cssselect("#latest li a")] == [f"/news/{i['id']}" for i in listed]
    boxes = [box.get("value") for box in russian.cssselect("form.search input[name=language]")]
    assert boxes == ["ru"]  # the Russian edition's box searches it
    # A search of every edition is no edition's; an article's page is of its edition.
    assert page_of(client, "/search", q="Баку").cssselect("nav.editions a[aria-current]")[0].get("href") == "/"
    english = client.get("/api/articles", params={"limit": 1, "language": "en"}).json()["items"][0]["id"]
    marked = page_of(client, f"/news/{english}").cssselect("nav.editions a[aria-current]")
    assert [a.get("href") for a in marked] == ["/?language=en"]


# -- 5. a language the site has not ---------------------------------------------------------------------------------


def test_a_language_the_site_has_not_is_answered_alike(client: TestClient) -> None:
    """``fr`` was a 200 with nothing from the API, a 422 "String should match pattern" from the feeds and an HTML
    400 from the pages. The API and the feeds answer one 422 naming the editions; the pages stay HTML 400s."""
    machines = [("/api/articles", {}), ("/api/search", {"q": "Баку"}), ("/feeds/all.rss", {}), ("/feeds/all.atom", {}),
                ("/feeds/caliber.rss", {}), ("/feeds/caliber.atom", {})]  # fmt: skip
    answers = []
    for path, params in machines:
        answer = client.get(path, params=params | {"language": "fr"})
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/json", path
        (problem,) = answer.json()["detail"]
        assert problem["loc"] == ["query", "language"], path
        answers.append(problem["msg"])
    assert set(answers) == {"Input should be 'ru', 'az' or 'en'"}
    for path, params in (("/", {}), ("/search", {"q": "Баку"})):
        answer = client.get(path, params=params | {"language": "fr"})
        assert answer.status_code == 400 and answer.headers["content-type"] == "text/html; charset=utf-8", path
    for language in ("ru", "az", "en"):  # the editions are all still answered
        assert client.get("/api/articles", params={"language": language}).status_code == 200
        assert client.get("/feeds/all.rss", params={"language": language}).status_code == 200


def test_the_editions_are_the_languages_the_pages_have_words_for_and_the_sources_write_in() -> None:
    assert get_args(Edition) == tuple(present.LABELS) == LANGUAGES


# -- 6. sources by name ---------------------------------------------------------------------------------------------


def test_lists_name_each_articles_source_by_its_name(client: TestClient) -> None:
    """The front page, the search results and a story's other articles printed the registry key (``· caliber``)."""
    latest = client.get("/api/articles", params={"limit": 30}).json()["items"]
    front = page_of(client, "/")
    shown = [li.cssselect(".meta")[0].text_content().rsplit(" · ", 1)[1] for li in front.cssselect("#latest li")]
    assert shown == [get_source(i["source"]).name for i in latest]
    assert "Caliber.az" in shown and "caliber" not in shown
    found = client.get("/api/search", params={"q": "Баку", "limit": 30}).json()["items"]
    results = page_of(client, "/search", q="Баку")
    shown = [li.cssselect(".meta")[0].text_content().rsplit(" · ", 1)[1] for li in results.cssselect("#results li")]
    assert shown == [get_source(i["source"]).name for i in found] and shown
    told = next(
        a for a in client.get("/api/articles", params={"limit": 100}).json()["items"]
        if client.get(f"/api/articles/{a['id']}").json()["story_siblings"]
    )  # fmt: skip
    siblings = client.get(f"/api/articles/{told['id']}").json()["story_siblings"]
    story = page_of(client, f"/news/{told['id']}")
    assert [text(li, ".meta") for li in story.cssselect("#story li")] == [
        get_source(s["source"]).name for s in siblings
    ]
