"""HTTP as clients and caches in front of the site meet it: compression, the validators' edge cases, what a cache
may keep, and requests no source key can answer."""

from __future__ import annotations

import gzip
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from aggregator.api import create_app
from tests.api.conftest import save

GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}


def first_id(client: TestClient) -> int:
    return int(client.get("/api/articles").json()["items"][0]["id"])


def test_answers_go_gzipped_to_a_client_that_asks(client: TestClient) -> None:
    """uvicorn compresses nothing: a feed, a page of JSON, a sitemap file went out whole (a sitemap of 50,000 pages:
    4.7 MB, 141 KB gzipped)."""
    paths = ["/feeds/all.rss", "/api/articles?limit=100", "/sitemaps/0.xml", "/", f"/news/{first_id(client)}"]
    for path in paths:
        plain = client.get(path, headers=PLAIN)
        zipped = client.get(path, headers=GZIP)
        assert plain.status_code == zipped.status_code == 200, path
        assert "content-encoding" not in plain.headers, path
        assert zipped.headers["content-encoding"] == "gzip", path
        sent = int(zipped.headers["content-length"])
        assert sent < len(plain.content) / 2, (path, sent, len(plain.content))
        assert zipped.content == plain.content, path  # httpx decoded it: the same answer
        # A cache keeping either form must know that the other is for other clients.
        for answer in (plain, zipped):
            assert "accept-encoding" in answer.headers["vary"].lower(), path
        # One weak tag for both forms: a copy held in either is revalidated, and the 304 says what it varies on.
        assert zipped.headers["etag"] == plain.headers["etag"], path
        again = client.get(path, headers=GZIP | {"If-None-Match": zipped.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", path
        assert again.headers["vary"] == "Accept-Encoding" and again.headers["etag"] == zipped.headers["etag"], path
        # HEAD: the GET's headers, the compressed length among them.
        head = client.head(path, headers=GZIP)
        assert dict(head.headers) == dict(zipped.headers) and head.content == b"", path


def test_the_gzipped_body_is_what_a_plain_gzip_reader_reads(client: TestClient) -> None:
    """Read the bytes on the wire, not httpx's decoding: a feed reader or a crawler gunzips them itself."""
    with client.stream("GET", "/feeds/all.rss", headers=GZIP) as raw:
        wire = b"".join(raw.iter_raw())
    assert len(wire) == int(raw.headers["content-length"])
    assert gzip.decompress(wire) == client.get("/feeds/all.rss", headers=PLAIN).content


def test_a_small_answer_and_a_client_that_does_not_ask_are_sent_plain(client: TestClient) -> None:
    assert "content-encoding" not in client.get("/healthz", headers=GZIP).headers  # 31 bytes: not worth a header
    assert "content-encoding" not in client.get("/feeds/all.rss", headers={"Accept-Encoding": ""}).headers


def test_if_none_match_in_several_header_lines(client: TestClient) -> None:
    """A list field may arrive as several lines (RFC 9110 5.3), which mean the same as one joined with commas: the
    tag in the second line was not read, and a current copy was sent again whole."""
    path = f"/news/{first_id(client)}"
    etag = client.get(path).headers["etag"]
    # A list of pairs, not httpx.Headers (which joins the lines into one before the app sees them).
    assert client.get(path, headers=[("If-None-Match", '"other"'), ("If-None-Match", etag)]).status_code == 304
    assert client.get(path, headers=[("If-None-Match", etag), ("If-None-Match", '"other"')]).status_code == 304
    stale = [("If-None-Match", '"other"'), ("If-None-Match", 'W/"another"')]
    assert client.get(path, headers=stale).status_code == 200


def test_the_probes_answers_are_not_kept_by_a_cache(client: TestClient) -> None:
    """A probe's answer is of this moment: kept by a cache in front (Varnish keeps a 200 without Cache-Control for
    two minutes), a source gone red would go on answering green."""
    for path in ("/healthz", "/api/health", "/metrics"):
        assert client.get(path).headers["cache-control"] == "no-store", path


def test_the_health_schema_names_every_field_a_source_has(client: TestClient) -> None:
    documented = client.get("/openapi.json").json()["components"]["schemas"]["SourceHealth"]["properties"]
    sources = client.get("/api/health").json()["sources"]
    assert sources and all(set(source) <= set(documented) for source in sources)


@pytest.mark.parametrize("key", ["caliber\x00", "\x00", "a\x00b"])
def test_a_source_key_with_a_nul_is_no_source(db_url: str, key: str) -> None:
    """PostgreSQL's text holds no NUL: a query naming a key with one failed (a 500 and a traceback in the log), where
    any other unknown key is a 422 (the filters) or a 404 (a feed)."""
    save(db_url, [])
    with TestClient(create_app(db_url), raise_server_exceptions=False) as client:
        for path in ("/api/articles", "/api/search"):
            answer = client.get(path, params={"source": key, "q": "Баку"})
            assert answer.status_code == 422, (path, answer.text)
            assert answer.json()["detail"][0]["loc"] == ["query", "source"]
        feed = client.get(f"/feeds/{quote(key)}.rss")
        assert feed.status_code == 404 and feed.json() == {"detail": f"no source {key!r} in the archive"}
