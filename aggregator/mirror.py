"""The offline mirror: crawl a local copy of the source sites as if it were the real thing.

With ``AGGREGATOR_MIRROR=http://127.0.0.1:PORT`` the downloader middleware fetches ``https://caliber.az/post/x``
from ``http://127.0.0.1:PORT/caliber.az/post/x`` and hands the spider a response that carries the real URL again,
so everything downstream (canonical URLs, source links, de-duplication) sees the real site.

``MirrorServer`` serves such a tree (``<root>/<host>/<path>``): a request path is looked up as the file itself,
then ``<path>.html``, then ``<path>/index.html``, and a trailing slash is ignored, so the tree can also be
served by nginx with ``try_files $uri $uri.html $uri/index.html``. ``<root>/<host>/_mirror.toml`` declares
answers that are not a plain 200 (a status, a Content-Type without charset, extra headers such as a redirect's
``Location``).
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate, parsedate_to_datetime
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

logger = logging.getLogger(__name__)

ORIGINAL_URL_META = "mirror_original_url"
_MIRROR_URL_META = "mirror_url"
_KEPT_META = "mirror_kept"
_WAIVED = ("allow_offsite", "dont_obey_robotstxt")


# -- URL mapping ---------------------------------------------------------------------------------------


def to_mirror(url: str, base: str) -> str:
    """``https://caliber.az/post/x?y`` -> ``<base>/caliber.az/post/x?y``."""
    parts = urlsplit(url)
    mirror = urlsplit(base.rstrip("/"))
    path = f"{mirror.path}/{parts.netloc}{parts.path or '/'}"
    return urlunsplit((mirror.scheme, mirror.netloc, path, parts.query, ""))


def from_mirror(url: str, base: str, scheme: str = "https") -> str | None:
    """The real URL a mirror URL stands for, or None when ``url`` is not on the mirror."""
    parts = urlsplit(url)
    mirror = urlsplit(base.rstrip("/"))
    if parts.netloc != mirror.netloc or not parts.path.startswith(mirror.path + "/"):
        return None
    rest = parts.path[len(mirror.path) + 1 :]
    host, _, path = rest.partition("/")
    if not host:
        return None
    return urlunsplit((scheme, host, "/" + path, parts.query, parts.fragment))


class OfflineMirrorMiddleware:
    """Downloader middleware that maps real URLs onto the mirror and responses back onto the real URLs."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._netloc = urlsplit(self.base).netloc

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        base = crawler.settings.get("AGGREGATOR_MIRROR")
        if not base:
            raise NotConfigured("AGGREGATOR_MIRROR is not set")
        logger.info("Offline mirror: fetching every page from %s", base)
        return cls(base)

    def process_request(self, request: Request, spider: Spider | None = None) -> Request | None:
        if urlsplit(request.url).netloc == self._netloc:
            return None  # already rewritten
        meta = dict(request.meta)
        mirrored = to_mirror(request.url, self.base)
        meta[ORIGINAL_URL_META], meta[_MIRROR_URL_META] = request.url, mirrored
        meta[_KEPT_META] = {k: meta[k] for k in _WAIVED if k in meta} | {"dont_filter": request.dont_filter}
        meta.setdefault("download_slot", urlsplit(request.url).hostname)  # keep per-site politeness
        if meta.get("redirect_urls"):  # a redirect from a rewritten request: its chain is told in real URLs
            meta["redirect_urls"] = [from_mirror(url, self.base) or url for url in meta["redirect_urls"]]
        # The duplicate filter, the offsite check and robots.txt already passed the real URL: waive them for the
        # rewritten request, which would otherwise be refused as a duplicate of itself or as offsite.
        meta["allow_offsite"] = True
        meta["dont_obey_robotstxt"] = True
        return request.replace(url=mirrored, meta=meta, dont_filter=True)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        self._restore_waivers(request)
        original = request.meta.get(ORIGINAL_URL_META)
        real = from_mirror(response.url, self.base, urlsplit(original).scheme if original else "https")
        if real is None:
            return response
        headers = response.headers.copy()
        location = headers.get(b"Location")
        if location:
            # Resolved against the real URL: a path ("/post/x") names a page of the same site, not of the mirror's
            # root; a mirror URL the server wrote in full is mapped back to the real one.
            target = urljoin(real, location.decode("latin-1"))
            headers[b"Location"] = (from_mirror(target, self.base) or target).encode("latin-1")
        return response.replace(url=real, headers=headers)

    @staticmethod
    def _restore_waivers(request: Request) -> None:
        """Give the request back its own checks: a redirect built from it must face them (an HTTP or meta redirect
        to another site is offsite, to a page already seen a duplicate), as it would without the mirror."""
        kept = request.meta.pop(_KEPT_META, None)
        if kept is None:
            return
        request.dont_filter = kept.pop("dont_filter")
        for key in _WAIVED:
            request.meta.pop(key, None)
        request.meta.update(kept)


def real_url(request: Request) -> str:
    """The real URL of a request, whether or not the mirror rewrote it.

    A redirect built from a rewritten request inherits its meta: its own URL (a real one) is the truth then, not
    the original URL it carries along, which the mirror wrote for the request it redirected from.
    """
    meta = request.meta
    original = meta.get(ORIGINAL_URL_META)
    if original is None or meta.get(_MIRROR_URL_META) != request.url:
        return request.url
    return str(original)


# -- the static server ---------------------------------------------------------------------------------


class MirrorTree:
    """A folder with one sub-folder per host, and the special answers each host declares.

    ``overlays`` are trees of the same shape whose files replace the root's (first one first): the same site with
    some pages edited or re-designed, without copying it. An overlay's ``_mirror.toml`` answers replace the root's
    for the same paths (a page moved elsewhere, say).
    """

    def __init__(self, root: Path, overlays: tuple[Path, ...] = ()) -> None:
        self.root = root.resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"mirror folder {self.root} does not exist")
        self.overlays = tuple(MirrorTree(o) for o in overlays)

    @cached_property
    def _overrides(self) -> dict[str, dict[str, dict[str, Any]]]:
        table: dict[str, dict[str, dict[str, Any]]] = {}
        for spec in self.root.glob("*/_mirror.toml"):
            with spec.open("rb") as fh:
                entries = tomllib.load(fh).get("response", [])
            table[spec.parent.name] = {e["path"].rstrip("/") or "/": e for e in entries}
        return table

    def override(self, host: str, path: str) -> dict[str, Any]:
        key = path.rstrip("/") or "/"
        for overlay in self.overlays:
            found = overlay.override(host, key)
            if found:
                return found
        return self._overrides.get(host, {}).get(key, {})

    def find(self, host: str, path: str) -> Path | None:
        for overlay in self.overlays:
            found = overlay.find(host, path)
            if found is not None:
                return found
        base = (self.root / host).resolve()
        if not base.is_relative_to(self.root) or not base.is_dir():
            return None
        rel = path.strip("/")
        candidates = [base / "index.html"] if not rel else [base / rel, base / f"{rel}.html", base / rel / "index.html"]
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved.is_relative_to(base) and resolved.is_file() and resolved.name != "_mirror.toml":
                return resolved
        return None


class _MirrorHandler(BaseHTTPRequestHandler):
    server: _MirrorHTTPServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes on a kept-alive connection: without TCP_NODELAY, Nagle's algorithm
    # holds the body until the client acknowledges the headers, which it delays by ~40 ms.
    disable_nagle_algorithm = True

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, *, send_body: bool) -> None:
        tree = self.server.tree
        path = unquote(urlsplit(self.path).path)
        host, _, rest = path.lstrip("/").partition("/")
        override = tree.override(host, "/" + rest)
        file = tree.find(host, rest)
        status = int(override.get("status", 200 if file else 404))
        if file is not None:
            body = file.read_bytes()
            ctype = override.get("content_type") or _content_type(file)
        else:
            body = f"<html><body><h1>{status} {HTTPStatus(status).phrase}</h1></body></html>".encode()
            ctype = "text/html; charset=utf-8"
        etag = '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
        modified = int(file.stat().st_mtime) if file is not None else 0
        if status == 200 and file is not None and self._not_modified(etag, modified):
            status, body = 304, b""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if file is not None:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(modified, usegmt=True))
        for name, value in override.get("headers", {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _not_modified(self, etag: str, modified: int) -> bool:
        """RFC 9110: If-None-Match decides when present (a list or ``*``); else If-Modified-Since against the file."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            return "*" in tags or etag in tags
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                return modified <= int(parsedate_to_datetime(since).timestamp())
            except (TypeError, ValueError):
                return False
        return False

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("mirror: " + format, *args)


def _content_type(file: Path) -> str:
    if file.suffix in {".html", ".htm"}:
        return "text/html; charset=utf-8"
    guessed, _ = mimetypes.guess_type(file.name)
    if guessed and (guessed.startswith("text/") or guessed.endswith("xml")):
        return f"{guessed}; charset=utf-8"
    return guessed or "application/octet-stream"


class _MirrorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a crawler opening more connections at once than that has the extra SYNs
    # dropped, and the kernel sends them again only after a second (a 1 s stall in a crawl that takes 0.2 s).
    request_queue_size = 128
    tree: MirrorTree


def make_server(
    root: Path, host: str = "127.0.0.1", port: int = 0, overlays: tuple[Path, ...] = ()
) -> _MirrorHTTPServer:
    server = _MirrorHTTPServer((host, port), _MirrorHandler)
    server.tree = MirrorTree(root, overlays)
    return server


def server_url(server: _MirrorHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


@contextmanager
def serve_mirror(root: Path, host: str = "127.0.0.1", port: int = 0, overlays: tuple[Path, ...] = ()) -> Iterator[str]:
    """Serve ``root`` (with ``overlays`` over it) in a background thread for the block; yields the base URL."""
    server = make_server(root, host, port, overlays)
    thread = threading.Thread(target=server.serve_forever, name="offline-mirror", daemon=True)
    thread.start()
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
