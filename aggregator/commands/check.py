"""``aggregator db check``: whether the archive keeps the rules its tables share, one line a rule.

A crash mid-run (SIGKILL, power loss) must leave the archive consistent: every batch is one transaction, so what a
killed writer had not committed is gone whole. This command says whether that held, and whether anything else (a
bug, a hand-made edit) broke one of the rules the write path keeps across tables. Each rule is one set-based query
(``aggregator.store.queries``), so the check costs a few scans of the archive, not a query an article; only the
keys' canonical form is checked in Python, a block of keys at a time, as ``reextract`` re-keys them (the rule is
``aggregator.urls``' code, which SQL cannot apply).

Rules the code does not keep are not checked: an article's content hash is not always its newest snapshot's (a
re-extraction changes the text and the hash and adds no snapshot: ``Archive.update_extractions``), and a redirect's
target is the address a page was fetched at, which may be a refused page's or one not yet canonical (``Redirect``),
not always an archived article's key.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

import typer
from sqlalchemy import Connection, text

from aggregator.cli import _archive, db_app, out, print_json
from aggregator.store import queries
from aggregator.urls import canonical_url

KEY_BLOCK = 50_000
"""Keys read at once for the canonical-form check."""


@dataclass
class Finding:
    """One rule's outcome: ok, or how many rows break it, a few of their ids, and what mends it."""

    check: str
    ok: bool
    count: int = 0
    examples: list[int] = field(default_factory=list)
    detail: str = ""
    mend: str = ""
    seconds: float = 0.0
    skipped: bool = False
    """Part of the check could not run on this archive (``detail`` says which and why): not a failure."""


def _breach(check: str, found: queries.Breach, mend: str, detail: str = "") -> Finding:
    return Finding(check, found.count == 0, found.count, found.examples, detail if found.count else "", mend)


def _sqlite_quick_check(conn: Connection) -> Finding:
    found = [str(row[0]) for row in conn.execute(text("PRAGMA quick_check"))]
    broken = [] if found == ["ok"] else found
    return Finding(
        "sqlite quick_check",
        not broken,
        len(broken),
        detail="; ".join(broken[:3]),
        mend="restore the last `aggregator db backup`: the database file itself is damaged",
    )


def _search_index(conn: Connection) -> Finding:
    gaps = queries.search_index_gaps(conn)
    if gaps is None:
        return Finding("search index holds every article", True, detail="PostgreSQL: a generated column")
    unchecked = ""
    try:
        damage = queries.search_index_damage(conn)
    except queries.CheckSkipped as exc:  # a read-only archive, or a crawl writing: nothing said of the index
        damage, unchecked = None, str(exc)
    mend = "sqlite3 ARCHIVE \"INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')\" (between crawls)"
    if gaps.count:
        return _breach("search index holds every article", gaps, mend, "negative ids: index entries of no article")
    if unchecked:
        note = f"every article has an entry; its words were not checked: {unchecked}"
        return Finding("search index holds every article", True, detail=note, mend=mend, skipped=True)
    return Finding("search index holds every article", damage is None, int(damage is not None), [], damage or "", mend)


def _keys(conn: Connection) -> Finding:
    count, after = 0, 0
    examples: list[int] = []
    while block := queries.article_keys(conn, after=after, limit=KEY_BLOCK):
        after = block[-1][0]
        for article_id, url in block:
            if canonical_url(url) != url:
                count += 1
                if len(examples) < queries.CHECK_EXAMPLES:
                    examples.append(article_id)
    return _breach(
        "keys in today's canonical form", queries.Breach(count, examples), "aggregator reextract (re-keys them)"
    )


def _runs(conn: Connection) -> Finding:
    """A run left "running" by a dead process is in order until the next run of its source starts, which marks it
    failed; one such row a later run left behind breaks the rule. Only runs of this host can be told dead (by their
    pid, as ``pipelines.store`` tells them); another host's are left to its own next run."""
    from pipelines.store import _runs_since

    host = socket.gethostname()
    left, waiting = [], 0
    for run_id, _, run_host, pid, started_at, later in queries.runs_left_running(conn):
        if run_host != host or pid is None or pid == os.getpid() or _runs_since(pid, started_at):
            continue
        if later:
            left.append(run_id)
        else:
            waiting += 1
    note = f"{waiting} left by a process that is gone: the next crawl of its source marks it failed" if waiting else ""
    finding = _breach(
        "runs left running have a live process",
        queries.Breach(len(left), left[: queries.CHECK_EXAMPLES]),
        "aggregator runs (look at them); a crawl of their source marks them failed",
        "a later run of the source did not mark them failed",
    )
    if finding.ok:
        finding.detail = note
    return finding


CHECKS: list[tuple[str, Callable[[Connection], Finding]]] = [
    (
        "sqlite",
        _sqlite_quick_check,
    ),
    (
        "",
        lambda conn: _breach(
            "every article has a snapshot",
            queries.articles_without_snapshot(conn),
            "none: a row and its snapshot are written in one transaction, so this is a bug to report",
        ),
    ),
    ("", _search_index),
    (
        "",
        lambda conn: _breach(
            "every article's story exists", queries.articles_in_missing_stories(conn), "aggregator stories rebuild"
        ),
    ),
    (
        "",
        lambda conn: _breach(
            "every article is in a story", queries.articles_without_story(conn), "aggregator stories rebuild"
        ),
    ),
    (
        "",
        lambda conn: _breach(
            "every story has an article",
            queries.empty_stories(conn),
            "none needed by readers (lists count articles); a bug to report",
        ),
    ),
    (
        "",
        lambda conn: _breach(
            "story buckets belong to existing articles",
            queries.orphan_buckets(conn),
            "none needed (lookups verify candidates); a bug to report",
            "ids of the missing articles",
        ),
    ),
    (
        "",
        lambda conn: _breach(
            "every sketched article has its buckets", queries.missing_buckets(conn), "aggregator stories rebuild"
        ),
    ),
    ("", _keys),
    ("", _runs),
]
"""The checks in the order they run: (the back end it is for, or "" for every one; the check)."""


def run_checks(conn: Connection) -> list[Finding]:
    """Every check that applies to the archive's back end, each timed."""
    findings = []
    for dialect, check in CHECKS:
        if dialect and dialect != conn.dialect.name:
            continue
        began = time.perf_counter()
        finding = check(conn)
        finding.seconds = round(time.perf_counter() - began, 3)
        findings.append(finding)
    return findings


def _line(finding: Finding) -> str:
    if finding.ok:
        return f"ok      {finding.check}" + (f" ({finding.detail})" if finding.detail else "")
    ids = ", ".join(str(i) for i in finding.examples)
    more = ", ..." if finding.count > len(finding.examples) else ""
    line = f"FAILED  {finding.check}: {finding.count}"
    if ids:
        line += f" (ids {ids}{more})"
    if finding.detail:
        line += f": {finding.detail}"
    return line + f"; mend: {finding.mend}"


@db_app.command("check")
def db_check(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of lines.")] = False,
) -> None:
    """Check the rules the archive's tables share (snapshots, search index, stories, buckets, keys, runs).

    One line a rule: ok, or how many rows break it, a few ids and what mends it. Exit status 1 when one fails."""
    archive = _archive(ctx)
    try:
        # One connection, and on SQLite one read transaction: every check sees the archive as of one commit, while
        # crawls go on writing.
        with archive.reader.connect() as conn:
            findings = run_checks(conn)
    finally:
        archive.close()
    if as_json:
        rows: list[dict[str, Any]] = [asdict(finding) for finding in findings]
        print_json(rows)
    else:
        for finding in findings:
            out.print(_line(finding), markup=False, highlight=False, soft_wrap=True)
    if not all(finding.ok for finding in findings):
        raise typer.Exit(1)
