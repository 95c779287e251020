"""CSS queries on lexbor trees through one selector engine per thread.

selectolax builds a CSS parser and matcher for every document on its first query, which costs about as much as
parsing a short article body (~40 us). The engine holds no document state between queries, so one per thread
serves every page: extractors and the cleanup pipeline query through ``css``/``css_first`` here instead of
``node.css``. One per thread, because a query keeps its matches on the engine while it runs.
"""

from __future__ import annotations

import threading
from typing import Any

from selectolax.lexbor import LexborCSSSelector, LexborHTMLParser, LexborNode

_local = threading.local()


def _engine() -> Any:
    engine = getattr(_local, "engine", None)
    if engine is None:
        engine = _local.engine = LexborCSSSelector()  # type: ignore[no-untyped-call]
    return engine


def _node(scope: LexborNode | LexborHTMLParser) -> LexborNode | None:
    return scope.root if isinstance(scope, LexborHTMLParser) else scope


def css(scope: LexborNode | LexborHTMLParser, query: str) -> list[LexborNode]:
    """Every element under ``scope`` that ``query`` matches, in document order (as ``scope.css(query)``)."""
    node = _node(scope)
    if node is None:  # an empty document
        return []
    found: list[LexborNode] = _engine().find(query, node)
    return found


def css_first(scope: LexborNode | LexborHTMLParser, query: str) -> LexborNode | None:
    """The first element under ``scope`` that ``query`` matches, or None (as ``scope.css_first(query)``)."""
    node = _node(scope)
    if node is None:
        return None
    found: list[LexborNode] = _engine().find_first(query, node)
    return found[0] if found else None


def node_text(node: LexborNode | None) -> str | None:
    """The node's text with whitespace collapsed; None for a missing node or an empty one."""
    if node is None:
        return None
    text = " ".join(node.text(deep=True, separator=" ").split())
    return text or None
