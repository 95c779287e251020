"""A page its server cut short is a failed fetch: retried, then quarantined with its reason; never archived as the
article, never replacing an archived version (aggregator/truncation.py, pipelines/complete.py).

The crawls run against a server on 127.0.0.1 that sends the bundled sample as it is, except the pages a test tells
it to cut: with a ``Content-Length`` larger than what it sends, as a chunked body without its last chunk, or with no
length at all, the connection closed mid-document (HTTP/1.0 style).
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, XmlResponse
from scrapy.utils.test import get_crawler
from sqlalchemy import func, select

from aggregator.items import ArticleItem, FetchFailure
from aggregator.mirror import MirrorTree
from aggregator.store import Archive
from aggregator.store.models import Article, Reject, Snapshot
from aggregator.truncation import CutShortMiddleware, IncompleteResponse, cut_short, ends_document
from pipelines.complete import CompleteVersionPipeline
from spiders.caliber import CaliberSpider
from tests.conftest import SAMPLE, run_cli
from tests.crawl_checks import runs, session

EN = "https://caliber.az/en/post/"
FORUM = EN + "baku-hosts-regional-forum-on-water-security"
SHIPPING = EN + "caspian-shipping-volumes-rise-in-first-quarter"
THINK_TANK = EN + "think-tank-warns-of-new-fault-lines-in-south-caucasus"
LACHIN = EN + "great-return-first-families-settle-in-lachin-villages"
BUDGET = EN + "parliament-approves-2027-state-budget-in-first-reading"
KALBAJAR = EN + "mine-victim-support-programme-expanded-to-kalbajar"

DATA_LOSS = "ResponseDataLossError: Scrapy couldn't get a complete response"
CUT_IN_TEXT = (
    "IncompleteResponse: incomplete response: the connection closed mid-document (the page stops in the middle of "
    "its text, and the server sent no length)"
)
CUT_AFTER_A_TAG = (
    "incomplete page: it stops before its </body> and </html>, which the archived version has; the archived version "
    "is kept"
)


def sample_page(url: str) -> bytes:
    host, _, path = url.split("://", 1)[1].partition("/")
    found = MirrorTree(SAMPLE).find(host, "/" + path)
    assert found is not None, url
    return found.read_bytes()


def in_paragraph_text(page: bytes) -> int:
    """A place in the text of the article's first paragraph of words (a cut there stops in the middle of a sentence)."""
    end = page.index(b'class="post_body"')
    while True:
        end = page.index(b"</p>", end + 1)
        if not any(mark in page[end - 25 : end] for mark in (b"<", b">")):
            return end - 25


def after_first_paragraph(page: bytes) -> int:
    """Just after the ``</p>`` of the article's first paragraph (a cut there stops on a whole tag)."""
    return page.index(b"</p>", page.index(b'class="post_body"')) + 4


# -- the server -------------------------------------------------------------------------------------------------------


class CuttingServer:
    """The bundled sample on raw sockets: every page whole with its ``Content-Length``, but those in ``cuts``
    (mirror path -> how, and how many bytes are sent; None: all of them). ``hits`` counts the requests per path."""

    def __init__(self) -> None:
        self.tree = MirrorTree(SAMPLE)
        self.cuts: dict[str, tuple[str, int | None]] = {}
        self.hits: Counter[str] = Counter()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def cut(self, url: str, how: str, keep: int | None) -> None:
        self.cuts["/" + url.split("://", 1)[1]] = (how, keep)

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed: the test is over
                return
            threading.Thread(target=self.answer, args=(connection,), daemon=True).start()

    def answer(self, connection: socket.socket) -> None:
        with connection:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ", 2)[1].decode().partition("?")[0]
            host, _, rest = path.lstrip("/").partition("/")
            found = self.tree.find(host, "/" + rest) if host else None
            if found is None:
                connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            self.hits[path.rstrip("/")] += 1
            body = found.read_bytes()
            html = b"Content-Type: text/html; charset=utf-8\r\n"
            how, keep = self.cuts.get(path.rstrip("/"), ("whole", None))
            sent = body[:keep] if keep is not None else body
            if how == "length":  # the length of the whole page, then the connection closes
                connection.sendall(b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (html, len(body), sent))
            elif how == "chunked":  # no terminating chunk
                connection.sendall(b"HTTP/1.1 200 OK\r\n%sTransfer-Encoding: chunked\r\n\r\n" % html)
                connection.sendall(b"%x\r\n%s\r\n" % (len(sent), sent))
            elif how == "close":  # HTTP/1.0: no length, the body ends with the connection
                connection.sendall(b"HTTP/1.0 200 OK\r\n%s\r\n%s" % (html, sent))
            else:
                connection.sendall(b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (html, len(body), body))


@contextmanager
def cutting_server() -> Iterator[CuttingServer]:
    server = CuttingServer()
    thread = threading.Thread(target=server.serve, name="cutting-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.listener.close()
        thread.join(timeout=5)


def crawl(db: str, server: CuttingServer, *options: str) -> None:
    done = run_cli("--db", db, "crawl", "caliber", "--mirror", server.url, *options)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]


def articles(db: str) -> dict[str, Article]:
    with session(db) as s:
        return {a.url: a for a in s.scalars(select(Article))}


def snapshot_count(db: str, url: str) -> int:
    with session(db) as s:
        stmt = select(func.count()).select_from(Snapshot).join(Article).where(Article.url == url)
        return int(s.scalar(stmt) or 0)


def fetch_rejects(db: str) -> dict[str, str]:
    with session(db) as s:
        return {r.url: r.reason for r in s.scalars(select(Reject).where(Reject.stage == "fetch"))}


# -- crawls -----------------------------------------------------------------------------------------------------------


def test_a_cut_transfer_is_a_failed_fetch_each_way_it_is_cut(tmp_path: Path) -> None:
    """A length larger than what came and a chunked body without its end fail in Scrapy (DOWNLOAD_FAIL_ON_DATALOSS);
    a body without a length that stops mid-sentence came as a whole response, and was archived half-written. Each is
    fetched three times (RETRY_TIMES 2), then quarantined with its reason; a page sent whole without a length is an
    article as any other."""
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    think_tank = sample_page(THINK_TANK)
    assert cut_short(think_tank[: in_paragraph_text(think_tank)]) == "the page stops in the middle of its text"
    with cutting_server() as server:
        server.cut(FORUM, "length", len(sample_page(FORUM)) // 2)
        server.cut(SHIPPING, "chunked", len(sample_page(SHIPPING)) // 2)
        server.cut(THINK_TANK, "close", in_paragraph_text(think_tank))
        server.cut(LACHIN, "close", None)
        crawl(db, server)
        hits = {url: server.hits["/" + url.split("://", 1)[1]] for url in (FORUM, SHIPPING, THINK_TANK, LACHIN)}
    archived = articles(db)
    assert FORUM not in archived and SHIPPING not in archived and THINK_TANK not in archived
    assert hits == {FORUM: 3, SHIPPING: 3, THINK_TANK: 3, LACHIN: 1}
    rejects = fetch_rejects(db)
    assert (rejects[FORUM], rejects[SHIPPING], rejects[THINK_TANK]) == (DATA_LOSS, DATA_LOSS, CUT_IN_TEXT)
    paragraphs = archived[LACHIN].body_text.split("\n\n")
    assert len(paragraphs) == 4 and paragraphs[-1].endswith("never expected to see their native villages again.")
    stats = runs(db)[-1].stats
    assert stats["aggregator/incomplete_responses"] == 3
    assert stats["retry/reason_count/aggregator.truncation.IncompleteResponse"] == 2
    assert stats["retry/reason_count/scrapy.exceptions.ResponseDataLossError"] == 4


def test_a_re_fetch_cut_short_never_replaces_the_archived_version(tmp_path: Path) -> None:
    """Archived whole, then fetched again (``--refresh``) cut each way: every archived version stays, with its one
    snapshot, not withdrawn. Cut after a whole tag (no length), the page is no certain cut by itself; its archived
    version, which ends its document, says it is one."""
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    lachin, budget = sample_page(LACHIN), sample_page(BUDGET)
    assert cut_short(budget[: after_first_paragraph(budget)]) is None
    with cutting_server() as server:
        crawl(db, server)
        before = articles(db)
        server.cut(LACHIN, "close", in_paragraph_text(lachin))
        server.cut(BUDGET, "close", after_first_paragraph(budget))
        server.cut(KALBAJAR, "length", len(sample_page(KALBAJAR)) // 2)
        crawl(db, server, "--refresh")
    after = articles(db)
    for url in (LACHIN, BUDGET, KALBAJAR):
        assert after[url].body_text == before[url].body_text, url
        assert after[url].withdrawn_at is None, url
        assert snapshot_count(db, url) == 1, url
    rejects = fetch_rejects(db)
    assert (rejects[LACHIN], rejects[BUDGET], rejects[KALBAJAR]) == (CUT_IN_TEXT, CUT_AFTER_A_TAG, DATA_LOSS)
    second = runs(db)[-1].stats
    assert second.get("aggregator/articles_updated", 0) == 0
    assert second["aggregator/incomplete_pages"] == 1


# -- where a document stops -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [LACHIN, BUDGET, "https://caliber.az/en/category/karabakh"])
def test_a_page_cut_anywhere_before_its_end_is_told_unless_it_stops_on_a_whole_tag(url: str) -> None:
    page = sample_page(url)
    end = page.lower().index(b"</body")
    assert cut_short(page) is None and ends_document(page)
    for keep in range(1, end):
        cut = page[:keep]
        assert cut_short(cut) is not None or cut.rstrip().endswith(b">"), keep
    assert all(cut_short(page[:keep]) is None for keep in range(end + len(b"</body"), len(page) + 1))
    # A page that leaves out its optional </body></html> is whole: it stops on its last element's tag.
    without = page[:end].rstrip() + b"\n"
    assert not ends_document(without) and cut_short(without) is None


@pytest.mark.parametrize(
    ("page", "why"),
    [
        (b"<html><head><script>if (a < b && c > d) { load(", "the page stops inside its <script>"),
        (b"<html><head><style>p > a { color: red }", "the page stops inside its <style>"),
        (b"<p>Text.</p><!-- counter > 3 ", "the page stops inside a comment"),
        (b'<p>Text.</p><a href="/en/post', "the page stops inside a tag"),
        ("<p>Текст.</p><p>Половина предлож".encode(), "the page stops in the middle of its text"),
        (b"<p>Text.</p><p>Whole.</p>\n", None),
        (b'<script>document.write("<script src=x></" + "script>")</script><p>Whole.</p>', None),
        ("<p>Whole.</p><p>Half".encode("utf-16"), None),  # not read: the tests are on ASCII markup
        (b"", None),
    ],
)
def test_where_a_document_stops(page: bytes, why: str | None) -> None:
    assert cut_short(page) == why


# -- the middleware and the pipeline, alone ---------------------------------------------------------------------------


@pytest.fixture
def middleware() -> CutShortMiddleware:
    crawler = get_crawler(CaliberSpider)
    crawler.spider = CaliberSpider.from_crawler(crawler)
    crawler.stats.open_spider()
    return CutShortMiddleware.from_crawler(crawler)


def test_the_middleware_retries_a_cut_page_then_fails_it(middleware: CutShortMiddleware) -> None:
    request = Request(LACHIN, meta={"some": "meta"})
    page = sample_page(LACHIN)
    cut = HtmlResponse(LACHIN, body=page[: in_paragraph_text(page)], flags=["partial"], request=request)
    again = middleware.process_response(request, cut)
    assert isinstance(again, Request) and again.url == LACHIN and again.dont_filter
    assert again.meta["retry_times"] == 1 and again.meta["some"] == "meta"
    spent = request.replace(meta={"retry_times": 2})
    with pytest.raises(IncompleteResponse) as failed:
        middleware.process_response(spent, cut)
    assert "the page stops in the middle of its text" in str(failed.value)
    with pytest.raises(IncompleteResponse):
        middleware.process_response(request.replace(meta={"dont_retry": True}), cut)
    # What it leaves alone: a body with a length (Scrapy judges those), a whole page, an error page, not HTML.
    whole = HtmlResponse(LACHIN, body=page, flags=["partial"], request=request)
    with_length = HtmlResponse(LACHIN, body=cut.body, request=request)
    error = HtmlResponse(LACHIN, body=cut.body, status=500, flags=["partial"], request=request)
    feed = XmlResponse(LACHIN, body=b"<rss><channel><item><title>Half", flags=["partial"], request=request)
    for response in (whole, with_length, error, feed):
        assert middleware.process_response(request, response) is response
    # A body Twisted knows to be incomplete, handed on because a request switched Scrapy's own failure off: any kind.
    lost = XmlResponse(LACHIN, body=b"<rss><channel><item><title>Half", flags=["dataloss"], request=request)
    with pytest.raises(IncompleteResponse, match="fewer bytes than its Content-Length"):
        middleware.process_response(spent, lost)
    assert middleware.crawler.stats.get_value("aggregator/incomplete_responses") == 4


def stored(n: int, raw: bytes, **changes: Any) -> ArticleItem:
    item = ArticleItem(
        source="caliber",
        url=f"https://caliber.az/post/story-{n}",
        canonical_url=f"https://caliber.az/post/story-{n}",
        language="ru",
        title=f"Заголовок {n}",
        body_html="<p>Первый абзац.</p><p>Второй абзац.</p>",
        body_text="Первый абзац.\n\nВторой абзац.",
        published_raw="01 Марта 2026 14:00",
        raw_body=raw,
        raw_encoding="utf-8",
    )
    for key, value in changes.items():
        setattr(item, key, value)
    return item


WHOLE = b"<html><body><p>\xd0\x9f</p></body></html>"
CUT = b"<html><body><p>\xd0\x9f</p>"


def test_the_pipeline_keeps_an_archived_version_that_ends_its_document(archive: Archive, db_url: str) -> None:
    archive.save([stored(1, WHOLE), stored(2, CUT)])
    pipeline = CompleteVersionPipeline(None, db_url)
    shorter = {"body_html": "<p>Первый абзац.</p>", "body_text": "Первый абзац."}
    assert pipeline.process_item(stored(1, CUT, **shorter)).body_text == "Первый абзац."  # no crawl: no archive read
    pipeline.open_spider()
    try:
        refused = pipeline.process_item(stored(1, CUT, **shorter, linked_url="https://caliber.az/post/1"))
        assert isinstance(refused, FetchFailure)
        assert (refused.url, refused.reason, refused.http_status) == (
            "https://caliber.az/post/story-1", CUT_AFTER_A_TAG, None,
        )  # fmt: skip
        assert refused.linked_url == "https://caliber.az/post/1"
        # What passes: the same content (the store counts it unchanged), a page that ends its document, an article
        # not archived yet, one whose archived page never had the end tags either.
        for item in (
            stored(1, CUT),
            stored(1, WHOLE, **shorter),
            stored(3, CUT, **shorter),
            stored(2, CUT, **shorter),
        ):
            assert pipeline.process_item(item) is item
    finally:
        pipeline.close_spider()
