"""A source cannot make the crawler fetch the operator's own network (aggregator/address_guard.py).

A security review found that a link, a feed entry or a redirect to another port of a source's host
(``http://caliber.az:6379/``) was fetched, and so was a subdomain of the source's that its DNS pointed at 127.0.0.1,
10.x or 169.254.169.254: what answered there was re-published when it looked like an article, kept in the rejects when
it did not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import CannotResolveHostError
from scrapy.http import Response
from scrapy.resolver import dnscache
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from twisted.python.failure import Failure

from aggregator.address_guard import (
    ADDRESS_REFUSED,
    PORT_REFUSED,
    AddressRefusalMiddleware,
    PortGuardMiddleware,
    PortRefused,
    PrivateAddressRefused,
    PublicAddressResolver,
    private_kind,
)
from aggregator.environment import env_settings
from aggregator.mirror import serve_mirror
from aggregator.redirect_guard import RedirectedToPort, RedirectGuardMiddleware
from aggregator.sources import Source, get_source
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, Reject
from spiders.caliber import CaliberSpider
from tests.conftest import ROOT, SAMPLE, run_cli
from tests.crawl_checks import expected
from tests.helpers.private_sites import SUBDOMAIN

REFUSAL = "refused (AGGREGATOR_ALLOW_PRIVATE_ADDRESSES=1 allows it)"


def news_site(*urls: str) -> Source:
    return Source(
        key="news",
        name="News.example",
        domains=("news.example",),
        languages=("ru",),
        timezone="Asia/Baku",
        homepage="https://news.example",
        entry_urls=urls,
    )


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://caliber.az/post/1", True),
        ("http://caliber.az/post/1", True),
        ("https://caliber.az:443/post/1", True),
        ("http://cdn.caliber.az:80/a.jpg", True),
        ("http://caliber.az:6379/", False),  # Redis
        ("http://internal.caliber.az:8500/v1/kv/?recurse", False),  # Consul
        ("https://caliber.az:8443/post/1", False),
        ("https://caliber.az:99999/post/1", False),  # no port at all
        ("ftp://caliber.az/x", False),
    ],
)
def test_a_source_is_fetched_on_ports_80_and_443(url: str, allowed: bool) -> None:
    assert get_source("caliber").allows_port(url) is allowed


def test_a_port_the_entry_names_is_allowed_for_that_host_only() -> None:
    site = news_site("https://news.example:8443/rss", "http://feeds.news.example:8080/all.xml")
    assert site.allows_port("https://news.example:8443/post/1")
    assert site.allows_port("http://FEEDS.news.example.:8080/other.xml")
    assert not site.allows_port("https://www.news.example:8443/post/1")  # a subdomain gets no port of its parent's
    assert not site.allows_port("http://news.example:8080/")  # nor the host another host's
    assert not site.allows_port("https://news.example:6379/")


@pytest.fixture
def crawler() -> Any:
    made = get_crawler(CaliberSpider)
    made.spider = CaliberSpider()
    made.stats.open_spider()
    return made


def test_a_request_to_another_port_of_the_sources_host_is_refused_and_counted(crawler: Any) -> None:
    guard = PortGuardMiddleware.from_crawler(crawler)
    with pytest.raises(PortRefused) as refused:
        guard.process_request(Request("http://internal.caliber.az:8500/v1/kv/?recurse"))
    assert str(refused.value) == (
        "port 8500 refused: not 80 or 443, nor a port the source's registry entry names for internal.caliber.az"
    )
    assert guard.process_request(Request("https://caliber.az/post/1")) is None
    assert crawler.stats.get_value(PORT_REFUSED) == 1


def test_a_mirror_crawl_checks_the_real_address_and_lets_the_mirrors_own_pass() -> None:
    made = get_crawler(CaliberSpider, {"AGGREGATOR_MIRROR": "http://127.0.0.1:8800"})
    made.spider = CaliberSpider()
    made.stats.open_spider()
    guard = PortGuardMiddleware.from_crawler(made)
    assert guard.process_request(Request("http://127.0.0.1:8800/caliber.az/post/1")) is None
    with pytest.raises(PortRefused):
        guard.process_request(Request("http://caliber.az:8800/post/1"))


def test_a_redirect_to_another_port_is_refused_with_its_chain(crawler: Any) -> None:
    guard = RedirectGuardMiddleware.from_crawler(crawler)
    page = Request("https://caliber.az/post/157204")
    moved = Response(page.url, status=302, headers={"Location": "http://caliber.az:6379/"}, request=page)
    with pytest.raises(RedirectedToPort) as refused:
        guard.process_response(page, moved)
    assert str(refused.value) == (
        "redirected to a port the source's pages are not fetched on (302): "
        "https://caliber.az/post/157204 -> http://caliber.az:6379/"
    )
    assert refused.value.status == 302
    assert crawler.stats.get_value("aggregator/redirected_to_port") == 1
    same = Response(page.url, status=301, headers={"Location": "https://caliber.az:443/post/157204-x"}, request=page)
    assert guard.process_response(page, same) is same


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.0.0.5", "private network"),
        ("172.16.3.4", "private network"),
        ("192.168.1.1", "private network"),
        ("169.254.169.254", "link-local"),  # a cloud's metadata service
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "reserved"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::5", "private network"),
        ("::ffff:127.0.0.1", "loopback"),
        ("93.184.216.34", None),
        ("2a00:1450:4001::1", None),
    ],
)
def test_addresses_of_no_public_site_are_told_apart(address: str, kind: str | None) -> None:
    assert private_kind(address) == kind


@pytest.fixture
def cached() -> Iterator[dict[str, str]]:
    """Names put in Scrapy's resolver cache, as if looked up already (no thread, no reactor), taken out after."""
    names: dict[str, str] = {}
    yield names
    for name in names:
        dnscache.pop(name, None)


def resolve(resolver: PublicAddressResolver, name: str) -> str | Failure:
    results: list[str | Failure] = []
    resolver.getHostByName(name).addBoth(results.append)
    (result,) = results  # a cached name is answered at once
    return result


def test_the_resolver_refuses_a_private_address_even_a_cached_one(cached: dict[str, str]) -> None:
    cached.update({"intranet.caliber.az": "10.0.0.5", "cdn.caliber.az": "93.184.216.34", "localhost": "127.0.0.1"})
    for name, address in cached.items():
        dnscache[name] = address
    guarded = PublicAddressResolver(object(), 10000, 60.0, allow_private=False, exempt=("LOCALHOST",))  # type: ignore[arg-type]
    refused = resolve(guarded, "intranet.caliber.az")
    assert isinstance(refused, Failure)
    assert resolve(guarded, "cdn.caliber.az") == "93.184.216.34"
    assert resolve(guarded, "localhost") == "127.0.0.1"  # the mirror's own host, by name
    allowing = PublicAddressResolver(object(), 10000, 60.0, allow_private=True, exempt=())  # type: ignore[arg-type]
    assert resolve(allowing, "intranet.caliber.az") == "10.0.0.5"

    # Twisted makes the refusal a lookup with no result, and Scrapy a CannotResolveHostError: the reason comes back
    # before Scrapy's retry would ask twice more.
    crawler = get_crawler(CaliberSpider)
    crawler.spider = CaliberSpider()
    crawler.stats.open_spider()
    middleware = AddressRefusalMiddleware.from_crawler(crawler)
    lookup = CannotResolveHostError("DNS lookup failed: no results for hostname lookup: intranet.caliber.az.")
    with pytest.raises(PrivateAddressRefused) as said:
        middleware.process_exception(Request("http://intranet.caliber.az/admin"), lookup)
    assert str(said.value) == f"intranet.caliber.az resolves to a private address 10.0.0.5 (private network): {REFUSAL}"
    assert crawler.stats.get_value(ADDRESS_REFUSED) == 1
    unknown = CannotResolveHostError("DNS lookup failed: no results for hostname lookup: gone.caliber.az.")
    assert middleware.process_exception(Request("http://gone.caliber.az/"), unknown) is None  # no address at all


def test_the_mirrors_host_and_the_environments_proxy_are_exempt(
    cached: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both are the operator's own servers, on its network as a rule: with a proxy, Scrapy connects to the proxy, which
    resolves the sites' names itself."""
    cached.update({"mirror.lan": "10.0.0.8", "squid.lan": "10.0.0.9", "other.lan": "10.0.0.10"})
    for name, address in cached.items():
        dnscache[name] = address
    monkeypatch.setenv("https_proxy", "http://squid.lan:3128")
    process = SimpleNamespace(settings=Settings({"AGGREGATOR_MIRROR": "http://mirror.lan:8800"}))
    resolver = PublicAddressResolver.from_crawler(process, object())  # type: ignore[arg-type]
    assert resolve(resolver, "mirror.lan") == "10.0.0.8"
    assert resolve(resolver, "squid.lan") == "10.0.0.9"
    assert isinstance(resolve(resolver, "other.lan"), Failure)


def test_the_switch_is_read_from_the_environment() -> None:
    assert env_settings({"AGGREGATOR_ALLOW_PRIVATE_ADDRESSES": "1"})["AGGREGATOR_ALLOW_PRIVATE_ADDRESSES"] is True


class _Counting(BaseHTTPRequestHandler):
    """Any page: an empty feed, each request noted (its Host and path)."""

    server: Any

    def do_GET(self) -> None:
        self.server.asked.append((self.headers.get("Host", "").rsplit(":", 1)[0], self.path))
        body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>lan</title></channel></rss>'
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def lan_server() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    server.asked = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def crawl_lan(db: str, port: int, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.helpers.private_sites", db, str(port)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    stats: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return stats


def fetch_rejects(db: str) -> dict[str, str]:
    with Session(create_engine(normalise_url(db))) as s:
        return {r.url: r.reason for r in s.scalars(select(Reject).where(Reject.stage == "fetch"))}


def test_a_live_crawl_connects_to_no_private_address_unless_allowed(tmp_path: Path, lan_server: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    port = lan_server.server_address[1]
    db = f"sqlite:///{tmp_path / 'a.db'}"
    stats = crawl_lan(db, port, env)
    assert lan_server.asked == []  # not even robots.txt
    assert fetch_rejects(db) == {
        f"http://{SUBDOMAIN}:{port}/rss": f"{SUBDOMAIN} resolves to a private address 127.0.0.1 (loopback): {REFUSAL}",
        f"http://localhost:{port}/rss": f"localhost resolves to a private address 127.0.0.1 (loopback): {REFUSAL}",
        f"http://127.0.0.1:{port}/rss": f"127.0.0.1 resolves to a private address 127.0.0.1 (loopback): {REFUSAL}",
    }
    assert stats[ADDRESS_REFUSED] >= 3
    assert not [k for k in stats if k.startswith("retry/")]  # a refused name is not asked again

    allowed = crawl_lan(f"sqlite:///{tmp_path / 'b.db'}", port, {**env, "AGGREGATOR_ALLOW_PRIVATE_ADDRESSES": "1"})
    assert {(SUBDOMAIN, "/rss"), ("localhost", "/rss"), ("127.0.0.1", "/rss")} <= set(lan_server.asked)
    assert ADDRESS_REFUSED not in allowed


def test_a_mirror_crawl_is_unaffected_and_refuses_a_redirect_to_another_port(tmp_path: Path) -> None:
    """The mirror named by a name that resolves to 127.0.0.1 (its own address is the operator's); the real URL's port
    is checked, before the mirror's handler rewrites it."""
    moved = "https://caliber.az/post/pogoda-v-baku-na-vyhodnye-bez-osadkov"
    overlay = tmp_path / "overlay"
    (overlay / "caliber.az").mkdir(parents=True)
    (overlay / "caliber.az" / "_mirror.toml").write_text(
        '[[response]]\npath = "/post/pogoda-v-baku-na-vyhodnye-bez-osadkov"\nstatus = 302\n'
        'headers = { Location = "http://caliber.az:6379/" }\n',
        encoding="utf-8",
    )
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with serve_mirror(SAMPLE, overlays=(overlay,)) as base:
        by_name = base.replace("127.0.0.1", "localhost")
        done = run_cli("--db", db, "crawl", "caliber", "--mirror", by_name)
    assert done.returncode == 0, done.stderr[-3000:]
    assert fetch_rejects(db)[moved] == (
        f"redirected to a port the source's pages are not fetched on (302): {moved} -> http://caliber.az:6379/"
    )
    with Session(create_engine(normalise_url(db))) as s:
        archived = set(s.scalars(select(Article.url)))
    assert archived == {a["url"] for a in expected("caliber")["articles"]} - {moved}  # every other page, as ever
