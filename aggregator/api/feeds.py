"""RSS 2.0 feeds of the archive: the latest articles, each linking to its re-published page."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from xml.etree import ElementTree as ET

from aggregator.html import http_url

ATOM = "http://www.w3.org/2005/Atom"
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
    self_url: str,
    home_url: str,
    articles: Sequence[Any],
    page_url: Callable[[int], str],
) -> bytes:
    """The feed's XML. ``articles`` are full rows, newest first; ``page_url(id)`` is the article page's address."""
    ET.register_namespace("atom", ATOM)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    title = f"{site_name}: {source_name}" if source_name else site_name
    sub_element(channel, "title", title)
    sub_element(channel, "link", home_url)
    sub_element(
        channel,
        "description",
        f"Latest articles re-published by {site_name}" + (f" from {source_name}" if source_name else ""),
    )
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
        lead = f"<p>{_escape(article.attribution_line)}</p>" if article.attribution_line else ""
        # A link only to a web address (an older archive may hold another as a page's canonical link).
        web = http_url(article.url, article.url)
        source_link = f'<p><a href="{_escape(web)}">{_escape(web)}</a></p>' if web else ""
        sub_element(item, "description", lead + article.body_html + source_link)
    xml: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return xml


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
