"""Pages whose bytes are not in the encoding they declare.

Scrapy decodes a page with, in order: its byte-order mark, the Content-Type header's charset, its ``<meta charset>``,
then a guess. Browsers do the same, so a wrong header makes the page unreadable for everyone, and sites get it
right as a rule. The exception is the server's default charset: an old site kept in windows-1251, behind a server
configured to add ``charset=utf-8`` to every page, says so in its ``<meta charset>`` while its header says
otherwise, and decoded by the header every Cyrillic letter becomes U+FFFD. The reverse (a legacy charset declared
for a page written in UTF-8) gives mojibake with no U+FFFD at all.

``true_encoding`` works out which one the bytes are in:

- a page declared UTF-8 whose bytes are not UTF-8 (more than a stray broken character) is read with the encoding
  its ``<meta charset>`` names, when that is another one;
- a page declared in a legacy single-byte encoding whose non-ASCII bytes are all valid UTF-8 is read as UTF-8:
  Cyrillic or Azerbaijani text in windows-1251/1252/1254 is never valid UTF-8 by chance.

``CharsetMiddleware`` applies it to every HTML response of a crawl, so the spiders, the archive's copy (stored with
the encoding it was read with) and a later re-extraction all read the same text; ``html_response`` builds a response
for a stored or saved page the same way. A page it cannot mend (declared UTF-8, not UTF-8, no other charset
named) keeps its U+FFFD, and validation refuses it (``pipelines/validate.py``), so no garbled text is archived.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Self, TypeVar, cast

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.statscollectors import StatsCollector
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

from aggregator.html import page_encoding

logger = logging.getLogger(__name__)

CORRECTED_STAT = "aggregator/charset_corrected"

_MULTI_BYTE = ("utf-16", "utf-32")

R = TypeVar("R", bound=Response)


def true_encoding(response: TextResponse) -> str | None:
    """The encoding ``response``'s body is really in, when it is not the one it would be decoded with; else None."""
    body = response.body
    if not body or body.isascii() or read_bom(body)[0] is not None:
        return None
    declared = resolve_encoding(page_encoding(response)) or ""
    if declared == "utf-8":
        # Only a <meta charset> naming another encoding can mend such a page: the usual page (its <meta> says UTF-8
        # or nothing) is not decoded here at all, which would cost ~20 us on a 30 KiB page.
        named = html_body_declared_encoding(body)
        other = resolve_encoding(named) if named else None
        if not other or other == "utf-8" or other.startswith(_MULTI_BYTE):
            return None
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return None  # valid UTF-8 after all: the header is right and the <meta> is stale
        if _mostly_utf8(body):
            return None  # a UTF-8 page with a broken character or two: better read as what it mostly is
        return other
    if declared.startswith(_MULTI_BYTE) or b"\x00" in body:
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "utf-8"


def _mostly_utf8(body: bytes) -> bool:
    """Whether the invalid sequences of a body that is not valid UTF-8 are few next to its valid non-ASCII
    characters (a truncated character in a UTF-8 page), not most of them (a legacy-encoded page)."""
    text = body.decode("utf-8", "replace")
    broken = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return broken * 10 < non_ascii - broken


def with_true_encoding(response: R) -> R:
    """``response``, or the same response decoded with the encoding its bytes are really in."""
    if not isinstance(response, HtmlResponse):
        return response
    found = true_encoding(response)
    if found is None:
        return response
    logger.info(
        "%s: decoded as %s, the encoding its bytes are in, not as the %s it declares",
        response.url,
        found,
        page_encoding(response),
    )
    return cast(R, response.replace(encoding=found))


def html_response(url: str, body: bytes, headers: Mapping[str, str] | None = None) -> HtmlResponse:
    """The HTML response a crawl would have handed its spider for this page (a stored or saved one)."""
    return with_true_encoding(HtmlResponse(url=url, body=body, headers=dict(headers or {})))


class CharsetMiddleware:
    """Downloader middleware: an HTML page whose bytes are not in the encoding it declares is decoded with the
    one they are in (counted in ``aggregator/charset_corrected``)."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        corrected = with_true_encoding(response)
        if corrected is not response:
            self.stats.inc_value(CORRECTED_STAT)
        return corrected
