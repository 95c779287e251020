"""Scale-out: the shared queue holds requests as JSON (aggregator/queue_codec.py), and what a worker pops runs nothing.

scrapy-redis pickled each request, and every worker unpickled what it popped: one ZADD of a pickle whose
``__reduce__`` named ``os.system`` ran that command, as root, on every crawl worker, by anyone who could write to the
Redis (the read site's views counter shares it). A worker now reads only JSON of a request's shape; anything else it
pops is dropped, counted and said in one line.

Redis at ``redis://127.0.0.1:6379/9`` (skipped with a reason when absent; failing when
``AGGREGATOR_REQUIRE_SERVICES=1``). The scheduler runs on its own, as in tests/test_scaleout_leases.py.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, Spider

from aggregator import queue_codec
from aggregator.queue_codec import Unqueueable, UnreadableEntry
from aggregator.run_counts import QUEUE_ENTRIES_DROPPED, UNQUEUEABLE
from tests.conftest import REDIS_NAMESPACE, emptied_redis
from tests.test_scaleout_leases import drain, leased, worker

REDIS_URL = "redis://127.0.0.1:6379/9"


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield from emptied_redis(REDIS_URL)


class _Exploit:
    """A pickle that, unpickled, creates ``marker`` (the review's ``os.system`` payload, made harmless)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def queue_key(made: Any) -> str:
    return f"{REDIS_NAMESPACE}:{made.spider.name}:requests"


def entry(**fields: Any) -> bytes:
    """A queue entry in the codec's JSON, with ``fields`` as written (no tags added)."""
    return json.dumps({queue_codec.FORMAT_KEY: queue_codec.FORMAT, **fields}).encode()


def test_a_pickle_pushed_into_the_queue_runs_nothing_and_is_dropped_in_one_line(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    made, _ = worker(redis_url, monkeypatch, "a")
    assert made.enqueue_request(Request("https://apa.az/xeber/1", callback=made.spider.parse))
    marker = tmp_path / "pwned"
    hostile = [
        pickle.dumps(_Exploit(marker)),  # the review's exploit, first in the queue (lowest score)
        b"\x00garbage",
        entry(url="https://apa.az/x", _class="os.system"),  # Scrapy would import and call it
        entry(url="https://apa.az/x", callback="__init__"),  # any attribute of the spider, but a public method
        entry(url="https://apa.az/x", callback="name"),  # a public attribute, no method
        entry(url="https://apa.az/x", callback="parse", meta={"$bytes": "AAAA", "x": 1}),  # a tag with company
        json.dumps({"url": "https://apa.az/x"}).encode(),  # JSON, of no release of ours
    ]
    for n, data in enumerate(hostile):
        made.server.zadd(queue_key(made), {data: -1000 + n})
    with caplog.at_level(logging.WARNING, logger="aggregator.scaleout"):
        assert drain(made) == ["https://apa.az/xeber/1"]
    assert not marker.exists()
    said = [r.getMessage() for r in caplog.records if "dropped unread" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith("leases: 7 entries of the shared queue dropped unread"), said[0]
    assert "a pickle of an earlier release?" in said[0]
    assert "Redis must be writable by the crawl's workers alone" in said[0]
    assert made.stats.get_value(QUEUE_ENTRIES_DROPPED) == 7
    assert leased(made) == 1  # the request's lease alone: a dropped entry's is let go at once
    assert made.server.zcard(queue_key(made)) == 0


def test_pickles_an_earlier_release_left_go_with_its_generation_unread(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The upgrade: the old release's workers stopped with pickles in the queue (a time limit, a kill). The new
    release's first worker begins a new generation, which empties the queue without reading it."""
    import redis

    marker = tmp_path / "pwned"
    client = redis.Redis.from_url(redis_url)
    client.zadd(f"{REDIS_NAMESPACE}:leases:requests", {pickle.dumps(_Exploit(marker)): 0})
    made, _ = worker(redis_url, monkeypatch, "a")
    assert drain(made) == [] and not marker.exists()
    assert made.stats.get_value(QUEUE_ENTRIES_DROPPED) is None  # nothing popped: the generation dropped it


def test_a_request_goes_through_the_queue_as_it_was_made(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    made, _ = worker(redis_url, monkeypatch, "a")
    spider = made.spider
    meta = {
        "aggregator_feed_published": "Tue, 15 Sep 2026 01:52:20 +0400",
        "published": datetime(2026, 9, 15, 1, 52, 20, tzinfo=UTC),
        "day": date(2026, 9, 15),
        "naive": datetime(2026, 9, 15, 1, 52),
        "raw": b"\xff\x00bytes",
        "pair": ("a", 1),
        "handle_httpstatus_list": [304],
        "by_bytes": {b"key": [b"v"], 2: "two"},
        "$dollar": {"$bytes": "not a tag"},
        "nothing": None,
        "ratio": 0.5,
    }
    request = Request(
        "https://apa.az/xeber/2?q=é",
        callback=spider.parse,
        errback=spider.parse,
        method="POST",
        headers={"If-None-Match": b'"abc"', "X-List": [b"1", b"2"]},
        body=b"\x80\x81 body",
        meta=meta,
        cb_kwargs={"when": date(2026, 1, 2)},
        priority=7,
        dont_filter=True,
        flags=["swept"],
    )
    assert made.enqueue_request(request)
    [data] = made.server.zrange(queue_key(made), 0, -1)
    assert data.startswith(b'{"_aggregator_queue":1,') and b"\x80" not in data  # JSON, never a pickle
    back = made.next_request()
    assert back is not None
    assert (back.url, back.method, back.body, back.priority, back.dont_filter, back.flags) == (
        request.url, "POST", request.body, 7, True, ["swept"],
    )  # fmt: skip
    assert back.callback == spider.parse and back.errback == spider.parse
    assert back.headers.getlist("If-None-Match") == [b'"abc"'] and back.headers.getlist("X-List") == [b"1", b"2"]
    assert back.meta == meta and back.cb_kwargs == {"when": date(2026, 1, 2)}
    assert type(back.meta["pair"]) is tuple and back.meta["published"].tzinfo is UTC


def test_a_request_the_queue_cannot_hold_is_said_counted_and_dropped_never_pickled(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    made, _ = worker(redis_url, monkeypatch, "a")
    with caplog.at_level(logging.ERROR, logger="aggregator.scaleout"):
        assert not made.enqueue_request(Request("https://apa.az/xeber/3", meta={"seen": {"a"}}))
        assert not made.enqueue_request(Request("https://apa.az/xeber/4", callback=lambda response: None))
    assert made.server.zcard(queue_key(made)) == 0
    assert made.stats.get_value(UNQUEUEABLE) == 2
    [first, second] = [r.getMessage() for r in caplog.records]
    assert first == (
        "leases: <GET https://apa.az/xeber/3> cannot be put in the shared queue, and is not fetched: meta['seen'] "
        "holds a builtins.set, which the shared queue cannot hold (it keeps JSON's values, bytes, datetimes, dates, "
        "tuples and dicts of those) (a bug: see aggregator/queue_codec.py)"
    )
    assert "is not an instance method" in second
    assert made.enqueue_request(Request("https://apa.az/xeber/5"))  # the next one is queued as ever


def test_the_scale_out_settings_name_the_json_queue_and_a_scheduler_never_falls_back_on_pickle() -> None:
    from scrapy.settings import Settings

    from aggregator.scaleout import SharedScheduler, redis_settings

    assert redis_settings("redis://127.0.0.1:6379/0")["SCHEDULER_SERIALIZER"] == "aggregator.queue_codec"
    settings = Settings({"REDIS_URL": "redis://127.0.0.1:6379/0", "SCHEDULER_PERSIST": True})
    assert SharedScheduler.from_settings(settings).serializer is queue_codec  # no SCHEDULER_SERIALIZER: not pickle


# -- the codec alone ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (pickle.dumps({"url": "https://apa.az/"}), "not JSON (it starts b'\\x80"),
        (b"{not json", "not JSON ("),
        (b'{"url": "https://apa.az/"}', "not a request of this release's queue"),
        (b"[1, 2]", "not JSON (it starts b'[1, 2]'"),
        (entry(url=1), "a request without a URL"),
        (entry(url="u", _class="scrapy.http.request.form.FormRequest"), "unknown keys: _class"),
        (entry(url="u", callback="_private"), "is no public method name: '_private'"),
        (entry(url="u", errback="parse.__globals__"), "is no public method name"),
        (entry(url="u", meta=[1]), "whose meta is a list"),
        (entry(url="u", priority=True), "whose priority is a bool"),
        (entry(url="u", body="text"), "whose body is a str"),
        (entry(url="u", meta={"a": {"$tuple": "x"}}), "a $tuple that does not hold one"),
        (entry(url="u", meta={"a": {"$bytes": "!!"}}), "a $bytes that does not hold one"),
        (entry(url="u", meta={"a": {"$dict": [[[1], 2]]}}), "a $dict that does not hold one"),
        (entry(url="u", meta={"a": {"$object": "os.system"}}), "an unknown tag"),
    ],
)
def test_what_is_no_request_of_ours_is_unreadable(data: bytes, why: str) -> None:
    with pytest.raises(UnreadableEntry) as refused:
        queue_codec.loads(data)
    assert why in str(refused.value)


def test_what_the_codec_cannot_write_it_refuses_saying_where() -> None:
    spider = Spider("s")
    with pytest.raises(Unqueueable, match=r"meta\['a'\]\[1\] holds a builtins.object"):
        queue_codec.dumps(Request("https://apa.az/", meta={"a": [1, object()]}).to_dict(spider=spider))
    with pytest.raises(Unqueueable, match=r"plain scrapy\.Request objects only"):
        queue_codec.dumps(Request("https://apa.az/").to_dict(spider=spider) | {"_class": "x.FormRequest"})
    with pytest.raises(Unqueueable, match="Out of range float values"):
        queue_codec.dumps(Request("https://apa.az/", meta={"a": float("nan")}).to_dict(spider=spider))
