"""A method a page does not take (a form or a script posting to ``/`` or to an article's page): a page, in the site's
words and the edition the address names, as the pages' 404s and 400s are; the API's and the feeds' stay JSON."""

from __future__ import annotations

import lxml.html
import pytest
from fastapi.testclient import TestClient

PAGE_HEADINGS = {
    "ru": "Эта страница не принимает такой запрос",
    "az": "Bu səhifə belə sorğunu qəbul etmir",
    "en": "This page does not take this kind of request",
}


def heading(answer_text: str) -> tuple[str | None, str]:
    page = lxml.html.fromstring(answer_text)
    (h1,) = page.cssselect("main h1")
    return page.get("lang"), " ".join(h1.text_content().split())


def test_a_method_a_page_does_not_take_is_a_page(client: TestClient) -> None:
    article_id = client.get("/api/articles", params={"limit": 1}).json()["items"][0]["id"]
    for path in ("/", f"/news/{article_id}", "/news/99999", "/news/abc", "/search", "/search?q=Баку"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            answer = client.request(method, path)
            assert answer.status_code == 405, (method, path)
            assert answer.headers["allow"] == "GET, HEAD", (method, path)
            assert answer.headers["content-type"] == "text/html; charset=utf-8", (method, path)
            assert heading(answer.text) == ("ru", PAGE_HEADINGS["ru"]), (method, path)
            # The site's page: its header, with the editions and the search box, as its 404 has them.
            assert lxml.html.fromstring(answer.text).cssselect("header.site form.search"), (method, path)


@pytest.mark.parametrize("language", ["az", "en", "ru"])
def test_a_pages_405_is_in_the_edition_its_address_names(client: TestClient, language: str) -> None:
    for path in ("/", "/search"):
        answer = client.post(path, params={"language": language})
        assert answer.status_code == 405 and answer.headers["allow"] == "GET, HEAD", path
        assert heading(answer.text) == (language, PAGE_HEADINGS[language]), path
        # As its 404 is: the same page, in the same edition.
        missing = client.get("/nosuch", params={"language": language})
        assert missing.status_code == 404 and heading(missing.text)[0] == language


def test_the_programs_405s_stay_json(client: TestClient) -> None:
    article_id = client.get("/api/articles", params={"limit": 1}).json()["items"][0]["id"]
    for path, allow in (
        ("/api/articles", "GET, HEAD"),
        (f"/api/articles/{article_id}", "GET, HEAD"),
        ("/feeds/all.rss", "GET, HEAD"),
        ("/feeds/all.atom", "GET, HEAD"),
        ("/feeds/caliber.atom", "GET, HEAD"),
        ("/sitemap.xml", "GET, HEAD"),
        ("/healthz", "GET, HEAD"),
    ):
        answer = client.post(path)
        assert answer.status_code == 405 and answer.headers["allow"] == allow, path
        assert answer.json() == {"detail": "Method Not Allowed"}, path
    views = client.get(f"/api/articles/{article_id}/views")
    assert views.status_code == 405 and views.headers["allow"] == "POST"
    assert views.json() == {"detail": "Method Not Allowed"}
