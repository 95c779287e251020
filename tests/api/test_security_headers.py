"""The read site's answers defend the reader's browser: not sniffed, not framed by another site, the pages under a
Content-Security-Policy that allows their one script and one style by hash; views counted from the site's own pages
only; and ``aggregator serve`` warns when its links would follow a client's ``Host`` header."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest
from fastapi.testclient import TestClient

from aggregator.api import create_app
from aggregator.commands.serve import _host_header_warning
from tests.api.conftest import item, save


def app_over(url: str, **options: object) -> TestClient:
    settings: dict[str, object] = {"public_url": None, "cors_origins": (), "cache_seconds": 0, **options}
    return TestClient(create_app(url, **settings))  # type: ignore[arg-type]


def one_article(url: str) -> int:
    return save(url, [item("guarded", published=datetime(2026, 11, 20, tzinfo=UTC))])[0]


def sha256_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def directives(policy: str) -> dict[str, str]:
    return {name: value.strip() for name, _, value in (d.strip().partition(" ") for d in policy.split(";"))}


def test_pages_carry_a_policy_that_allows_their_own_script_and_style(sqlite_url: str) -> None:
    article_id = one_article(sqlite_url)
    client = app_over(sqlite_url)
    page = client.get(f"/news/{article_id}")
    assert page.status_code == 200
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    assert page.headers["referrer-policy"] == "no-referrer"
    policy = directives(page.headers["content-security-policy"])
    assert policy["default-src"] == "'self'" and policy["img-src"] == "https: http: data:"
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'" and policy["form-action"] == "'self'"
    assert policy["frame-ancestors"] == "'self'"
    tree = lxml.html.fromstring(page.text)
    [script] = tree.xpath("//script")
    [style] = tree.xpath("//style")
    assert policy["script-src"] == sha256_source(script.text)  # the served text, as the browser hashes it
    assert policy["style-src"] == sha256_source(style.text)
    # Both still there: the meta for pictures, the source link's own policy (it outranks the header).
    assert tree.xpath('//meta[@name="referrer"]/@content') == ["no-referrer"]
    assert tree.xpath('//p[@id="source"]/a/@referrerpolicy') == ["origin"]
    # Every page has the style; a page without the script has the same policy.
    for path in ("/", "/search?q=x", "/news/999999", "/no/such/page"):
        answer = client.get(path)
        assert answer.headers["content-security-policy"] == page.headers["content-security-policy"], path
        [served] = lxml.html.fromstring(answer.text).xpath("//style")
        assert policy["style-src"] == sha256_source(served.text), path


def test_api_answers_and_the_docs_are_not_sniffed_nor_framed(sqlite_url: str) -> None:
    article_id = one_article(sqlite_url)
    client = app_over(sqlite_url)
    for path in (f"/api/articles/{article_id}", "/api/articles/999999", "/feeds/all.rss", "/robots.txt", "/docs"):
        answer = client.get(path)
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["x-frame-options"] == "SAMEORIGIN", path
        # Not the pages' policy: the docs' Swagger UI loads from a CDN.
        assert answer.headers["content-security-policy"] == "frame-ancestors 'self'", path
    assert "referrer-policy" not in client.get("/docs").headers


def test_views_are_counted_from_the_sites_own_pages_only(sqlite_url: str) -> None:
    article_id = one_article(sqlite_url)
    views = f"/api/articles/{article_id}/views"

    def posted(client: TestClient, origin: str | None, reader: str) -> tuple[int, object]:
        viewer = TestClient(client.app, client=(reader, 50000), base_url=str(client.base_url))
        answer = viewer.post(views, headers={"Origin": origin} if origin else {})
        return answer.status_code, answer.json()

    own = app_over(sqlite_url)  # the test client's host is "testserver"
    assert posted(own, "https://evil.example", "192.0.2.1") == (
        403,
        {"detail": "views are counted from the site's own pages (and AGGREGATOR_CORS_ORIGINS') alone"},
    )
    assert posted(own, "null", "192.0.2.1")[0] == 403  # a sandboxed frame's
    assert posted(own, "http://testserver.evil.example", "192.0.2.1")[0] == 403
    assert posted(own, None, "192.0.2.1")[0] == 200  # curl, an older browser: as before
    assert posted(own, "http://testserver", "192.0.2.2")[0] == 200
    assert posted(own, "https://TestServer:443", "192.0.2.3")[0] == 200  # behind a proxy ending TLS
    public = app_over(sqlite_url, public_url="https://icma.az", cors_origins=("https://www.icma.az",))
    assert posted(public, "https://icma.az", "192.0.2.4")[0] == 200
    assert posted(public, "https://www.icma.az", "192.0.2.5")[0] == 200
    assert posted(public, "https://evil.example", "192.0.2.6")[0] == 403
    anyone = app_over(sqlite_url, cors_origins=("*",))
    assert posted(anyone, "https://evil.example", "192.0.2.7")[0] == 200
    assert TestClient(own.app).get(f"/api/articles/{article_id}").json()["views"] == 6


def test_serve_warns_when_links_follow_the_host_header() -> None:
    for host in ("0.0.0.0", "192.168.1.5", "::", "example.lan"):
        warning = _host_header_warning(host, None)
        assert warning and "AGGREGATOR_PUBLIC_URL" in warning and "Host header" in warning, host
        assert "\n" not in warning
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert _host_header_warning(host, None) is None, host
    assert _host_header_warning("0.0.0.0", "https://icma.az") is None


def test_the_policy_refuses_a_script_it_could_not_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An article's id written into the script would make each page's hash another: refused at start-up, not a
    policy blocking the script on every page."""
    from aggregator.api import app as api

    (tmp_path / "article.html").write_text('<script>fetch("/api/articles/{{ article.id }}/views")</script>')
    monkeypatch.setattr(api, "TEMPLATES", tmp_path)
    with pytest.raises(RuntimeError, match="template syntax"):
        api.inline_hash("article.html", "script")
    (tmp_path / "article.html").write_text("<script>count()</script>")
    assert api.inline_hash("article.html", "script") == sha256_source("count()")
