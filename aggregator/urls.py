"""One canonical form per article URL, used by the spiders' duplicate filter and by the store's unique key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from hashlib import sha1
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from weakref import WeakKeyDictionary

from w3lib.url import canonicalize_url

if TYPE_CHECKING:  # not at run time: the store writer's process needs canonical_url, and Scrapy is ~30 MiB there
    from scrapy import Request
    from scrapy.crawler import Crawler

TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "yclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "_openstat", "ref", "amp"}
)
TRACKING_PREFIXES = ("utm_",)


def absolute(base_url: str, href: str) -> str:
    """``href`` resolved against ``base_url`` (urljoin only when needed: on a hot path it is the slow part)."""
    href = href.strip()
    return href if href.startswith(("https://", "http://")) else urljoin(base_url, href)


_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal")


def names_a_public_site(url: str) -> bool:
    """Whether ``url`` could be another site's address: http(s), a well-formed host name with a dot in it, not an IP
    address, ``localhost`` or a private name (``.local``, ``.internal``). A canonical link that is none of these is a
    broken tag (a stray character in the host, a CMS left pointing at its staging host), not another outlet's page."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme not in {"http", "https"} or not host:
        return False
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    labels = ascii_host.split(".")
    return (
        len(labels) > 1
        and not labels[-1].isdigit()  # an IPv4 address
        and not ascii_host.endswith(_PRIVATE_SUFFIXES)
        and all(_HOST_LABEL.fullmatch(label) for label in labels)
    )


ALTERNATE_HOSTS = ("www.", "m.", "amp.")
"""Prefixes of a host that serve the same articles as the bare host: the desktop (``www.``), mobile (``m.``) and
AMP (``amp.``) forms of one page. Stacked ones (``www.m.``) come off too (``_canonical``: the key must be a fixed
point), down to a host with a dot left in it (``m.az`` is a name of its own)."""
_AMP_PAGE = re.compile(r"(?<=.)(?:/amp)+$")
"""An AMP page's path: the article's own, ``/amp`` appended (WordPress's AMP plugin, many CMSs; twice by a template
that appends it to an AMP page's own address)."""
_DIRECTORY_INDEX = re.compile(r"/index\.(?:html?|php)$")
"""A directory's index page, which servers answer at the directory's own address too (only without a query:
``/index.php?id=5`` is the script's, ``/?id=5`` may be another's)."""
_SLASHES = re.compile(r"//+")

_PLAIN = re.compile(
    r"https://((?!(?:www|m|amp)\.)[a-z0-9-]+(?:\.[a-z0-9-]+)*)((?:/(?!\.)[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?)"
)
"""A URL canonicalisation would not change but for its trailing slash: https, a lower-case host without ``www.``,
``m.`` or ``amp.`` or port, a path of unreserved characters (no empty segment, no segment starting with a dot: no
``.`` or ``..``), no query, no fragment. Most article URLs are; matching it costs ~1 µs, w3lib's canonicalisation
10-20 (``tests/test_urls.py`` checks that both agree). An AMP or index page's path is left to the
long way."""
_PLAIN_TAILS = ("/amp", "/index.html", "/index.htm", "/index.php")


@lru_cache(maxsize=8192)
def canonical_url(url: str) -> str:
    """The one form of an article URL under which the archive keeps it.

    Cached: a crawl canonicalises each URL when it schedules the request (the fingerprint) and again when the
    cleanup pipeline reads the item fetched from it, and w3lib's canonicalisation is the slow part of both.

    https, lower-case host without ``www.``, ``m.`` or ``amp.`` (``ALTERNATE_HOSTS``), no default port, no
    fragment, no tracking parameters, remaining query parameters sorted, percent-encoding normalised (w3lib), no
    empty path segment (``//``), no AMP suffix (``/amp``), no directory index (``/index.html`` without a query),
    and no trailing slash: ``/en/post/142379/`` and ``/en/post/142379`` are one article.
    """
    if (plain := _PLAIN.fullmatch(url)) and not (path := plain[2].rstrip("/")).endswith(_PLAIN_TAILS):
        return f"https://{plain[1]}{path or '/'}"
    return _canonical(url)


def _canonical(url: str) -> str:
    """``canonical_url`` the long way, for any URL.

    Its result is its own canonical form (``canonical_url`` of it is itself): the archive keys each article by this
    form, and ``aggregator reextract`` re-keys every row whose key is not (a key of an older release's rules). So the
    rules are applied until none applies: stacked host prefixes (``www.m.``), and the path's AMP suffix, directory
    index and trailing slash in any order (``/a/amp/index.html``, ``/a/index.html/``). One application of each left
    forms of forms (``www.m.x`` gave ``m.x``, whose form is ``x``), keys today's crawl wrote, the next re-extraction
    moved and the crawl after it wrote again."""
    parts = urlsplit(canonicalize_url(url.strip()))
    scheme = "https" if parts.scheme in {"http", "https"} else parts.scheme
    host = (parts.hostname or "").rstrip(".")
    # w3lib puts no host with an empty label (``н..``) into its ASCII form; without the dots it does (once: the
    # host has none left then)
    again = not host.isascii() and host != parts.hostname
    while alternate := next((p for p in ALTERNATE_HOSTS if host.startswith(p) and "." in host[len(p) :]), None):
        host = host.removeprefix(alternate)
    if parts.port and parts.port not in {80, 443}:
        host = f"{host}:{parts.port}"
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
        ]
    )
    path = _SLASHES.sub("/", parts.path).rstrip("/")
    while True:
        shorter = _AMP_PAGE.sub("", path)
        if not query:
            shorter = _DIRECTORY_INDEX.sub("", shorter)
        shorter = shorter.rstrip("/")
        if shorter == path:
            break
        path = shorter
    canonical = urlunsplit((scheme, host, path or "/", query, ""))
    return _canonical(canonical) if again else canonical


_TRAILING_NUMBER = re.compile(r"[0-9]+$")
_PAGE_EXTENSION = re.compile(r"\.(?:s?html?|php|aspx?)$")


def _article_numbers(url: str) -> tuple[str | None, dict[str, str]]:
    """The numbers that name an article in its canonical URL: the one that ends its last path segment (``153813``,
    ``<slug>-8036``, ``4102010.html``; a slug's own short number, ``...-na-8``, ``top-10``, is none), and the query's
    numeric values (``?id=5``)."""
    parts = urlsplit(canonical_url(url))
    last = _PAGE_EXTENSION.sub("", parts.path.rsplit("/", 1)[-1])
    found = _TRAILING_NUMBER.search(last)
    number = (found[0].lstrip("0") or "0") if found and (found.start() == 0 or len(found[0]) >= 3) else None
    return number, {key: value for key, value in parse_qsl(parts.query) if value.isdigit()}


def names_another_article(url: str, canonical: str) -> bool:
    """Whether a page fetched at ``url`` that declares ``canonical`` as its address names another article than
    itself: both addresses carry an article's number (``_article_numbers``) and the numbers differ
    (``/post/slug-8036`` declaring ``/post/other-8037``, ``news.php?id=5`` declaring ``news.php?id=6``). A CMS whose
    template keeps one article's canonical link on the next pages would otherwise put them all in one row, each
    fetch a new version of it. Addresses without numbers (slugs alone) cannot be told apart so: the link stands."""
    number, query = _article_numbers(url)
    other, other_query = _article_numbers(canonical)
    if number is not None and other is not None and number != other:
        return True
    return any(query[key] != other_query[key] for key in query.keys() & other_query.keys())


def linked_url(meta: Mapping[str, Any], fetched_url: str) -> str | None:
    """The URL the crawl asked for when the site redirected it to ``fetched_url``, another page's address (a moved
    slug, a numeric link to a named page): what the listing will link again next time. None when the page was not
    redirected, or only to another form of its own URL (http -> https, ``www.``, a trailing slash)."""
    chain = meta.get("redirect_urls")
    if not chain:
        return None
    first = str(chain[0])
    return first if canonical_url(first) != canonical_url(fetched_url) else None


class CanonicalRequestFingerprinter:
    """Request fingerprints over the canonical URL of the real site (not the mirror's), method and body.

    Two links to one article in different forms (trailing slash, tracking parameters) are fetched once.
    """

    def __init__(self) -> None:
        self._cache: WeakKeyDictionary[Request, bytes] = WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls()

    def fingerprint(self, request: Request) -> bytes:
        cached = self._cache.get(request)
        if cached is None:
            digest = sha1(usedforsecurity=False)
            digest.update(request.method.encode())
            digest.update(b"\0" + canonical_url(request.url).encode())
            digest.update(b"\0" + (request.body or b""))
            cached = self._cache[request] = digest.digest()
        return cached


DEFAULT_PORTS = {"http": 80, "https": 443}
"""Each web scheme's own port: an address naming it names no port (``Source.allows_port``, ``web_origin``)."""


def web_origin(url: str) -> str | None:
    """A URL's origin as a browser's ``Origin`` header names it (``https://icma.az``, a port only when not the
    scheme's own), or None for none (``null``, a sandboxed frame's)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[scheme] else "")
