"""Overlays on the bundled report.az sample for crawl tests of addresses: pages put into a folder that
``aggregator.mirror`` serves over the sample, and the section listing rewritten to link what a test wants."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import SAMPLE

SECTION = "report.az/ru/proisshestviya"
"""The sample's section whose listing the overlay rewrites, and under which its pages go."""


def put(root: Path, path: str, text: str) -> None:
    """Write ``text`` at ``path`` (a mirror path: host and path) under the overlay ``root``."""
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text, encoding="utf-8")


def listing(root: Path, links: list[str]) -> None:
    """The section's listing, its cards replaced by one card for each of ``links`` (as the listing writes them)."""
    cards = "".join(f'<a class="news__item" href="{link}"><div class="news__title">…</div></a>' for link in links)
    page = (SAMPLE / f"{SECTION}.html").read_text(encoding="utf-8")
    page = re.sub(
        r'<div class="index-post-block">.*?</div>\s*<div class="sidebar">',
        f'<div class="index-post-block">{cards}</div><div class="sidebar">',
        page,
        flags=re.S,
    )
    put(root, f"{SECTION}.html", page)
