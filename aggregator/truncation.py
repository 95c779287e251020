"""Pages a server cut short: a transfer that ends before the document does is a failed fetch, not an article.

A transfer gets cut in three ways, and each was tried against a local server (tests/test_truncated_pages.py):

- The server announces a ``Content-Length`` and closes the connection before sending that much, or it sends a
  chunked body and closes without the terminating chunk. Twisted knows the body is incomplete, and Scrapy fails the
  download with ``ResponseDataLossError`` (``DOWNLOAD_FAIL_ON_DATALOSS``, on by default, pinned in our settings):
  retried (``RETRY_TIMES``), then the spider's errback records a failed fetch, "ResponseDataLossError: Scrapy
  couldn't get a complete response", which archives nothing and withdraws nothing. Were that failure switched off
  (the setting, or a request's ``download_fail_on_dataloss``), Scrapy would hand the cut body on flagged
  ``dataloss``: ``CutShortMiddleware`` fails it the same way.
- The server sends no length (HTTP/1.0, or ``Connection: close`` and neither header) and closes mid-document. The
  body ends where the connection closed, whole or not: Scrapy hands it on flagged ``partial``, which every body so
  delimited gets, and nothing in the transfer tells a cut one from a whole one. Without the check below, the first
  half of the page was archived as the article, and replaced a complete archived version on a re-fetch.

So for the third way the document is read (``cut_short``): a page that holds no ``</body>`` or ``</html>`` and ends
where no complete document can (inside a tag, a comment or a script, or in the middle of its text) was cut.
``CutShortMiddleware`` fetches such a page again, as Scrapy retries a transfer it knows to be cut, and once the
retries are spent fails it with its reason (``IncompleteResponse``), which the spider's errback records as a failed
fetch. A page without ``</html>`` that ends on a complete tag is not judged cut: real pages omit the optional end
tags, and a whole new article is not refused on that alone; a re-fetched one whose archived version ends its
document is not let replace it (``pipelines.complete``).
"""

from __future__ import annotations

import re
from typing import Any, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response

_DOCUMENT_END = re.compile(rb"</(?:body|html)(?![a-z0-9-])", re.IGNORECASE)
_TAIL = 4096
"""Where a page's ``</body>`` and ``</html>`` are looked for first: its last bytes, where nearly every page has them."""
_RAW_TEXT = (b"script", b"style", b"textarea", b"title")
"""Elements whose content is text up to their end tag: a document that opens one and never closes it was cut."""
_WHITESPACE = b" \t\n\r\f"
CLOSE_DELIMITED = "partial"
"""The flag Scrapy's HTTP/1.1 handler gives a response whose body ended with its connection (Twisted's
``PotentialDataLoss``): no ``Content-Length``, not chunked, so the transfer cannot tell whether it is whole."""
DATA_LOSS = "dataloss"
"""The flag of a response Twisted knows to be incomplete, which Scrapy hands on instead of failing it only where
``DOWNLOAD_FAIL_ON_DATALOSS`` (or a request's ``download_fail_on_dataloss``) is off."""


def ends_document(body: bytes) -> bool:
    """Whether the page holds its ``</body>`` or ``</html>`` end tag: all of its body was sent, whatever comes after.

    On bytes, for the encodings that write ASCII markup as ASCII (every one a news page uses but UTF-16)."""
    start = max(0, len(body) - _TAIL)
    return _DOCUMENT_END.search(body, start) is not None or (start > 0 and _DOCUMENT_END.search(body) is not None)


def cut_short(body: bytes) -> str | None:
    """Why a page that holds no end of its document was cut short: where it stops, no complete document can; None
    for a page that ends its body (``ends_document``), or stops where a complete one may (after a whole tag).

    A complete document never ends inside a tag, a comment, or an element whose text runs to its end tag (a script,
    a style, a title); and one that leaves out its optional ``</body></html>`` still ends on its last element's tag,
    not in the middle of a sentence."""
    if ends_document(body):
        return None
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:1024]:
        return None  # UTF-16, or no text at all: the tests below read ASCII markup
    text = body.rstrip(_WHITESPACE)
    if not text:
        return None  # nothing at all: validation refuses a page without a title or a body
    lowered = text.lower()
    for name in _RAW_TEXT:
        if lowered.rfind(b"<" + name) > lowered.rfind(b"</" + name):
            return f"the page stops inside its <{name.decode()}>"
    if text.rfind(b"<!--") > text.rfind(b"-->"):
        return "the page stops inside a comment"
    if text.rfind(b"<") > text.rfind(b">"):
        return "the page stops inside a tag"
    if not text.endswith(b">"):
        return "the page stops in the middle of its text"
    return None


class IncompleteResponse(IgnoreRequest):
    """A page whose transfer ended before its document did, fetched again as often as retries allow: the spider's
    errback records it as a failed fetch with this reason (an ``IgnoreRequest``, which Scrapy logs no traceback for:
    the retry's "Gave up retrying" line says it)."""


class CutShortMiddleware:
    """Downloader middleware: an HTML page delivered without a length (``CLOSE_DELIMITED``) whose document was cut
    short (``cut_short``) is fetched again, and fails as an ``IncompleteResponse`` once the retries are spent; so
    does any response delivered although its transfer is known to be incomplete (``DATA_LOSS``: a setting or a
    request switched Scrapy's own failure off), whatever it holds.

    Placed after Scrapy's decompression (590), which it needs to read the page, and before its retry (550), which
    never sees a response it would retry: the retry is asked for here, with Scrapy's own ``get_retry_request``
    (``RETRY_TIMES``, ``max_retry_times`` and ``dont_retry`` as for any retry; counted under ``retry/``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.retry = crawler.settings.getbool("RETRY_ENABLED")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Any:
        flags = response.flags
        if not flags or not 200 <= response.status < 300:
            return response
        if DATA_LOSS in flags:
            error = IncompleteResponse(
                "incomplete response: the connection closed before the body the server announced had come (fewer "
                "bytes than its Content-Length, or a chunked body without its last chunk)"
            )
        elif CLOSE_DELIMITED in flags and isinstance(response, HtmlResponse) and (why := cut_short(response.body)):
            error = IncompleteResponse(
                f"incomplete response: the connection closed mid-document ({why}, and the server sent no length)"
            )
        else:
            return response
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("aggregator/incomplete_responses")
        spider = spider or self.crawler.spider
        if self.retry and not request.meta.get("dont_retry") and spider is not None:
            again = get_retry_request(request, spider=spider, reason=error)
            if again is not None:
                return again
        raise error
