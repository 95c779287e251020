"""Sitemaps of the site's article pages, for search engines: the sitemaps protocol (sitemaps.org) and Google News'.

- ``/sitemap.xml``: a sitemap index naming the news sitemap and one sitemap per ``CHUNK`` article ids (the protocol
  allows 50,000 URLs a file); a chunk is a range of the primary key, so every file is one indexed read at any
  archive size, and a URL stays in the same file as the archive grows.
- ``/sitemaps/{n}.xml``: the pages of the shown articles with ids ``n * CHUNK + 1`` to ``(n + 1) * CHUNK``, each
  with its ``lastmod`` (when the archived copy last changed).
- ``/sitemap-news.xml``: Google News' sitemap, the articles published in the last ``NEWS_HOURS`` (at most
  ``NEWS_LIMIT``, newest first), each with the publication's name and language, its date and title.
- ``/robots.txt`` names the index, and keeps crawlers out of the API and the search pages.

Withdrawn articles are left out of all of them, as from every list the site shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from aggregator.api.feeds import sub_element
from aggregator.present import utc_iso

SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS = "http://www.google.com/schemas/sitemap-news/0.9"
CHUNK = 50_000
"""Article ids a sitemap file covers (the protocol's limit of URLs a file)."""
NEWS_HOURS = 48
NEWS_LIMIT = 1_000
"""Google News reads articles of the last two days, and at most 1,000 URLs a news sitemap."""


def _document(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode()


def sitemap_index(files: Sequence[str]) -> bytes:
    """The index naming each sitemap file (absolute URLs)."""
    root = ET.Element("sitemapindex", {"xmlns": SITEMAP})
    for url in files:
        sub_element(sub_element(root, "sitemap"), "loc", url)
    return _document(root)


def chunk_count(highest_id: int) -> int:
    """How many ``CHUNK``-id files the archive's ids need (none for an empty archive)."""
    return (highest_id + CHUNK - 1) // CHUNK


def url_set(rows: Sequence[Any], page_url: Callable[[int], str]) -> bytes:
    """The sitemap of ``rows`` (id, updated_at): each article page's address and when it last changed.

    Written as text, not as an ElementTree: a file of 50,000 pages took 0.3 s to build and serialise as a tree.
    The address is escaped (its host comes from the request); the time is ISO 8601 digits."""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP}">']
    parts += [
        f"<url><loc>{escape(page_url(row.id))}</loc><lastmod>{utc_iso(row.updated_at)}</lastmod></url>" for row in rows
    ]
    parts.append("</urlset>")
    return "".join(parts).encode()


def news_sitemap(rows: Sequence[Any], page_url: Callable[[int], str], site_name: str) -> bytes:
    """Google News' sitemap of ``rows`` (id, title, language, published_at)."""
    ET.register_namespace("news", NEWS)
    root = ET.Element("urlset", {"xmlns": SITEMAP})
    for row in rows:
        url = sub_element(root, "url")
        sub_element(url, "loc", page_url(row.id))
        news = sub_element(url, f"{{{NEWS}}}news")
        publication = sub_element(news, f"{{{NEWS}}}publication")
        sub_element(publication, f"{{{NEWS}}}name", site_name)
        sub_element(publication, f"{{{NEWS}}}language", row.language or "ru")
        sub_element(news, f"{{{NEWS}}}publication_date", utc_iso(row.published_at))
        sub_element(news, f"{{{NEWS}}}title", row.title)
    return _document(root)


def robots_txt(sitemap_url: str) -> str:
    return f"User-agent: *\nDisallow: /api/\nDisallow: /search\n\nSitemap: {sitemap_url}\n"
