"""What else is known of a key the registry does not know: the error's next words, so the operator knows what to do.

A source from the sources file exists only in the processes that have ``AGGREGATOR_SOURCES_FILE``: one without it (a
shell, a cron line or a unit that lacks the variable) said "unknown source 'yenixeber'" of a source whose articles
the archive held, and sent the operator looking for a typo. A spider module whose name is no registry key said the
same, with the module right there. Looked up only on that error's path (``aggregator.cli``): the archive is read,
and the spider modules imported, by a command that fails anyway.
"""

from __future__ import annotations

import os

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from aggregator.sources import SOURCES_FILE_VARIABLE
from aggregator.store.db import DatabaseError


def archived_counts(db_url: str, key: str) -> tuple[int, int] | None:
    """How many articles and runs of ``key`` the archive at ``db_url`` holds; None when it cannot be read (no archive
    there, a schema too old, a database down): the error this adds to is said whatever."""
    from aggregator.store import Archive
    from aggregator.store.db import require_existing
    from aggregator.store.models import Article, CrawlRun

    try:
        require_existing(db_url)
        archive = Archive.open(db_url, migrate=False, create=False)
    except (DatabaseError, SQLAlchemyError, OSError):
        return None
    try:
        with archive.engine.connect() as conn:
            articles = conn.execute(select(func.count()).where(Article.source == key)).scalar_one()
            runs = conn.execute(select(func.count()).where(CrawlRun.source == key)).scalar_one()
    except (DatabaseError, SQLAlchemyError, OSError):
        return None
    finally:
        archive.close()
    return int(articles), int(runs)


def not_registered_said(what: str) -> str:
    """Why a source the archive knows is not in this process's registry, and what to check."""
    path = os.environ.get(SOURCES_FILE_VARIABLE)
    if path:
        return f"{what}: the sources file {path} ({SOURCES_FILE_VARIABLE}) has no entry for it now"
    return f"{what}: is {SOURCES_FILE_VARIABLE} unset here? it names the sources file that added it"


def unknown_source_hints(key: str, db_url: str) -> tuple[str, ...]:
    """The hints for ``UnknownSourceError`` of ``key`` (``UnknownSourceError.hints``), each a clause: the archive's
    articles and runs of it, a spider module of that name."""
    hints: list[str] = []
    counts = archived_counts(db_url, key)
    if counts is not None and any(counts):
        articles, runs = counts
        hints.append(not_registered_said(f"the archive holds {articles} article(s) and {runs} run(s) of {key!r}"))
    try:
        from aggregator.spiderloader import add_entry_advice, module_spider

        module = module_spider(key)
    except Exception:  # a spider module that does not import is `scrapy list`'s to say, not this error's
        module = None
    if module is not None:
        hints.append(f"a spider module for it exists ({module}) but no registry entry: {add_entry_advice(key)}")
    return tuple(hints)
