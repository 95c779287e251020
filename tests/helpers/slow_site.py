"""The bundled sample served on 127.0.0.1 with each article page answered after a pause: a site that keeps a crawl
busy long enough for a test to cut its connection, signal it or start another beside it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from aggregator.mirror import MirrorTree, _MirrorHandler, _MirrorHTTPServer, server_url
from tests.conftest import SAMPLE

ARTICLE_SECONDS = 5.0
"""The pause before each article page: a crawl of the sample's 53 then lasts well over half a minute."""


class _SlowArticles(_MirrorHandler):
    def _answer(self, *, send_body: bool) -> None:
        if "/post/" in self.path:
            time.sleep(ARTICLE_SECONDS)
        super()._answer(send_body=send_body)


@contextlib.contextmanager
def served_by(handler: type[_MirrorHandler]) -> Iterator[str]:
    """The sample served on 127.0.0.1 by ``handler`` (a slowed or stalled site), its address while the block runs."""
    server = _MirrorHTTPServer(("127.0.0.1", 0), handler)
    server.tree = MirrorTree(SAMPLE)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def slow_site() -> contextlib.AbstractContextManager[str]:
    """The slow sample's address while the block runs."""
    return served_by(_SlowArticles)
