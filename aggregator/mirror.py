"""The offline mirror: crawl a local copy of the source sites as if it were the real thing.

With ``AGGREGATOR_MIRROR=http://127.0.0.1:PORT`` the download handler fetches ``https://caliber.az/post/x`` from
``http://127.0.0.1:PORT/caliber.az/post/x`` and hands Scrapy a response that carries the real URL, so everything
else (the duplicate filter, robots.txt, redirects, canonical URLs, source links) sees the real site.

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
import socket
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate, parsedate_to_datetime
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler, load_object

logger = logging.getLogger(__name__)


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


def unreachable(base: str, timeout: float = 5.0) -> str | None:
    """Why nothing answers at the mirror's address (no connection to its host and port), or None when it does.

    ``aggregator crawl --mirror`` asks before it starts: a mirror that is down otherwise makes a run in which every
    request of every source fails, and a summary that blames each source in turn.
    """
    parts = urlsplit(base)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "its port is not a number"
    if not parts.hostname:
        return "it names no host"
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except OSError as exc:
        return str(exc.strerror or exc) or type(exc).__name__


class MirrorDownloadHandler:
    """Scrapy's download handler for ``http`` and ``https``: with ``AGGREGATOR_MIRROR`` set, every request is
    fetched from the mirror and answered with a response that carries the real URL.

    The rest of Scrapy never sees a mirror URL: the duplicate filter, the offsite check, robots.txt, redirects and
    each site's download slot (its politeness) work on the real URLs, as on the real sites, and each page is
    scheduled once. A ``Location`` the mirror sends is mapped back onto the real site. Without a mirror,
    ``from_crawler`` hands Scrapy its own handler, untouched.
    """

    lazy = False

    def __init__(self, base: str, http: Any) -> None:
        self.base = base.rstrip("/")
        self._netloc = urlsplit(self.base).netloc
        self._http = http  # Scrapy's own handler, which fetches from the mirror

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        base = crawler.settings.get("AGGREGATOR_MIRROR")
        if not base:
            return _plain_handler(crawler)
        if not getattr(crawler, "_aggregator_mirror_logged", False):
            crawler._aggregator_mirror_logged = True  # type: ignore[attr-defined]
            logger.info("Offline mirror: fetching every page from %s", base)
        return cls(base, _plain_handler(crawler))

    async def download_request(self, request: Request) -> Response:
        if urlsplit(request.url).netloc == self._netloc:  # a request for the mirror itself
            response: Response = await self._http.download_request(request)
            return response
        real = request.url
        mirrored = request.replace(url=to_mirror(real, self.base))
        try:
            response = await self._http.download_request(mirrored)
        finally:
            # What Scrapy's handler notes in the meta goes to the request the rest of Scrapy holds: AutoThrottle
            # reads its download_latency, and without it keeps the slot at its start delay.
            request.meta.update(mirrored.meta)
        headers = response.headers
        location = headers.get(b"Location")
        if location:
            # Resolved against the real URL: a path ("/post/x") names a page of the same site, not of the mirror's
            # root; a mirror URL the server wrote in full is mapped back to the real one.
            try:
                target = urljoin(real, location.decode("latin-1"))
            except ValueError:  # no address at all: passed on as sent, for the redirect guard to refuse
                return response.replace(url=real)
            headers = headers.copy()
            headers[b"Location"] = (from_mirror(target, self.base) or target).encode("latin-1")
        return response.replace(url=real, headers=headers)

    async def close(self) -> None:
        await self._http.close()


def _plain_handler(crawler: Crawler) -> Any:
    """Scrapy's own handler for http and https (``DOWNLOAD_HANDLERS_BASE``)."""
    return build_from_crawler(load_object(crawler.settings.getdict("DOWNLOAD_HANDLERS_BASE")["https"]), crawler)


# -- the static server ---------------------------------------------------------------------------------


class MirrorTree:
    """A folder with one sub-folder per host, and the special answers each host declares.

    ``overlays`` are trees of the same shape whose files replace the root's (first one first): the same site with
    some pages edited or re-designed, without copying it. An overlay's ``_mirror.toml`` answers replace the root's
    for the same paths (a page moved elsewhere, say).
    """

    def __init__(self, root: Path, overlays: tuple[Path, ...] = ()) -> None:
        self.root = root.resolve()
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(
                f"mirror {self.root} is not a folder: give the folder with one sub-folder per host"
            )
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
        if "\x00" in host or "\x00" in path:  # no file has it in its name; Path.resolve raises on it (no answer at all)
            return None
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
    tree = MirrorTree(root, overlays)  # first: a wrong folder is said before a port is taken
    server = _MirrorHTTPServer((host, port), _MirrorHandler)
    server.tree = tree
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
