"""How a scale-out crawl's requests are written into the shared queue in Redis, and read back: JSON, never pickle.

scrapy-redis stores each queued request as a pickle by default, and every worker unpickles what it pops: anyone who
could write to the Redis (a host of the read site, whose views counter shares it; a Redis left open on the network)
ran code of their choosing on every crawl worker with one ZADD. Here a request is the dict Scrapy makes of it
(``Request.to_dict``: its callback and errback by their names on the spider) written as JSON, and reading it back
runs nothing: the entry must be a JSON object of that shape, and its callbacks must name public methods of the
spider (``aggregator.scaleout.SharedScheduler`` checks that last part, having the spider).

JSON has no bytes (a request's body, its headers), no datetimes, no tuples and no object keys but strings, so those
are written as one-key objects with a tag: ``{"$bytes": "<base64>"}``, ``{"$datetime": "<ISO 8601>"}``,
``{"$date": ...}``, ``{"$tuple": [...]}``, and ``{"$dict": [[key, value], ...]}`` for a dict with a key that is not a
string or that begins with ``$`` (so that no dict of a spider's meta is ever read as a tag). Anything else (a set, an
object of a class of ours) cannot be written: ``dumps`` raises ``Unqueueable`` naming where it is, a bug to fix where
the request is made, not a reason to fall back on pickle. What ``loads`` cannot read as a request raises
``UnreadableEntry``; the scheduler drops such an entry, counted and logged, and never runs anything of it.

Set as scrapy-redis's ``SCHEDULER_SERIALIZER`` (``aggregator.scaleout.redis_settings``): a module with ``loads`` and
``dumps``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date, datetime
from typing import Any

FORMAT = 1
"""The version of this encoding, written into every entry (``FORMAT_KEY``): a later release that changes it can tell
its own entries from this one's."""
FORMAT_KEY = "_aggregator_queue"
"""The entry's key for ``FORMAT``; not an attribute of a request, so ``request_from_dict`` leaves it alone."""

REQUEST_KEYS = frozenset(
    {"url", "callback", "errback", "method", "headers", "body", "cookies", "meta", "encoding", "priority"}
    | {"dont_filter", "flags", "cb_kwargs"}
)
"""What ``scrapy.Request.to_dict`` writes of a plain ``Request``: an entry with any other key (``_class`` above all,
which Scrapy would import and call) is no request of ours."""
CALLBACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
"""A callback's name as an entry may give it: a public name, never a private or special attribute."""


class Unqueueable(TypeError):
    """A request that cannot be written into the shared queue: a value JSON cannot hold and no tag stands for."""


class UnreadableEntry(ValueError):
    """A queue entry that is not a request this module wrote: not JSON (a pickle of an earlier release, garbage), or
    JSON of another shape."""


def dumps(request: dict[str, Any]) -> bytes:
    """``request`` (``Request.to_dict``'s dict) as the queue's entry: compact JSON in UTF-8, with its tags; raises
    ``Unqueueable`` for what cannot be written."""
    if request.get("_class") is not None:
        raise Unqueueable(
            f"a {request['_class']} cannot be queued: the shared queue holds plain scrapy.Request objects only"
        )
    entry = {FORMAT_KEY: FORMAT, **{key: _encoded(value, key) for key, value in request.items()}}
    try:
        return json.dumps(entry, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except ValueError as exc:  # NaN or an infinity: no JSON number
        raise Unqueueable(f"{request.get('url')}: {exc}") from None


def loads(data: bytes | str) -> dict[str, Any]:
    """The request dict of a queue entry, for ``request_from_dict``; raises ``UnreadableEntry`` for anything but an
    entry ``dumps`` wrote."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if raw[:1] != b"{":  # a pickle starts b"\x80"; nothing is parsed of what cannot be ours
        raise UnreadableEntry(f"not JSON (it starts {raw[:8]!r}: a pickle of an earlier release?)")
    try:
        entry = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise UnreadableEntry(f"not JSON ({exc})") from None
    if not isinstance(entry, dict) or entry.get(FORMAT_KEY) != FORMAT:
        raise UnreadableEntry(f"JSON, but not a request of this release's queue (no {FORMAT_KEY}: {FORMAT})")
    del entry[FORMAT_KEY]
    unknown = sorted(set(entry) - REQUEST_KEYS)
    if unknown:
        raise UnreadableEntry(f"a request with unknown keys: {', '.join(unknown)}")
    request = {key: _decoded(value) for key, value in entry.items()}
    _check_shape(request)
    return request


def _check_shape(request: dict[str, Any]) -> None:
    """Raise ``UnreadableEntry`` unless ``request`` has the types ``Request.to_dict`` gives each key."""
    if not isinstance(request.get("url"), str):
        raise UnreadableEntry("a request without a URL")
    for key in ("callback", "errback"):
        name = request.get(key)
        if name is not None and not (isinstance(name, str) and CALLBACK_NAME.fullmatch(name)):
            raise UnreadableEntry(f"a request whose {key} is no public method name: {name!r}")
    expected: dict[str, type | tuple[type, ...]] = {
        "method": str,
        "headers": dict,
        "body": bytes,
        "meta": dict,
        "encoding": str,
        "priority": int,
        "dont_filter": bool,
        "flags": list,
        "cb_kwargs": dict,
        "cookies": (dict, list),
    }
    for key, kind in expected.items():
        if key in request and not isinstance(request[key], kind):
            raise UnreadableEntry(f"a request whose {key} is a {type(request[key]).__name__}")
    if isinstance(request.get("priority"), bool):
        raise UnreadableEntry("a request whose priority is a bool")
    for key in ("meta", "cb_kwargs"):
        if not all(isinstance(name, str) for name in request.get(key, {})):
            raise UnreadableEntry(f"a request whose {key} has a key that is not a string")


def _encoded(value: Any, where: str) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):  # before date: a datetime is a date
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, list):
        return [_encoded(v, f"{where}[{n}]") for n, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"$tuple": [_encoded(v, f"{where}[{n}]") for n, v in enumerate(value)]}
    if isinstance(value, dict):
        if all(isinstance(key, str) and not key.startswith("$") for key in value):
            return {key: _encoded(v, f"{where}[{key!r}]") for key, v in value.items()}
        return {"$dict": [[_encoded(k, where), _encoded(v, f"{where}[{k!r}]")] for k, v in value.items()]}
    raise Unqueueable(
        f"{where} holds a {type(value).__module__}.{type(value).__qualname__}, which the shared queue cannot hold "
        "(it keeps JSON's values, bytes, datetimes, dates, tuples and dicts of those)"
    )


_TAGS = frozenset({"$bytes", "$datetime", "$date", "$tuple", "$dict"})


def _decoded(value: Any) -> Any:
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and (tag := next(iter(value))) in _TAGS:
        return _untagged(tag, value[tag])
    if any(key.startswith("$") for key in value):
        raise UnreadableEntry(f"an unknown tag among {sorted(value)[:3]}")
    return {key: _decoded(v) for key, v in value.items()}


def _untagged(tag: str, raw: Any) -> Any:
    try:
        if tag == "$bytes" and isinstance(raw, str):
            return base64.b64decode(raw, validate=True)
        if tag == "$datetime" and isinstance(raw, str):
            return datetime.fromisoformat(raw)
        if tag == "$date" and isinstance(raw, str):
            return date.fromisoformat(raw)
        if tag == "$tuple" and isinstance(raw, list):
            return tuple(_decoded(v) for v in raw)
        if tag == "$dict" and isinstance(raw, list) and all(isinstance(p, list) and len(p) == 2 for p in raw):
            pairs = [(_decoded(k), _decoded(v)) for k, v in raw]
            if all(isinstance(k, str | bytes | int | float | bool | tuple | date) or k is None for k, _ in pairs):
                return dict(pairs)
    except (binascii.Error, ValueError, TypeError):  # TypeError: a key no dict can have (a list in a tuple)
        pass
    raise UnreadableEntry(f"a {tag} that does not hold one")
