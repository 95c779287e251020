"""A source's pages are fetched from the web's ports of public addresses: a site cannot point the crawler at the
operator's own network.

A source controls its links and its DNS. A link, a feed entry or a redirect to another port of its host
(``http://caliber.az:6379/``), or a subdomain of its own that resolves to 127.0.0.1, 10.0.0.5 or 169.254.169.254 (a
cloud's metadata service), had the crawler fetch whatever answered there: re-published when it looked like an
article, its body kept in the rejects when it did not. Two checks close that, each a failed fetch with its reason
(a ``fetch`` reject) and a count in the run's stats:

- ``PortGuardMiddleware`` refuses a request of a source's spider to a port other than 80 and 443, unless the
  source's registry entry names that port for that host in its own URLs (``Source.allows_port``): ``PortRefused``,
  ``aggregator/port_refused``. It reads the real URL, before the offline mirror's download handler sends the request
  to the mirror, so a mirror crawl refuses what a live one would; the redirect guard refuses a redirect there with
  its chain (``aggregator.redirect_guard.RedirectedToPort``).
- ``PublicAddressResolver``, Scrapy's DNS resolver (``TWISTED_DNS_RESOLVER``), refuses an address no public site has
  (``private_kind``: loopback, RFC 1918 and fc00::/7, link-local, multicast, unspecified, reserved) once a name is
  resolved, a literal address too (Twisted asks the resolver for those as well). Twisted's endpoint connects to the
  address the resolver hands it, without a second lookup, so the address checked is the address connected to: a
  name that resolves to a public address for a check and to a private one for the connection (DNS rebinding) gets
  nowhere. Twisted turns a failed lookup into "no results for hostname lookup", so ``AddressRefusalMiddleware`` puts
  the resolver's reason back on the request's failure (``PrivateAddressRefused``,
  ``aggregator/private_address_refused``), before Scrapy's retry would ask twice more. It is Scrapy's default
  resolver otherwise (IPv4, as that one): a ``TWISTED_DNS_RESOLVER`` set to another drops the check.

``AGGREGATOR_ALLOW_PRIVATE_ADDRESSES`` lets an operator crawl an intranet source on purpose (and a developer a site on
127.0.0.1 without the mirror). The offline mirror's host (``AGGREGATOR_MIRROR``) is the operator's own server, and so
is a proxy named by the environment (``http_proxy``, ``https_proxy``: Scrapy connects to it, and it resolves the
sites' names): each is exempt by name, nothing else is. The archive's and Redis's connections do not go through
Scrapy's resolver and are not checked.
"""

from __future__ import annotations

import ipaddress
import threading
import urllib.request
from collections.abc import Sequence
from typing import Self
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.base import ReactorBase
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

ALLOW_SETTING = "AGGREGATOR_ALLOW_PRIVATE_ADDRESSES"
PORT_REFUSED = "aggregator/port_refused"
ADDRESS_REFUSED = "aggregator/private_address_refused"


class AddressRefused(IgnoreRequest):
    """A request not sent where it pointed; the message is the whole reason its ``fetch`` reject gives. An
    ``IgnoreRequest``: Scrapy logs none, retries none, and robots.txt's middleware lets one pass quietly."""


class PortRefused(AddressRefused):
    """The request's port is none a source's pages are fetched on."""


class PrivateAddressRefused(AddressRefused):
    """The request's host resolves to an address of no public site."""


def private_kind(address: str) -> str | None:
    """What kind of address of no public site ``address`` is (``loopback``, ``private network``, ``link-local``, ...),
    or None for a public one (or no address at all: the resolver's caller fails on that by itself)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"  # 169.254.169.254, the cloud metadata service, among them
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private network"
    if not ip.is_global:
        return "reserved"  # 100.64.0.0/10 (carrier-grade NAT) and the like
    return None


_REFUSED: dict[str, str] = {}
"""Host name -> why the resolver refused it, for ``AddressRefusalMiddleware`` to say. The resolver is the process's
(installed on the reactor once, for every crawler), the middleware each crawler's: this is what they share."""
_REFUSED_LOCK = threading.Lock()


def refusal_of(host: str) -> str | None:
    """Why the resolver refused ``host`` when it last looked it up, or None."""
    with _REFUSED_LOCK:
        return _REFUSED.get(host.lower().rstrip("."))


class ResolvedToPrivateAddress(DNSLookupError):
    """The resolver's refusal: a ``DNSLookupError``, which Twisted takes for a name with no address (said nowhere;
    any other error it logs as a traceback)."""


class PublicAddressResolver(CachingThreadedResolver):
    """Scrapy's default resolver (IPv4, cached, ``DNS_TIMEOUT``) that answers no address of no public site."""

    def __init__(
        self, reactor: ReactorBase, cache_size: int, timeout: float, *, allow_private: bool, exempt: Sequence[str]
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.allow_private = allow_private
        self.exempt = frozenset(h.lower().rstrip(".") for h in exempt if h)

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        # ``crawler`` is the CrawlerProcess (Scrapy builds the resolver once, before any crawler): its settings are
        # the run's, AGGREGATOR_MIRROR included wherever the run was started from.
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        exempt = [urlsplit(settings.get("AGGREGATOR_MIRROR") or "").hostname or ""]
        if settings.getbool("HTTPPROXY_ENABLED", True):
            exempt += [urlsplit(proxy).hostname or "" for proxy in urllib.request.getproxies().values()]
        return cls(
            reactor,
            cache_size,
            settings.getfloat("DNS_TIMEOUT"),
            allow_private=settings.getbool(ALLOW_SETTING),
            exempt=exempt,
        )

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        found = super().getHostByName(name, timeout)
        if self.allow_private or name.lower().rstrip(".") in self.exempt:
            return found
        return found.addCallback(self._checked, name)

    def _checked(self, address: str, name: str) -> str:
        host = name.lower().rstrip(".")
        kind = private_kind(address)
        with _REFUSED_LOCK:
            if kind is None:
                _REFUSED.pop(host, None)
                return address
            _REFUSED[host] = (
                f"{host} resolves to a private address {address} ({kind}): refused ({ALLOW_SETTING}=1 allows it)"
            )
        raise ResolvedToPrivateAddress(name)


class PortGuardMiddleware:
    """Refuses a source spider's request to a port its pages are not fetched on (``Source.allows_port``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        mirror = crawler.settings.get("AGGREGATOR_MIRROR")
        self._mirror = urlsplit(mirror).netloc if mirror else None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        source = getattr(spider or self.crawler.spider, "source", None)
        if source is None or source.allows_port(request.url):
            return
        if self._mirror is not None and urlsplit(request.url).netloc == self._mirror:
            return  # a request for the mirror itself, which its download handler sends as it is
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(PORT_REFUSED)
        raise PortRefused(port_refusal(request.url))


def port_refusal(url: str) -> str:
    """Why ``url``'s port is refused: which it is, and which ones a source's pages are fetched on."""
    parts = urlsplit(url)
    try:
        port: object = parts.port
    except ValueError:
        port = repr(parts.netloc.rpartition(":")[2])
    return f"port {port} refused: not 80 or 443, nor a port the source's registry entry names for {parts.hostname}"


class AddressRefusalMiddleware:
    """Gives a fetch the resolver refused its reason back (``PrivateAddressRefused``), and counts it.

    Placed after Scrapy's retry (550) so that it sees the failure first: a refused name is not asked again."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> None:
        if not isinstance(exception, CannotResolveHostError | DNSLookupError):
            return
        reason = refusal_of(urlsplit(request.url).hostname or "")
        if reason is None:
            return  # a name that really has no address
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(ADDRESS_REFUSED)
        raise PrivateAddressRefused(reason) from exception
