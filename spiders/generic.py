"""The generic spider: any registered site without a module of its own, from its feeds and sitemaps.

Navigation: each entry URL is a feed (RSS/Atom) or a sitemap (``<urlset>``, Google News, ``<sitemapindex>``, gzipped
or not), told apart by its first element; articles are the source's links they list. An HTML page given as one (a
home page) is followed to the feeds it declares; one that declares none is a counted failure with a quarantine row,
not a crash. Pages that are no article (their ``og:type``, a listing's shape: ``spiders.page_kinds``) are skipped.

Extraction (``GenericArticle``): the registry entry's CSS selectors first, then structured metadata (JSON-LD
``NewsArticle``/``Article``, also inside ``@graph`` and lists; OpenGraph; ``article:*`` meta tags; ``<time>``),
then the page's main text from trafilatura, for sites whose markup nobody has studied: read from the page without its
readers' comments and teaser blocks, and checked against the page's own text container (``spiders.page_layout``);
the date, the headline and a fallback cover are looked for in the article only, not in the page's header or sidebars.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import unquote, urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.html import (
    IMAGE_SRC_ATTRIBUTES,
    SRCSET_ATTRIBUTES,
    URL_ATTRIBUTES,
    collapse_whitespace,
    css,
    css_first,
    document_base,
    http_url,
    inline_text,
    is_inside,
    node_text,
    parse_page,
    resolve_urls,
    resolved_attribute,
)
from aggregator.items import EMPTY_LISTINGS, ENTRY_META, ArticleItem, FetchFailure
from aggregator.markup import defused
from aggregator.size_limits import DOCUMENT_META
from aggregator.sources import Source, site_source, source_for_url
from aggregator.text import written_language
from aggregator.timezones import zone
from aggregator.urls import absolute
from pipelines.dates import day_only, on_day, parse_date, states_time_of_day
from spiders.base import MAX_LINKS_SETTING, LinkCap, SourceSpider
from spiders.feeds import (
    DECLARED_BY_META,
    FEED_PUBLISHED_META,
    FeedEntry,
    FeedError,
    content_type,
    declared_feeds,
    entry_meta,
    feed_entries,
    with_announcement,
)
from spiders.metadata import (
    JSON_LD,
    _is_article,
    _json_ld_objects,
    breadcrumb_category,
    category_name,
    in_running_text,
    published_metadata,
)
from spiders.page_kinds import is_date_line, listed_articles, listing_shape
from spiders.page_layout import (
    Container,
    captions_as_figures,
    common_ancestor,
    covered,
    element_path,
    keep_times_in_text,
    main_container,
    node_at,
    prune_furniture,
    squashed,
    wrap_loose_text,
)
from spiders.sitemaps import LinkTally, SitemapEntry, SitemapError, discovery_kind, parse_sitemap

_TITLE_SEPARATORS = re.compile(r"\s+[|–—:·»-]\s+|\s*\|\s*")
"""What parts a headline from the site's name in a ``<title>``: "Headline | Site", "Headline » Site - tagline" (DLE)."""


ARTICLE_OG_TYPES = frozenset({"article", "news", "newsarticle"})
"""``og:type`` values that say "an article" (the protocol's is ``article``; some sites write the others)."""

FEED_ADDRESS = re.compile(r"rss|feed|atom|sitemap|\.xml$|\.rdf$", re.IGNORECASE)
"""A path that names a feed or a sitemap ("/rss", "/feed/", "/atom.xml", "/sitemap-news.xml"): an entry URL given as
one that answers with an HTML page is a feed that moved or broke, not a listing to read."""


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
    PUBLISHED = "time.published, .entry-date.published, [itemprop=datePublished], time[pubdate]"
    """The element a page marks as its publication date (WordPress's ``time.entry-date.published``, schema.org's
    microdata): before any other ``<time>`` of the article, which may be its "updated" one."""
    # a printed date without <time>: the first element whose class says it is one, holding a digit
    DATE_CLASSES = "[class*=date], [class*=time], [itemprop=datePublished]"
    SITE_CHROME = "nav, aside, [role=navigation], [role=banner], [role=contentinfo], [role=complementary]"
    """What only a whole page holds, never an article's own part of it: navigation and sidebars."""
    MIN_MAIN_TEXT = 60
    """Characters below which trafilatura's "main text" is a page's leftovers (a date line under a video player),
    not an article: no body, so the page is refused rather than archived empty."""
    MIN_COVERAGE = 0.5
    """The share of the page's text container (``spiders.page_layout.main_container``) that trafilatura's text must
    hold to be taken: below it, trafilatura has read something else (a Bitrix page's teasers and comments, while the
    article was loose text beside them), and the container is the body."""
    CLEARLY_LONGER = 1.5
    """How much longer than the page's visible text the JSON-LD ``articleBody`` (or a Next.js page's data) must be to
    be taken instead: a page that renders only the lead in its HTML and the rest in a script."""
    MIN_LANGUAGE_LETTERS = 200
    """Letters of body text from which its script is evidence of its language (``language``); a two-line body in
    another script than the page declares may be a quotation."""
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

    # -- where the article is on the page ------------------------------------------------------------

    @cached_property
    def pruned(self) -> LexborHTMLParser:
        """The page without its readers' comments and its teaser blocks (``spiders.page_layout.prune_furniture``):
        where the headline, the article's text, its date and its pictures are looked for. Both carry dates, names
        and text of their own, each read as the article's before. ``tree`` stays the page as it came, for the
        registry's selectors and the page's metadata."""
        tree = LexborHTMLParser(self.markup)
        prune_furniture(tree)
        return tree

    @cached_property
    def lead(self) -> str | None:
        """The start of the article's text as the page states it apart from its body (JSON-LD ``articleBody``,
        ``og:description``, the description meta tag), squashed (``page_layout.squashed``): what tells the
        article's container from a longer comment thread."""
        head = self.tree.head
        description = css_first(head, 'meta[name="description"]') if head is not None else None
        for text in (
            _first_str(self.ld.get("articleBody")),
            self.meta.get("og:description"),
            description.attrs.get("content") if description is not None else None,
        ):
            start = squashed(html.unescape(text or ""))[:40]
            if len(start) == 40:
                return start
        return None

    @cached_property
    def container(self) -> Container | None:
        """The element of ``pruned`` that holds the article's text as the page's blocks show it."""
        return main_container(self.pruned, self.lead)

    @cached_property
    def article_scopes(self) -> list[LexborNode]:
        """Where on the page (``pruned``) the article is, narrowest first: the ``<article>`` holding the headline;
        else the container of its text, the ``<article>`` holding that, then the element holding it and the
        headline, unless that one holds the site's navigation or sidebars too (1C-Bitrix prints the headline in the
        site's header: what holds both is the whole page), and when nothing ties the two, the container's parent
        and grandparent. Empty when the page shows no headline and no text.

        The date and the cover picture are looked for here only: a header's clock, a "most read" column's dates, a
        related item's "Вчера, 18:30" are no date of the article's, and no date is better than a wrong one."""
        headline = self.headline
        article = _article_ancestor(headline) if headline is not None else None
        if article is not None:
            return [article]
        container = self.container.node if self.container is not None else None
        scopes: list[LexborNode] = []
        if container is not None:
            scopes.append(container)
            if (holder := _article_ancestor(container)) is not None:
                scopes.append(holder)
        both = None
        if headline is not None:
            both = common_ancestor(headline, container) if container is not None else headline.parent
            if both is not None and self._whole_page(both):
                both = None
        if both is not None:
            if all(both.mem_id != s.mem_id for s in scopes):
                scopes.append(both)
        elif container is not None:
            # Nothing ties the headline to the text (none found, or only the whole page holds both): the date line
            # is beside the text, or beside the block holding it; not further out, where the sidebars are.
            ancestor = container.parent
            for _ in range(2):
                if ancestor is None or self._whole_page(ancestor):
                    break
                if all(ancestor.mem_id != s.mem_id for s in scopes):
                    scopes.append(ancestor)
                ancestor = ancestor.parent
        return scopes

    def _whole_page(self, node: LexborNode) -> bool:
        """Whether ``node`` is the page rather than the article: the ``<body>``, or an element holding navigation, a
        sidebar (``SITE_CHROME``) or the site's header and footer."""
        if node.tag in ("html", "body", "-document"):
            return True
        if css_first(node, self.SITE_CHROME) is not None:
            return True
        return css_first(node, "header") is not None and css_first(node, "footer") is not None

    # -- fields --------------------------------------------------------------------------------------

    def site_names(self) -> set[str]:
        """The site's names, lower-cased: the registry's, its other names ("AzXəbər" beside "AzXeber.az"), its
        domains and its ``og:site_name``."""
        names = {
            self.source.name.lower(),
            *(d.lower() for d in self.source.domains),
            *(n.lower() for n in self.source.other_names),
        }
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
        """The JSON-LD headline, else ``og:title``, else the headline element, else ``<title>``, the site's name cut
        off. A headline ending in "..." or "…" that a later one starts with gives way to it: SEO plugins cut the
        JSON-LD headline at 110 characters, and the article's title is the whole one."""
        if "title" in self.selectors:
            return inline_text(self._selected("title"))
        raws = (
            _first_str(self.ld.get("headline")),
            self.meta.get("og:title"),
            inline_text(self.headline),
            inline_text(self.tree.css_first("title")),
        )
        titles = [self._without_site_name(" ".join(html.unescape(raw).split())) for raw in raws if raw]
        if not titles:
            return None
        first = titles[0]
        stem = re.sub(r"\s*(?:\.{3}|…)$", "", first)
        if stem != first:
            return next((t for t in titles[1:] if len(t) > len(stem) and t.lower().startswith(stem.lower())), first)
        return first

    @cached_property
    def headline(self) -> LexborNode | None:
        """The page's headline element: its first ``<h1>`` that is not the site's name or logo, the first inside an
        ``<article>`` if any is. An old DLE template prints its logo as an ``<h1>`` above the article's own: taken
        as the headline, every article of the site was titled "DLE Новости". The site's header is no reason to
        reject one: 1C-Bitrix prints the article's ``<h1>`` there."""
        found = [h for h in css(self.pruned, self.H1) if inline_text(h) and not self._is_logo(h)]
        if len(found) > 1:
            # The brand part of <title> ("Headline » DLE Новости - новости Азербайджана"): a heading of it is the
            # site's name, when the page has another heading to take.
            brands = self._title_brands()
            found = [h for h in found if (inline_text(h) or "").lower() not in brands] or found
        in_article = [h for h in found if _article_ancestor(h) is not None]
        chosen = next(iter(in_article or found), None)
        if chosen is None:
            # No <h1> (apa.az prints the headline as an <h2>): the heading that reads as the page's stated title.
            stated = {t.casefold() for t in self._stated_titles()}
            chosen = next((h for h in css(self.pruned, "h2, h3") if (inline_text(h) or "").casefold() in stated), None)
        return chosen

    def _stated_titles(self) -> list[str]:
        """The headlines the page states in its metadata (JSON-LD, ``og:title``, ``<title>``), the site's name cut
        off."""
        raws = (
            _first_str(self.ld.get("headline")),
            self.meta.get("og:title"),
            inline_text(self.tree.css_first("title")),
        )
        return [self._without_site_name(" ".join(html.unescape(raw).split())) for raw in raws if raw]

    def _is_logo(self, heading: LexborNode) -> bool:
        """Whether an ``<h1>`` is the site's name or its logo: its text is one of the site's names, it (or its
        parent) is classed as a logo or brand, or it is a link to the home page and nothing else."""
        text = inline_text(heading) or ""
        if text.lower() in self.site_names():
            return True
        for node in (heading, heading.parent):
            if node is not None and _LOGO_WORDS.search(f"{node.attrs.get('class') or ''} {node.attrs.get('id') or ''}"):
                return True
        return any(self._home_page(a.attrs.get("href")) and inline_text(a) == text for a in css(heading, "a[href]"))

    def _home_page(self, href: str | None) -> bool:
        if not href or not href.strip():
            return False
        try:
            parts = urlsplit(absolute(self.base, href.strip()))
        except ValueError:
            return False
        return parts.path in ("", "/") and not parts.query and self.source.owns(parts.geturl())

    def _title_brands(self) -> set[str]:
        """The parts of ``<title>`` that are not its headline (the longest part), lower-cased."""
        parts = [p.strip() for p in _TITLE_SEPARATORS.split(inline_text(self.tree.css_first("title")) or "")]
        parts = [p for p in parts if p]
        if len(parts) < 2:
            return set()
        longest = max(parts, key=len)
        return {p.lower() for p in parts if p != longest}

    def body(self) -> tuple[str | None, str | None]:
        """The body's HTML and text: the registry's selector's elements, else the page's main text."""
        return self._body

    @cached_property
    def _body(self) -> tuple[str | None, str | None]:
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
        return self._main_text

    @cached_property
    def _main_text(self) -> tuple[str | None, str | None]:
        """The body of a page without a body selector: trafilatura's main text of the page without its furniture
        (``_prepared``), unless it leaves out most of the text container's (then the container's); and the JSON-LD
        ``articleBody`` or a Next.js page's data instead of either when clearly fuller (``_fuller``)."""
        import trafilatura  # here: every crawl loads this module (the spider loader's), few use what it falls back on

        prepared, container = self._prepared
        page, captions = self._page_for_trafilatura(prepared)
        extracted = trafilatura.extract(page, url=self.response.url, **self.TRAFILATURA_OPTIONS)
        found: tuple[str | None, str | None] = (None, None)
        if extracted:
            root = LexborHTMLParser(extracted).body
            if root is not None:
                self._drop_headline(root)
                _restore_figures(root, captions)
                paragraphs = [t for t in (node_text(p) for p in root.css("p, li, blockquote")) if t]
                text = "\n\n".join(paragraphs) or node_text(root)
                if text and len(text) >= self.MIN_MAIN_TEXT:
                    found = root.inner_html, text
        if container is not None and self.container is not None and self.container.length >= self.MIN_MAIN_TEXT:
            texts = self.container.texts
            missed = found[1] is None or covered(texts, found[1]) < self.MIN_COVERAGE
            # trafilatura's text holds the page's lead and the container's does not: the container is the other
            # text block of the page (a comment thread the pruning did not know), and trafilatura is right.
            lead = self.lead
            if missed and lead and found[1] and lead in squashed(found[1]) and lead not in squashed(" ".join(texts)):
                missed = False
            if missed:
                inner, text = self._container_body(container)
                if text and len(text) >= self.MIN_MAIN_TEXT:
                    found = inner, text
        return self._fuller(found)

    @cached_property
    def _prepared(self) -> tuple[LexborHTMLParser, LexborNode | None]:
        """``pruned`` once more, without the registry's boilerplate and with its loose text made paragraphs
        (``page_layout.wrap_loose_text``): the page trafilatura reads; and the text container in it.

        The boilerplate goes here, before trafilatura: the cleanup pipeline drops it from a body by its selectors,
        and trafilatura's output has no class or id left for them to match (a generic source's ``boilerplate`` did
        nothing)."""
        tree = self.pruned.clone()
        container = node_at(tree, element_path(self.container.node)) if self.container is not None else None
        scopes = self.article_scopes
        article = node_at(tree, element_path(scopes[-1])) if scopes else None
        body = tree.body
        if body is not None and self.source.boilerplate:
            for node in css(body, ",".join(self.source.boilerplate)):
                if container is None or not is_inside(container, node):
                    node.remove()
        # The article's date line is no line of its text: inside the text block (Bitrix prints it there, loose
        # beside the text), it became the body's first paragraph.
        printed, dated = self._printed_date
        if printed and dated is not None and len(node_text(dated) or "") <= _MAX_DATE_LINE:
            line = node_at(tree, element_path(dated))
            if line is not None and (container is None or not is_inside(container, line)):
                line.remove()
        # Before the loose text is made paragraphs: a "<span class="caption">" after an <img> beside line breaks
        # would be wrapped into one paragraph with the text around it.
        captions_as_figures(tree, article, self._another_page)
        wrap_loose_text(tree)
        keep_times_in_text(tree)
        return tree, container

    def _another_page(self, href: str) -> bool:
        """Whether a link leads to another page of the site (an article a teaser announces, an attachment page)."""
        target = http_url(self.base, href)
        if target is None:
            return False
        return self.source.owns(target) and target.split("#")[0] != self.response.url.split("#")[0]

    def _container_body(self, container: LexborNode) -> tuple[str | None, str | None]:
        """The container's HTML and its paragraphs' text, as a body selector's would be."""
        if self.base != self.response.url:
            resolve_urls(container, self.base)  # the cleanup resolves what is left against the page's URL
        self._drop_headline(container)
        paragraphs = [t for t in (node_text(p) for p in container.css("p, li, blockquote")) if t]
        return container.inner_html, "\n\n".join(paragraphs) or node_text(container)

    def _drop_headline(self, root: LexborNode) -> None:
        """The headline is the item's title, not a line of its body: an ``<h1>``, and a heading that repeats the
        title (a Bitrix detail page prints it again as an ``<h3>`` above the text)."""
        title = (self.title() or "").casefold()
        for heading in root.css("h1, h2, h3, h4, h5, h6"):
            if heading.tag == "h1" or (title and (inline_text(heading) or "").casefold() == title):
                heading.decompose()

    def _fuller(self, found: tuple[str | None, str | None]) -> tuple[str | None, str | None]:
        """``found``, unless the page's JSON-LD ``articleBody`` (or, failing that, its Next.js data) holds all of
        its text and clearly more (``CLEARLY_LONGER``): a page that renders only the lead as HTML and the article
        in a script. With no text at all, either one is the body."""
        current = found[1] or ""
        for alternative in (self._ld_body, self._next_data_body):
            text = alternative[1] if alternative is not None else None
            if alternative is None or not text:
                continue
            if not current:
                return alternative
            longer = len(text) >= self.CLEARLY_LONGER * len(current) and len(text) - len(current) >= 100
            if longer and covered([current], text) >= 0.8:
                return alternative
        return found

    @cached_property
    def _ld_body(self) -> tuple[str, str] | None:
        article_body = _first_str(self.ld.get("articleBody"))
        paragraphs = [" ".join(p.split()) for p in (article_body or "").splitlines() if p.strip()]
        if not paragraphs:
            return None
        return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs), "\n\n".join(paragraphs)

    @cached_property
    def _next_articles(self) -> list[dict[str, Any]]:
        """The objects of a Next.js page's ``__NEXT_DATA__`` whose title is the page's: the article's (the title is
        what ties an object to this article and not to a "most read" item beside it), in the data's order."""
        script = css_first(self.tree, "script#__NEXT_DATA__")
        try:
            data = json.loads(script.text(deep=True) or "null") if script is not None else None
        except ValueError:
            return []
        headlines = (
            self.title(),
            self.meta.get("og:title"),
            inline_text(self.headline),
            _first_str(self.ld.get("headline")),
        )
        titles = {squashed(t) for t in headlines if t}
        found: list[dict[str, Any]] = []
        pending: list[Any] = [data]
        while pending:
            value = pending.pop()
            if isinstance(value, list):
                pending.extend(reversed(value))
            elif isinstance(value, dict):
                pending.extend(reversed(value.values()))
                if any(isinstance(value.get(k), str) and squashed(value[k]) in titles for k in _NEXT_TITLE_KEYS):
                    found.append(value)
        return found

    @property
    def _next_article(self) -> dict[str, Any] | None:
        """The first of ``_next_articles`` that names a category (``_NEXT_CATEGORY_KEYS``)."""
        return next((a for a in self._next_articles if any(a.get(k) for k in _NEXT_CATEGORY_KEYS)), None)

    @cached_property
    def _next_data_body(self) -> tuple[str, str] | None:
        """The article's text in a Next.js page's ``__NEXT_DATA__`` (a page rendered in the browser has nothing
        else): the longest string named like a body (``NEXT_BODY_KEYS``) of the article's objects
        (``_next_articles``)."""
        best = ""
        for value in self._next_articles:
            for key, text in value.items():
                if isinstance(text, str) and _NEXT_BODY_KEYS.fullmatch(key) and len(text) > len(best):
                    best = text
        if not best:
            return None
        if _HTML_TAG.search(best):
            root = LexborHTMLParser(best).body
            if root is None:
                return None
            paragraphs = [t for t in (node_text(p) for p in root.css("p, li, blockquote")) if t]
            body_html, text = root.inner_html or "", "\n\n".join(paragraphs) or node_text(root) or ""
        else:
            paragraphs = [" ".join(p.split()) for p in best.splitlines() if p.strip()]
            body_html, text = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs), "\n\n".join(paragraphs)
        return (body_html, text) if len(text) >= self.MIN_MAIN_TEXT else None

    def _page_for_trafilatura(self, prepared: LexborHTMLParser) -> tuple[Any, dict[str, bool]]:
        """The page for trafilatura (``prepared``), its addresses absolute and each image's ``<figcaption>`` made a
        ``<p>``; and the captions' texts, each saying whether it follows its image.

        trafilatura resolves relative addresses itself, but against the page's URL whatever its ``<base href>``
        says, and a link's against the site's root even without one ("more.html" on ``/news/2026/a.html`` led to
        ``/more.html``): resolved here against the page's base, they reach it absolute and it leaves them so.

        trafilatura knows no ``<figcaption>``: it drops the element and its text, so a picture's caption and credit
        vanished from the body. As a paragraph by its image it is kept (or not) like the article's other paragraphs,
        and ``_restore_figures`` puts the two back in a ``<figure>``. Only the captions of images: a video's caption,
        once the player is gone, would be a line of text that tells nothing (and could pass for a short article).
        """
        import trafilatura

        markup = prepared.html or self.markup
        tree = trafilatura.load_html(markup)
        if tree is None:
            return markup, {}
        _resolve_addresses(tree, self.base)
        captions: dict[str, bool] = {}
        for caption in tree.xpath("//figure[.//img]/figcaption"):
            text = " ".join(caption.text_content().split())
            if text:
                captions[text] = caption.getprevious() is not None
            caption.tag = "p"
            # An icon before the words ("<i class="fa fa-camera"></i> Foto: APA"): with it, trafilatura dropped the
            # whole caption. An element showing nothing goes; its tail, the words after it, stays.
            for empty in caption.xpath(".//*[not(self::br) and not(.//img) and not(normalize-space())]"):
                empty.drop_tree()
        for caption in tree.xpath("//figure[not(.//img)]/figcaption"):
            # Left in, trafilatura kept a video's caption as loose text, and the line passed for a short article.
            caption.drop_tree()
        return tree, captions

    def published_raw(self) -> str | None:
        """The date as the page prints it for readers, found in the article (``article_scopes``); the metadata's
        stamp when it prints none, and when what it prints is not the date the item is dated by: the dates pipeline
        takes the metadata's instant over a printed one, and a header's "Суббота, 5 декабря 2026" beside an article
        dated by its ``article:published_time`` read as the article's date to anyone looking (``_agrees``)."""
        if "date" in self.selectors:
            selected = self._selected("date")
            return (node_text(selected) or selected.attrs.get("datetime")) if selected is not None else None
        printed = self._printed_date[0]
        meta = self.published_meta()
        if printed and meta and printed != meta and not self._agrees(printed, meta):
            return meta
        return printed or meta

    @cached_property
    def _printed_date(self) -> tuple[str | None, LexborNode | None]:
        """The first date the article's scopes print, narrowest scope first, and the element that prints it: the
        element the page marks as its publication date (``PUBLISHED``), else its first ``<time>``, else its date
        line (``_date_line``). A page that shows neither a headline nor a text container is searched whole, as it
        always was."""
        root = self.pruned.body or self.pruned.root
        scopes = self.article_scopes or ([root] if root is not None else [])
        stamp: tuple[str | None, LexborNode | None] = (None, None)
        for scope in scopes:
            # a <time> inside a sentence of the text ("пройдет 15 октября") is a date the article tells of
            node = css_first(scope, self.PUBLISHED) or next(
                (t for t in css(scope, self.TIME) if not in_running_text(t)), None
            )
            printed = node_text(node) if node is not None and node.tag != "meta" else None
            found = (node.attrs.get("datetime") or node.attrs.get("content")) if node is not None else None
            if found and stamp[0] is None:
                stamp = found, node
            if not printed and found and states_time_of_day(found):
                printed = found
            if printed:
                return printed, node
            # An empty <time> whose stamp is a day alone ("2026-03-23") is no printed date: the date line readers
            # see, with its time, is looked for first, and the bare day is the last resort (the dates pipeline takes
            # the printed time when it falls on the metadata's day).
            line = self._date_line(scope)
            if line[0]:
                return line
        if stamp[0] is None:
            return self._between_headline_and_text()
        return stamp

    def _between_headline_and_text(self) -> tuple[str | None, LexborNode | None]:
        """A flat page's date line: the headline, the date and the text's container side by side in the ``<body>``
        (or in a block that also holds the site's navigation), where no scope of the article reaches the date. Only
        what stands between the two is looked at: a ``<time>``, or an element whose text is a date and nothing else
        ("05.12.2026 09:40"). The sidebars and the header, before the headline or after the text, stay out."""
        headline, container = self.headline, self.container
        if headline is None or container is None:
            return None, None
        parent = headline.parent
        if parent is None or container.node.parent is None or parent.mem_id != container.node.parent.mem_id:
            return None, None
        node = headline.next
        while node is not None and node.mem_id != container.node.mem_id:
            if node.tag == "time" or (node.tag not in ("-text", "-comment") and css_first(node, "a") is None):
                text = node_text(node)
                if text and is_date_line(text):
                    return text, node
                if node.tag == "time" and (stamp := (node.attrs.get("datetime") or "").strip()):
                    return stamp, node
            node = node.next
        return None, None

    def _agrees(self, printed: str, meta: str) -> bool:
        """Whether the printed date is the one the dates pipeline will date the item by, given the metadata's:
        the metadata's instant when it has a time of day (the printed one agrees when it is the same minute), the
        printed one on the metadata's day when that names a day only."""
        tz = zone(self.source.timezone)

        def read(text: str) -> datetime | None:
            return parse_date(text, timezone=self.source.timezone, now=self.fetched_at, languages=self.source.languages)

        stated = read(meta)
        if stated is None:
            return True  # the metadata's date cannot be read: the printed one is what dates the item
        shown = read(printed)
        if shown is None:
            return False
        if day_only(meta, stated, tz):
            return on_day(shown, stated, tz, or_utc=True)  # as pipelines.dates.page_instant takes it
        return abs((shown - stated).total_seconds()) < 60

    def _date_line(self, scope: LexborNode) -> tuple[str | None, LexborNode | None]:
        """The text of the first date-like element (``DATE_CLASSES``) with a digit in it after the headline, else
        before it: a site's header often prints today's date and the time ("15.09.2026 10:12 | Bakı: +24°C") above
        the headline, and the article's own date line comes after it; taken first, every article of the site was
        dated the day it was fetched."""
        headline = self.headline
        first: tuple[str | None, LexborNode | None] = (None, None)
        after_title = False
        for node in css(scope, f"h1, {self.DATE_CLASSES}"):  # in document order
            if node.tag == "h1":
                after_title = after_title or (headline is not None and node.mem_id == headline.mem_id)
                continue
            text = node_text(node)
            if text and any(c.isdigit() for c in text):
                if after_title:
                    return text, node
                first = first if first[0] else (text, node)
        return first

    def published_meta(self) -> str | None:
        """The metadata's date: the meta tags', the JSON-LD article's, else the ``<time datetime>`` of the article
        (the one it marks as published first), not of the page's header or sidebar."""
        scopes = self.article_scopes
        marked = next((n for s in scopes if (n := css_first(s, self.PUBLISHED)) is not None), None)
        scope = marked if marked is not None and marked.tag == "time" else (scopes[-1] if scopes else None)
        stamp = published_metadata(self.pruned, scope)
        if not stamp and marked is not None:
            stamp = (marked.attrs.get("datetime") or marked.attrs.get("content") or "").strip() or None
        return stamp or _first_str(self.ld.get("dateCreated"))

    def cover_image_url(self) -> str | None:
        """The registry's selector's picture; else the page's metadata's (``og:image``, JSON-LD, Twitter's); else
        the article's first picture that is a picture of it (``_content_image``)."""
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
        return http_url(self.base, url) or self._content_image()

    def _content_image(self) -> str | None:
        """The first ``<img>`` of the article (``article_scopes``) that shows it: not a logo, an icon, an avatar, a
        counter's pixel or a banner (by its class, id, address or size), nor an advertisement (a picture linking
        off the site); its real address, not a lazy image's ``data:`` placeholder. Never the page's elsewhere:
        the first picture of a page is its logo."""
        for scope in self.article_scopes:
            for img in css(scope, "img"):
                attrs = img.attributes
                words = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
                if _NOT_PICTURE.search(words.lower()) or any(
                    (size := (attrs.get(a) or "").strip()).isdigit() and int(size) < _MIN_PICTURE
                    for a in ("width", "height")
                ):
                    continue
                link = img.parent
                while link is not None and link.tag != "a" and link.mem_id != scope.mem_id:
                    link = link.parent
                href = link.attrs.get("href") if link is not None and link.tag == "a" else None
                if href and (target := http_url(self.base, href)) and not self.source.owns(target):
                    continue
                url = next((u for a in IMAGE_SRC_ATTRIBUTES if (u := http_url(self.base, attrs.get(a)))), None)
                if url and not _NOT_PICTURE.search(urlsplit(url).path.lower()):
                    return url
        return None

    def category(self) -> str | None:
        """The registry's selector's text; else the section the metadata states (``article:section``, JSON-LD
        ``articleSection``); else where a CMS prints it (``_printed_category``)."""
        if "category" in self.selectors:
            return node_text(self._selected("category"))
        return self.meta.get("article:section") or _first_str(self.ld.get("articleSection")) or self._printed_category()

    def _printed_category(self) -> str | None:
        """The category of a page whose metadata names none, where the page says it plainly, in this order: a
        labelled line of the article ("Категория: <a>Политика</a>", DLE's info line), the article's object in a
        Next.js page's data (its ``category``/``section``, ``_next_article``), the last step before the article in
        its breadcrumb (JSON-LD ``BreadcrumbList``, else the breadcrumb's links:
        ``spiders.metadata.breadcrumb_category``), and a link in the article's date line to the section its own
        address is in (DLE's "Сегодня, 14:35 | <a href="/obshestvo/">Общество</a>" on ``/obshestvo/2291-...``), else
        to a section of the site (DLE's info line on an address that names none: ``_date_line_category``), else
        the first category link (``rel="category"``) of the post's entry (WordPress's entry footer:
        ``_rel_category``). None otherwise: a menu's or a sidebar's sections are no article's, and a wrong category
        is worse than none (a home page's "Главная" or a news list's "Новости" is none: ``NOT_CATEGORIES``)."""
        titles = {t.casefold() for t in (self.title(), *self._stated_titles()) if t}
        return (
            self._labelled_category(titles)
            or self._next_category(titles)
            or breadcrumb_category(self.tree, titles, self._page_urls(), self._home_page)
            or self._date_line_category(titles)
            or self._rel_category(titles)
        )

    def _rel_category(self, titles: set[str]) -> str | None:
        """The first link marked as a category (``rel="category tag"``, WordPress's ``the_category()``) in the entry
        holding the headline, else the text (``_post_entry``): a theme prints the post's categories in its entry
        footer, after the text and apart from the date line ("Posted in <a rel="category tag">Siyasət</a>"). Not in
        a navigation or a sidebar inside the entry, nor in another post's entry inside it (a related post's card);
        a post's categories are listed by name, and the first is taken, as a plural label's first link is. The
        sidebar's Categories widget lists every category without ``rel``. A page whose markup marks no link so
        (``_REL_CATEGORY``) is not searched."""
        if not _REL_CATEGORY.search(self.markup):
            return None
        starts = (self.headline, self.container.node if self.container is not None else None)
        for entry in (_post_entry(start) for start in starts if start is not None):
            if entry is None:
                continue
            for link in css(entry, "a[rel~=category]"):
                if not _entry_own(link, entry):
                    continue
                name = category_name(inline_text(link), titles)
                if name:
                    return name
        return None

    def _page_urls(self) -> set[str]:
        return {u.split("#")[0].rstrip("/") for u in (self.response.url, self.canonical_url()) if u}

    def _labelled_category(self, titles: set[str]) -> str | None:
        """The link after a category's label ("Категория:", "Kateqoriya:", "Рубрика:") in the article."""
        # The widest of the article's scopes (the narrowest is its text, and DLE's info line is beside it): none
        # of them holds the site's navigation or sidebars, where a label could name another article's section.
        for scope in self.article_scopes[-1:]:
            for text in scope.traverse(include_text=True):
                if text.tag != "-text" or not _CATEGORY_LABEL.search(text.text_content or ""):
                    continue
                label = text
                # "<b>Категория:</b> <a>": the element showing the label alone, then the link after it
                while label.parent is not None and label.parent.tag in ("b", "strong", "span", "em", "i", "label"):
                    if not _CATEGORY_LABEL.fullmatch(collapse_whitespace(label.parent.text(deep=True, separator=" "))):
                        break
                    label = label.parent
                link = label.next
                while link is not None and link.tag in ("-text", "-comment") and not (link.text_content or "").strip():
                    link = link.next
                if link is not None and link.tag == "a":
                    return category_name(inline_text(link), titles)
        return None

    def _next_category(self, titles: set[str]) -> str | None:
        """The category the article's object in a Next.js page's data names: ``category`` (a name or an object
        with one), else ``section`` or ``rubric``; a list of categories only when it holds one."""
        article = self._next_article
        if article is None:
            return None
        for key in _NEXT_CATEGORY_KEYS:
            value = article.get(key)
            if isinstance(value, list):
                value = value[0] if len(value) == 1 else None
            name = _first_str(value, "name", "title")
            if name and (found := category_name(name, titles)):
                return found
        return None

    def _date_line_category(self, titles: set[str]) -> str | None:
        """The link in the article's printed date line (``_info_line``) to the folder the article's own address is
        in (``/obshestvo/`` on ``/obshestvo/2291-most.html``); else its first link to a section of the site
        (``_section_link``): DLE's info line prints the category unlabelled beside the date and the views
        ("13-01-2027, 16:40 | <a href="/iqtisadiyyat/">İqtisadiyyat</a> | 1 245") whatever the article's address,
        ``/5127-bazar.html`` on a site whose addresses name no category."""
        dated = self._printed_date[1]
        if dated is None:
            return None
        line = _info_line(dated)
        own = urlsplit(self.response.url)
        section: LexborNode | None = None
        for link in css(line, "a[href]"):
            target = http_url(self.base, link.attrs.get("href"))
            if target is None:
                continue
            parts = urlsplit(target)
            folder = parts.path.rstrip("/") + "/"
            if (
                (parts.netloc != own.netloc and not self.source.owns(target))
                or parts.query
                or folder == "/"
                or own.path.rstrip("/") == parts.path.rstrip("/")
            ):
                continue
            if own.path.startswith(folder):
                return category_name(inline_text(link), titles)
            if section is None and _section_link(link, parts.path, line):
                section = link
        return category_name(inline_text(section), titles) if section is not None else None

    def language(self) -> str:
        """The page's declared language when the source publishes in it, else the source's first language; but the
        language its body is written in (``written_language``) when that contradicts it and the source publishes
        in that one: a site's Russian edition built on its Azerbaijani template says ``lang="az"`` on every page,
        and its Russian articles were stored, listed and attributed as Azerbaijani."""
        root = self.tree.css_first("html")
        declared = (
            _language_code(root.attrs.get("lang") if root is not None else None)
            or _language_code(self.meta.get("og:locale"))
            or _language_code(_first_str(self.ld.get("inLanguage"), "alternateName", "name"))
        )
        languages = self.source.languages
        chosen = declared if declared and (declared in languages or not languages) else languages[0]
        written = written_language(self.body()[1] or "", self.MIN_LANGUAGE_LETTERS)
        return written if written and written != chosen and (written in languages or not languages) else chosen

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


def _info_line(dated: LexborNode) -> LexborNode:
    """The line a printed date is part of: the date's element widened while what holds it stays a short line
    (``_MAX_DATE_LINE``: the date, the time, a category, a view count) beside no headline, up to three levels
    ("<div class="finfo"><span class="fdate"><i></i> <a>13-01-2027, 16:40</a></span> <span class="fcat">...")."""
    line = dated
    for _ in range(3):
        parent = line.parent
        if parent is None or parent.tag in ("body", "html", "-document") or css_first(parent, "h1") is not None:
            break
        if len(node_text(parent) or "") > _MAX_DATE_LINE:
            break
        line = parent
    return line


def _section_link(link: LexborNode, path: str, line: LexborNode) -> bool:
    """Whether a link of an article's info line leads to a section of the site: a path of at most three words
    (``/siyaset/``, ``/category/kultura/``, ``/az/siyaset/``), none a number (a day's archive, ``/2027/01/13/``) or a
    file (``/print:5127.html``), none a folder of authors, tags or search (``_NOT_SECTIONS``); and neither the link
    nor what holds it in the line marked as an author's or a tag's (``rel``, ``_BYLINE_OR_TAGS`` classes), nor
    labelled as something else than a category ("Müəllif: <a>", "Теги: <a>")."""
    segments = [unquote(s).casefold() for s in path.split("/") if s]
    if not 1 <= len(segments) <= 3:
        return False
    if any(not _SECTION_WORD.fullmatch(s) or s.isdigit() or s in _NOT_SECTIONS for s in segments):
        return False
    rel = (link.attrs.get("rel") or "").lower().split()
    if "author" in rel or ("tag" in rel and "category" not in rel):
        return False
    node: LexborNode | None = link
    while node is not None and node.mem_id != line.mem_id:  # the line's own class names the whole line
        if _BYLINE_OR_TAGS.search((node.attrs.get("class") or "").lower()):
            return False
        node = node.parent
    label = _text_before(link, line)
    return not label.endswith(":") or bool(_CATEGORY_LABEL.search(label))


def _text_before(node: LexborNode, within: LexborNode) -> str:
    """The words right before ``node`` inside ``within`` (of its preceding sibling text, else its parent's), or
    an empty string."""
    current: LexborNode | None = node
    while current is not None and current.mem_id != within.mem_id:
        sibling = current.prev
        while sibling is not None:
            raw = sibling.text_content if sibling.tag == "-text" else sibling.text(deep=True, separator=" ")
            if text := collapse_whitespace(raw or ""):
                return text
            sibling = sibling.prev
        current = current.parent
    return ""


def _header(headers: Any, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value else None


_MAX_DATE_LINE = 80
"""Characters of a date line at most (date, time, a category or a view count beside them): an element classed as a
date holding more is some block the article is in, never taken out of it."""
_SECTION_WORD = re.compile(r"[^\W_][\w-]*")
"""A word of a section's path: letters, digits and dashes, no dot (a file: ``/5127-bazar.html``, ``/index.php``)."""
_NOT_SECTIONS = frozenset(
    {
        "tags", "tag", "teq", "teqler", "etiket", "hashtag", "xfsearch", "search", "axtar", "axtarış", "poisk",
        "user", "users", "author", "authors", "avtor", "muellif", "müəllif", "profile", "profil",
        "page", "rss", "feed", "lastnews", "newposts", "favorites", "catalog", "archive", "arxiv", "arhiv",
    }
)  # fmt: skip
"""Folders of a site that are no section: tags' pages (DLE's ``/tags/``, ``/xfsearch/``), authors' pages (DLE's
``/user/``, WordPress's ``/author/``), search, paging, feeds, archives: linked from an article's info line too."""
_BYLINE_OR_TAGS = re.compile(r"author|byline|user|tags?(?:$|[-_\s])")
"""Class words of an author's link or a tag list in an info line (``fauthor``, ``byline``, ``ftags``, ``tag-list``)."""
_LOGO_WORDS = re.compile(r"logo|brand|site-?title|site-?name", re.IGNORECASE)
"""The class or id words of a site's logo or name (WordPress's ``site-title``, ``site-branding``)."""
_NEXT_TITLE_KEYS = ("title", "headline", "name")
_NEXT_CATEGORY_KEYS = ("category", "section", "rubric", "categories")
_CATEGORY_LABEL = re.compile(
    r"(?:^|\W)(?:категори[яи]|рубрик[аи]|разделы?|kateqoriya(?:lar)?|bölmə(?:lər)?|rubrika(?:lar)?|categor(?:y|ies)"
    r"|sections?)\s*:\s*$",
    re.IGNORECASE,
)
"""A category's label as a CMS prints it before the link (DLE's "Категория: <a href="/politika/">Политика</a>");
searched for at the end of a text node ("14:35 | Категория: "), matched whole in an element holding it alone. Plural
too ("Рубрики:", "Kateqoriyalar:"): an article in several categories is listed under them, the first link its
category; unknown, the plural label ended a line's links ("Рубрики: <a>Культура</a>, <a>Общество</a>" in DLE's info
line gave "Общество", the first link refused as labelled with something else)."""
_REL_CATEGORY = re.compile(r"""rel\s*=\s*["']?(?:[^"'>]*\s)?category\b""")
"""A link marked as a category (``rel="category tag"``, ``rel=category``) somewhere in a page's markup: the cheap
test before its entry is searched for one (``GenericArticle._rel_category``). Lower case, as the CSS selector that
finds the link matches it (and as WordPress writes it): a case-blind search costs thirty times more."""
_ENTRY_CLASSES = frozenset({"post", "hentry", "entry", "type-post"})
"""Class words of the element holding one post (WordPress's ``post_class()``: ``post-12 post type-post hentry``;
Genesis's ``entry``; Blogger's ``div.post``). Not ``entry-content`` nor ``post-body``: parts of one."""
_CHROME_PARTS = frozenset({"nav", "aside"})
_CHROME_ROLES = frozenset({"navigation", "complementary"})
_NEXT_BODY_KEYS = re.compile(r"(?:article_?)?body(?:_?html)?|content(?:_?html)?|(?:full_?)?text|html", re.IGNORECASE)
"""The names a Next.js page's data gives an article's text: ``content``, ``body``, ``articleBody``, ``bodyHtml``."""
_HTML_TAG = re.compile(r"</?(?:p|br|div|h[2-6]|ul|ol|li|blockquote|strong|b|em|i|a)\b", re.IGNORECASE)
_NOT_PICTURE = re.compile(
    r"logo|icon|avatar|gravatar|emoji|smiley|pixel|spacer|blank|counter|tracking|banner|badge|sprite|placeholder"
)
"""Words in the class, id or address of a picture that is not the article's: a logo, an icon, an avatar, a counter's
pixel, an advertising banner, a lazy-loading placeholder."""
_MIN_PICTURE = 100
"""Pixels (its ``width`` or ``height``) below which a picture is an icon, an avatar or a pixel, not a cover."""


def _post_entry(node: LexborNode) -> LexborNode | None:
    """The post's entry holding ``node`` (or ``node`` itself): the nearest ``<article>``, schema.org ``Article`` /
    ``BlogPosting`` microdata element or element classed as a post (``_ENTRY_CLASSES``: WordPress's ``post_class()``,
    Blogger's ``div.post``) below the page's ``<main>`` and ``<body>``."""
    current: LexborNode | None = node
    while current is not None and current.tag not in ("main", "body", "html", "-document"):
        if _is_entry(current):
            return current
        current = current.parent
    return None


def _is_entry(node: LexborNode) -> bool:
    if node.tag == "article" or re.search(r"Article|BlogPosting", node.attrs.get("itemtype") or ""):
        return True
    return not _ENTRY_CLASSES.isdisjoint((node.attrs.get("class") or "").split())


def _entry_own(link: LexborNode, entry: LexborNode) -> bool:
    """Whether ``link`` is the entry's own: inside no navigation or sidebar (``_CHROME_PARTS``) and no other post's
    entry within it (a related post's card, with its own categories)."""
    current = link.parent
    while current is not None and current.mem_id != entry.mem_id:
        if current.tag in _CHROME_PARTS or (current.attrs.get("role") or "") in _CHROME_ROLES or _is_entry(current):
            return False
        current = current.parent
    return current is not None


def _article_ancestor(node: LexborNode) -> LexborNode | None:
    """The ``<article>`` (or schema.org ``Article`` microdata element) holding ``node``, if any."""
    current = node.parent
    while current is not None and current.tag not in ("body", "html", "-document"):
        if current.tag == "article" or re.search(r"Article|BlogPosting", current.attrs.get("itemtype") or ""):
            return current
        current = current.parent
    return None


def not_an_article(page: GenericArticle) -> tuple[str, str] | None:
    """Why a page a feed, sitemap or listing led to is no article, as (stat suffix, words), or None for an article
    (``aggregator extract`` says it too, for the page it reads).

    ``og_type``: the page says it is something else (``GenericArticle.declared_not_article``). ``listing``: the
    page says nothing of itself (no JSON-LD article, no article ``og:type``, no ``article:published_time``) and
    has a listing's shape (``spiders.page_kinds``): a Bitrix section front is a list of dated teasers, and was
    archived as an article made of three other articles' summaries. A page that declares itself an article is
    taken at its word."""
    if page.declared_not_article:
        return "og_type", f"og:type {page.meta.get('og:type')}"
    declared = page.meta.get("og:type", "").strip().lower()
    if page.ld or declared in ARTICLE_OG_TYPES or page.meta.get("article:published_time"):
        return None
    shape = listing_shape(page)
    return ("listing", f"a listing: {shape.describe()}") if shape.is_listing else None


class GenericSpider(SourceSpider):
    """Feeds and sitemaps (or an HTML page's declared feeds, or its article links) in, article pages out; section
    fronts and other pages that are no article left out. No ``name``: the spider loader makes one subclass per
    registry entry that has no module (``aggregator.spiderloader``), named after the entry's key."""

    extractor = GenericArticle
    looked_in = "in the feeds, sitemaps or listings"
    entries_are_documents = True
    """Its ways in: feeds and sitemaps, or the home page and section fronts of a site with neither, read as
    listings."""
    OFF_DOMAIN_HOSTS_KEPT = 5
    """Hosts named in ``aggregator/off_domain_hosts`` at most: those with the most links off the source's domains."""

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """An entry URL or a sitemap an index named: a feed or a sitemap, whatever the URL looks like; or an HTML
        page (a site's home page or a section front given as its way in), whose declared feeds are followed, or
        else the articles it links to (``_html_entry``).

        What a feed or a sitemap lists and what becomes of it is counted (``_tally``) and logged, one line per
        document: a way in that leads to nothing (an empty feed, links on another domain, links the entry's
        ``article_urls`` refuses) is then told apart from a site with nothing new in the crawl's summary."""
        try:
            kind = discovery_kind(response.body)
        except SitemapError as exc:
            yield self.discovery_failed(response, str(exc))
            return
        if kind is None:
            yield from self._html_entry(response)
            return
        # Each link listed, once, in the document's order -> the entry listing it, whose date and picture go with
        # its page's request (``entry_meta``, made with the request: a sitemap lists up to 50,000 pages).
        announced: dict[str, FeedEntry | SitemapEntry] = {}
        if kind == "sitemap":
            try:
                sitemap = parse_sitemap(response.body, response.url)
            except SitemapError as exc:
                yield self.discovery_failed(response, str(exc))
                return
            self._count("sitemaps")
            if sitemap.kind == "sitemapindex":
                tally = LinkTally(listed=len(sitemap.entries))
                for entry in sitemap.entries:
                    try:
                        if not self.source.owns(entry.loc):
                            tally.off_domain(entry.loc)
                            continue
                        yield scrapy.Request(
                            entry.loc,
                            callback=self.parse,
                            errback=self.fetch_failed,
                            meta={ENTRY_META: True, DOCUMENT_META: True},
                        )
                        tally.followed += 1
                        tally.sitemaps += 1
                    except ValueError:  # see below
                        tally.unusable += 1
                self._tally(response, "the sitemap index", tally)
                return
            # A news sitemap's publication date and an entry's <image:image>, as a feed entry's date and picture: the
            # last resort of a page that prints no date, and the cover of one that names none. A page listed twice
            # takes the first entry that gives either.
            for entry in sitemap.entries:
                if entry.loc not in announced or not entry_meta(announced[entry.loc]):
                    announced[entry.loc] = entry
        else:
            try:
                entries = feed_entries(response.body, response.url, content_type(response))
            except FeedError as exc:
                yield self.discovery_failed(response, str(exc))
                return
            self._count("feeds")
            announced = {entry.link: entry for entry in entries}  # one entry per link already
        pattern = self.source.article_pattern
        tally = LinkTally(listed=len(announced))
        # A feed's links are capped as a listing's; a sitemap's are not (the protocol allows 50,000 to one, and the
        # incremental crawl fetches only those not archived yet)
        cap = self.link_cap() if kind != "sitemap" else LinkCap(0)
        for link, listed in announced.items():
            try:
                # Against the document's own URL: a feed or a sitemap has no <base>, and Scrapy's urljoin would look
                # for one in its text (decoding all of a sitemap to read 4 KiB, and taking a <base> quoted in an
                # entry's CDATA as the document's). The links are absolute already, from the feed's or sitemap's parse.
                url = absolute(response.url, link.strip())
                if not self.source.owns(url):
                    tally.off_domain(url)
                    continue
                if pattern is not None and not pattern.search(url):
                    tally.not_article_urls += 1  # the registry says what an article's URL looks like: not fetched
                    continue
                meta = entry_meta(listed)
                request = scrapy.Request(url, callback=self.parse_article, errback=self.fetch_failed, meta=meta)
            except ValueError:
                # An address no request can be made to ("https://minval.az:99999/news/1"): that one is skipped and
                # counted; raised, it ended the parse and every link after it in the sitemap or feed was lost.
                tally.unusable += 1
                continue
            if not cap.take():
                continue
            tally.followed += 1
            yield request
        tally.over_cap, tally.cap = cap.over, cap.limit
        self._tally(response, "the sitemap" if kind == "sitemap" else "the feed", tally)

    def _tally(self, response: Response, what: str, tally: LinkTally) -> None:
        """Count what a feed or sitemap listed and what was left out, and say so in one line: INFO when it led
        somewhere, WARNING when it listed nothing to fetch (the crawl's summary then says why nothing was found:
        ``aggregator.crawl``) or more than the cap (``AGGREGATOR_MAX_LINKS_PER_LISTING``)."""
        self._count_tally(tally)
        if not tally.listed:
            self.logger.warning("%s: %s lists no link", response.url, what)
            return
        left_out = [
            f"{tally.off_domain_links} on other domains ({', '.join(tally.hosts)})" if tally.hosts else "",
            f"{tally.not_article_urls} not matching the entry's article_urls" if tally.not_article_urls else "",
            f"{tally.unusable} unusable address(es)" if tally.unusable else "",
            f"{tally.over_cap} more not followed ({MAX_LINKS_SETTING}={tally.cap})" if tally.over_cap else "",
        ]
        log = self.logger.info if tally.followed and not tally.over_cap else self.logger.warning
        log(
            "%s: %s lists %d link(s): %s to fetch%s",
            response.url,
            what,
            tally.listed,
            tally.followed or "none",
            "".join(f", {part}" for part in left_out if part),
        )

    def _count_tally(self, tally: LinkTally) -> None:
        stats = self.crawler.stats
        if stats is None:
            return
        stats.inc_value("aggregator/listed_links", tally.listed - tally.sitemaps)
        stats.inc_value("aggregator/off_domain_links", tally.off_domain_links)
        if tally.hosts:
            earlier = stats.get_value("aggregator/off_domain_hosts")
            hosts = tally.hosts_with(earlier if isinstance(earlier, dict) else None, self.OFF_DOMAIN_HOSTS_KEPT)
            stats.set_value("aggregator/off_domain_hosts", hosts)
        if tally.not_article_urls:
            stats.inc_value("aggregator/not_articles", tally.not_article_urls)
            stats.inc_value("aggregator/not_articles/article_urls", tally.not_article_urls)
        if tally.unusable:
            stats.inc_value("aggregator/bad_links", tally.unusable)
        self.count_capped(LinkCap(tally.cap, tally.followed, tally.over_cap))

    def _html_entry(self, response: Response) -> Iterator[Any]:
        """An entry URL that answers with an HTML page: the feeds the page declares (``<link rel="alternate"
        type="application/rss+xml">``, ``spiders.feeds.declared_feeds``) on the source's domains are followed as
        ways in, and counted (``aggregator/declared_feeds``). An operator gives a site's home page where its feed's
        address belongs; a CMS's home page names its feed.

        A page that declares no feed of the site is read as a listing (``_listing``): a site with no feed and no
        sitemap is reached through its home page or section fronts, given as its entry URLs. Unless its address is
        a feed's or a sitemap's ("/rss", "/feed/", "sitemap.xml": ``FEED_ADDRESS``), or a declared feed answers with
        a page in turn: the feed moved or broke, which is a failure, as before, so that it is noticed rather than
        read as a page of links."""
        html_page = isinstance(response, TextResponse) and b"<html" in response.body[:2048].lower()
        if not html_page:
            yield self.discovery_failed(response, "not a feed or sitemap: no RSS, Atom or sitemap document")
            return
        assert isinstance(response, TextResponse)
        declared_by = response.request.meta.get(DECLARED_BY_META) if response.request is not None else None
        if declared_by:  # no second round: a page declaring a feed that answers with that page would loop
            yield self.discovery_failed(response, f"not a feed or sitemap: an HTML page (a feed of {declared_by})")
            return
        tally = LinkTally()
        feeds: list[str] = []
        for url in declared_feeds(response.text, response.url):
            if self.source.owns(url):
                feeds.append(url)
            else:
                tally.off_domain(url)
        if not feeds:
            self._count_tally(tally)
            if FEED_ADDRESS.search(urlsplit(response.url).path):
                elsewhere = f" whose feeds are on other domains ({', '.join(tally.hosts)})" if tally.hosts else ""
                yield self.discovery_failed(response, f"not a feed or sitemap: an HTML page{elsewhere}")
            else:
                yield from self._listing(response)
            return
        self._count_tally(tally)
        self._count("declared_feeds", len(feeds))
        self.logger.info(
            "%s: an HTML page, not a feed: following the feed(s) it declares: %s", response.url, ", ".join(feeds)
        )
        for url in feeds:
            yield scrapy.Request(
                url,
                callback=self.parse,
                errback=self.fetch_failed,
                meta={ENTRY_META: True, DOCUMENT_META: True, DECLARED_BY_META: response.url},
            )

    def _listing(self, response: TextResponse) -> Iterator[Any]:
        """An entry page that declares no feed, read as a listing: the articles it links to outside the site's
        furniture (``spiders.page_kinds.listed_articles``) are followed, counted as a feed's links are
        (``aggregator/listings``, ``aggregator/listed_links``). Each is judged as a page a feed led to: a section
        front it links is skipped by its shape. The date an article's teaser prints is its last resort, as a feed
        entry's is (``published_feed``). A page that links no article of the site is a way in that leads nowhere:
        a failure (a site that moved, or an entry whose ``domains`` miss the site's own)."""
        tree = parse_page(response)
        found = listed_articles(tree, document_base(tree, response.url), response.url, self.source)
        self._count("listings")
        tally = LinkTally(listed=len(found.articles) + len(found.off_domain))
        for url in found.off_domain:
            tally.off_domain(url)
        if not found.articles:
            self._count_tally(tally)
            elsewhere = f" (its article links are on other domains: {', '.join(tally.hosts)})" if tally.hosts else ""
            reason = f"an HTML page declaring no feed and linking no article of the site{elsewhere}"
            yield self.discovery_failed(response, reason, counted_as=EMPTY_LISTINGS)
            return
        cap = self.link_cap()
        for url in found.articles:
            if not cap.take():
                continue
            tally.followed += 1
            # the teaser's date, as a feed entry's: the last resort of a page that prints none
            meta = {FEED_PUBLISHED_META: found.dates[url]} if url in found.dates else None
            yield scrapy.Request(url, callback=self.parse_article, errback=self.fetch_failed, meta=meta)
        tally.over_cap, tally.cap = cap.over, cap.limit
        self._tally(response, "the listing", tally)

    def parse_article(self, response: Response) -> Iterator[Any]:
        failure = self.not_html(response)
        if failure is not None:
            yield failure
            return
        assert isinstance(response, TextResponse)
        self.note_declared_language(response)
        page = self.extractor(response, source=self.source)
        skipped = self.not_an_article(page)
        if skipped is not None:
            kind, why = skipped
            # A section front, a tag or a static page a sitemap listed: not archived, counted by why.
            self._count("not_articles")
            self._count(f"not_articles/{kind}")
            log = self.logger.debug if kind == "og_type" else self.logger.info
            log("%s: not an article (%s)", response.url, why)
            return
        yield with_announcement(page.to_item(), response)

    def not_an_article(self, page: GenericArticle) -> tuple[str, str] | None:
        """Why a page a feed, sitemap or listing led to is no article (``not_an_article``), or None."""
        return not_an_article(page)

    def discovery_failed(self, response: Response, reason: str, counted_as: str = "feed/not_a_feed") -> FetchFailure:
        """A feed or sitemap that cannot be read: counted (``feed/not_a_feed``, as the feed spiders count it, which
        fails the source in the crawl summary; an entry page linking no article: ``EMPTY_LISTINGS``) and
        quarantined with the reason."""
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(counted_as)
        self.logger.error("%s: %s", response.url, reason)
        return FetchFailure(self.source.key, response.url, reason, response.status)

    def _count(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"aggregator/{key}", count)
