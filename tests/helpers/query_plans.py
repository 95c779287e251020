"""SQLite's plans for the statements a piece of code runs, to tell whether it reads a table row by row.

SQLite plans without statistics (the archive never runs ANALYZE), so a plan on a small test archive is the plan on
an archive of any size."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The (SQL, parameters) of every statement SQLAlchemy runs on ``engine`` inside the block."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        statements.append((sql, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def query_plans(path: Path, statements: Iterable[tuple[str, Any]]) -> list[str]:
    """Every step of SQLite's plan of each SELECT among ``statements``, run against the database file at ``path``."""
    steps: list[str] = []
    with sqlite3.connect(path) as db:
        for sql, params in statements:
            if sql.lstrip().upper().startswith(("SELECT", "WITH")):
                steps += [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params or ())]
    return steps


def row_by_row(steps: Iterable[str], tables: Sequence[str]) -> list[str]:
    """The steps that read one of ``tables`` row by row: ``SCAN <table>`` but through a covering index."""
    scan = re.compile(rf"^SCAN ({'|'.join(tables)})\b")
    return [step for step in steps if scan.match(step) and "COVERING INDEX" not in step]
