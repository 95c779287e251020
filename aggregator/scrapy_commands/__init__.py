"""Scrapy's commands that are not runs of a source (``scrapy parse``, ``shell``, ``fetch``, ``view`` look at one
page; ``check`` runs the spiders' contracts; ``bench`` measures Scrapy on a local site), made to leave the archive
alone.

With the project's settings as they are, each of them would start like a crawl: a run row (with its health red, since
one page is not a run's worth of articles; ``bench`` added one for a source called "follow"), the source's lock held
while the operator reads the page (a scheduled run of the source would refuse to start, or the command would refuse
while one runs), with ``AGGREGATOR_REDIS_URL`` in the environment the shared frontier of the scale-out workers (the
page's fingerprint left in their duplicate filter, so they would never fetch it), and for ``scrapy parse
--pipelines`` the item written to the archive. They would also read the archive as a run does: ``scrapy parse
--depth 2`` of a listing showed only the links to articles not archived yet (the incremental filter dropped the
others, so the page an operator looks for was missing from the output), and the sweep could add archived articles to
what ``scrapy check`` fetched; an archive path that did not exist was created, empty. ``COMMANDS_MODULE`` points
Scrapy here, and these are Scrapy's commands with those parts left out: no store pipeline (``--pipelines`` runs the
others), no run lock, no health check, no incremental filter or sweep, no shared frontier. ``scrapy crawl`` and
``scrapy runspider`` are runs, and stay as Scrapy has them (``scrapy crawl`` only says a spider that cannot crawl
in one line first: ``crawl.py``).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from scrapy.settings import BaseSettings, Settings
from scrapy.utils.misc import load_object

logger = logging.getLogger(__name__)

LEFT_OUT = {
    "ITEM_PIPELINES": ("pipelines.store.StorePipeline",),
    "EXTENSIONS": ("aggregator.locks.RunLock", "aggregator.health.HealthMonitoring"),
    "SPIDER_MIDDLEWARES": ("aggregator.incremental.IncrementalMiddleware", "aggregator.sweep.SweepMiddleware"),
}


def leave_archive_alone(settings: BaseSettings) -> None:
    """Drop the components that write to the archive, read it to decide what to fetch, or take a lock, and the shared
    frontier, at the command line's priority (above the project's settings and the environment)."""
    for name, paths in LEFT_OUT.items():
        left_out = {load_object(path) for path in paths}
        kept = {
            key: order
            for key, order in settings.getdict(name).items()
            if (load_object(key) if isinstance(key, str) else key) not in left_out
        }
        settings.set(name, kept, priority="cmdline")
    settings.set("AGGREGATOR_REDIS_URL", None, priority="cmdline")


class LeavesArchiveAlone:
    """Mixin for a Scrapy command class: its crawl records nothing, locks nothing and fetches what it is asked to,
    whatever the archive holds."""

    settings: Settings | None

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)  # type: ignore[misc]
        assert self.settings is not None
        leave_archive_alone(self.settings)
        logger.debug("The archive is left alone: no run row, no lock, nothing stored, nothing skipped")


def shown(value: Any) -> Any:
    """A field's value as ``scrapy parse`` prints it: bytes (the raw page, the similarity sketch) as their size."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value):,} bytes>"
    return value
