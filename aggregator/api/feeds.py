"""RSS 2.0 and Atom 1.0 feeds of the archive: the latest articles, each linking to its re-published page.

A feed says its language (``<language>``), which feed readers and aggregators file and filter feeds by, when it has
one: an edition's feed (``?language=az``) or the feed of a source that writes in one language. A feed of several
languages (every source's, or a source that publishes in Russian and Azerbaijani) names none for the whole channel,
as RSS 2.0 has it for the language "the channel is written in", rather than a wrong one; each item names its own
(``<dc:language>``, the Dublin Core element RSS has no element of its own for), whatever the channel says.

The Atom feeds hold the same entries (RFC 4287): the language is ``xml:lang``, on the feed where it has one and on each
entry; each entry's author is the outlet that wrote it (its name and home page, with the article's own address as
``<link rel="via">``), the feed's the site that re-publishes them.

An article's cover is its item's or entry's ``<media:content url="..." medium="image"/>`` (Media RSS), in both formats:
what feed readers show as the item's picture. Not an RSS ``<enclosure>``, which must give the file's length in bytes
and its MIME type: the archive has neither (it keeps the cover's address and never fetches the picture), and a
made-up ``length="0"`` with a type guessed from the address (covers are served as WebP behind ``.jpg`` names, or from
addresses without an extension) would state what is not known, and podcast clients take an enclosure for the item's
media, to download. Media RSS asks for the address alone and says that it is a picture; news sites' feeds give their
items' pictures so, and feed libraries read it (feedparser: ``media_content``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from xml.etree import ElementTree as ET

from aggregator import present
from aggregator.html import http_url

ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/elements/1.1/"
MEDIA = "http://search.yahoo.com/mrss/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"
# Characters XML 1.0 cannot carry at all, even escaped: a page's stray control character would break the feed.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def sub_element(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {name: _text(value) for name, value in attributes.items()})
    if text is not None:
        element.text = _text(text)
    return element


@dataclass(frozen=True, slots=True)
class Channel:
    """What a feed holds and says of itself, in either format."""

    site_name: str
    source_name: str | None
    language: str | None
    """The channel's language; None for a feed of several."""
    edition: bool
    """The feed is that language's edition: its title says which, so that a reader subscribed to two editions tells
    them apart."""
    self_url: str
    home_url: str
    articles: Sequence[Any]
    """Full rows, newest first."""
    page_url: Callable[[int], str]
    """An article page's address by its id."""


def rss_feed(feed: Channel) -> bytes:
    """The RSS 2.0 feed's XML."""
    ET.register_namespace("atom", ATOM)
    ET.register_namespace("dc", DC)
    ET.register_namespace("media", MEDIA)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    sub_element(channel, "title", _title(feed))
    sub_element(channel, "link", feed.home_url)
    sub_element(channel, "description", _subtitle(feed))
    if feed.language:
        sub_element(channel, "language", feed.language)
    ET.SubElement(channel, f"{{{ATOM}}}link", {"href": feed.self_url, "rel": "self", "type": RSS_TYPE})
    newest = max((a.updated_at for a in feed.articles), default=datetime.now(UTC))
    sub_element(channel, "lastBuildDate", format_datetime(newest.astimezone(UTC), usegmt=True))
    sub_element(channel, "generator", "aggregator")
    for article in feed.articles:
        item = ET.SubElement(channel, "item")
        link = feed.page_url(article.id)
        sub_element(item, "title", article.title)
        sub_element(item, "link", link)
        sub_element(item, "guid", link, isPermaLink="true")
        # The date the article was published, when its page gave one. Its archive time is not that: RSS's pubDate is
        # optional, so an undated item has none (a reader shows when it first saw the item), where the archive time
        # in its place read as the article's date. Atom's entries say their <updated>, which the format requires.
        if article.published_at is not None:
            sub_element(item, "pubDate", format_datetime(article.published_at.astimezone(UTC), usegmt=True))
        if article.category:
            sub_element(item, "category", article.category)
        if article.language:
            sub_element(item, f"{{{DC}}}language", article.language)
        _cover(item, article)
        sub_element(item, "description", _item_html(article))
    xml: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return xml


def atom_feed(feed: Channel, outlets: Mapping[str, tuple[str, str]]) -> bytes:
    """The Atom 1.0 feed of the same articles as ``rss_feed``. ``outlets``: each source key's name and home page, for
    the entries' authors (a key missing from it is its own name, with no address)."""
    ET.register_namespace("media", MEDIA)
    language = feed.language
    attributes = {"xmlns": ATOM} | ({XML_LANG: language} if language else {})
    root = ET.Element("feed", attributes)
    # The feed's address is its id: one per feed and edition, and the same for as long as the site keeps the address.
    sub_element(root, "id", feed.self_url)
    sub_element(root, "title", _title(feed))
    sub_element(root, "subtitle", _subtitle(feed))
    newest = max((a.updated_at for a in feed.articles), default=datetime.now(UTC))
    sub_element(root, "updated", present.utc_iso(newest))
    edition = {"hreflang": language} if language else {}
    home = {"rel": "alternate", "type": "text/html", "href": feed.home_url} | edition
    sub_element(root, "link", **home)
    sub_element(root, "link", rel="self", type=ATOM_TYPE, href=feed.self_url)
    # The feed's author is the site (Atom wants one for an empty feed too); each entry names the outlet that wrote it.
    _person(root, "author", feed.site_name, feed.home_url)
    sub_element(root, "generator", "aggregator")
    for article in feed.articles:
        entry = ET.SubElement(root, "entry", {XML_LANG: article.language} if article.language else {})
        link = feed.page_url(article.id)
        sub_element(entry, "id", link)
        sub_element(entry, "title", article.title)
        sub_element(entry, "updated", present.utc_iso(article.updated_at))
        if article.published_at:
            sub_element(entry, "published", present.utc_iso(article.published_at))
        name, homepage = outlets.get(article.source, (article.source, ""))
        _person(entry, "author", name, http_url(homepage, homepage))
        sub_element(entry, "link", rel="alternate", type="text/html", href=link)
        web = http_url(article.url, article.url)
        if web:  # where the article was first published: its source link
            sub_element(entry, "link", rel="via", type="text/html", href=web)
        if article.category:
            sub_element(entry, "category", term=_text(article.category))
        _cover(entry, article)
        sub_element(entry, "summary", present.description(article.body_text), type="text")
        sub_element(entry, "content", _item_html(article), type="html")
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml


def _title(feed: Channel) -> str:
    """A feed's title: the site's, and the source's for one source's feed; an edition's says which (a reader
    subscribed to two editions tells them apart)."""
    title = f"{feed.site_name}: {feed.source_name}" if feed.source_name else feed.site_name
    return title + (f" ({feed.language})" if feed.language and feed.edition else "")


def _subtitle(feed: Channel) -> str:
    source = f" from {feed.source_name}" if feed.source_name else ""
    return f"Latest articles re-published by {feed.site_name}{source}"


def _person(parent: ET.Element, tag: str, name: str, uri: str | None) -> None:
    """An Atom person construct: a name, and the address when there is a web one."""
    person = ET.SubElement(parent, tag)
    sub_element(person, "name", name)
    if uri:
        sub_element(person, "uri", uri)


def _cover(parent: ET.Element, article: Any) -> None:
    """The article's cover as Media RSS's ``<media:content>`` (see the module's docstring): a web address only (an
    archive written before the crawl refused others may hold another)."""
    cover = http_url(article.cover_image_url or "", article.cover_image_url)
    if cover:
        sub_element(parent, f"{{{MEDIA}}}content", url=cover, medium="image")


def _item_html(article: Any) -> str:
    """An item's HTML: the attribution line, the body, and the source link."""
    lead = f"<p>{_escape(article.attribution_line)}</p>" if article.attribution_line else ""
    # A link only to a web address (an older archive may hold another as a page's canonical link).
    web = http_url(article.url, article.url)
    source_link = f'<p><a href="{_escape(web)}">{_escape(web)}</a></p>' if web else ""
    return str(lead + article.body_html + source_link)


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
