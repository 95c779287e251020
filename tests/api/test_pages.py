"""The re-published article page and the front page, server-rendered: read as HTML by a parser."""

from __future__ import annotations

from datetime import UTC, datetime

import lxml.html
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aggregator.api import create_app
from aggregator.sources import get_source
from aggregator.store import Archive
from aggregator.store.models import Article
from tests.api.conftest import attribution, item, save, view_as

LABELS = {
    "ru": ("Просмотров", "Источник", "Эта новость заархивирована с источника", "Самые читаемые"),
    "az": ("Baxış sayı", "Mənbə", "Bu xəbər mənbədən arxivləşdirilib", "Ən çox oxunanlar"),
    "en": ("Views", "Source", "This news item was archived from the source on", "Most read"),
}
MONTHS = {
    "ru": "Января Февраля Марта Апреля Мая Июня Июля Августа Сентября Октября Ноября Декабря",
    "az": "yanvar fevral mart aprel may iyun iyul avqust sentyabr oktyabr noyabr dekabr",
    "en": "January February March April May June July August September October November December",
}


def printed(instant: datetime, language: str) -> str:
    from zoneinfo import ZoneInfo

    local = instant.astimezone(ZoneInfo("Asia/Baku"))
    month = MONTHS[language].split()[local.month - 1]
    return f"{local.day:02d} {month} {local.year} {local:%H:%M}"


def text(page, selector: str) -> str:
    (element,) = page.cssselect(selector)
    return " ".join(element.text_content().split())


@pytest.mark.parametrize("language", ["ru", "az", "en"])
def test_article_page_in_the_articles_language(client: TestClient, sample_db: str, language: str) -> None:
    archive = Archive.open(sample_db)
    with archive.session() as session:
        article = session.scalars(select(Article).where(Article.language == language).order_by(Article.id)).first()
    archive.close()
    assert article is not None
    for n in range(3):  # three readers: one reader's views of an article count once
        view_as(client.app, f"192.0.2.{n + 1}", article.id)
    answer = client.get(f"/news/{article.id}")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = lxml.html.fromstring(answer.text)
    views, source, archived, most_read = LABELS[language]
    assert page.get("lang") == language
    assert text(page, "h1") == " ".join(article.title.split())
    assert text(page, ".attribution") == attribution(language, article.source)
    assert text(page, "#views") == f"{views}: 3"
    # As the downstream site prints it ("Источник:https://caliber.az"): the outlet's home page, linking the article.
    assert text(page, "#source") == f"{source}: {get_source(article.source).homepage}"
    (link,) = page.cssselect("#source a")
    assert link.get("href") == article.url and link.get("title") == get_source(article.source).name
    assert text(page, "#archived") == f"{archived} {printed(article.archived_at, language)}"
    assert text(page, "#most-read h2") == most_read
    # The only one read: the whole list (the unread ones of every language filled it, in id order).
    (first_read,) = page.cssselect("#most-read li")
    assert first_read.cssselect("a")[0].get("href") == f"/news/{article.id}"
    assert f"{views}: 3" in first_read.text_content()
    body = page.cssselect("#body")[0]
    assert body.cssselect("p"), "the body is rendered as HTML, not escaped text"
    assert "&lt;p&gt;" not in answer.text


def test_titles_and_attribution_are_escaped(sqlite_url: str) -> None:
    hostile = '<img src=x onerror="window.__xss=1">Заголовок'
    (article_id,) = save(sqlite_url, [item("hostile", published=datetime(2026, 11, 1, tzinfo=UTC), title=hostile)])
    with TestClient(create_app(sqlite_url)) as client:
        html = client.get(f"/news/{article_id}").text
        front = client.get("/").text
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "<img src=x" not in front
    assert text(lxml.html.fromstring(html), "h1") == hostile


def test_a_source_link_that_is_no_web_address_is_no_link_on_the_page_or_in_the_feed(sqlite_url: str) -> None:
    """An archive written before the crawl refused them holds a page's ``javascript:`` canonical link as the source
    link: it must not become a script on the site's page or in its feed."""
    (article_id,) = save(sqlite_url, [item("scripted", published=datetime(2026, 11, 1, tzinfo=UTC))])
    archive = Archive.open(sqlite_url)
    try:
        with archive.session.begin() as session:
            session.get(Article, article_id).url = "javascript://caliber.az/%0aalert(document.domain)"
    finally:
        archive.close()
    with TestClient(create_app(sqlite_url)) as client:
        page = client.get(f"/news/{article_id}")
        feed = client.get("/feeds/all.rss")
    assert page.status_code == 200 and feed.status_code == 200
    shown = lxml.html.fromstring(page.text)
    assert not shown.cssselect("#source a") and text(shown, "#source") == "Источник: Caliber.az"  # the name alone
    assert "javascript:" not in page.text.lower() and "javascript:" not in feed.text.lower()


def meta(page, key: str) -> list[str]:
    """The content of the page's ``<meta>`` tags named (or, Open Graph, with the property) ``key``."""
    return [m.get("content") for m in page.cssselect("head meta") if key in (m.get("name"), m.get("property"))]


def test_the_article_page_describes_itself_for_search_results_and_shared_links(sqlite_url: str) -> None:
    long_text = "Первое предложение статьи о мосте. " + "Слово " * 60 + "конец."
    hostile = 'Мост "открыт" <script>window.__xss=1</script>'
    with_cover, without = save(
        sqlite_url,
        [
            item("meta-1", published=datetime(2026, 11, 1, 8, 30, tzinfo=UTC), title=hostile, body_text=long_text,
                 cover_image_url="https://caliber.az/storage/bridge.jpg", category="Экономика"),
            item("meta-2", published=None, language="az", body_text="Qısa mətn."),
        ],
    )  # fmt: skip
    with TestClient(create_app(sqlite_url)) as client:
        page = lxml.html.fromstring(client.get(f"/news/{with_cover}").text)
        plain = lxml.html.fromstring(client.get(f"/news/{without}").text)
    (summary,) = meta(page, "description")
    assert summary.startswith("Первое предложение статьи о мосте. Слово") and summary.endswith("…")
    assert len(summary) <= 160 and long_text.startswith(summary[:-1].rstrip())  # cut between words
    assert meta(page, "og:description") == [summary]
    assert meta(page, "og:title") == [hostile]  # an attribute's text: escaped, read back whole
    (script,) = page.cssselect("script")  # the page's own, counting the view: none from the title
    assert script.get("src") is None and "/api/articles/" in script.text and "/views" in script.text
    (counted,) = page.cssselect("#view-count")  # the script reads the article's id here: one script for every page
    assert counted.get("data-article") == str(with_cover)
    assert meta(page, "og:type") == ["article"] and meta(page, "og:site_name") == ["Icma.az"]
    assert meta(page, "og:url") == [f"http://testserver/news/{with_cover}"]
    assert meta(page, "og:image") == ["https://caliber.az/storage/bridge.jpg"]
    # X's (and Telegram's) card: a large picture for an article with a cover; its title, text and picture are the
    # og: tags'. Without the card type, X showed a bare link.
    assert meta(page, "twitter:card") == ["summary_large_image"]
    assert meta(page, "og:locale") == ["ru_RU"]
    assert meta(page, "article:published_time") == ["2026-11-01T08:30:00Z"]
    assert meta(page, "article:section") == ["Экономика"]
    # A short text is the description whole; no cover, date or category: no tag for them.
    assert meta(plain, "description") == ["Qısa mətn."] and meta(plain, "og:locale") == ["az_AZ"]
    assert not meta(plain, "og:image") and not meta(plain, "article:published_time")
    assert meta(plain, "twitter:card") == ["summary"]  # no picture: the small card
    assert not meta(plain, "article:section")


def test_front_page_lists_the_latest(client: TestClient) -> None:
    latest = client.get("/api/articles", params={"limit": 30}).json()
    page = lxml.html.fromstring(client.get("/").text)
    links = [a.get("href") for a in page.cssselect("#latest li a")]
    assert links == [f"/news/{i['id']}" for i in latest["items"]]
    (following,) = page.cssselect("#next")
    second = lxml.html.fromstring(client.get(following.get("href")).text)
    rest = client.get("/api/articles", params={"limit": 30, "cursor": latest["next_cursor"]}).json()["items"]
    assert [a.get("href") for a in second.cssselect("#latest li a")] == [f"/news/{i['id']}" for i in rest]


def test_missing_article_page(client: TestClient) -> None:
    """An id that cannot be an article's (not a number, 0, beyond 32 bits, an address below an article's) is as
    missing as a free one: a page. So is another spelling of a real one's id (``05``, ``+5``, ``5.0``, ``1_0``): an
    article has one address."""
    real = client.get("/api/articles", params={"limit": 1}).json()["items"][0]["id"]
    for path in ("/news/99999", "/news/x", "/news/0", "/news/-1", f"/news/{2**31}", "/news/", f"/news/{real}/x",
                 f"/news/0{real}", f"/news/+{real}", f"/news/{real}.0", f"/news/%20{real}", "/news/1_0"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "text/html; charset=utf-8", path
        assert text(lxml.html.fromstring(answer.text), "h1") == "Новость не найдена", path
    assert client.get(f"/news/{real}").status_code == 200
    api = client.get("/api/articles/0")  # the API's errors stay JSON
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["path", "article_id"]
    for path in (f"/api/articles/0{real}", f"/api/articles/{real}.0", f"/api/articles/{real}/views"):
        assert client.get(path).status_code in (404, 405, 422), path
        assert client.get(path).headers["content-type"] == "application/json", path
    assert client.get("/sitemaps/00.xml").status_code == 422 and client.get("/sitemaps/0.xml").status_code == 200
    # Any other address the site has not: the site's page; one among the programs' addresses: JSON.
    other = client.get("/no/such/page")
    assert other.status_code == 404 and text(lxml.html.fromstring(other.text), "h1") == "Неверная ссылка на страницу"
    for path in ("/api/nothing", "/feeds/a/b.rss"):
        assert client.get(path).status_code == 404 and client.get(path).json() == {"detail": "Not Found"}, path


def test_an_article_page_names_its_one_address(client: TestClient) -> None:
    real = client.get("/api/articles", params={"limit": 1}).json()["items"][0]["id"]
    page = lxml.html.fromstring(client.get(f"/news/{real}").text)
    assert [link.get("href") for link in page.cssselect("link[rel=canonical]")] == [f"http://testserver/news/{real}"]


def test_front_page_with_a_link_it_did_not_give_out(client: TestClient) -> None:
    for cursor in ("bad", "x" * 201):  # not a cursor; longer than any cursor (refused before the handler runs)
        answer = client.get("/", params={"cursor": cursor})
        assert answer.status_code == 400, cursor
        assert answer.headers["content-type"] == "text/html; charset=utf-8", cursor
        assert text(lxml.html.fromstring(answer.text), "h1") == "Неверная ссылка на страницу", cursor
    api = client.get("/api/articles", params={"cursor": "bad"})
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_a_search_the_page_cannot_take_is_a_documented_400(client: TestClient) -> None:
    """A query over 200 characters is refused before the handler runs, with the page's 400: the schema says so (it
    said 422, FastAPI's answer for the JSON routes, and a schema-driven client took the page's 400 for a fault)."""
    answer = client.get("/search", params={"q": "0" * 201})
    assert answer.status_code == 400 and answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "400" in client.get("/openapi.json").json()["paths"]["/search"]["get"]["responses"]


def test_the_site_searches(client: TestClient) -> None:
    """``/search``: a box on every page, the results of ``/api/search`` as a list of links, the query kept."""
    for path in ("/", "/news/1"):
        (form,) = lxml.html.fromstring(client.get(path).text).cssselect("header form.search")
        assert form.get("action") == "/search" and form.get("method") == "get"
        assert [i.get("name") for i in form.cssselect("input:not([type=hidden])")] == ["q"]
    for query in ("Баку", "ООН", "Azərbaycan"):
        api = client.get("/api/search", params={"q": query, "limit": 30}).json()["items"]
        assert api, query  # the sample holds each
        answer = client.get("/search", params={"q": query})
        assert answer.status_code == 200 and answer.headers["content-type"] == "text/html; charset=utf-8"
        page = lxml.html.fromstring(answer.text)
        assert [a.get("href") for a in page.cssselect("#results li a")] == [f"/news/{i['id']}" for i in api], query
        assert [a.text_content() for a in page.cssselect("#results li a")] == [i["title"] for i in api]
        assert text(page, "#found") == f"Найдено: {len(api)}"
        (box,) = page.cssselect("header input[name=q]")
        assert box.get("value") == query  # the query stays in the box
    nothing = lxml.html.fromstring(client.get("/search", params={"q": "несуществующееслово"}).text)
    assert text(nothing, "#found") == "Ничего не найдено" and not nothing.cssselect("#results li")
    empty = lxml.html.fromstring(client.get("/search").text)  # the box alone
    assert text(empty, "h1") == "Поиск" and not empty.cssselect("#found")
    operators = client.get("/search", params={"q": '" OR 1=1 --'})  # plain words ("OR", "1"), never an error
    assert operators.status_code == 200
    found = client.get("/api/search", params={"q": '" OR 1=1 --', "limit": 30}).json()["items"]
    links = lxml.html.fromstring(operators.text).cssselect("#results li a")
    assert [a.get("href") for a in links] == [f"/news/{i['id']}" for i in found]
    blank = lxml.html.fromstring(client.get("/search", params={"q": "* -"}).text)  # no word: nothing to find
    assert text(blank, "#found") == "Ничего не найдено"


def test_an_editions_search_box_searches_that_edition(client: TestClient) -> None:
    page = lxml.html.fromstring(client.get("/", params={"language": "az"}).text)
    (form,) = page.cssselect("header form.search")
    assert {i.get("name"): i.get("value") for i in form.cssselect("input[type=hidden]")} == {"language": "az"}
    assert not lxml.html.fromstring(client.get("/").text).cssselect("header form.search input[type=hidden]")
    api = client.get("/api/search", params={"q": "Azərbaycan", "language": "az", "limit": 30}).json()["items"]
    assert api and all(i["language"] == "az" for i in api)
    found = lxml.html.fromstring(client.get("/search", params={"q": "Azərbaycan", "language": "az"}).text)
    assert [a.get("href") for a in found.cssselect("#results li a")] == [f"/news/{i['id']}" for i in api]
    assert found.get("lang") == "az" and text(found, "h1") == "Axtarış" and text(found, "#found").startswith("Tapıldı")
    assert client.get("/search", params={"q": "x", "language": "tr"}).status_code == 400


def test_the_search_page_escapes_the_query(client: TestClient) -> None:
    query = '"><script>window.__xss=1</script><img src=x onerror=alert(1)> Баку'
    page = lxml.html.fromstring(client.get("/search", params={"q": query}).text)
    assert not page.cssselect("script") and not page.cssselect("img")  # text, not markup
    (box,) = page.cssselect("header input[name=q]")
    assert box.get("value") == query
    assert query in page.cssselect("title")[0].text_content()


def test_a_description_is_the_texts_first_words() -> None:
    from aggregator.present import description

    assert description(None) == "" and description("  Два\\n\\nабзаца.  ".replace("\\n", "\n")) == "Два абзаца."
    assert description("x" * 300) == "x" * 159 + "…"  # one word longer than half of it: cut inside
    cut = description("слово, " * 40)
    assert cut.endswith("слово…") and len(cut) <= 160  # no comma before the ellipsis


@pytest.mark.parametrize("language", ["az", "en", "ru"])
def test_an_edition_of_the_front_page(client: TestClient, language: str) -> None:
    """``/?language=az``: that language's articles with that language's labels, its next page in the same edition."""
    latest = client.get("/api/articles", params={"limit": 30, "language": language}).json()
    assert latest["items"], language  # the sample holds each
    answer = client.get("/", params={"language": language})
    assert answer.status_code == 200
    page = lxml.html.fromstring(answer.text)
    assert page.get("lang") == language
    assert text(page, "h1") == {"ru": "Последние новости", "az": "Son xəbərlər", "en": "Latest news"}[language]
    assert [a.get("href") for a in page.cssselect("#latest li a")] == [f"/news/{i['id']}" for i in latest["items"]]
    following = page.cssselect("#next")
    if latest["next_cursor"]:
        (link,) = following
        second = lxml.html.fromstring(client.get(link.get("href")).text)
        rest = client.get("/api/articles", params={"limit": 30, "language": language, "cursor": latest["next_cursor"]})
        expected = [f"/news/{i['id']}" for i in rest.json()["items"]]
        assert [a.get("href") for a in second.cssselect("#latest li a")] == expected
    else:
        assert not following
    editions = page.cssselect("header nav.editions a")
    everything = {"ru": "Все", "az": "Hamısı", "en": "All"}[language]
    assert [(a.text_content(), a.get("href")) for a in editions] == [
        (everything, "/"), ("RU", "/?language=ru"), ("AZ", "/?language=az"), ("EN", "/?language=en")
    ]  # fmt: skip
    assert [a.text_content() for a in editions if a.get("aria-current")] == [language.upper()]


def test_every_page_names_the_feed_for_feed_readers(client: TestClient) -> None:
    import feedparser

    def feeds(path: str) -> list[tuple[str | None, str | None]]:
        head = lxml.html.fromstring(client.get(path).text).cssselect("head link[rel=alternate]")
        return [(link.get("type"), link.get("href")) for link in head]

    # Each feed in RSS, then the same in Atom.
    for path in ("/", "/news/1", "/search?q=Баку"):
        assert feeds(path) == [("application/rss+xml", "/feeds/all.rss"), ("application/atom+xml", "/feeds/all.atom")]
    # An edition's page names its own feed first (a feed reader given the address takes the first), then all.
    for language in ("az", "en", "ru"):
        assert feeds(f"/?language={language}") == [
            ("application/rss+xml", f"/feeds/all.rss?language={language}"),
            ("application/atom+xml", f"/feeds/all.atom?language={language}"),
            ("application/rss+xml", "/feeds/all.rss"),
            ("application/atom+xml", "/feeds/all.atom"),
        ]
        atom = feedparser.parse(client.get(f"/feeds/all.atom?language={language}").content)
        assert not atom.bozo and atom.version == "atom10" and atom.feed.language == language
        edition = feedparser.parse(client.get(f"/feeds/all.rss?language={language}").content)
        assert not edition.bozo and edition.feed.language == language
    feed = feedparser.parse(client.get("/feeds/all.rss").content)
    assert not feed.bozo and feed.entries


def test_an_edition_the_site_has_not_is_a_bad_link(client: TestClient) -> None:
    for language in ("tr", "AZ", "x" * 10):
        answer = client.get("/", params={"language": language})
        assert answer.status_code == 400, language
        assert text(lxml.html.fromstring(answer.text), "h1") == "Неверная ссылка на страницу"


@pytest.mark.parametrize(
    ("language", "heading"),
    [
        ("az", "Səhifənin keçidi yanlışdır"),
        ("en", "This page link is not valid"),
        ("ru", "Неверная ссылка на страницу"),
    ],
)
def test_an_editions_error_page_is_in_its_labels(client: TestClient, language: str, heading: str) -> None:
    """A link of the Azerbaijani or English edition that the site cannot answer (its next page's cursor mangled, its
    search box's query too long) is answered in that edition, as its links and search box are: it was in Russian."""
    for path, params in (("/", {"cursor": "bad"}), ("/search", {"q": "0" * 201}), ("/nosuch", {})):
        answer = client.get(path, params=params | {"language": language})
        assert answer.status_code == (404 if path == "/nosuch" else 400), path
        page = lxml.html.fromstring(answer.text)
        assert page.get("lang") == language and text(page, "h1") == heading, path
        # Its search box searches that edition, as every page of the edition's does (the Russian one's too).
        boxes = [box.get("value") for box in page.cssselect("form.search input[name=language]")]
        assert boxes == [language], path
