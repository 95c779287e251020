"""The source registry: every site we re-publish from, and everything the code may know about it.

Nothing outside this module hard-codes a source's name or domain: spiders, pipelines and the store read
them from here (``get_source("caliber").name`` is what the attribution line prints).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import urlsplit

SELECTOR_FIELDS = ("title", "body", "date", "cover_image", "category")
"""Fields a registry entry may give a CSS selector for, over what the generic extractor finds by itself."""


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    """Registry key, also the spider name and the ``articles.source`` value (``caliber``)."""
    name: str
    """Display name exactly as the attribution line prints it (``Caliber.az``)."""
    domains: tuple[str, ...]
    """Hosts that belong to the source; subdomains of them (``cdn.caliber.az``) belong too."""
    languages: tuple[str, ...]
    """Languages the source publishes in, the first one being the default edition's."""
    timezone: str
    """IANA zone of the dates the site prints."""
    entry_urls: tuple[str, ...]
    """Listing pages (or feeds) a crawl starts from."""
    homepage: str
    boilerplate: tuple[str, ...] = field(default=())
    """CSS selectors of elements inside the article body that are the site's furniture, not the article."""
    selectors: Mapping[str, str] = field(default_factory=dict, hash=False)
    """For a source without a spider module of its own (the generic spider): CSS selectors that win over the
    metadata and main-text extraction, per field of ``SELECTOR_FIELDS``. A layout fix is then a registry edit."""
    other_names: tuple[str, ...] = field(default=())
    """The source's name as its other editions write it in another script (Apa.az's Russian copy ends "...,
    передает АПА."): beside ``name`` and ``domains``, what the citation finder knows as this outlet, and what its
    own copy names itself by (a source is never its own citation). Only names the source really goes by: each is
    taken for this source wherever it stands."""
    article_urls: str | None = None
    """For the generic spider: a regular expression that an article's URL matches (searched, not anchored). Links
    from feeds and sitemaps that do not match are not fetched: a site's sitemap lists its section fronts, tag and
    static pages beside the articles. Unset, every link on the source's domains is fetched, and a page whose
    ``og:type`` says it is no article is skipped."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.selectors) - set(SELECTOR_FIELDS))
        if unknown:
            raise ValueError(f"source {self.key!r}: unknown selector field(s) {unknown} (known: {SELECTOR_FIELDS})")
        if self.article_urls:
            try:
                re.compile(self.article_urls)
            except re.error as exc:
                raise ValueError(f"source {self.key!r}: article_urls is not a regular expression: {exc}") from None

    @property
    def article_pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.article_urls) if self.article_urls else None  # re caches the compiled pattern

    def owns(self, url: str) -> bool:
        """Whether ``url`` is on one of the source's domains."""
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)


SOURCES: tuple[Source, ...] = (
    Source(
        key="caliber",
        name="Caliber.az",
        domains=("caliber.az",),
        languages=("ru", "en", "az"),
        timezone="Asia/Baku",
        homepage="https://caliber.az",
        entry_urls=(
            "https://caliber.az/",
            "https://caliber.az/category/politika",
            "https://caliber.az/category/mir",
            "https://caliber.az/en",
            "https://caliber.az/en/category/karabakh",
            "https://caliber.az/az",
            "https://caliber.az/az/category/siyaset",
        ),
        boilerplate=(
            ".post_signature",
            ".post_hits",
            ".post_categoty",
            "[class*=banner]",
            "[class*=reklam]",
            "[class*=advert]",
        ),
    ),
    Source(
        key="haqqin",
        name="Haqqin.az",
        domains=("haqqin.az",),
        languages=("ru",),
        timezone="Asia/Baku",
        homepage="https://haqqin.az",
        entry_urls=("https://haqqin.az/rss_ru.xml",),
        boilerplate=(
            ".article__share",
            ".article__tags",
            ".read-also",
            "[class*=banner]",
            "[class*=adv]",
        ),
    ),
    Source(
        key="apa",
        name="Apa.az",
        domains=("apa.az",),
        other_names=("АПА",),
        languages=("az", "ru"),
        timezone="Asia/Baku",
        homepage="https://apa.az",
        entry_urls=("https://apa.az/rss", "https://apa.az/ru/rss"),
        boilerplate=(
            ".rek_banner",
            ".links_block",
            "[class*=banner]",
        ),
    ),
    Source(
        key="report",
        name="Report.az",
        domains=("report.az",),
        languages=("az", "ru"),
        timezone="Asia/Baku",
        homepage="https://report.az",
        entry_urls=(
            "https://report.az/",
            "https://report.az/energetika/",
            "https://report.az/ru/",
            "https://report.az/ru/proisshestviya/",
        ),
        boilerplate=(
            ".news-detail__share",
            ".news-inner__share",
            ".read-also",
            ".news-tags",
            "[class*=banner]",
            "[class*=adv]",
        ),
    ),
    Source(
        key="trend",
        name="Trend.az",
        domains=("trend.az",),
        languages=("ru", "az", "en"),
        timezone="Asia/Baku",
        homepage="https://www.trend.az",
        entry_urls=(
            "https://www.trend.az/",
            "https://www.trend.az/azerbaijan/society/",
            "https://az.trend.az/",
            "https://en.trend.az/",
        ),
        boilerplate=(
            ".article-share",
            ".article-tags",
            ".read-more-block",
            ".subscribe-block",
            "[class*=banner]",
            "[class*=advert]",
        ),
    ),
    # No module of its own: the generic spider reads its feed, the pages' metadata and their main text.
    Source(
        key="minval",
        name="Minval.az",
        domains=("minval.az",),
        languages=("ru",),
        timezone="Asia/Baku",
        homepage="https://minval.az",
        entry_urls=("https://minval.az/rss",),
    ),
)

_BY_KEY = {s.key: s for s in SOURCES}
_EXTRA: ContextVar[tuple[Source, ...]] = ContextVar("extra_sources", default=())


class UnknownSourceError(KeyError):
    def __str__(self) -> str:
        known = ", ".join(sorted(_BY_KEY))
        return f"unknown source {self.args[0]!r} (known: {known})"


def get_source(key: str) -> Source:
    try:
        return _BY_KEY[key]
    except KeyError:
        extra = next((s for s in _EXTRA.get() if s.key == key), None)
        if extra is None:
            raise UnknownSourceError(key) from None
        return extra


def all_sources() -> tuple[Source, ...]:
    return SOURCES + _EXTRA.get()


def source_for_url(url: str) -> Source | None:
    """The registered source a URL belongs to, if any."""
    return next((s for s in all_sources() if s.owns(url)), None)


@contextmanager
def registered(*sources: Source) -> Iterator[None]:
    """Sources known for the duration of the block, as if they were in the registry (for this context only).

    Lets a site be tried before it gets an entry: ``aggregator extract`` on a page of an unregistered site, or a
    crawl of a made-up site in the tests. A key or domain of the registry cannot be shadowed.
    """
    for source in sources:
        if source.key in _BY_KEY or any(d in s.domains for s in SOURCES for d in source.domains):
            raise ValueError(f"source {source.key!r} clashes with a registry entry")
    token = _EXTRA.set(_EXTRA.get() + sources)
    try:
        yield
    finally:
        _EXTRA.reset(token)


def site_source(url: str) -> Source:
    """A stand-in entry for a site that is not in the registry, named after its host (``www.`` dropped).

    What the generic extractor assumes of a site it knows nothing about: the host's name, Russian first (the
    archive's main language; the page's own ``lang`` wins), Baku time for dates printed without a zone.
    """
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    host = host.removeprefix("www.")
    return Source(
        key=host,
        name=host[:1].upper() + host[1:],
        domains=(host,),
        languages=("ru", "az", "en"),
        timezone="Asia/Baku",
        homepage=f"https://{host}",
        entry_urls=(),
    )


def resolve_keys(keys: Iterable[str]) -> list[Source]:
    """Sources for the given keys, in order and each once (``crawl caliber caliber`` crawls it once: a second crawl of
    it in the same run would only find the first holding its lock), raising UnknownSourceError for a key not in the
    registry."""
    return [get_source(k) for k in dict.fromkeys(keys)]
