"""The offline mirror: URL mapping, the download handler, and the static server's answers."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from aggregator import mirror
from aggregator.mirror import MirrorDownloadHandler, from_mirror, serve_mirror, to_mirror
from tests.conftest import run_cli
from tests.test_cli import one_line_error

BASE = "http://127.0.0.1:8800"


def test_urls_map_onto_the_mirror_and_back() -> None:
    real = "https://caliber.az/post/x-8036?page=2"
    mirrored = to_mirror(real, BASE)
    assert mirrored == "http://127.0.0.1:8800/caliber.az/post/x-8036?page=2"
    assert from_mirror(mirrored, BASE) == real
    assert to_mirror("https://caliber.az", BASE) == "http://127.0.0.1:8800/caliber.az/"
    assert from_mirror("http://127.0.0.1:9999/caliber.az/x", BASE) is None
    assert from_mirror("https://caliber.az/x", BASE) is None


class _Recorder:
    """Stands in for Scrapy's HTTP handler: records what it is asked for, answers with a canned response."""

    def __init__(self, headers: dict[str, str] | None = None, status: int = 200) -> None:
        self.asked: list[Request] = []
        self.headers, self.status = headers or {}, status

    async def download_request(self, request: Request) -> HtmlResponse:
        self.asked.append(request)
        request.meta["download_latency"] = 0.25  # as Scrapy's handler notes it
        return HtmlResponse(url=request.url, status=self.status, body=b"<html></html>", headers=self.headers)

    async def close(self) -> None:
        pass


def handler(inner: _Recorder) -> MirrorDownloadHandler:
    return MirrorDownloadHandler(BASE, inner)


def test_the_handler_fetches_from_the_mirror_and_answers_with_the_real_url() -> None:
    inner = _Recorder({"Location": f"{BASE}/caliber.az/en/post/142379"}, status=301)
    request = Request("https://caliber.az/en/post/142379/", meta={"download_timeout": 7})
    response = asyncio.run(handler(inner).download_request(request))
    (asked,) = inner.asked
    assert asked.url == "http://127.0.0.1:8800/caliber.az/en/post/142379/" and asked.meta["download_timeout"] == 7
    assert response.url == "https://caliber.az/en/post/142379/"
    assert request.meta["download_latency"] == 0.25  # for AutoThrottle, which reads it from this request
    assert response.headers[b"Location"] == b"https://caliber.az/en/post/142379"  # the server's own URL, mapped
    # A path is the site's, as a real site sends it (``_mirror.toml`` headers): resolved against the real URL.
    moved = asyncio.run(handler(_Recorder({"Location": "/en/post/142380"}, 301)).download_request(request))
    assert moved.headers[b"Location"] == b"https://caliber.az/en/post/142380"
    # A request for the mirror itself goes as it is.
    direct = _Recorder()
    asyncio.run(handler(direct).download_request(Request(f"{BASE}/caliber.az/robots.txt")))
    assert direct.asked[0].url == f"{BASE}/caliber.az/robots.txt"


def test_the_handler_wraps_scrapys_own_and_only_with_a_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _Recorder()  # Scrapy's own HTTP handler wants a running reactor to be built
    monkeypatch.setattr(mirror, "_plain_handler", lambda crawler: plain)
    assert MirrorDownloadHandler.from_crawler(get_crawler()) is plain
    mirrored = MirrorDownloadHandler.from_crawler(get_crawler(settings_dict={"AGGREGATOR_MIRROR": BASE}))
    assert isinstance(mirrored, MirrorDownloadHandler) and mirrored._http is plain


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


def test_serve_says_in_one_line_why_it_cannot_listen(tree: Path) -> None:
    # Each was a traceback and exit status 1.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        in_use = one_line_error(run_cli("mirror", "serve", "--root", str(tree), "--port", str(port)))
    assert in_use == (
        f"aggregator: error: cannot listen on 127.0.0.1:{port}: the port is in use: stop what holds it, "
        "or give another --port (0: any free one)"
    )
    # 192.0.2.1 is for documentation (RFC 5737): no machine has it
    elsewhere = one_line_error(run_cli("mirror", "serve", "--root", str(tree), "--host", "192.0.2.1"))
    assert "192.0.2.1 is not an address of this machine" in elsewhere
    too_high = run_cli("mirror", "serve", "--root", str(tree), "--port", "99999")
    assert too_high.returncode == 2 and "Traceback" not in too_high.stderr
    assert "Invalid value for '--port'" in too_high.stderr
    # A file given as the folder was said not to exist.
    not_a_folder = one_line_error(run_cli("mirror", "serve", "--root", str(tree / "secret.txt")))
    assert not_a_folder.startswith(f"aggregator: error: mirror {tree / 'secret.txt'} is not a folder")
    missing = one_line_error(run_cli("mirror", "serve", "--root", str(tree / "nope")))
    assert missing == f"aggregator: error: mirror folder {tree / 'nope'} does not exist"
