"""The generic spider: any registered site without a module of its own, from its feeds and sitemaps.

Navigation: each entry URL is a feed (RSS/Atom) or a sitemap (``<urlset>``, Google News, ``<sitemapindex>``, gzipped
or not), told apart by its first element; articles are the source's links they list. A feed or sitemap that turns out
to be an HTML page is a counted failure with a quarantine row, not a crash.

Extraction (``GenericArticle``): the registry entry's CSS selectors first, then structured metadata (JSON-LD
``NewsArticle``/``Article``, also inside ``@graph`` and lists; OpenGraph; ``article:*`` meta tags; ``<time>``),
then the page's main text from trafilatura, for sites whose markup nobody has studied.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.html import (
    IMAGE_SRC_ATTRIBUTES,
    SRCSET_ATTRIBUTES,
    URL_ATTRIBUTES,
    collapse_whitespace,
    document_base,
    http_url,
    inline_text,
    node_text,
    resolve_urls,
    resolved_attribute,
)
from aggregator.items import ENTRY_META, ArticleItem, FetchFailure
from aggregator.markup import defused
from aggregator.sources import Source, site_source, source_for_url
from aggregator.urls import absolute
from pipelines.dates import states_time_of_day
from spiders.base import SourceSpider
from spiders.feeds import FEED_PUBLISHED_META, FeedError, content_type, entry_meta, feed_entries, with_announcement
from spiders.metadata import JSON_LD, _is_article, _json_ld_objects, published_metadata
from spiders.sitemaps import SitemapError, discovery_kind, parse_sitemap

_TITLE_SEPARATORS = re.compile(r"\s+[|–—:·-]\s+|\s*\|\s*")


ARTICLE_OG_TYPES = frozenset({"article", "news", "newsarticle"})
"""``og:type`` values that say "an article" (the protocol's is ``article``; some sites write the others)."""


def _language_code(value: str | None) -> str | None:
    """``ru-RU`` / ``ru_RU`` / ``RU`` -> ``ru``."""
    code = re.split(r"[-_]", (value or "").strip(), maxsplit=1)[0].lower()
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def _first_str(value: Any, *keys: str) -> str | None:
    """A string out of a JSON-LD value that may be a string, an object (``{"url": ...}``) or a list of either."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        return next((s for s in (_first_str(v, *keys) for v in value) if s), None)
    if isinstance(value, dict):
        return next((s for s in (_first_str(value.get(k), *keys) for k in keys) if s), None)
    return None


class GenericArticle:
    """One article page of a site we have no module for -> ArticleItem. Pure: no network, settings or state."""

    JSON_LD = JSON_LD
    OG = 'meta[property^="og:"], meta[name^="og:"], meta[property^="article:"], meta[name^="article:"]'
    TWITTER_IMAGE = 'meta[name="twitter:image"], meta[property="twitter:image"]'
    CANONICAL = "link[rel=canonical]"
    H1 = "h1"
    TIME = "time"
    # a printed date without <time>: the first element whose class says it is one, holding a digit
    DATE_CLASSES = "[class*=date], [class*=time], [itemprop=datePublished]"
    MIN_MAIN_TEXT = 60
    """Characters below which trafilatura's "main text" is a page's leftovers (a date line under a video player),
    not an article: no body, so the page is refused rather than archived empty."""
    # trafilatura: precision over recall (a re-publisher would rather lose a stray line than print a menu); bold and
    # italics kept, as the site spiders keep them (without, a bold lead or a stressed word reads as any other)
    TRAFILATURA_OPTIONS: dict[str, Any] = {  # noqa: RUF012 - read only
        "output_format": "html",
        "include_comments": False,
        "include_tables": True,
        "include_images": True,
        "include_links": True,
        "include_formatting": True,
        "favor_precision": True,
        "with_metadata": False,
        "deduplicate": False,
    }

    def __init__(self, response: TextResponse, fetched_at: datetime | None = None, source: Source | None = None):
        self.response = response
        self.fetched_at = fetched_at or datetime.now(UTC)
        self.source = source or source_for_url(response.url) or site_source(response.url)
        self.selectors = self.source.selectors
        self.markup = defused(response.text, response.url)  # for lexbor and for trafilatura's lxml alike
        self.tree = LexborHTMLParser(self.markup)
        # What the page's relative addresses resolve against: its <base href>, else its own URL.
        self.base = document_base(self.tree, response.url)
        self.meta = self._meta_tags()
        self.ld = self._json_ld_article()

    # -- what the page states about itself -----------------------------------------------------------

    def _meta_tags(self) -> dict[str, str]:
        found: dict[str, str] = {}
        head = self.tree.head or self.tree.root
        if head is None:
            return found
        for node in head.css(f"{self.OG}, {self.TWITTER_IMAGE}"):
            key = (node.attrs.get("property") or node.attrs.get("name") or "").strip().lower()
            content = (node.attrs.get("content") or "").strip()
            if key and content and key not in found:
                found[key] = content
        return found

    def _json_ld_article(self) -> dict[str, Any]:
        """The first NewsArticle / Article object of the page's JSON-LD, or an empty dict."""
        for script in self.tree.css(self.JSON_LD):
            try:
                data = json.loads(script.text(deep=True) or "null")
            except ValueError:
                continue
            for obj in _json_ld_objects(data):
                if _is_article(obj) and obj.get("@type") != "WebPage":
                    return obj
        return {}

    @property
    def declared_not_article(self) -> bool:
        """The page says it is something else: an ``og:type`` other than article (a section front, the contact
        page: ``website``) and no JSON-LD article. Sitemaps list such pages beside the articles; a page that says
        nothing about itself is not judged here (the registry's ``article_urls`` pattern can tell)."""
        declared = self.meta.get("og:type", "").strip().lower()
        return bool(declared) and declared not in ARTICLE_OG_TYPES and not self.ld

    def _selected(self, field: str) -> LexborNode | None:
        """The element a configured selector names. A configured field comes from its selector only: one that no
        longer matches leaves the field empty, so a layout change shows (a refused or undated page), not hides."""
        selector = self.selectors.get(field)
        return self.tree.css_first(selector) if selector else None

    # -- fields --------------------------------------------------------------------------------------

    def site_names(self) -> set[str]:
        names = {self.source.name.lower(), *(d.lower() for d in self.source.domains)}
        if self.meta.get("og:site_name"):
            names.add(self.meta["og:site_name"].lower())
        return names

    def _without_site_name(self, title: str) -> str:
        """``Headline | Minval.az`` -> ``Headline``: the site's name glued to a headline is not the headline."""
        names = self.site_names()
        start, end = 0, len(title)
        changed = True
        while changed:  # "Site | Section | Headline | Site": cut site names at either end, separators and all
            changed = False
            separators = list(_TITLE_SEPARATORS.finditer(title, start, end))
            if separators and title[separators[-1].end() : end].strip().lower() in names:
                end, changed = separators[-1].start(), True
            elif separators and title[start : separators[0].start()].strip().lower() in names:
                start, changed = separators[0].end(), True
        return title[start:end].strip() or title

    def title(self) -> str | None:
        if "title" in self.selectors:
            return inline_text(self._selected("title"))
        raw = (
            _first_str(self.ld.get("headline"))
            or self.meta.get("og:title")
            or inline_text(self.tree.css_first(self.H1))
            or inline_text(self.tree.css_first("title"))
        )
        return self._without_site_name(" ".join(html.unescape(raw).split())) if raw else None

    def body(self) -> tuple[str | None, str | None]:
        selector = self.selectors.get("body")
        if selector:
            nodes = self.tree.css(selector)
            if not nodes:
                return None, None
            if self.base != self.response.url:
                for node in nodes:
                    resolve_urls(node, self.base)  # the cleanup resolves what is left against the page's URL
            inner = "".join(n.inner_html or "" for n in nodes)
            paragraphs = [t for n in nodes for t in (node_text(p) for p in n.css("p")) if t]
            return inner, "\n\n".join(paragraphs) or node_text(nodes[0])
        import trafilatura  # here: every crawl loads this module (the spider loader's), few use what it falls back on

        page, captions = self._page_for_trafilatura()
        extracted = trafilatura.extract(page, url=self.response.url, **self.TRAFILATURA_OPTIONS)
        if extracted:
            root = LexborHTMLParser(extracted).body
            if root is not None:
                for heading in root.css("h1"):  # the headline, which the item carries as its title
                    heading.decompose()
                _restore_figures(root, captions)
                paragraphs = [t for t in (node_text(p) for p in root.css("p, li, blockquote")) if t]
                text = "\n\n".join(paragraphs) or node_text(root)
                if text and len(text) >= self.MIN_MAIN_TEXT:
                    return root.inner_html, text
        article_body = _first_str(self.ld.get("articleBody"))
        if article_body:
            paragraphs = [" ".join(p.split()) for p in article_body.splitlines() if p.strip()]
            return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs), "\n\n".join(paragraphs)
        return None, None

    def _page_for_trafilatura(self) -> tuple[Any, dict[str, bool]]:
        """The page for trafilatura, its addresses absolute and each image's ``<figcaption>`` made a ``<p>``; and
        the captions' texts, each saying whether it follows its image.

        trafilatura resolves relative addresses itself, but against the page's URL whatever its ``<base href>``
        says, and a link's against the site's root even without one ("more.html" on ``/news/2026/a.html`` led to
        ``/more.html``): resolved here against the page's base, they reach it absolute and it leaves them so.

        trafilatura knows no ``<figcaption>``: it drops the element and its text, so a picture's caption and credit
        vanished from the body. As a paragraph by its image it is kept (or not) like the article's other paragraphs,
        and ``_restore_figures`` puts the two back in a ``<figure>``. Only the captions of images: a video's caption,
        once the player is gone, would be a line of text that tells nothing (and could pass for a short article).
        """
        import trafilatura

        tree = trafilatura.load_html(self.markup)
        if tree is None:
            return self.markup, {}
        _resolve_addresses(tree, self.base)
        captions: dict[str, bool] = {}
        for caption in tree.xpath("//figure[.//img]/figcaption"):
            text = " ".join(caption.text_content().split())
            if text:
                captions[text] = caption.getprevious() is not None
            caption.tag = "p"
        return tree, captions

    def published_raw(self) -> str | None:
        """The date as the page prints it for readers; the metadata's stamp when it prints none."""
        if "date" in self.selectors:
            selected = self._selected("date")
            return (node_text(selected) or selected.attrs.get("datetime")) if selected is not None else None
        scope = self.tree.body or self.tree.root
        if scope is None:
            return self.published_meta()
        node = scope.css_first(self.TIME)
        printed = node_text(node)
        stamp = node.attrs.get("datetime") if node is not None else None
        if not printed and stamp and states_time_of_day(stamp):
            printed = stamp
        if not printed:
            # An empty <time> whose stamp is a day alone ("2026-03-23") is no printed date: the date line readers
            # see, with its time, is looked for first, and the bare day is the last resort (the dates pipeline
            # takes the printed time when it falls on the metadata's day).
            printed = self._date_line(scope)
        return printed or stamp or self.published_meta()

    def _date_line(self, scope: Any) -> str | None:
        """The text of the first date-like element (``DATE_CLASSES``) with a digit in it after the page's first
        ``<h1>``, else before it: a site's header often prints today's date and the time ("15.09.2026 10:12 | Bakı:
        +24°C") above the headline, and the article's own date line comes after it; taken first, every article
        of the site was dated the day it was fetched."""
        first: str | None = None
        after_title = False
        for node in scope.css(f"h1, {self.DATE_CLASSES}"):  # in document order
            if node.tag == "h1":
                after_title = True
                continue
            text = node_text(node)
            if text and any(c.isdigit() for c in text):
                if after_title:
                    return text
                first = first or text
        return first

    def published_meta(self) -> str | None:
        return published_metadata(self.tree) or _first_str(self.ld.get("dateCreated"))

    def cover_image_url(self) -> str | None:
        if "cover_image" in self.selectors:
            selected = self._selected("cover_image")
            if selected is None:
                return None
            attrs = selected.attrs
            img = selected if selected.tag == "img" else selected.css_first("img")
            candidates = [attrs.get("content"), attrs.get("href")]
            if img is not None:
                candidates += [img.attrs.get(a) for a in IMAGE_SRC_ATTRIBUTES]
            # http(s) only: a lazy image's data: placeholder (or a javascript: address) gives way to the next one
            return next((url for c in candidates if (url := http_url(self.base, c))), None)
        url = (
            self.meta.get("og:image")
            or self.meta.get("og:image:url")
            or _first_str(self.ld.get("image"), "url", "contentUrl")
            or _first_str(self.ld.get("thumbnailUrl"))
            or self.meta.get("twitter:image")
        )
        return http_url(self.base, url)

    def category(self) -> str | None:
        if "category" in self.selectors:
            return node_text(self._selected("category"))
        return self.meta.get("article:section") or _first_str(self.ld.get("articleSection"))

    def language(self) -> str:
        """The page's declared language when the source publishes in it, else the source's first language."""
        root = self.tree.css_first("html")
        declared = (
            _language_code(root.attrs.get("lang") if root is not None else None)
            or _language_code(self.meta.get("og:locale"))
            or _language_code(_first_str(self.ld.get("inLanguage"), "alternateName", "name"))
        )
        languages = self.source.languages
        return declared if declared and (declared in languages or not languages) else languages[0]

    def canonical_url(self) -> str | None:
        head = self.tree.head
        node = head.css_first(self.CANONICAL) if head is not None else None
        href = (node.attrs.get("href") if node is not None else None) or self.meta.get("og:url")
        return absolute(self.base, href.strip()) if href and href.strip() else None

    def to_item(self) -> ArticleItem:
        headers = self.response.headers
        body_html, body_text = self.body()
        return ArticleItem(
            source=self.source.key,
            url=self.response.url,
            language=self.language(),
            canonical_url=self.canonical_url(),
            title=self.title(),
            body_html=body_html,
            body_text=body_text,
            published_raw=self.published_raw(),
            published_meta=self.published_meta(),
            cover_image_url=self.cover_image_url(),
            category=self.category(),
            fetched_at=self.fetched_at,
            http_status=self.response.status,
            etag=_header(headers, b"ETag"),
            last_modified=_header(headers, b"Last-Modified"),
            raw_body=self.response.body,
            raw_encoding=self.response.encoding,
        )


_ADDRESS_ATTRIBUTES = frozenset((*URL_ATTRIBUTES, *SRCSET_ATTRIBUTES))


def _resolve_addresses(tree: Any, base: str) -> None:
    """Every address attribute in an lxml tree (``aggregator.html.resolve_urls``'s) made absolute against ``base``."""
    for element in tree.iter():
        if not isinstance(element.tag, str):  # a comment or a processing instruction has no addresses
            continue
        attrib = element.attrib
        for name in _ADDRESS_ATTRIBUTES.intersection(attrib):
            value = attrib[name]
            resolved = resolved_attribute(name, value, base)
            if resolved != value:
                attrib[name] = resolved


def _neighbour(node: LexborNode, *, after: bool) -> LexborNode | None:
    """The node's sibling after it (or before it), past whitespace: trafilatura indents its output."""
    sibling = node.next if after else node.prev
    while sibling is not None and sibling.is_text_node and not (sibling.text_content or "").strip():
        sibling = sibling.next if after else sibling.prev
    return sibling


def _restore_figures(root: LexborNode, captions: dict[str, bool]) -> None:
    """Each caption paragraph next to its image, on the side the page had it, back in a ``<figure>`` with it as
    its ``<figcaption>`` (see ``GenericArticle._page_for_trafilatura``). A caption whose image trafilatura left
    out stays a paragraph: its words are still the article's."""
    if not captions:
        return
    for paragraph in root.css("p"):
        follows = captions.get(collapse_whitespace(paragraph.text(deep=True, separator="")))
        if follows is None:
            continue
        image = _neighbour(paragraph, after=not follows)
        if image is None or image.tag != "img":
            continue
        parts = [image.html or "", f"<figcaption>{paragraph.inner_html or ''}</figcaption>"]
        figure = LexborHTMLParser(f"<figure>{''.join(parts if follows else parts[::-1])}</figure>").css_first("figure")
        assert figure is not None  # the parser makes the element it is given
        paragraph.insert_before(figure)
        image.decompose()
        paragraph.decompose()


def _header(headers: Any, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value else None


class GenericSpider(SourceSpider):
    """Feeds and sitemaps in, article pages out. No ``name``: the spider loader makes one subclass per registry
    entry that has no module (``aggregator.spiderloader``), named after the entry's key."""

    extractor = GenericArticle

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """An entry URL or a sitemap an index named: a feed or a sitemap, whatever the URL looks like."""
        try:
            kind = discovery_kind(response.body)
        except SitemapError as exc:
            yield self.discovery_failed(response, str(exc))
            return
        if kind is None:
            html_page = isinstance(response, TextResponse) and b"<html" in response.body[:2048].lower()
            what = "an HTML page" if html_page else "no RSS, Atom or sitemap document"
            yield self.discovery_failed(response, f"not a feed or sitemap: {what}")
            return
        links: list[str] = []
        announced: dict[str, dict[str, str]] = {}  # a feed entry's link -> its request's meta (the entry's date)
        if kind == "sitemap":
            try:
                sitemap = parse_sitemap(response.body, response.url)
            except SitemapError as exc:
                yield self.discovery_failed(response, str(exc))
                return
            if sitemap.kind == "sitemapindex":
                self._count("sitemaps")
                for entry in sitemap.entries:
                    try:
                        if self.source.owns(entry.loc):
                            yield scrapy.Request(
                                entry.loc, callback=self.parse, errback=self.fetch_failed, meta={ENTRY_META: True}
                            )
                    except ValueError:  # see below
                        self._count("bad_links")
                return
            self._count("sitemaps")
            links = [entry.loc for entry in sitemap.entries]
            # A news sitemap's publication date, as a feed's: the last resort of a page that prints none.
            announced = {e.loc: {FEED_PUBLISHED_META: e.news_published} for e in sitemap.entries if e.news_published}
        else:
            try:
                entries = feed_entries(response.body, response.url, content_type(response))
            except FeedError as exc:
                yield self.discovery_failed(response, str(exc))
                return
            self._count("feeds")
            links = [entry.link for entry in entries]
            announced = {entry.link: entry_meta(entry) for entry in entries}
        pattern = self.source.article_pattern
        for link in dict.fromkeys(links):
            try:
                # Against the document's own URL: a feed or a sitemap has no <base>, and Scrapy's urljoin would look
                # for one in its text (decoding all of a sitemap to read 4 KiB, and taking a <base> quoted in an
                # entry's CDATA as the document's). The links are absolute already, from the feed's or sitemap's parse.
                url = absolute(response.url, link.strip())
                if not self.source.owns(url):
                    continue
                if pattern is not None and not pattern.search(url):
                    self._count("not_articles")  # the registry says what an article's URL looks like: not fetched
                    continue
                request = scrapy.Request(
                    url, callback=self.parse_article, errback=self.fetch_failed, meta=announced.get(link)
                )
            except ValueError:
                # An address no request can be made to ("https://minval.az:99999/news/1"): that one is skipped and
                # counted; raised, it ended the parse and every link after it in the sitemap or feed was lost.
                self._count("bad_links")
                continue
            yield request

    def parse_article(self, response: Response) -> Iterator[Any]:
        failure = self.not_html(response)
        if failure is not None:
            yield failure
            return
        assert isinstance(response, TextResponse)
        page = self.extractor(response, source=self.source)
        if page.declared_not_article:
            self._count("not_articles")  # a section front or a static page a sitemap listed: not archived
            self.logger.debug("%s: not an article (og:type %s)", response.url, page.meta.get("og:type"))
            return
        yield with_announcement(page.to_item(), response)

    def discovery_failed(self, response: Response, reason: str) -> FetchFailure:
        """A feed or sitemap that cannot be read: counted (``feed/not_a_feed``, as the feed spiders count it, which
        fails the source in the crawl summary) and quarantined with the reason."""
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("feed/not_a_feed")
        self.logger.error("%s: %s", response.url, reason)
        return FetchFailure(self.source.key, response.url, reason, response.status)

    def _count(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"aggregator/{key}")
