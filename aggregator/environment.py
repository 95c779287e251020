"""The one place that reads ``AGGREGATOR_*`` from the environment, checking each value as it reads it.

A value that cannot be what its variable means (``AGGREGATOR_RECHECK_HOURS=2h``, ``AGGREGATOR_MIRROR=127.0.0.1:8800``,
``AGGREGATOR_REFRESH=ture``) is an ``EnvironmentValueError`` naming the variable, the value and what it takes: the
``aggregator`` command prints that one line and exits 2, where it used to print a traceback or, worse, crawl with the
value quietly read as something else (a misspelt flag as off, a mirror address without its scheme as the real sites'
fetches all failing). ``aggregator.settings`` applies what this returns over its defaults.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


class EnvironmentValueError(ValueError):
    """An ``AGGREGATOR_*`` variable holds a value it cannot take; the message says which and what it takes."""


def attribution_template_problem(template: str) -> str | None:
    """What is wrong with an attribution template (``"{site}, ссылаясь на сайт {source}, отмечает."``), or None."""
    if "{site}" not in template or "{source}" not in template:
        return "it must contain {site} and {source}"
    try:
        template.format(site="", source="")
    except (KeyError, IndexError, ValueError) as exc:
        return f"only {{site}} and {{source}} can be filled in ({type(exc).__name__}: {exc}; write {{{{ for a brace)"
    return None


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})

_TEXT = ("AGGREGATOR_DB_URL", "AGGREGATOR_SITE_NAME", "AGGREGATOR_CONTACT_URL")
_DURATIONS = {
    "AGGREGATOR_RECHECK_HOURS": "hours",
    "AGGREGATOR_REFUSED_RETRY_HOURS": "hours",
    "AGGREGATOR_REFUSED_RETRY_MAX_HOURS": "hours",
    "AGGREGATOR_STALE_RUN_HOURS": "hours",
    "AGGREGATOR_HEALTH_MAX_AGE_HOURS": "hours",
    "AGGREGATOR_RUNS_KEEP_DAYS": "days",
    "AGGREGATOR_SWEEP_DAYS": "days",
    "AGGREGATOR_REDIS_IDLE_SECONDS": "seconds",
    "AGGREGATOR_REDIS_HEARTBEAT_TTL": "seconds",
    "AGGREGATOR_REDIS_OUTAGE_SECONDS": "seconds",
    "AGGREGATOR_RATE_LIMIT_WAIT": "seconds",
    "AGGREGATOR_RETRY_AFTER_MAX": "seconds",
    "AGGREGATOR_LOCK_CHECK_SECONDS": "seconds",
    "AGGREGATOR_VIEW_WINDOW_SECONDS": "seconds",
}
_FLAGS = {
    "AGGREGATOR_REFRESH": "AGGREGATOR_REFRESH",
    "AGGREGATOR_RUN_LOCK": "AGGREGATOR_RUN_LOCK",
    "AGGREGATOR_TELNET": "TELNETCONSOLE_ENABLED",
    "AGGREGATOR_REMOTE_CONTROL": "REMOTE_CONTROL_ENABLED",
    "AGGREGATOR_ALLOW_PRIVATE_ADDRESSES": "AGGREGATOR_ALLOW_PRIVATE_ADDRESSES",
}
_MIRROR = re.compile(r"https?://[^/\s]+")
MIRROR_HOST = "127.0.0.1"
MIRROR_PORT = 8800
"""Where ``aggregator mirror serve`` listens unless told otherwise, so the address a bad ``--mirror`` is shown."""
MIN_HEARTBEAT_TTL = 4.0
"""Two of a scale-out worker's heartbeats (``aggregator.scaleout.HEARTBEAT_SECONDS``): a shorter life would take a
worker whose beat is a moment late for a dead one."""


def mirror_address_problem(value: str) -> str | None:
    """What is wrong with a mirror's address (``--mirror``, ``AGGREGATOR_MIRROR``), or None."""
    if _MIRROR.match(value):
        return None
    return f"needs the mirror's http(s) address, such as http://{MIRROR_HOST}:{MIRROR_PORT}, not {value!r}"


def public_address_problem(value: str) -> str | None:
    """What is wrong with the site's public address (``AGGREGATOR_PUBLIC_URL``: scheme, host and port, no path), or
    None."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises on a port that is no number)
    except ValueError as exc:
        return f"is no address ({exc}): give the site's, such as https://icma.az"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"needs the site's http(s) address, such as https://icma.az, not {value!r}"
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        return f"is the site's address alone (scheme, host, port), not {value!r}"
    return None


def cors_origins(value: str) -> tuple[str, ...]:
    """``AGGREGATOR_CORS_ORIGINS`` read: comma-separated origins (``https://icma.az,https://www.icma.az``), each a
    scheme, host and port with no path, as a browser names the page's origin; or ``*``, any origin. A trailing slash
    is dropped: the browser's ``Origin`` has none, and an origin with one would never match."""
    from aggregator.urls import web_origin

    origins: list[str] = []
    for given in (part.strip() for part in value.split(",")):
        if not given:
            continue
        if given == "*":
            return ("*",)
        origin = given.rstrip("/")
        try:
            parts = urlsplit(origin)
            parts.port  # noqa: B018 (raises on a port that is no number)
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username
        ):
            raise EnvironmentValueError(
                f"AGGREGATOR_CORS_ORIGINS={value!r}: {given!r} is no origin: give scheme and host (and port), such as "
                "https://icma.az, separated by commas, or * for any"
            )
        # as a browser's Origin names it (aggregator.urls.web_origin: no port of the scheme's own), or it never matches
        origins.append(web_origin(origin) or origin.lower())
    return tuple(dict.fromkeys(origins))


REDIS_SCHEMES = ("redis", "rediss", "unix")
"""What redis-py (so scrapy-redis) connects with; any other address fails only once the crawl's engine runs."""


_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def redis_namespace(value: str) -> str:
    """A Redis key namespace (``AGGREGATOR_REDIS_NAMESPACE``) checked: letters, digits, ``_ . -``. A colon would
    make one namespace a prefix of another's keys, and a glob character would make the workers' scan of each
    other's heartbeats match keys not theirs."""
    if not _NAMESPACE.fullmatch(value):
        raise EnvironmentValueError(
            f"AGGREGATOR_REDIS_NAMESPACE={value!r}: letters, digits, '_', '.' and '-' only, such as aggregator-staging"
        )
    return value


def shown_redis_url(value: str) -> str:
    """A Redis address as an error line may print it: a password in it (``redis://:secret@host``) is starred out, as
    the line goes to cron mail and journals."""
    parts = urlsplit(value)
    if not parts.password:
        return value
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def redis_address_problem(value: str) -> str | None:
    """What is wrong with a Redis address (``AGGREGATOR_REDIS_URL``), or None. Whether a server answers there is
    for ``aggregator.scaleout.redis_unreachable``."""
    parts = urlsplit(value)
    shown = shown_redis_url(value)
    if parts.scheme not in REDIS_SCHEMES:
        return f"needs a redis://, rediss:// or unix:// address, such as redis://127.0.0.1:6379/0, not {shown!r}"
    try:
        parts.port  # noqa: B018  (reading it is the check)
    except ValueError:
        return f"needs a port that is a number, not {shown!r}"
    return None


def flag(value: str | None, name: str = "flag") -> bool:
    """``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off`` (any case; empty is off)."""
    word = (value or "").strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise EnvironmentValueError(f"{name}={value!r}: expected 1/true/yes/on or 0/false/no/off")


def _number(env: Mapping[str, str], name: str, unit: str, *, whole: bool = False) -> float:
    raw = env[name]
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise EnvironmentValueError(f"{name}={raw!r}: expected {kind} of {unit}") from None
    if value < 0 or not math.isfinite(value):
        raise EnvironmentValueError(f"{name}={raw!r}: expected {unit} as a number of 0 or more")
    return value


def env_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings the environment asks for (only those it sets), each value checked."""
    env = os.environ if environ is None else environ
    found: dict[str, Any] = {name: env[name] for name in _TEXT if env.get(name)}
    if env.get("AGGREGATOR_MIRROR"):
        problem = mirror_address_problem(env["AGGREGATOR_MIRROR"])
        if problem:
            raise EnvironmentValueError(f"AGGREGATOR_MIRROR {problem}")
        found["AGGREGATOR_MIRROR"] = env["AGGREGATOR_MIRROR"]
    if env.get("AGGREGATOR_PUBLIC_URL"):
        problem = public_address_problem(env["AGGREGATOR_PUBLIC_URL"])
        if problem:
            raise EnvironmentValueError(f"AGGREGATOR_PUBLIC_URL {problem}")
        found["AGGREGATOR_PUBLIC_URL"] = env["AGGREGATOR_PUBLIC_URL"].rstrip("/")
    if env.get("AGGREGATOR_CORS_ORIGINS", "").strip():
        found["AGGREGATOR_CORS_ORIGINS"] = cors_origins(env["AGGREGATOR_CORS_ORIGINS"])
    if env.get("AGGREGATOR_STORE_WRITER"):
        from aggregator.store.writer import WRITER_KINDS  # only when asked: it loads the store

        if env["AGGREGATOR_STORE_WRITER"] not in WRITER_KINDS:
            kinds = " or ".join(WRITER_KINDS)
            raise EnvironmentValueError(f"AGGREGATOR_STORE_WRITER={env['AGGREGATOR_STORE_WRITER']!r}: expected {kinds}")
        found["AGGREGATOR_STORE_WRITER"] = env["AGGREGATOR_STORE_WRITER"]
    templates = {
        lang: env[f"AGGREGATOR_ATTRIBUTION_{lang.upper()}"]
        for lang in ("ru", "az", "en")
        if env.get(f"AGGREGATOR_ATTRIBUTION_{lang.upper()}")
    }
    for lang, template in templates.items():  # refused here, not by the first article of a crawl (a traceback)
        problem = attribution_template_problem(template)
        if problem:
            raise EnvironmentValueError(f"AGGREGATOR_ATTRIBUTION_{lang.upper()}={template!r}: {problem}")
    if templates:
        found["AGGREGATOR_ATTRIBUTION_TEMPLATES"] = templates
    if env.get("AGGREGATOR_CACHE_SECONDS"):  # a whole number: Cache-Control's max-age takes no fraction
        found["AGGREGATOR_CACHE_SECONDS"] = _number(env, "AGGREGATOR_CACHE_SECONDS", "seconds", whole=True)
    if env.get("AGGREGATOR_STORE_BATCH"):
        found["AGGREGATOR_STORE_BATCH"] = _number(env, "AGGREGATOR_STORE_BATCH", "items", whole=True)
    if env.get("AGGREGATOR_REDIS_URL"):
        problem = redis_address_problem(env["AGGREGATOR_REDIS_URL"])
        if problem:
            raise EnvironmentValueError(f"AGGREGATOR_REDIS_URL {problem}")
        found["AGGREGATOR_REDIS_URL"] = env["AGGREGATOR_REDIS_URL"]
    if env.get("AGGREGATOR_REDIS_NAMESPACE"):
        found["AGGREGATOR_REDIS_NAMESPACE"] = redis_namespace(env["AGGREGATOR_REDIS_NAMESPACE"])
    for name, unit in _DURATIONS.items():
        if env.get(name):
            found[name] = _number(env, name, unit)
    if found.get("AGGREGATOR_REDIS_HEARTBEAT_TTL", MIN_HEARTBEAT_TTL) < MIN_HEARTBEAT_TTL:
        raw = env["AGGREGATOR_REDIS_HEARTBEAT_TTL"]
        raise EnvironmentValueError(
            f"AGGREGATOR_REDIS_HEARTBEAT_TTL={raw!r}: at least {MIN_HEARTBEAT_TTL:g} seconds (two 2-second heartbeats)"
        )
    if env.get("AGGREGATOR_RUNS_KEEP_MIN"):
        found["AGGREGATOR_RUNS_KEEP_MIN"] = _number(env, "AGGREGATOR_RUNS_KEEP_MIN", "runs", whole=True)
    if env.get("AGGREGATOR_SWEEP_PER_RUN"):
        found["AGGREGATOR_SWEEP_PER_RUN"] = _number(env, "AGGREGATOR_SWEEP_PER_RUN", "articles", whole=True)
    if env.get("AGGREGATOR_MAX_DOWNLOAD_MB"):
        found["DOWNLOAD_MAXSIZE"] = int(_number(env, "AGGREGATOR_MAX_DOWNLOAD_MB", "megabytes") * 1024 * 1024)
    if env.get("AGGREGATOR_MAX_PAGE_MB"):
        found["AGGREGATOR_PAGE_MAXSIZE"] = int(_number(env, "AGGREGATOR_MAX_PAGE_MB", "megabytes") * 1024 * 1024)
    if env.get("AGGREGATOR_MAX_ROBOTS_KB"):
        found["AGGREGATOR_ROBOTSTXT_MAXSIZE"] = int(_number(env, "AGGREGATOR_MAX_ROBOTS_KB", "kilobytes") * 1024)
    if env.get("AGGREGATOR_MAX_LINKS_PER_LISTING"):
        links = _number(env, "AGGREGATOR_MAX_LINKS_PER_LISTING", "links", whole=True)
        found["AGGREGATOR_MAX_LINKS_PER_LISTING"] = links
    if env.get("AGGREGATOR_MAX_RUN_MINUTES"):
        found["CLOSESPIDER_TIMEOUT"] = _number(env, "AGGREGATOR_MAX_RUN_MINUTES", "minutes") * 60
    if env.get("AGGREGATOR_CONCURRENCY_PER_SITE"):
        per_site = _number(env, "AGGREGATOR_CONCURRENCY_PER_SITE", "requests", whole=True)
        if not per_site:
            raw = env["AGGREGATOR_CONCURRENCY_PER_SITE"]
            raise EnvironmentValueError(f"AGGREGATOR_CONCURRENCY_PER_SITE={raw!r}: at least 1 request at a time")
        found["CONCURRENT_REQUESTS_PER_DOMAIN"] = per_site
    for name, setting in _FLAGS.items():
        if name in env:
            found[setting] = flag(env[name], name)
    return found
