"""A redirect off the source's sites, or in a loop, is refused with its chain before Scrapy would drop it unseen."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from aggregator.redirect_guard import RedirectedOffsite, RedirectGuardMiddleware, RedirectLoop, RedirectUnreadable
from spiders.caliber import CaliberSpider


@pytest.fixture
def guard() -> RedirectGuardMiddleware:
    crawler = get_crawler(CaliberSpider)
    crawler.spider = CaliberSpider()
    crawler.stats.open_spider()
    return RedirectGuardMiddleware.from_crawler(crawler)


def redirect(request: Request, location: str, status: int = 301) -> Response:
    return Response(request.url, status=status, headers={"Location": location}, request=request)


def test_a_redirect_to_another_site_is_refused_with_its_chain(guard: RedirectGuardMiddleware) -> None:
    first = Request("https://caliber.az/post/157204")
    hop = first.replace(url="https://caliber.az/post/moved", meta={"redirect_urls": [first.url]})
    with pytest.raises(RedirectedOffsite) as refused:
        guard.process_response(hop, redirect(hop, "https://evil.example/x#top", 302))
    assert str(refused.value) == (
        "redirected off the source's sites (302): "
        "https://caliber.az/post/157204 -> https://caliber.az/post/moved -> https://evil.example/x"
    )
    assert refused.value.status == 302  # a 3xx: the page waits, as after a 404, not retried at the next run
    assert guard.crawler.stats.get_value("aggregator/redirected_offsite") == 1


def test_a_redirect_back_to_an_address_of_its_chain_is_a_loop(guard: RedirectGuardMiddleware) -> None:
    page = Request("https://caliber.az/post/loop")
    with pytest.raises(RedirectLoop) as looped:
        guard.process_response(page, redirect(page, "/post/loop"))
    assert str(looped.value) == "redirect loop (301): https://caliber.az/post/loop -> https://caliber.az/post/loop"
    second = Request("https://caliber.az/post/b", meta={"redirect_urls": ["https://caliber.az/post/a"]})
    with pytest.raises(RedirectLoop) as looped:
        guard.process_response(second, redirect(second, "https://caliber.az/post/a"))
    assert str(looped.value).endswith("/post/a -> https://caliber.az/post/b -> https://caliber.az/post/a")
    assert guard.crawler.stats.get_value("aggregator/redirect_loop") == 2


@pytest.mark.parametrize(
    "location",
    [
        "https://caliber.az/post/157204",  # a numeric address to its named page
        "/en/post/157204/",
        "https://www.caliber.az/post/157204",  # the source's domains and their subdomains
        "http://caliber.az/post/157204-8036",
        "https://caliber.az/post/157204?from=old",  # another address than its own, if only in the query
    ],
)
def test_a_redirect_within_the_source_is_followed(guard: RedirectGuardMiddleware, location: str) -> None:
    page = Request("https://caliber.az/post/157204-old")
    answer = redirect(page, location)
    assert guard.process_response(page, answer) is answer


def test_what_is_no_redirect_to_follow_passes(guard: RedirectGuardMiddleware) -> None:
    page = Request("https://caliber.az/post/1")
    ok = HtmlResponse(page.url, body=b"<html></html>", request=page)
    assert guard.process_response(page, ok) is ok
    no_location = Response(page.url, status=302, request=page)
    assert guard.process_response(page, no_location) is no_location
    kept = Request(page.url, meta={"dont_redirect": True})
    offsite = redirect(kept, "https://evil.example/")
    assert guard.process_response(kept, offsite) is offsite  # the request asked to see redirects itself


@pytest.mark.parametrize("location", ["http://[broken/post/1", "https://caliber.az:99999999/post/1"])
def test_a_location_that_is_no_address_is_refused_saying_so(guard: RedirectGuardMiddleware, location: str) -> None:
    # Scrapy's RedirectMiddleware failed with "ValueError: Invalid IPv6 URL" (or "Port out of range"): the
    # quarantine row named neither the header nor what it held.
    page = Request("https://caliber.az/post/1")
    with pytest.raises(RedirectUnreadable) as refused:
        guard.process_response(page, redirect(page, location, 302))
    assert str(refused.value).startswith(f"redirect (302) to no address: Location {location!r} (")
    assert refused.value.status == 302
    assert guard.crawler.stats.get_value("aggregator/redirect_unreadable") == 1
