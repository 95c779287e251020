"""The source registry: every site we re-publish from, and everything the code may know about it.

Nothing outside this module hard-codes a source's name or domain: spiders, pipelines and the store read
them from here (``get_source("caliber").name`` is what the attribution line prints).

The built-in entries are ``BUILT_IN``; an operator adds sites (or replaces a built-in entry) in a TOML file named by
``AGGREGATOR_SOURCES_FILE``, read once per process (``load_sources_file``): a new site with a feed or a sitemap is
then crawled by the generic spider without a change to the code, and the file survives an upgrade of the package.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aggregator.environment import EnvironmentValueError
from aggregator.urls import DEFAULT_PORTS

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
    spellings: tuple[str, ...] = field(default=())
    """How other outlets' copy writes the source's name in another script, when the spelling is also a plain word or
    shaped like a surname ("Калибр" is a missile too, "Хаггин" reads as "Путин" does): the citation finder takes
    it for an outlet's name where the text cites one ("как писал Калибр", "по данным Хаггина"), but not as a sure
    one, as it does ``other_names``."""
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
        """Whether ``url`` is a web address (http or https) on one of the source's domains.

        The scheme counts: ``file://caliber.az/etc/passwd`` in a listing or a sitemap was followed (Scrapy opens
        local files for it), and ``javascript://caliber.az/%0a...`` as a canonical link became the article's source
        link, a script on the site's pages. The host is read as browsers and ``canonical_url`` (w3lib) read it, a
        backslash being a slash: ``https://evil.example\\@caliber.az/`` is evil.example's, not caliber.az's (it passed,
        and the stored link led to evil.example under caliber.az's name). Any port is the host's: which ones a crawl
        fetches is ``allows_port``'s to say."""
        try:
            parts = urlsplit(url.strip().replace("\\", "/"))
            host = (parts.hostname or "").lower().rstrip(".")
        except ValueError:  # no address at all ("http://[x")
            return False
        if parts.scheme.lower() not in ("http", "https"):
            return False
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def allows_port(self, url: str) -> bool:
        """Whether a crawl may fetch ``url``'s port: 80 or 443, or another port the entry's own URLs (``entry_urls``,
        ``homepage``) name for that very host.

        ``owns`` says whose site a host is, whatever its port; a web site answers on 80 and 443. A link, a feed entry
        or a redirect to another port of the source's host (``http://caliber.az:6379/``, Redis) was fetched, and what
        answered there was kept. The operator names a port in the entry when the site really is served on one
        (``https://news.example:8443/rss``); a subdomain gets no port of its parent's (the redirect guard and
        ``aggregator.address_guard.PortGuardMiddleware`` ask this of every request and redirect)."""
        found = _host_and_port(url)
        if found is None:
            return False
        return found[1] in WEB_PORTS or found in _named_ports((*self.entry_urls, self.homepage))


WEB_PORTS = frozenset({80, 443})
"""The ports a source's pages are fetched on unless its entry names another (``Source.allows_port``)."""


def _host_and_port(url: str) -> tuple[str, int] | None:
    """``url``'s host (read as ``Source.owns`` reads it) and port (its scheme's when it names none), or None for an
    address of no port: another scheme, a port that is no number."""
    try:
        parts = urlsplit(url.strip().replace("\\", "/"))
        port = parts.port if parts.port is not None else DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if port is None:
        return None
    return (parts.hostname or "").lower().rstrip("."), port


@lru_cache(maxsize=1024)
def _named_ports(urls: tuple[str, ...]) -> frozenset[tuple[str, int]]:
    """The (host, port) pairs of ``urls`` (cached: asked of every request a crawl makes)."""
    return frozenset(pair for pair in map(_host_and_port, urls) if pair is not None)


BUILT_IN: tuple[Source, ...] = (
    Source(
        key="caliber",
        name="Caliber.az",
        domains=("caliber.az",),
        languages=("ru", "en", "az"),
        timezone="Asia/Baku",
        homepage="https://caliber.az",
        spellings=("Калибр",),
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
        spellings=("Хаггин",),
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
        spellings=("Репорт",),
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
        spellings=("Тренд",),
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
        spellings=("Минвал",),
        entry_urls=("https://minval.az/rss",),
    ),
)


SOURCES_FILE_VARIABLE = "AGGREGATOR_SOURCES_FILE"
LANGUAGES = ("ru", "az", "en")
"""The languages the pipelines have an attribution line and date words for."""
KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""A key is a spider's name, a column value and a word on the command line: lower-case letters, digits, - and _."""
DEFAULT_TIMEZONE = "Asia/Baku"


class SourcesFileError(EnvironmentValueError):
    """The operator's sources file cannot be read as a registry: the message names the file, the entry and what is
    wrong (the ``aggregator`` command prints it in one line and exits 2, as for any ``AGGREGATOR_*`` value)."""


def load_sources_file(path: str | Path, built_in: tuple[Source, ...] = ()) -> tuple[Source, ...]:
    """The entries of a TOML sources file, checked as a whole: each ``[[source]]`` table is a ``Source``.

    ``key``, ``name``, ``domains``, ``entry_urls`` and ``languages`` are required (no language is assumed: an
    Azerbaijani site's entry without one was taken for Russian, and its articles were stored and attributed as
    Russian); ``timezone`` defaults to Asia/Baku, ``homepage`` to ``https://`` and the first domain. A key of
    ``built_in`` replaces that entry whole (a site that moved, a new feed); a domain already another entry's, or
    inside one (``news.apa.az`` when an entry owns ``apa.az``: ``owns`` gives its pages to both), is refused, as is
    anything the code cannot use (an unknown field or language, a blank name, a time zone that does not exist, an
    entry URL off the source's domains, a selector of a field that has none, a CSS selector the extractors' engine
    cannot parse, a pattern that is no regular expression)."""
    where = str(path)
    try:
        with Path(path).open("rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise SourcesFileError(f"{SOURCES_FILE_VARIABLE}={where}: cannot read it: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SourcesFileError(f"{SOURCES_FILE_VARIABLE}={where}: not TOML: {exc}") from None
    unknown = sorted(set(document) - {"source"})
    if unknown:
        raise SourcesFileError(f"{where}: unknown table(s) {unknown}: entries are [[source]] tables")
    tables = document.get("source", [])
    if not isinstance(tables, list) or not tables:
        raise SourcesFileError(f"{where}: no [[source]] entry")
    entries: list[Source] = []
    for number, table in enumerate(tables, 1):
        entry = _entry(table, f"{where}: [[source]] #{number}")
        clash = next((s for s in entries if s.key == entry.key), None)
        if clash is not None:
            raise SourcesFileError(f"{where}: key {entry.key!r} is given twice")
        entries.append(entry)
    replaced = {s.key for s in entries}
    kept = [s for s in built_in if s.key not in replaced]
    for entry in entries:
        for other in kept + [s for s in entries if s is not entry]:
            shared = sorted(set(entry.domains) & set(other.domains))
            if shared:
                owner = f"source {other.key!r}'s already"
                raise SourcesFileError(f"{where}: source {entry.key!r}: domain {shared[0]} is {owner}")
            pairs = [(d, o) for d in entry.domains for o in other.domains]
            nested = next(((d, o, "inside") for d, o in pairs if d.endswith("." + o)), None) or next(
                ((d, o, "around") for d, o in pairs if o.endswith("." + d)), None
            )
            if nested is not None:
                domain, other_domain, how = nested
                raise SourcesFileError(
                    f"{where}: source {entry.key!r}: domain {domain} is {how} {other_domain}, source {other.key!r}'s "
                    f"(its pages would belong to both): give it to one of them"
                )
    return tuple(entries)


_FIELDS = {f.name for f in fields(Source)}
REQUIRED = ("key", "name", "domains", "entry_urls", "languages")
"""The fields a file's entry must give: every other one has a default that is right for most sites."""
_TEXTS = ("key", "name", "timezone", "homepage", "article_urls")
_LISTS = ("domains", "languages", "entry_urls", "boilerplate", "other_names", "spellings")


def _entry(table: Any, where: str) -> Source:
    if not isinstance(table, dict):
        raise SourcesFileError(f"{where}: not a table")
    named = table.get("key")
    where = f"{where} ({named})" if isinstance(named, str) else where
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        raise SourcesFileError(f"{where}: unknown field(s) {unknown} (known: {', '.join(sorted(_FIELDS))})")
    missing = [name for name in REQUIRED if not table.get(name)]
    if missing:
        said = f"{where}: {', '.join(missing)} missing"
        if "languages" in missing:  # the one an operator leaves out thinking it has a default, as it once had
            said += f" (languages: the ones the site publishes in, some of {', '.join(LANGUAGES)}, its main one first)"
        raise SourcesFileError(said)
    for name in _TEXTS:
        if name in table and not isinstance(table[name], str):
            raise SourcesFileError(f"{where}: {name} must be a string")
    for name in _LISTS:
        if name in table and not (
            isinstance(table[name], list) and all(isinstance(v, str) and v.strip() for v in table[name])
        ):
            raise SourcesFileError(f"{where}: {name} must be a list of strings")
    selectors = table.get("selectors", {})
    if not isinstance(selectors, dict) or not all(isinstance(v, str) and v.strip() for v in selectors.values()):
        raise SourcesFileError(f"{where}: selectors must be a table of CSS selectors ({', '.join(SELECTOR_FIELDS)})")
    key: str = table["key"]
    if not KEY.fullmatch(key):
        raise SourcesFileError(f"{where}: key must be lower-case letters, digits, - and _ (at most 64)")
    if not table["name"].strip():  # the attribution line read "ссылаясь на сайт , отмечает"
        raise SourcesFileError(f"{where}: name is blank: give the name the attribution line prints (Xeberler.az)")
    checked = [("boilerplate", b) for b in table.get("boilerplate", ())]
    checked += [(f"selectors.{f}", v) for f, v in selectors.items()]
    for name, selector in checked:
        if not css_selector_parses(selector):
            raise SourcesFileError(
                f"{where}: {name}: {selector!r} is not a CSS selector the extractors can use (lexbor cannot parse it)"
            )
    # "www.x.az" is written for "x.az" as a rule, and the site links both: the bare domain owns its www (``owns``),
    # not the other way round, and a feed linking "x.az" was dropped whole, link by link, as off the source's sites.
    domains = tuple(dict.fromkeys(d.strip().lower().rstrip(".").removeprefix("www.") for d in table["domains"]))
    for domain in domains:
        if "/" in domain or ":" in domain or "." not in domain:
            raise SourcesFileError(f"{where}: domain {domain!r} is not a host name (no scheme, port or path)")
    languages = tuple(table["languages"])
    strange = [lang for lang in languages if lang not in LANGUAGES]
    if strange or not languages:
        raise SourcesFileError(f"{where}: languages must be some of {', '.join(LANGUAGES)}, not {strange}")
    timezone = table.get("timezone", DEFAULT_TIMEZONE)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SourcesFileError(f"{where}: time zone {timezone!r} does not exist (an IANA name: Asia/Baku)") from None
    homepage = table.get("homepage", f"https://{domains[0]}")
    entry_urls = tuple(table["entry_urls"])
    for url in (homepage, *entry_urls):
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not any(host == d or host.endswith("." + d) for d in domains):
            raise SourcesFileError(f"{where}: {url!r} is not an http(s) address on the source's domains")
    try:
        return Source(
            key=key,
            name=table["name"].strip(),
            domains=domains,
            languages=languages,
            timezone=timezone,
            entry_urls=entry_urls,
            homepage=homepage,
            boilerplate=tuple(table.get("boilerplate", ())),
            selectors=dict(selectors),
            other_names=tuple(table.get("other_names", ())),
            spellings=tuple(table.get("spellings", ())),
            article_urls=table.get("article_urls"),
        )
    except ValueError as exc:  # ``Source`` checks its selectors' fields and pattern
        raise SourcesFileError(f"{where}: {exc}") from None


def css_selector_parses(selector: str) -> bool:
    """Whether lexbor, the engine every extractor and the cleanup pipeline query pages with (``aggregator.html``),
    parses ``selector``. One it cannot was taken from the file, and then every page of the source was refused with a
    traceback that named no selector."""
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    try:
        LexborHTMLParser("").css(selector)
    except SelectolaxError:
        return False
    return True


def _registry(built_in: tuple[Source, ...], path: str | None) -> tuple[Source, ...]:
    if not path:
        return built_in
    added = load_sources_file(path, built_in)
    by_key = {s.key: s for s in added}
    return tuple(by_key.pop(s.key, s) for s in built_in) + tuple(by_key.values())


try:
    SOURCES: tuple[Source, ...] = _registry(BUILT_IN, os.environ.get(SOURCES_FILE_VARIABLE))
    _PROBLEM: SourcesFileError | None = None
except SourcesFileError as problem:  # said where the registry is used: a traceback at import would hide it
    SOURCES, _PROBLEM = BUILT_IN, problem
_BY_KEY = {s.key: s for s in SOURCES}
_EXTRA: ContextVar[tuple[Source, ...]] = ContextVar("extra_sources", default=())


def _check_file() -> None:
    if _PROBLEM is not None:
        raise SourcesFileError(str(_PROBLEM))


class UnknownSourceError(KeyError):
    """A key the registry does not know. ``hints``: what else is known of it, where the caller can look (the
    ``aggregator`` command adds the archive's articles and runs of it, and a spider module of that name:
    ``aggregator.source_hints``), each said after the known keys."""

    def __init__(self, key: str, hints: tuple[str, ...] = ()) -> None:
        super().__init__(key)
        self.hints = hints

    def __str__(self) -> str:
        known = ", ".join(sorted(_BY_KEY))
        return "; ".join((f"unknown source {self.args[0]!r} (known: {known})", *self.hints))


def get_source(key: str) -> Source:
    _check_file()
    try:
        return _BY_KEY[key]
    except KeyError:
        extra = next((s for s in _EXTRA.get() if s.key == key), None)
        if extra is None:
            raise UnknownSourceError(key) from None
        return extra


def all_sources() -> tuple[Source, ...]:
    _check_file()
    return SOURCES + _EXTRA.get()


BUILT_IN_ORIGIN, FILE_ORIGIN, REPLACED_ORIGIN = "built-in", "file", "replaced"


def origin(source: Source) -> str:
    """Where a registry entry comes from: ``built-in``, the sources ``file``, or ``replaced`` (the file's entry of a
    built-in key, which replaces the built-in one whole: what ``aggregator sources`` marks, since nothing else
    shows that the code's entry is not the one in force)."""
    built = next((s for s in BUILT_IN if s.key == source.key), None)
    if built is source:
        return BUILT_IN_ORIGIN
    return FILE_ORIGIN if built is None else REPLACED_ORIGIN


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
