"""RSS 2.0 feeds of the archive: the latest articles, each linking to its re-published page.

A feed says its language (``<language>``), which feed readers and aggregators file and filter feeds by, when it has
one: an edition's feed (``?language=az``) or the feed of a source that writes in one language. A feed of several
languages (every source's, or a source that publishes in Russian and Azerbaijani) names none for the whole channel,
as RSS 2.0 has it for the language "the channel is written in", rather than a wrong one; each item names its own
(``<dc:language>``, the Dublin Core element RSS has no element of its own for), whatever the channel says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from xml.etree import ElementTree as ET

from aggregator.html import http_url

ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/elements/1.1/"
# Characters XML 1.0 cannot carry at all, even escaped: a page's stray control character would break the feed.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def sub_element(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = _text(text)
    return element


def rss_feed(
    *,
    site_name: str,
    source_name: str | None,
    language: str | None,
    edition: bool = False,
    self_url: str,
    home_url: str,
    articles: Sequence[Any],
    page_url: Callable[[int], str],
) -> bytes:
    """The feed's XML. ``articles`` are full rows, newest first; ``page_url(id)`` is the article page's address;
    ``language`` the channel's, None for a feed of several; ``edition``: the feed is that language's edition (its
    title says which, so that a reader subscribed to two editions tells them apart)."""
    ET.register_namespace("atom", ATOM)
    ET.register_namespace("dc", DC)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    title = f"{site_name}: {source_name}" if source_name else site_name
    title += f" ({language})" if language and edition else ""
    sub_element(channel, "title", title)
    sub_element(channel, "link", home_url)
    sub_element(
        channel,
        "description",
        f"Latest articles re-published by {site_name}" + (f" from {source_name}" if source_name else ""),
    )
    if language:
        sub_element(channel, "language", language)
    ET.SubElement(channel, f"{{{ATOM}}}link", {"href": self_url, "rel": "self", "type": "application/rss+xml"})
    newest = max((a.updated_at for a in articles), default=datetime.now(UTC))
    sub_element(channel, "lastBuildDate", format_datetime(newest.astimezone(UTC), usegmt=True))
    sub_element(channel, "generator", "aggregator")
    for article in articles:
        item = ET.SubElement(channel, "item")
        link = page_url(article.id)
        sub_element(item, "title", article.title)
        sub_element(item, "link", link)
        sub_element(item, "guid", link, isPermaLink="true")
        moment = article.published_at or article.archived_at
        sub_element(item, "pubDate", format_datetime(moment.astimezone(UTC), usegmt=True))
        if article.category:
            sub_element(item, "category", article.category)
        if article.language:
            sub_element(item, f"{{{DC}}}language", article.language)
        lead = f"<p>{_escape(article.attribution_line)}</p>" if article.attribution_line else ""
        # A link only to a web address (an older archive may hold another as a page's canonical link).
        web = http_url(article.url, article.url)
        source_link = f'<p><a href="{_escape(web)}">{_escape(web)}</a></p>' if web else ""
        sub_element(item, "description", lead + article.body_html + source_link)
    xml: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return xml


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
