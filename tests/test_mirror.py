"""The offline mirror: URL mapping, the middleware, and the static server's answers."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse

from aggregator.mirror import ORIGINAL_URL_META, OfflineMirrorMiddleware, from_mirror, serve_mirror, to_mirror

BASE = "http://127.0.0.1:8800"


def test_urls_map_onto_the_mirror_and_back() -> None:
    real = "https://caliber.az/post/x-8036?page=2"
    mirrored = to_mirror(real, BASE)
    assert mirrored == "http://127.0.0.1:8800/caliber.az/post/x-8036?page=2"
    assert from_mirror(mirrored, BASE) == real
    assert to_mirror("https://caliber.az", BASE) == "http://127.0.0.1:8800/caliber.az/"
    assert from_mirror("http://127.0.0.1:9999/caliber.az/x", BASE) is None
    assert from_mirror("https://caliber.az/x", BASE) is None


def test_middleware_rewrites_requests_and_restores_response_urls() -> None:
    mw = OfflineMirrorMiddleware(BASE)
    request = Request("https://caliber.az/en/post/142379/")
    rewritten = mw.process_request(request)
    assert rewritten is not None
    assert rewritten.url == "http://127.0.0.1:8800/caliber.az/en/post/142379/"
    assert rewritten.meta[ORIGINAL_URL_META] == request.url
    assert rewritten.meta["download_slot"] == "caliber.az"
    assert mw.process_request(rewritten) is None  # already on the mirror: passes through
    response = HtmlResponse(
        url=rewritten.url, body=b"<html></html>", headers={"Location": f"{BASE}/caliber.az/en/post/142379"}
    )
    restored = mw.process_response(rewritten, response)
    assert restored.url == "https://caliber.az/en/post/142379/"
    assert restored.headers[b"Location"] == b"https://caliber.az/en/post/142379"  # the server's own URL, mapped
    # A path is the site's, as a real site sends it (``_mirror.toml`` headers): resolved against the real URL.
    moved = HtmlResponse(url=rewritten.url, body=b"", status=301, headers={"Location": "/en/post/142380"})
    assert mw.process_response(rewritten, moved).headers[b"Location"] == b"https://caliber.az/en/post/142380"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mirror")
    site = root / "example.az"
    (site / "post").mkdir(parents=True)
    (site / "index.html").write_text("<p>home</p>", encoding="utf-8")
    (site / "post" / "one.html").write_text("<p>one</p>", encoding="utf-8")
    (site / "post" / "broken.html").write_text("<p>oops</p>", encoding="utf-8")
    (site / "post" / "cp.html").write_bytes("<meta charset='windows-1251'><p>Баку</p>".encode("cp1251"))
    (site / "robots.txt").write_text("User-agent: *\nDisallow:\n", encoding="utf-8")
    (site / "_mirror.toml").write_text(
        '[[response]]\npath = "/post/broken"\nstatus = 500\n\n'
        '[[response]]\npath = "/post/cp"\ncontent_type = "text/html"\nheaders = {X-Test = "yes"}\n',
        encoding="utf-8",
    )
    (root / "secret.txt").write_text("outside", encoding="utf-8")
    return root


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_server_answers_like_the_site(tree: Path) -> None:
    with serve_mirror(tree) as base:
        status, headers, body = fetch(f"{base}/example.az/post/one")
        assert (status, body) == (200, b"<p>one</p>")
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert fetch(f"{base}/example.az/post/one/")[2] == b"<p>one</p>"  # trailing slash: same page
        assert fetch(f"{base}/example.az/")[2] == b"<p>home</p>"
        assert fetch(f"{base}/example.az/robots.txt")[0] == 200
        assert fetch(f"{base}/example.az/post/missing")[0] == 404
        assert fetch(f"{base}/example.az/post/broken")[0] == 500
        status, headers, body = fetch(f"{base}/example.az/post/cp")
        assert headers["Content-Type"] == "text/html" and headers["X-Test"] == "yes"
        assert body.decode("cp1251").endswith("Баку</p>")
        assert fetch(f"{base}/example.az/../secret.txt")[0] == 404
        assert fetch(f"{base}/example.az/_mirror.toml")[0] == 404


def test_server_answers_conditional_requests(tree: Path) -> None:
    with serve_mirror(tree) as base:
        _, headers, _ = fetch(f"{base}/example.az/post/one")
        assert headers["ETag"] and headers["Last-Modified"]
        assert fetch(f"{base}/example.az/post/one", {"If-None-Match": headers["ETag"]})[0] == 304


def test_a_followed_redirect_keeps_its_chain_as_real_urls() -> None:
    """``redirect_urls`` (what the spider reads to know the address its listing linked) names the real pages."""
    mw = OfflineMirrorMiddleware(BASE)
    first = mw.process_request(Request("https://caliber.az/post/5"))
    assert first is not None
    redirect = mw.process_request(
        first.replace(url="https://caliber.az/post/old-slug", meta={**first.meta, "redirect_urls": [first.url]})
    )
    assert redirect is not None
    assert redirect.meta["redirect_urls"] == ["https://caliber.az/post/5"]  # also when the fetch fails
    response = HtmlResponse(url=redirect.url, body=b"<html></html>", request=redirect)
    restored = mw.process_response(redirect, response)
    assert restored.url == "https://caliber.az/post/old-slug"
    assert restored.meta["redirect_urls"] == ["https://caliber.az/post/5"]


def test_a_redirect_from_the_mirror_faces_the_offsite_and_duplicate_checks() -> None:
    """The waivers the rewritten request needs must not pass on to a redirect built from it."""
    mw = OfflineMirrorMiddleware(BASE)
    rewritten = mw.process_request(Request("https://caliber.az/post/x", meta={"depth": 1}))
    assert rewritten is not None and rewritten.dont_filter and rewritten.meta["allow_offsite"]
    response = HtmlResponse(url=rewritten.url, status=301, headers={"Location": "https://evil.example/"})
    mw.process_response(rewritten, response)
    redirect = rewritten.replace(url="https://evil.example/")  # what RedirectMiddleware builds
    assert redirect.dont_filter is False
    assert "allow_offsite" not in redirect.meta and "dont_obey_robotstxt" not in redirect.meta
    assert redirect.meta["depth"] == 1
