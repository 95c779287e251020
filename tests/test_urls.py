from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scrapy import Request

from aggregator.urls import (
    _PLAIN,
    CanonicalRequestFingerprinter,
    _canonical,
    canonical_url,
    linked_url,
    names_another_article,
)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("https://caliber.az/en/post/142379/", "https://caliber.az/en/post/142379"),
        ("https://caliber.az/en/post/142379", "https://caliber.az/en/post/142379"),
        (
            "http://www.Caliber.AZ/post/x-8036?utm_source=fb&utm_medium=x#top",
            "https://caliber.az/post/x-8036",
        ),
        ("https://caliber.az/post/153813?fbclid=abc&page=2", "https://caliber.az/post/153813?page=2"),
        ("https://caliber.az/search?q=b&a=1", "https://caliber.az/search?a=1&q=b"),
        ("https://caliber.az/", "https://caliber.az/"),
        ("https://caliber.az:443/post/x", "https://caliber.az/post/x"),
        ("https://caliber.az/search/нефть", "https://caliber.az/search/%D0%BD%D0%B5%D1%84%D1%82%D1%8C"),
        ("https://caliber.az/search/%d0%bd%D0%B5", "https://caliber.az/search/%D0%BD%D0%B5"),  # escapes' case
        ("https://REPORT.AZ/ru/x/?gclid=1&yclid=2&_openstat=a&ref=main&amp=1", "https://report.az/ru/x"),
        # Query parameters that name the article are its address: kept.
        ("https://news.example/news.php?id=5&utm_source=fb", "https://news.example/news.php?id=5"),
        ("https://news.example/?id=123#comments", "https://news.example/?id=123"),
        ("https://news.example/index.php?newsid=7", "https://news.example/index.php?newsid=7"),
    ],
)
def test_canonical_url(given: str, canonical: str) -> None:
    assert canonical_url(given) == canonical


A = "https://report.az/ru/proisshestviya/liven-v-baku"


@pytest.mark.parametrize(
    "form",
    [
        "https://m.report.az/ru/proisshestviya/liven-v-baku/",  # the mobile site
        "https://amp.report.az/ru/proisshestviya/liven-v-baku",  # an AMP host
        "https://report.az/ru/proisshestviya/liven-v-baku/amp/",  # an AMP page's path
        "https://www.report.az/ru/proisshestviya/liven-v-baku/amp",
        "https://report.az//ru/proisshestviya//liven-v-baku/",  # a CMS joining "/" and "/ru/..."
        "https://report.az/ru/proisshestviya/liven-v-baku/index.html",  # the directory's index page
        "https://report.az/ru/proisshestviya/liven-v-baku/index.php",
    ],
)
def test_the_mobile_amp_and_index_forms_of_a_page_are_the_page(form: str) -> None:
    """Each form was an article of its own to the duplicate filter, the incremental crawl and (without a canonical
    link) the archive: fetched again at every run, or kept twice."""
    assert canonical_url(form) == A


def test_hosts_that_are_no_alternate_form_are_kept() -> None:
    assert canonical_url("https://m.az/a") == "https://m.az/a"  # a name of its own, not m. of "az"
    assert canonical_url("https://www.az/a") == "https://www.az/a"
    assert canonical_url("https://en.trend.az/a") == "https://en.trend.az/a"  # an edition
    assert canonical_url("https://news.example/amp") == "https://news.example/amp"  # no page of which it is the AMP


@pytest.mark.parametrize(
    ("url", "canonical", "another"),
    [
        ("https://caliber.az/post/slug-8036", "https://caliber.az/post/other-8037", True),
        ("https://haqqin.az/newsarchive/393104", "https://haqqin.az/newsarchive/393105", True),
        ("https://news.example/news.php?id=5", "https://news.example/news.php?id=6", True),
        ("https://az.trend.az/world/europe/4102066.html", "https://az.trend.az/world/europe/4102010.html", True),
        # The same article at another address: a numeric link to a named page, a section moved, an AMP copy.
        ("https://caliber.az/post/153813", "https://caliber.az/post/slug-153813", False),
        ("https://caliber.az/post/153813", "https://caliber.az/post/slug", False),
        ("https://az.trend.az/world/europe/4102066.html", "https://az.trend.az/world/4102066.html", False),
        ("https://news.example/news.php?id=5&amp=1&page=2", "https://news.example/news.php?id=5", False),
        # A slug's own short number is no article's: "...-na-8" and "...-na-9" cannot be told apart so.
        ("https://report.az/ru/ekonomika/aktivy-na-8", "https://report.az/ru/ekonomika/aktivy-na-9", False),
    ],
)
def test_names_another_article(url: str, canonical: str, another: bool) -> None:
    assert names_another_article(url, canonical) is another


# URLs near the shortcut's edge: its own characters and the ones it leaves to w3lib (upper case, dots, "www.",
# ports, escapes, queries, fragments, spaces, Cyrillic).
URL_PARTS = st.sampled_from(
    ["a", "Z", "0", "-", "_", "~", ".", "..", "/", "//", "www.", "%41", "%d0%bd", "?", "#", "&", "=", ":8080", " ",
     "н", "post", "az", "en", "142379", "x-8036", "index.html", "index.php", "m.", "amp.", "amp", "/amp"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(
    scheme=st.sampled_from(["https://", "http://", "HTTPS://"]),
    host=st.lists(URL_PARTS, min_size=1, max_size=4).map("".join),
    path=st.lists(URL_PARTS, max_size=8).map("".join),
)
@example(scheme="https://", host="caliber.az", path="/post/x/")
@example(scheme="https://", host="caliber.az", path="/a/../b")
@example(scheme="https://", host="www.caliber.az", path="/a")
@example(scheme="https://", host="m.caliber.az", path="/a//b/amp/")
@example(scheme="https://", host="caliber.az", path="/a/index.php")
def test_the_shortcut_for_plain_urls_agrees_with_w3lib(scheme: str, host: str, path: str) -> None:
    """``canonical_url`` answers a plain URL (``_PLAIN``) without w3lib: the same answer as the long way."""
    url = scheme + host + (path if not path or path.startswith("/") else "/" + path)
    try:
        expected = _canonical(url)
    except ValueError:  # not a URL at all (a bad port): no shortcut may take it either
        assert not _PLAIN.fullmatch(url)
        return
    assert canonical_url(url) == expected


def test_fingerprint_is_the_same_for_forms_of_one_article() -> None:
    fp = CanonicalRequestFingerprinter()
    slash = fp.fingerprint(Request("https://caliber.az/en/post/142379/"))
    bare = fp.fingerprint(Request("https://caliber.az/en/post/142379"))
    tracked = fp.fingerprint(Request("https://caliber.az/en/post/142379?utm_source=x"))
    other = fp.fingerprint(Request("https://caliber.az/en/post/142380"))
    assert slash == bare == tracked != other


def test_the_linked_url_is_only_another_page_s_address() -> None:
    chain = {"redirect_urls": ["https://caliber.az/post/5", "https://caliber.az/post/five"]}
    assert linked_url(chain, "https://caliber.az/post/old-slug") == "https://caliber.az/post/5"
    assert linked_url({}, "https://caliber.az/post/5") is None  # not redirected
    # Another form of the same address (scheme, www., trailing slash) is the same page: nothing to remember.
    assert linked_url({"redirect_urls": ["http://www.caliber.az/post/5/"]}, "https://caliber.az/post/5") is None
