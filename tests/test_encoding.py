"""Pages whose bytes are in another encoding than they declare (aggregator/encoding.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

from aggregator.encoding import CORRECTED_STAT, CharsetMiddleware, html_response, true_encoding
from aggregator.items import ArticleItem
from aggregator.mirror import serve_mirror
from pipelines.base import Rejected
from pipelines.validate import ValidatePipeline
from tests.conftest import SAMPLE, run_cli

RU = "<p>В Шеки открылся международный фестиваль шелка: мастера из девяти стран.</p>"
AZ = "<p>Şəkidə beynəlxalq ipək festivalı açılıb: doqquz ölkədən ustalar gəlib.</p>"
META_1251 = '<meta charset="windows-1251">'


def response(body: bytes, content_type: str | None, cls: type[TextResponse] = HtmlResponse) -> TextResponse:
    headers = {"Content-Type": content_type} if content_type else {}
    return cls(url="https://caliber.az/post/x", body=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "content_type", "found"),
    [
        # The server's default charset over a legacy page that names its own in <meta charset>.
        ((META_1251 + RU).encode("cp1251"), "text/html; charset=utf-8", "cp1251"),
        ((META_1251 + RU).encode("cp1251"), "text/html; charset=UTF8", "cp1251"),
        # A legacy charset declared for a page written in UTF-8: its non-ASCII bytes are all valid UTF-8.
        (RU.encode(), "text/html; charset=windows-1251", "utf-8"),
        (AZ.encode(), "text/html; charset=iso-8859-1", "utf-8"),
        (("<meta charset='windows-1254'>" + AZ).encode(), "text/html", "utf-8"),
    ],
)
def test_a_page_in_another_encoding_than_it_declares_is_read_in_its_own(
    body: bytes, content_type: str, found: str
) -> None:
    page = response(body, content_type)
    assert true_encoding(page) == found
    mended = html_response(page.url, body, {"Content-Type": content_type})
    assert mended.encoding == found
    assert "\ufffd" not in mended.text
    assert ("Шеки" in mended.text) or ("Şəkidə" in mended.text)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (RU.encode(), "text/html; charset=utf-8"),  # the usual page
        (b"<p>plain ASCII</p>", "text/html; charset=windows-1251"),  # nothing to tell the encodings apart
        ((META_1251 + RU).encode("cp1251"), "text/html"),  # declared by <meta> only: Scrapy reads it right
        ((META_1251 + RU).encode("cp1251"), "text/html; charset=windows-1251"),
        (RU.encode("cp1251"), "text/html; charset=utf-8"),  # not UTF-8, and nothing names another encoding
        ((META_1251 + RU).encode(), "text/html; charset=utf-8"),  # valid UTF-8: the header is right, the <meta> stale
        # A UTF-8 page with a truncated character: still read as UTF-8, whatever its <meta> says.
        ((META_1251 + RU).encode() + b"\xd0", "text/html; charset=utf-8"),
        (b"\xef\xbb\xbf" + RU.encode(), "text/html; charset=windows-1251"),  # a byte-order mark is the last word
        (RU.encode("utf-16-le"), "text/html; charset=utf-16"),
        (b"", "text/html; charset=utf-8"),
    ],
)
def test_a_page_in_the_encoding_it_declares_is_left_alone(body: bytes, content_type: str) -> None:
    page = response(body, content_type)
    assert true_encoding(page) is None
    assert html_response(page.url, body, {"Content-Type": content_type}).encoding == page.encoding


def test_the_middleware_mends_html_responses_counts_them_and_leaves_the_rest() -> None:
    crawler = get_crawler()
    assert crawler.stats is not None
    middleware = CharsetMiddleware.from_crawler(crawler)
    request = Request("https://caliber.az/post/x")
    body = (META_1251 + RU).encode("cp1251")
    mended = middleware.process_response(request, response(body, "text/html; charset=utf-8"))
    assert isinstance(mended, HtmlResponse)
    assert mended.encoding == "cp1251" and "Шеки" in mended.text
    assert mended.url == request.url and mended.body == body  # the archive keeps the bytes as fetched
    assert crawler.stats.get_value(CORRECTED_STAT) == 1
    usual = response(RU.encode(), "text/html; charset=utf-8")
    assert middleware.process_response(request, usual) is usual
    feed = response(RU.encode(), "application/rss+xml; charset=windows-1251", XmlResponse)
    assert middleware.process_response(request, feed) is feed  # XML declares its encoding its own way
    assert crawler.stats.get_value(CORRECTED_STAT) == 1


def article(title: str, body_text: str) -> ArticleItem:
    return ArticleItem(
        source="caliber",
        language="ru",
        url="https://caliber.az/post/x",
        title=title,
        body_html=f"<p>{body_text}</p>",
        body_text=body_text,
        raw_encoding="utf-8",
    )


def test_validation_refuses_garbled_text_but_not_a_stray_replacement_character() -> None:
    validate = ValidatePipeline(get_crawler().stats)
    garbled = RU.encode("cp1251").decode("utf-8", "replace")
    with pytest.raises(Rejected) as refused:
        validate.process_item(article("Заголовок", garbled))
    assert refused.value.reason.startswith("undecodable text:")
    assert "read as utf-8" in refused.value.reason
    with pytest.raises(Rejected):
        validate.process_item(article(garbled[:40], "Текст статьи " * 3))
    one_broken = "Текст статьи, в котором один символ сломан: \ufffd. " * 3
    assert validate.process_item(article("Заголовок", one_broken)).title == "Заголовок"


def test_a_page_refused_as_undecodable_is_archived_by_a_retry_in_its_real_encoding(tmp_path: Path) -> None:
    """A crawl refuses the windows-1251 page that names no encoding but the header's utf-8; the operator who knows
    the site's encoding retries it with ``--charset``."""
    slug = "post/v-sheki-otkrylsya-festival-shelka.html"
    page = (SAMPLE / "caliber.az" / slug).read_bytes()
    overlay = tmp_path / "no-meta"
    (overlay / "caliber.az" / "post").mkdir(parents=True)
    (overlay / "caliber.az" / slug).write_bytes(page.replace(b'<meta charset="windows-1251">\n', b""))
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with serve_mirror(SAMPLE, overlays=(overlay,)) as mirror:
        crawled = run_cli("--db", db, "crawl", "caliber", "--mirror", mirror)
    assert "Traceback" not in crawled.stderr
    url = "https://caliber.az/post/v-sheki-otkrylsya-festival-shelka"
    refused = [r for r in json.loads(run_cli("--db", db, "rejects", "list", "--json").stdout) if r["url"] == url]
    assert len(refused) == 1 and refused[0]["reason"].startswith("undecodable text:"), refused
    reject_id = str(refused[0]["id"])
    again = run_cli("--db", db, "rejects", "retry", reject_id)  # read as before: still garbled
    assert again.returncode == 1 and "undecodable text" in again.stderr
    assert run_cli("--db", db, "rejects", "retry", reject_id, "--charset", "no-such-code").returncode == 2
    mended = run_cli("--db", db, "rejects", "retry", reject_id, "--charset", "windows-1251")
    assert mended.returncode == 0, mended.stderr
    article_id = re.search(r"archived as article (\d+)", mended.stdout)
    assert article_id is not None
    shown = json.loads(run_cli("--db", db, "articles", "show", article_id.group(1), "--json").stdout)
    assert shown["title"] == "В Шеки открылся международный фестиваль шелка"
    assert shown["published_at"].startswith("2025-05-14T13:20")
