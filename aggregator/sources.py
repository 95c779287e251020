"""The source registry: every site we re-publish from, and everything the code may know about it.

Nothing outside this module hard-codes a source's name or domain: spiders, pipelines and the store read
them from here (``get_source("caliber").name`` is what the attribution line prints).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


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
)

_BY_KEY = {s.key: s for s in SOURCES}


class UnknownSourceError(KeyError):
    def __str__(self) -> str:
        known = ", ".join(sorted(_BY_KEY))
        return f"unknown source {self.args[0]!r} (known: {known})"


def get_source(key: str) -> Source:
    try:
        return _BY_KEY[key]
    except KeyError:
        raise UnknownSourceError(key) from None


def all_sources() -> tuple[Source, ...]:
    return SOURCES


def source_for_url(url: str) -> Source | None:
    """The registered source a URL belongs to, if any."""
    return next((s for s in SOURCES if s.owns(url)), None)


def resolve_keys(keys: Iterable[str]) -> list[Source]:
    """Sources for the given keys, in order, raising UnknownSourceError for a key not in the registry."""
    return [get_source(k) for k in keys]
