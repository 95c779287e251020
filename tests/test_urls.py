from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scrapy import Request

from aggregator.urls import _PLAIN, CanonicalRequestFingerprinter, _canonical, canonical_url, linked_url


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
    ],
)
def test_canonical_url(given: str, canonical: str) -> None:
    assert canonical_url(given) == canonical


# URLs near the shortcut's edge: its own characters and the ones it leaves to w3lib (upper case, dots, "www.",
# ports, escapes, queries, fragments, spaces, Cyrillic).
URL_PARTS = st.sampled_from(
    ["a", "Z", "0", "-", "_", "~", ".", "..", "/", "//", "www.", "%41", "%d0%bd", "?", "#", "&", "=", ":8080", " ",
     "н", "post", "az", "en", "142379", "x-8036", "index.html"]
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
