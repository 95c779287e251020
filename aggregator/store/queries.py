"""Reads shared by the operator CLI and the read API: filtered article lists, keyset pages, stats, streaming export.

Ordering is by the article's time (published, else archived) and id, newest first. That key is an expression no index
holds, so a page is read as two index-ordered queries (dated articles by ``published_at``, undated ones by
``archived_at``; SQLite keeps the rowid in every index, PostgreSQL reads the few rows it needs) merged here, which
costs the same at any archive size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections import namedtuple
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    Compiled,
    Connection,
    Dialect,
    Double,
    Engine,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    tuple_,
    type_coerce,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.exc import DBAPIError

from aggregator.store import search as fulltext
from aggregator.store.models import Article, CrawlRun, Redirect, Reject, Snapshot, Source, UTCDateTime, names_a_row

# The columns a list needs (no bodies: they are the bulk of a row).
LIST_COLUMNS = (
    Article.id,
    Article.source,
    Article.language,
    Article.title,
    Article.url,
    Article.published_at,
    Article.published_raw,
    Article.archived_at,
    Article.updated_at,
    Article.changed_at,
    Article.category,
    Article.cover_image_url,
    Article.story_id,
    Article.views,
    Article.withdrawn_at,
    Article.withdrawn_by,
    Article.withdrawn_reason,
)


class InvalidCursorError(ValueError):
    """A pagination cursor this code did not hand out."""


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """Which articles: every field left as None does not filter."""

    source: str | None = None
    language: str | None = None
    since: datetime | None = None
    """Articles whose time (published, else archived) is at or after this instant."""
    until: datetime | None = None
    """... and strictly before this one."""
    story: int | None = None
    undated: bool = False
    """Only the articles whose date could not be read."""
    withdrawn: bool = False
    """Only the withdrawn articles (``articles.withdrawn_at``), instead of only those the downstream site shows."""

    def params(self) -> dict[str, Any]:
        """The values the statements of ``_part`` bind."""
        named: dict[str, Any] = {"source": self.source, "language": self.language, "story": self.story}
        named |= {"since": self.since, "until": self.until}
        return {name: value for name, value in named.items() if value is not None}

    def scope(self, *more: object) -> str:
        """A short hash of these filters (and of ``more``: a search's words), which a cursor carries: a cursor is a
        position in the list these filters make, and the same position in another list (``language=ru``'s cursor
        given with ``language=az``) would page on quietly from a place no page of it ended at."""
        instants = [moment.astimezone(UTC).isoformat() if moment else None for moment in (self.since, self.until)]
        fields = [self.source, self.language, *instants, self.story, self.undated, self.withdrawn, *more]
        digest = hashlib.blake2b(json.dumps(fields, separators=(",", ":")).encode(), digest_size=6).digest()
        return base64.urlsafe_b64encode(digest).decode()


def _encoded(fields: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode().rstrip("=")


def _decoded(cursor: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def _same_scope(cursor: str, given: str, wanted: str) -> None:
    """Refuse a cursor made under other filters (``ArticleFilter.scope``) than the request's, as a forged one is."""
    if given != wanted:
        raise InvalidCursorError(
            f"a cursor given out under other filters: {cursor[:40]!r}; ask with the filters of the page it came from "
            "(or without a cursor, from the start)"
        )


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last article's time and id."""

    moment: datetime
    id: int

    def encode(self, filters: ArticleFilter) -> str:
        """The cursor of this position in the list ``filters`` make (bound to them: ``decode``)."""
        return _encoded([self.moment.astimezone(UTC).isoformat(), self.id, filters.scope()])

    @classmethod
    def decode(cls, cursor: str, filters: ArticleFilter) -> Position:
        """The position of a cursor ``encode`` made under the same ``filters``; anything else is an
        ``InvalidCursorError``."""
        try:
            moment_text, article_id, scope = _decoded(cursor)
            moment = datetime.fromisoformat(moment_text)
            if moment.tzinfo is None or not isinstance(article_id, int) or not 0 < article_id < 2**31:
                raise ValueError("not ours")
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
            raise InvalidCursorError(f"not a cursor this API gave out: {cursor[:40]!r}") from exc
        _same_scope(cursor, scope, filters.scope())
        return cls(moment.astimezone(UTC), article_id)


AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class _SQLitePlan:
    """A statement of this module compiled once for SQLite, with SQLAlchemy's own conversions of its parameters and
    result columns, to run on the driver's cursor."""

    compiled: Compiled
    sql: str
    names: tuple[str, ...]
    binds: tuple[Callable[[Any], Any] | None, ...]
    row: Any
    """A named tuple of the statement's columns (attribute access, as SQLAlchemy's rows)."""
    results: tuple[tuple[int, Callable[[Any], Any]], ...]

    @classmethod
    def of(cls, stmt: AnySelect, dialect: Dialect) -> _SQLitePlan:
        compiled = stmt.compile(dialect=dialect)
        if compiled.post_compile_params:  # an expanding IN (...) is rendered per execution: not for this path
            raise ValueError(f"not a statement for a plan: {compiled}")
        names = tuple(compiled.positiontup or ())
        binds = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
        columns = list(stmt.selected_columns)
        results = tuple(
            (i, processor)
            for i, column in enumerate(columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        )
        row = namedtuple("Row", [str(column.key) for column in columns])  # type: ignore[misc]
        return cls(compiled, str(compiled), names, binds, row, results)

    def run(self, conn: Connection, params: dict[str, Any]) -> list[Any]:
        values = self.compiled.construct_params(params) or {}
        arguments = [
            value if process is None else process(value)
            for value, process in zip([values[name] for name in self.names], self.binds, strict=True)
        ]
        driver = conn.dialect.loaded_dbapi
        try:
            raw = conn.connection.driver_connection.execute(self.sql, arguments).fetchall()  # type: ignore[union-attr]
        except driver.Error as exc:
            # Raise what conn.execute would (SQLAlchemy's OperationalError for a file gone or locked, its
            # DatabaseError for one that is not a database), so callers handle one family of errors on both paths.
            raise DBAPIError.instance(self.sql, arguments, exc, driver.Error, dialect=conn.dialect) from exc
        if not self.results:
            return [self.row._make(r) for r in raw]
        rows = []
        for r in raw:
            fields = list(r)
            for i, process in self.results:
                fields[i] = process(fields[i])
            rows.append(self.row._make(fields))
        return rows


_plans: dict[tuple[AnySelect, Dialect], _SQLitePlan] = {}


def run(conn: Connection, stmt: AnySelect, params: dict[str, Any]) -> list[Any]:
    """The rows of one of this module's prebuilt statements (``list(conn.execute(stmt, params))``).

    On SQLite the statement runs on the driver's cursor, compiled once, with SQLAlchemy's own conversions of its
    parameters and columns: an indexed read there takes some 20 µs, and SQLAlchemy's execution around it
    (the statement's cache key, the execution context, the result's metadata) two to four times that. These reads
    bypass SQLAlchemy's execution events (``echo`` does not log them); they begin no transaction of their own.
    """
    if conn.dialect.name != "sqlite":
        return list(conn.execute(stmt, params))
    key = (stmt, conn.dialect)
    plan = _plans.get(key)
    if plan is None:  # the statements are module-level or cached: a handful of plans per dialect
        plan = _plans[key] = _SQLitePlan.of(stmt, conn.dialect)
    return plan.run(conn, params)


def article_time(row: Any) -> datetime:
    """The time an article is listed and paged by."""
    return row.published_at or row.archived_at  # type: ignore[no-any-return]


@cache
def _part(undated: bool, given: frozenset[str], after: bool, bounded: bool, withdrawn: bool = False) -> Select[Any]:
    """The statement of one half of a page (dated articles by published time, or undated ones by archive time),
    for one combination of filters: built once, with bound parameters, because building SQLAlchemy statements
    costs more than running these on SQLite."""
    moment = Article.archived_at if undated else Article.published_at
    when = bindparam("since", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime())
    if undated:
        # With ``bounded`` and no filter, the archive-time index reads a short range; the "undated" test is then
        # written so that no index serves it (SQLite, without statistics, would pick the published-time index and
        # sort every row). A source, language or story has an index that goes on with (withdrawn_at, published_at):
        # its undated articles are read from it directly (with the test hidden, SQLite took that index all the
        # same, for the filter alone, and read every article of the language).
        plain = given & {"source", "language", "story"}
        stmt = select(*LIST_COLUMNS).where(
            (func.coalesce(Article.published_at, None) if bounded and not plain else Article.published_at).is_(None)
        )
    else:
        stmt = select(*LIST_COLUMNS).where(Article.published_at.is_not(None))
    stmt = stmt.where(Article.withdrawn_at.is_not(None) if withdrawn else Article.withdrawn_at.is_(None))
    for name, filtered in (("source", Article.source), ("language", Article.language), ("story", Article.story_id)):
        if name in given:
            stmt = stmt.where(filtered == bindparam(name))
    if "since" in given:
        stmt = stmt.where(moment >= when[0])
    if "until" in given:
        stmt = stmt.where(moment < when[1])
    if after:
        position = tuple_(bindparam("after_moment", type_=UTCDateTime()), bindparam("after_id", type_=Integer()))
        stmt = stmt.where(tuple_(moment, Article.id) < position)
    if bounded:
        stmt = stmt.where(Article.archived_at >= bindparam("bound", type_=UTCDateTime()))
    return cast(
        "Select[Any]", stmt.order_by(moment.desc(), Article.id.desc()).limit(bindparam("limit", type_=Integer()))
    )


def _parts(filters: ArticleFilter, after: Position | None) -> list[tuple[bool, Select[Any]]]:
    given = frozenset(filters.params())
    later = after is not None
    dated = [] if filters.undated else [(False, _part(False, given, later, False, filters.withdrawn))]
    return [*dated, (True, _part(True, given, later, False, filters.withdrawn))]


def list_page(
    conn: Connection, filters: ArticleFilter, *, limit: int, after: Position | None = None
) -> tuple[list[Any], Position | None]:
    """One page of articles, newest first, after ``after``; and the position to ask for the next page from (None
    on the last page). Inserting articles between two requests neither repeats nor skips any on later pages."""
    params = filters.params() | {"limit": limit + 1}
    if after:
        params |= {"after_moment": after.moment, "after_id": after.id}
    given = frozenset(filters.params())
    rows: list[Any] = []
    if not filters.undated:
        rows.extend(run(conn, _part(False, given, after is not None, False, filters.withdrawn), params))
    bounded = len(rows) > limit  # only undated articles newer than the dated page's end can be on this page
    if bounded:
        params["bound"] = article_time(rows[-1])
    rows.extend(run(conn, _part(True, given, after is not None, bounded, filters.withdrawn), params))
    rows.sort(key=lambda r: (article_time(r), r.id), reverse=True)
    page = rows[:limit]
    more = len(rows) > limit
    return page, (Position(article_time(page[-1]), page[-1].id) if more and page else None)


@cache
def _uncovered(part: Select[Any]) -> Select[Any]:
    """One of ``_part``'s statements keeping only the articles without a cover image (built once for each)."""
    return part.where(Article.cover_image_url.is_(None))


def list_without_cover(conn: Connection, filters: ArticleFilter, *, limit: int) -> tuple[list[Any], int]:
    """The newest ``limit`` articles ``filters`` lists that have no cover image, and how many there are (``articles
    list --no-cover``: the pages whose cover extraction broke, newest first). No index holds the cover: each part is
    read in its index's order with the coverless rows kept, and counted by reading every article the filters leave."""
    params = filters.params()
    rows: list[Any] = []
    total = 0
    for _, part in _parts(filters, None):
        uncovered = _uncovered(part)
        rows.extend(run(conn, uncovered, params | {"limit": limit}))
        counted = select(func.count()).select_from(uncovered.limit(None).order_by(None).subquery())
        total += conn.execute(counted, params).scalar_one()
    rows.sort(key=lambda r: (article_time(r), r.id), reverse=True)
    return rows[:limit], total


def iter_articles(engine: Engine, filters: ArticleFilter, *, batch: int = 500) -> Iterator[Any]:
    """Every matching article (all columns), newest first, read a page at a time: memory stays that of one page
    whatever the archive's size, and no transaction is held open between pages."""
    after: Position | None = None
    while True:
        with engine.connect() as conn:
            page, after = list_page(conn, filters, limit=batch, after=after)
            if not page:
                return
            full = get_articles(conn, [r.id for r in page])
        yield from full
        if after is None:
            return


# -- the change feed ---------------------------------------------------------------------------------------------

CHANGE_SETTLE_SECONDS = 60.0
"""How old a change must be before the change feed lists it. A writer stamps its rows (``Article.changed_at``) in
its transaction, once it holds the writers' turn, and commits a moment later (a crawl's batch, a re-extraction's:
seconds at most); a client whose cursor went past that time meanwhile would never see rows that commit stamped
earlier. Listing only the changes older than this leaves every such transaction the time to commit (and covers
the clocks of writers on several hosts being a few seconds apart)."""


@dataclass(frozen=True, slots=True)
class ChangePosition:
    """Where a page of the change feed ended: the last article's change time and id."""

    moment: datetime
    id: int

    MARK = "changes"
    """Names the feed in the cursor, so that a cursor of the article list is not taken for one of this feed."""

    def encode(self) -> str:
        raw = json.dumps([self.MARK, self.moment.astimezone(UTC).isoformat(), self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> ChangePosition:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            mark, moment_text, article_id = json.loads(raw)
            moment = datetime.fromisoformat(moment_text)
            if (
                mark != cls.MARK
                or moment.tzinfo is None
                or not isinstance(article_id, int)
                or not names_a_row(article_id)
            ):
                raise ValueError("not ours")
            return cls(moment.astimezone(UTC), article_id)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
            raise InvalidCursorError(f"not a cursor of the change feed: {cursor[:40]!r}") from exc


@cache
def _changes(since: bool, after: bool, source: bool = False, language: bool = False) -> Select[Any]:
    """The statement of a page of the change feed: the articles changed before ``horizon`` (and at or after
    ``since``, after the position ``after_moment``, ``after_id``), oldest change first, ties by id, read in the order
    of ``ix_articles_changed_at``. Withdrawn ones included (the client removes them). Built once for each
    combination."""
    moment = bindparam("horizon", type_=UTCDateTime())
    stmt = select(*LIST_COLUMNS).where(Article.changed_at < moment)
    if since:
        stmt = stmt.where(Article.changed_at >= bindparam("since", type_=UTCDateTime()))
    if after:
        position = tuple_(bindparam("after_moment", type_=UTCDateTime()), bindparam("after_id", type_=Integer()))
        stmt = stmt.where(tuple_(Article.changed_at, Article.id) > position)
    if source:
        stmt = stmt.where(Article.source == bindparam("source"))
    if language:
        stmt = stmt.where(Article.language == bindparam("language"))
    ordered = stmt.order_by(Article.changed_at, Article.id).limit(bindparam("limit", type_=Integer()))
    return cast("Select[Any]", ordered)


def change_horizon(settle: float = CHANGE_SETTLE_SECONDS, now: datetime | None = None) -> datetime:
    """The instant before which the change feed lists changes: ``settle`` seconds before ``now``."""
    return (now or datetime.now(UTC)) - timedelta(seconds=settle)


def changes_page(
    conn: Connection,
    *,
    limit: int,
    horizon: datetime,
    since: datetime | None = None,
    after: ChangePosition | None = None,
    source: str | None = None,
    language: str | None = None,
) -> tuple[list[Any], ChangePosition | None, bool]:
    """One page of the change feed (``_changes``): the articles whose row changed at or after ``since``, after
    ``after`` and before ``horizon``, oldest change first; the position to go on from (the last row's; None for an
    empty page), and whether more rows are listed already.

    An article changed again while a client pages moves to the feed's end, past the client's position: the client
    meets it again, as it is now, and nothing before it is skipped."""
    params: dict[str, Any] = {"horizon": horizon, "limit": limit + 1}
    named = {"since": since, "source": source, "language": language}
    params |= {name: value for name, value in named.items() if value is not None}
    if after is not None:
        params |= {"after_moment": after.moment, "after_id": after.id}
    stmt = _changes(since is not None, after is not None, source is not None, language is not None)
    rows = run(conn, stmt, params)
    page = rows[:limit]
    position = ChangePosition(page[-1].changed_at, page[-1].id) if page else None
    return page, position, len(rows) > limit


def iter_changes(
    engine: Engine,
    *,
    horizon: datetime,
    since: datetime | None,
    source: str | None = None,
    language: str | None = None,
    batch: int = 500,
) -> Iterator[Any]:
    """Every article (all columns) whose row changed at or after ``since`` and before ``horizon``, oldest change
    first, a page at a time (``changes_page``): memory stays that of one page, and no transaction is held open
    between pages. An article changed again meanwhile is read once, as it is when its page is read, or not at all
    when its new change moved it past the horizon: a read from the horizon on lists it."""
    after: ChangePosition | None = None
    while True:
        with engine.connect() as conn:
            page, after, more = changes_page(
                conn, limit=batch, horizon=horizon, since=since, after=after, source=source, language=language
            )
            full = get_articles(conn, [r.id for r in page])
        yield from full
        if not more:
            return


def count_articles(conn: Connection, filters: ArticleFilter) -> int:
    total = 0
    for _, part in _parts(filters, None):
        counted = select(func.count()).select_from(part.limit(None).order_by(None).subquery())
        total += conn.execute(counted, filters.params()).scalar_one()
    return total


@dataclass(frozen=True, slots=True)
class SearchPosition:
    """Where a page of search results ended: the last hit's score and id; and ``top``, the highest article id when
    the first page was read, which pins the search's window (its latest matches) for the pages after it."""

    score: float
    id: int
    top: int

    MARK = "search"
    """Names the search in the cursor, so that a cursor of a list is not taken for one of a search."""

    def encode(self, scope: str) -> str:
        """The cursor of this position, bound to ``scope`` (``ArticleFilter.scope`` of the filters and words)."""
        return _encoded([self.MARK, self.score, self.id, self.top, scope])

    @classmethod
    def decode(cls, cursor: str, scope: str) -> SearchPosition:
        try:
            mark, score, article_id, top, given = _decoded(cursor)
            numbers = (score, article_id, top)
            if (
                mark != cls.MARK
                or any(isinstance(n, bool) for n in numbers)
                or not isinstance(score, int | float)
                or not math.isfinite(score)
                or not isinstance(article_id, int)
                or not isinstance(top, int)
                or not (names_a_row(article_id) and names_a_row(top))
            ):
                raise ValueError("not ours")
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
            raise InvalidCursorError(f"not a cursor of this search: {cursor[:40]!r}") from exc
        _same_scope(cursor, given, scope)
        return cls(float(score), article_id, top)


def _after(score: Any, article_id: Any, after: SearchPosition | None) -> list[Any]:
    """The condition of the hits after ``after`` in the ranking (score, then id, both descending)."""
    if after is None:
        return []
    return [tuple_(score, article_id) < tuple_(literal(after.score, Double()), literal(after.id, Integer()))]


def _ranked(stmt: Any, score: Any, after: SearchPosition | None) -> Any:
    """``stmt`` (the selected columns and ``score`` of the window's matches) ranked, after ``after``."""
    return stmt.where(*_after(score, Article.id, after)).order_by(score.desc(), Article.id.desc())


def _counted(scored: Any, window: int, after: SearchPosition | None, limit: int, selected: tuple[Any, ...]) -> Any:
    """A page of ``limit`` hits ranked after ``after``, from ``scored`` (the id and score of the window's matches,
    read one match longer: ``window + 1``), each row also saying how many matches were read (``matched``: more
    than ``window`` means that more match than a search ranks). The count is taken over the whole window before
    ``after`` leaves any out, so a search counts its matches in the one walk of the index that finds them; the extra
    match, the oldest, is not ranked. Ranked on the ids and scores alone, the page's ``limit`` rows then joined for
    ``selected``: the window's rows are not copied whole to be counted and sorted."""
    read = select(
        scored.c.id,
        scored.c.score,
        func.count().over().label("matched"),
        func.min(scored.c.id).over().label("oldest"),
    ).subquery()
    page = (
        select(read.c.id, read.c.score, read.c.matched)
        .where(or_(read.c.matched <= window, read.c.id > read.c.oldest), *_after(read.c.score, read.c.id, after))
        .order_by(read.c.score.desc(), read.c.id.desc())
        .limit(limit)
        .subquery()
    )
    return (
        select(*selected, page.c.score, page.c.matched)
        .join(page, Article.id == page.c.id)
        .order_by(page.c.score.desc(), page.c.id.desc())
    )


def _pg_matched(query: str) -> tuple[Any, Any] | None:
    """The condition of the articles matching every word of ``query``, and their score: the tsquery of each
    configuration from the query as a bound parameter (``plainto_tsquery`` reads no operators); an article is matched
    with the configuration its vector was built with. The score is ``ts_rank``'s ``real`` as a double, which a
    cursor gives back exactly (a ``real`` read as text and back as a double is no longer equal to itself)."""
    words = " ".join(fulltext.query_words(query))
    if not words:
        return None
    vector: Any = literal_column(fulltext.PG_COLUMN)
    russian = func.plainto_tsquery(literal_column("'russian'::regconfig"), words)
    simple = func.plainto_tsquery(literal_column("'simple'::regconfig"), words)
    is_russian = Article.language == fulltext.RUSSIAN
    matched = or_(
        and_(is_russian, vector.op("@@")(russian)),
        and_(or_(Article.language.is_(None), Article.language != fulltext.RUSSIAN), vector.op("@@")(simple)),
    )
    score: Any = sql_cast(func.ts_rank(vector, case((is_russian, russian), else_=simple)), Double())
    return matched, score


def pg_search(
    query: str,
    filters: list[Any],
    window: int,
    selected: tuple[Any, ...] = (Article,),
    *,
    top: int | None = None,
    after: SearchPosition | None = None,
    counted: int | None = None,
) -> Any:
    """The latest ``window`` matches (ids up to ``top``, when given) are chosen by id first and only they are ranked
    (``ts_rank`` reads each one's vector); ``after``: only the hits ranked after it; ``counted``: a page of that
    many, counted (``_counted``)."""
    found = _pg_matched(query)
    if found is None:
        return None
    matched, score = found
    upto = [Article.id <= top] if top is not None else []
    longer = window + (counted is not None)
    recent = select(Article.id).where(matched, *filters, *upto).order_by(Article.id.desc()).limit(longer).subquery()
    if counted is not None:
        scored = select(Article.id, score.label("score")).join(recent, Article.id == recent.c.id).subquery()
        return _counted(scored, window, after, counted, selected)
    return _ranked(select(*selected, score.label("score")).join(recent, Article.id == recent.c.id), score, after)


def _fts5_matches(query: str, filters: list[Any], top: int | None) -> Any:
    """The ids of the articles matching every word of ``query`` (up to ``top``) that pass ``filters``, from the FTS5
    table walked in descending rowid order (which FTS5 does without sorting, and stops at a LIMIT; SQLite then reads
    the FTS5 table first, not an index of a filter). The articles table is joined in only for the filters."""
    match = fulltext.fts5_match(query)
    if match is None:
        return None
    fts = table(fulltext.FTS_TABLE, column("rowid"))
    matches = select(fts.c.rowid.label("id")).where(text(f"{fulltext.FTS_TABLE} MATCH :match").bindparams(match=match))
    if filters:
        matches = matches.select_from(fts.join(Article.__table__, Article.id == fts.c.rowid)).where(*filters)
    if top is not None:
        matches = matches.where(fts.c.rowid <= top)
    return matches.order_by(fts.c.rowid.desc())


def fts5_search(
    query: str,
    filters: list[Any],
    window: int,
    selected: tuple[Any, ...] = (Article,),
    *,
    top: int | None = None,
    after: SearchPosition | None = None,
    counted: int | None = None,
) -> Any:
    """bm25 of the latest ``window`` matches (``_fts5_matches``); ``after``: only the hits ranked after it;
    ``counted``: a page of that many, counted (``_counted``)."""
    matches = _fts5_matches(query, filters, top)
    if matches is None:
        return None
    bm25: Any = literal_column(f"bm25({fulltext.FTS_TABLE}, {fulltext.TITLE_WEIGHT}, 1.0)")
    recent = matches.add_columns((-bm25).label("score")).limit(window + (counted is not None)).subquery()
    if counted is not None:
        return _counted(recent, window, after, counted, selected)
    return _ranked(select(*selected, recent.c.score).join(recent, Article.id == recent.c.id), recent.c.score, after)


def _search_filters(filters: ArticleFilter) -> list[Any]:
    """The conditions of the filters a search takes (its source, language and since; withdrawn ones left out)."""
    chosen: list[Any] = [Article.withdrawn_at.is_(None)]
    if filters.source:
        chosen.append(Article.source == filters.source)
    if filters.language:
        chosen.append(Article.language == filters.language)
    if filters.since:
        chosen.append(func.coalesce(Article.published_at, Article.archived_at) >= filters.since)
    return chosen


def search_statement(
    dialect: str,
    query: str,
    filters: ArticleFilter,
    window: int,
    selected: tuple[Any, ...] = (Article,),
    *,
    top: int | None = None,
    after: SearchPosition | None = None,
    counted: int | None = None,
) -> Any:
    """The ranked search of ``query`` (see aggregator/store/search.py) on this dialect among the articles
    ``filters`` keep (``_search_filters``), selecting ``selected`` and the score; None when the query holds no word.
    ``top``: only articles with ids up to it; ``after``: only the hits ranked after that position; ``counted``: a
    page of that many hits, each row saying how many match, up to ``window + 1`` (``_counted``)."""
    search = pg_search if dialect == "postgresql" else fts5_search
    return search(query, _search_filters(filters), window, selected, top=top, after=after, counted=counted)


def search_scope(query: str, filters: ArticleFilter) -> str:
    """What a search's cursor is bound to: its filters and its words as the index holds them (``"Baki"``, ``"bakı"``
    and ``"Bakı"`` are one search: both back ends match words in any case)."""
    return filters.scope("search", [word.lower() for word in fulltext.query_words(query)])


@dataclass(frozen=True, slots=True)
class SearchPage:
    """A page of a search: its hits (the list columns and ``score``), where to go on from (None on the last page),
    and how many articles match (``total``: all of them; with ``capped``, the window's worth, and more match)."""

    rows: list[Any]
    following: SearchPosition | None
    total: int
    capped: bool


def search_page(
    conn: Connection,
    query: str,
    filters: ArticleFilter,
    *,
    limit: int,
    after: SearchPosition | None = None,
    window: int | None = None,
) -> SearchPage:
    """A page of the articles matching every word of ``query``, best first, among the ``window`` latest matches that
    pass ``filters`` (``search_statement``; ``fulltext.SEARCH_WINDOW`` by default), after ``after``; and how many
    match, counted up to the window.

    Pages are by keyset on (score, id), not by offset: a page costs what the first does (the window is ranked
    either way), and the window is pinned to the articles of the first page's time (``SearchPosition.top``), so an
    article archived meanwhile neither shifts the later pages nor pushes the window's oldest match out unseen. On
    PostgreSQL a score depends on the article and the words alone; SQLite's bm25 weighs a word by how many articles
    hold it, so an archive that grows while a reader pages can move a hit across a page's end (seen twice, or not at
    all): a page boundary's worth, never a page.

    The count is of the window's matches and one more (``_counted``), read in the walk that finds them: a count of
    every match reads all of a common word's posting list (40 ms on SQLite at 1,000,000 articles, as long as ranking
    the window), and the pages reach the window's matches only."""
    top = after.top if after is not None else highest_id(conn)
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # Planned for its words each time. psycopg prepares a statement run five times on a connection, and
        # PostgreSQL then may keep one plan for any words (a generic plan, made without their frequencies) once
        # common words' plans have cost more: the plan for a word in most articles read a rare word's matches by
        # walking the primary key back through every article (3 s at 1,000,000 articles, for 20 matches).
        conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    window = max(fulltext.SEARCH_WINDOW if window is None else window, limit)
    stmt = search_statement(dialect, query, filters, window, LIST_COLUMNS, top=top, after=after, counted=limit + 1)
    if stmt is None:
        return SearchPage([], None, 0, False)
    rows = list(conn.execute(stmt))
    page = rows[:limit]
    following = SearchPosition(float(page[-1].score), page[-1].id, top) if len(rows) > limit else None
    if rows:
        matched = int(rows[0].matched)
    elif after is None:
        matched = 0
    else:  # a page past the last (a cursor given again later, its hits withdrawn since): the count alone
        read = search_statement(dialect, query, filters, window, (Article.id,), top=top, counted=1).subquery()
        matched = int(conn.execute(select(func.coalesce(func.max(read.c.matched), 0))).scalar_one())
    return SearchPage(page, following, min(matched, window), matched > window)


# The statements below are built once, with bound parameters: building a SQLAlchemy statement (and its cache key
# from ORM attributes) costs several times more than running an indexed read on SQLite.
ARTICLES = Article.__table__
_SIBLINGS = (
    select(*LIST_COLUMNS)
    .where(
        ARTICLES.c.story_id == bindparam("story", type_=Integer()),
        ARTICLES.c.id != bindparam("id", type_=Integer()),
        ARTICLES.c.withdrawn_at.is_(None),
    )
    .order_by(ARTICLES.c.archived_at.desc(), ARTICLES.c.id.desc())
    .limit(50)
)
_MOST_READ = (
    select(*LIST_COLUMNS)
    .where(
        or_(
            ARTICLES.c.published_at >= bindparam("cutoff", type_=UTCDateTime()),
            ARTICLES.c.archived_at >= bindparam("cutoff", type_=UTCDateTime()),
        ),
        ARTICLES.c.withdrawn_at.is_(None),
    )
    .order_by(ARTICLES.c.views.desc(), ARTICLES.c.archived_at.desc(), ARTICLES.c.id.desc())
    .limit(bindparam("limit", type_=Integer()))
)
_ARTICLE = select(ARTICLES).where(ARTICLES.c.id == bindparam("id", type_=Integer()))
_SITEMAP_CHUNK = (
    select(ARTICLES.c.id, ARTICLES.c.updated_at)
    .where(
        ARTICLES.c.id >= bindparam("first", type_=Integer()),
        ARTICLES.c.id <= bindparam("last", type_=Integer()),
        ARTICLES.c.withdrawn_at.is_(None),
    )
    .order_by(ARTICLES.c.id)
)
_NEWS_SITEMAP = (
    select(ARTICLES.c.id, ARTICLES.c.title, ARTICLES.c.language, ARTICLES.c.published_at)
    .where(ARTICLES.c.published_at >= bindparam("cutoff", type_=UTCDateTime()), ARTICLES.c.withdrawn_at.is_(None))
    .order_by(ARTICLES.c.published_at.desc(), ARTICLES.c.id.desc())
    .limit(bindparam("limit", type_=Integer()))
)


def highest_id(conn: Connection) -> int:
    """The largest article id (0 for an empty archive): how many sitemap chunks there are."""
    return int(conn.execute(select(func.max(ARTICLES.c.id))).scalar_one() or 0)


def sitemap_chunk(conn: Connection, first: int, last: int) -> list[Any]:
    """(id, updated_at) of the shown articles with ids from ``first`` to ``last``, by id (the primary key's range)."""
    return run(conn, _SITEMAP_CHUNK, {"first": first, "last": last})


def recently_published(conn: Connection, *, since: datetime, limit: int) -> list[Any]:
    """(id, title, language, published_at) of the shown articles published since ``since``, newest first."""
    return run(conn, _NEWS_SITEMAP, {"cutoff": since, "limit": limit})


def story_siblings(conn: Connection, article_id: int, story_id: int | None) -> list[Any]:
    """The other articles telling the same story (sharing ``articles.story_id``), newest first."""
    if story_id is None:
        return []
    return run(conn, _SIBLINGS, {"story": story_id, "id": article_id})


def most_read(conn: Connection, *, hours: int, limit: int, now: datetime | None = None) -> list[Any]:
    """Articles published or archived in the last ``hours``, by views (ties: newest first)."""
    cutoff = (now or datetime.now(UTC)) - timedelta(hours=hours)
    return run(conn, _MOST_READ, {"cutoff": cutoff, "limit": limit})


def get_article(conn: Connection, article_id: int) -> Any | None:
    if not names_a_row(article_id):
        return None
    found = run(conn, _ARTICLE, {"id": article_id})
    return found[0] if found else None


def get_articles(conn: Connection, ids: list[int]) -> list[Any]:
    """Whole rows for ``ids``, in that order (one query)."""
    found = {row.id: row for row in conn.execute(select(Article.__table__).where(Article.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def get_source(conn: Connection, key: str) -> Any | None:
    return conn.execute(select(Source.__table__).where(Source.key == key)).first()


def list_sources(conn: Connection) -> list[Any]:
    """The sources in the archive, with how many articles each shows (withdrawn ones left out) and the newest one's
    archive time (aware UTC)."""
    counts = (
        select(
            Article.source,
            func.count().label("articles"),
            # typed: SQLite gives a MAX() back as a bare string otherwise
            type_coerce(func.max(Article.archived_at), UTCDateTime()).label("latest"),
        )
        .where(Article.withdrawn_at.is_(None))
        .group_by(Article.source)
        .subquery()
    )
    stmt = (
        select(Source.__table__, func.coalesce(counts.c.articles, 0).label("articles"), counts.c.latest)
        .outerjoin(counts, counts.c.source == Source.key)
        .order_by(Source.key)
    )
    return list(conn.execute(stmt))


def archived_source(conn: Connection, key: str) -> Any | None:
    """The archive's own record of a source (``key``, ``name``, ``homepage``): what is known of one since taken out of
    the registry, whose articles stay in the archive; None for a key it never had."""
    return conn.execute(select(Source.key, Source.name, Source.homepage).where(Source.key == key)).first()


def linked_addresses(conn: Connection, article: Any) -> list[str]:
    """Every address a crawl was redirected to the article from, or fetched its page at besides ``fetched_url``
    (``redirects``, and its ``linked_url``), sorted."""
    targets = {article.url, article.fetched_url}
    found = set(conn.scalars(select(Redirect.url).where(Redirect.target.in_(targets))))
    if article.linked_url:
        found.add(article.linked_url)
    return sorted(found)


def versions(conn: Connection, article_id: int) -> list[Any]:
    """The fetched versions (snapshots) of an article, oldest first, without their pages."""
    stmt = (
        select(
            Snapshot.id,
            Snapshot.fetched_at,
            Snapshot.url,
            Snapshot.http_status,
            Snapshot.etag,
            Snapshot.content_hash,
            func.length(Snapshot.raw_body).label("stored_bytes"),
        )
        .where(Snapshot.article_id == article_id)
        .order_by(Snapshot.fetched_at, Snapshot.id)
    )
    return list(conn.execute(stmt))


# -- stats ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class DayCounts:
    articles: int = 0
    undated: int = 0
    withdrawn: int = 0
    rejects: int = 0


def _day(conn: Connection, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, as the back end can group by it."""
    if conn.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def daily_stats(
    conn: Connection, *, days: int, source: str | None = None, today: date | None = None
) -> dict[tuple[str, date], DayCounts]:
    """Per (source, UTC day) of the last ``days`` days: articles archived, of those undated and withdrawn (since
    left out by the downstream site), and rejects."""
    today = today or datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), tzinfo=UTC)
    result: dict[tuple[str, date], DayCounts] = {}

    def day_of(value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    article_day = _day(conn, Article.archived_at)
    undated = func.sum(case((Article.published_at.is_(None), 1), else_=0))
    withdrawn = func.sum(case((Article.withdrawn_at.is_not(None), 1), else_=0))
    stmt = (
        select(Article.source, article_day.label("day"), func.count(), undated, withdrawn)
        .where(Article.archived_at >= start)
        .group_by(Article.source, article_day)
    )
    if source:
        stmt = stmt.where(Article.source == source)
    for key, day, count, missing, gone in conn.execute(stmt):
        counts = result.setdefault((key, day_of(day)), DayCounts())
        counts.articles, counts.undated, counts.withdrawn = int(count), int(missing or 0), int(gone or 0)
    reject_day = _day(conn, Reject.created_at)
    reject_source = func.coalesce(Reject.source, "-")
    rejects = (
        select(reject_source, reject_day.label("day"), func.count())
        .where(Reject.created_at >= start)
        .group_by(reject_source, reject_day)
    )
    if source:
        rejects = rejects.where(Reject.source == source)
    for key, day, count in conn.execute(rejects):
        result.setdefault((key, day_of(day)), DayCounts()).rejects = int(count)
    return result


def item_history(conn: Connection, source: str, *, limit: int, before_run: int | None = None) -> list[int]:
    """Articles found (the verdict's ``items``) by the source's last ``limit`` crawls that finished or were cut short,
    newest first, for the health check's median: a run on its own, or the runs of one scale-out crawl summed (one
    ``crawl_id``: each worker found a share). A worker's row written before crawls were named is a share of a crawl
    no longer known: left out."""
    stmt = (
        select(CrawlRun.id, CrawlRun.crawl_id, CrawlRun.health)
        .where(CrawlRun.source == source, CrawlRun.status.in_(("finished", "partial")))
        .order_by(CrawlRun.id.desc())
        .execution_options(yield_per=100)  # read until ``limit`` crawls are found, not the whole history
    )
    if before_run is not None:
        stmt = stmt.where(CrawlRun.id < before_run)
    found: dict[int | str, int] = {}
    with conn.execute(stmt) as rows:
        for run_id, crawl_id, health in rows:
            if not isinstance(health, dict) or "items" not in health:
                continue
            if crawl_id is None and health.get("shared_frontier"):
                continue
            key = crawl_id or run_id
            if key not in found and len(found) == limit:
                break
            found[key] = found.get(key, 0) + int(health["items"])
    return list(found.values())


# -- the operator's questions: runs and rejects by time, what a run archived, what is known of an address -------------


def list_runs(
    conn: Connection,
    *,
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
) -> list[Any]:
    """Crawl runs (every column), newest first; ``since`` / ``until``: started at or after, and before, these
    instants ("what ran last night at 03:00"). By id, which is the order they started in: the primary key's order,
    with the start times of the runs read filtered on the way."""
    stmt = select(CrawlRun.__table__).order_by(CrawlRun.id.desc()).limit(limit)
    if source:
        stmt = stmt.where(CrawlRun.source == source)
    if since:
        stmt = stmt.where(CrawlRun.started_at >= since)
    if until:
        stmt = stmt.where(CrawlRun.started_at < until)
    return list(conn.execute(stmt))


@dataclass(frozen=True, slots=True)
class RejectFilter:
    """Which rejects ``list_rejects`` reads: every field left as None (or False) does not filter."""

    source: str | None = None
    include_resolved: bool = False
    """Also those a retry or a later crawl has archived since."""
    run: int | None = None
    """Those whose latest refusal was in this run (a page refused again moves to the run that refused it again)."""
    since: datetime | None = None
    """Refused last (``last_seen_at``, else ``created_at``) at or after this instant ..."""
    until: datetime | None = None
    """... and before this one."""
    stage: str | None = None
    urls: tuple[str, ...] = ()
    """Those at one of these addresses, or reached from one of them by a redirect (``linked_url``)."""
    retryable: bool = False
    """Only those ``rejects retry --all`` takes: open, with a stored page or item to run the pipelines on again."""


def _retryable(reject: Any = Reject) -> Any:
    """Whether a reject can be retried: open, with its page or its item kept (the JSON type stores None as JSON's
    null, so an item is tested through its text), as ``Archive.retryable_reject_ids`` has it."""
    item = func.coalesce(sql_cast(reject.item, Text), "null")
    return and_(reject.resolved_at.is_(None), or_(reject.raw_body.is_not(None), item != "null"))


REJECT_COLUMNS = tuple(column for column in Reject.__table__.c if column.name != "raw_body")
"""A reject's columns but its stored page, which is the bulk of it (its size is read instead)."""


def list_rejects(conn: Connection, filters: RejectFilter, *, limit: int) -> list[Any]:
    """Rejects newest first, without their pages: each with ``stored_page_bytes`` (0 when none is kept) and
    ``retryable``."""
    retryable = _retryable()
    stmt = select(
        *REJECT_COLUMNS,
        func.coalesce(func.length(Reject.raw_body), 0).label("stored_page_bytes"),
        case((retryable, True), else_=False).label("retryable"),
    )
    if filters.source:
        stmt = stmt.where(Reject.source == filters.source)
    if not filters.include_resolved:
        stmt = stmt.where(Reject.resolved_at.is_(None))
    if filters.run is not None:
        stmt = stmt.where(Reject.crawl_run_id == filters.run)
    last = func.coalesce(Reject.last_seen_at, Reject.created_at)
    if filters.since:
        stmt = stmt.where(last >= filters.since)
    if filters.until:
        stmt = stmt.where(last < filters.until)
    if filters.stage:
        stmt = stmt.where(Reject.stage == filters.stage)
    if filters.urls:
        stmt = stmt.where(or_(Reject.url.in_(filters.urls), Reject.linked_url.in_(filters.urls)))
    if filters.retryable:
        stmt = stmt.where(retryable)
    return list(conn.execute(stmt.order_by(Reject.id.desc()).limit(limit)))


@dataclass(frozen=True, slots=True)
class RunWindow:
    """The source a run crawled and the time it wrote in: from its start to its end (now, while it runs). A worker
    of a scale-out crawl stands for the whole crawl: its workers wrote the source's articles side by side."""

    source: str
    start: datetime
    end: datetime
    runs: tuple[int, ...]


def run_window(conn: Connection, run_id: int, *, now: datetime | None = None) -> RunWindow | None:
    """The window of run ``run_id`` (None for an id no run has: never one, or pruned)."""
    if not names_a_row(run_id):
        return None
    run = conn.execute(select(CrawlRun.__table__).where(CrawlRun.id == run_id)).first()
    if run is None:
        return None
    runs = [run]
    if run.crawl_id:
        runs = list(conn.execute(select(CrawlRun.__table__).where(CrawlRun.crawl_id == run.crawl_id)))
    end = now or datetime.now(UTC)
    ends = [r.finished_at or (end if r.status == "running" else r.started_at) for r in runs]  # killed: its end unknown
    return RunWindow(run.source, min(r.started_at for r in runs), max(ends), tuple(sorted(r.id for r in runs)))


def run_articles(conn: Connection, window: RunWindow, *, limit: int) -> tuple[list[Any], int]:
    """The articles of ``window``'s source that its run archived (first archived in it) or changed (a new version
    written in it), newest first as ``list_page`` orders them, withdrawn ones too; and how many there are. Each row
    has ``change``: "new" or "updated". An article a later run (or ``reextract``) changed again is that one's.

    New articles are read by the archive-time index; changed ones by the source's rows (``updated_at`` has no index
    of its own), which this operator's question can afford and the read API never asks."""
    start, end = window.start, window.end
    new = and_(Article.archived_at >= start, Article.archived_at <= end)
    changed = and_(Article.archived_at < start, Article.updated_at >= start, Article.updated_at <= end)
    where = and_(Article.source == window.source, or_(new, changed))
    change = case((Article.archived_at >= start, "new"), else_="updated").label("change")
    moment = func.coalesce(Article.published_at, Article.archived_at)
    stmt = select(*LIST_COLUMNS, change).where(where).order_by(moment.desc(), Article.id.desc()).limit(limit)
    total = conn.execute(select(func.count()).select_from(Article).where(where)).scalar_one()
    return list(conn.execute(stmt)), int(total)


@dataclass(frozen=True, slots=True)
class AddressFacts:
    """What the archive knows of an address: the article it is (or leads to) and how, and the rejects of it."""

    asked: str
    canonical: str
    article_id: int | None
    how: str | None
    """``url`` (the article's source link), ``fetched_url``, ``linked_url`` (a listing linked it, a redirect led on),
    or ``redirect`` (the redirects table: an address that leads to the article)."""


def find_address(conn: Connection, asked: str, canonical: str, spellings: tuple[str, ...] = ()) -> AddressFacts:
    """The article ``asked`` is, or leads to: looked up as given, in its ``canonical`` form and in the other
    ``spellings`` a site serves it at (http, ``www.``, a trailing slash): by the articles' own addresses first, then
    by the redirects a crawl met. Each lookup is by an index but ``fetched_url`` and ``linked_url``'s, read only when
    the others found nothing."""
    addresses = tuple(dict.fromkeys((canonical, asked, *spellings)))
    found = conn.execute(select(Article.id).where(Article.url.in_(addresses))).first()
    if found:
        return AddressFacts(asked, canonical, found.id, "url")
    target = conn.execute(select(Redirect.target).where(Redirect.url.in_(addresses))).first()
    if target:
        # The target is the page's address as fetched, or the article's own (an address that served its page)
        for column in (Article.url, Article.fetched_url):
            led = conn.execute(select(Article.id).where(column == target.target)).first()
            if led:
                return AddressFacts(asked, canonical, led.id, "redirect")
    for name, kept in (("fetched_url", Article.fetched_url), ("linked_url", Article.linked_url)):
        found = conn.execute(select(Article.id).where(kept.in_(addresses))).first()
        if found:
            return AddressFacts(asked, canonical, found.id, name)
    return AddressFacts(asked, canonical, None, None)


@dataclass(slots=True)
class SourceTotals:
    """What the archive holds of one source, whatever its age (``stats --totals``)."""

    articles: int = 0
    """Shown: withdrawn ones are counted apart."""
    withdrawn: int = 0
    undated: int = 0
    without_cover: int = 0
    versions: int = 0
    page_bytes: int = 0
    """The stored pages of its versions, compressed as they are kept."""
    rejects_open: int = 0
    rejects: int = 0
    reject_page_bytes: int = 0
    redirects: int = 0
    runs: int = 0


def source_totals(conn: Connection) -> dict[str, SourceTotals]:
    """Per source (a reject or redirect of none under "-"): its rows in each table and the bytes of its stored pages.
    Reads every row of the tables (the pages' lengths, not the pages): seconds for a big archive, an operator's
    question, never the read API's."""
    totals: dict[str, SourceTotals] = {}

    def of(key: str | None) -> SourceTotals:
        return totals.setdefault(key or "-", SourceTotals())

    def number(value: Any) -> int:
        return int(value or 0)

    shown = Article.withdrawn_at.is_(None)
    articles = select(
        Article.source,
        func.sum(case((shown, 1), else_=0)),
        func.sum(case((shown, 0), else_=1)),
        func.sum(case((and_(shown, Article.published_at.is_(None)), 1), else_=0)),
        func.sum(case((and_(shown, Article.cover_image_url.is_(None)), 1), else_=0)),
    ).group_by(Article.source)
    for key, count, gone, undated, bare in conn.execute(articles):
        t = of(key)
        t.articles, t.withdrawn, t.undated, t.without_cover = number(count), number(gone), number(undated), number(bare)
    versions = (
        select(Article.source, func.count(), func.sum(func.length(Snapshot.raw_body)))
        .join(Article, Article.id == Snapshot.article_id)
        .group_by(Article.source)
    )
    for key, count, size in conn.execute(versions):
        of(key).versions, of(key).page_bytes = number(count), number(size)
    rejects = select(
        Reject.source,
        func.count(),
        func.sum(case((Reject.resolved_at.is_(None), 1), else_=0)),
        func.sum(func.coalesce(func.length(Reject.raw_body), 0)),
    ).group_by(Reject.source)
    for key, count, still, size in conn.execute(rejects):
        t = of(key)
        t.rejects, t.rejects_open, t.reject_page_bytes = number(count), number(still), number(size)
    for key, count in conn.execute(select(Redirect.source, func.count()).group_by(Redirect.source)):
        of(key).redirects = number(count)
    for key, count in conn.execute(select(CrawlRun.source, func.count()).group_by(CrawlRun.source)):
        of(key).runs = number(count)
    return dict(sorted(totals.items()))


def database_bytes(conn: Connection) -> int | None:
    """The PostgreSQL database's size on disk (None on SQLite, whose files the caller measures)."""
    if conn.dialect.name != "postgresql":
        return None
    return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


# -- the archive's consistency (``aggregator db check``) ---------------------------------------------------------

CHECK_EXAMPLES = 5
"""Ids a failed consistency check names, of all it counted."""


@dataclass(frozen=True, slots=True)
class Breach:
    """What one consistency check found: how many rows break the rule, and the ids of the first few."""

    count: int
    examples: list[int]


def _breaches(conn: Connection, ids_sql: str, **params: Any) -> Breach:
    """The ids ``ids_sql`` (one column, ``id``) selects, counted and the first few named, in one statement: the
    count is a window over the whole set, taken before the limit."""
    rows = conn.execute(
        text(f"SELECT id, count(*) OVER () FROM ({ids_sql}) AS found ORDER BY id LIMIT {CHECK_EXAMPLES}"), params
    ).all()
    return Breach(int(rows[0][1]) if rows else 0, [int(row[0]) for row in rows])


def articles_without_snapshot(conn: Connection) -> Breach:
    """Articles with no stored version: ``Archive.save`` writes a row and its first snapshot in one transaction."""
    return _breaches(
        conn, "SELECT a.id FROM articles a WHERE NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.article_id = a.id)"
    )


def search_index_gaps(conn: Connection) -> Breach | None:
    """SQLite: articles the full-text index has no entry for, and entries of no article (negated ids), from FTS5's
    per-document table (one row an indexed article, kept by the triggers of migration 0017). None on PostgreSQL,
    whose ``search_vector`` is a generated column: the database computes it with the row, nothing can leave it out."""
    if conn.dialect.name != "sqlite":
        return None
    docs = f"{fulltext.FTS_TABLE}_docsize"
    return _breaches(
        conn,
        f"SELECT a.id FROM articles a WHERE NOT EXISTS (SELECT 1 FROM {docs} d WHERE d.id = a.id) "
        f"UNION ALL SELECT -d.id FROM {docs} d WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = d.id)",
    )


class CheckSkipped(Exception):
    """A consistency check that could not run on this archive, and why: no finding about the archive itself."""


SQLITE_READONLY, SQLITE_BUSY = 8, 5
"""SQLite's primary result codes that refuse a write for the connection's sake, not the data's (their extended codes,
``SQLITE_READONLY_DIRECTORY``, ``SQLITE_BUSY_SNAPSHOT`` and so on, keep them in the low 8 bits)."""


def search_index_damage(conn: Connection) -> str | None:
    """SQLite: what FTS5's own ``integrity-check`` finds wrong with the index against the articles' folded text (a
    word indexed that the text no longer holds, or missing); None when nothing, and always on PostgreSQL.

    The check is an INSERT into the index table (FTS5 has no other way to run it; ``PRAGMA integrity_check`` runs it
    read-only only from SQLite 3.44), so SQLite can refuse it as a write without looking at the index: on an archive
    opened read-only (a file or folder the operator may not write, an immutable file, a ``mode=ro`` URI) with
    ``SQLITE_READONLY``, and with ``SQLITE_BUSY`` when a crawl holds the write lock or committed since the caller's
    read transaction began (a write cannot start from an old snapshot). Either was reported as damage, with "rebuild
    the index" to mend it: ``CheckSkipped`` says why it did not run instead."""
    if conn.dialect.name != "sqlite":
        return None
    from sqlalchemy.exc import DatabaseError as SQLError

    try:
        conn.execute(
            text(f"INSERT INTO {fulltext.FTS_TABLE}({fulltext.FTS_TABLE}, rank) VALUES ('integrity-check', 1)")
        )
    except SQLError as exc:
        code = getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF
        if code == SQLITE_READONLY:
            raise CheckSkipped("FTS5's integrity-check writes, and the archive is open read-only") from exc
        if code == SQLITE_BUSY:
            raise CheckSkipped("FTS5's integrity-check writes, and a crawl was writing: run it between crawls") from exc
        return str(exc.orig or exc).strip().splitlines()[0]
    return None


def articles_in_missing_stories(conn: Connection) -> Breach:
    """Articles whose ``story_id`` names no story (the foreign key sets it to NULL when a story goes)."""
    return _breaches(
        conn,
        "SELECT a.id FROM articles a WHERE a.story_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM stories s WHERE s.id = a.story_id)",
    )


def articles_without_story(conn: Connection) -> Breach:
    """Articles in no story: every article a batch writes, or a re-extraction or rebuild matches, gets one
    (``story_index.match``); an archive from before stories has some until ``stories rebuild``."""
    return _breaches(conn, "SELECT a.id FROM articles a WHERE a.story_id IS NULL")


def empty_stories(conn: Connection) -> Breach:
    """Stories no article tells: a story is dropped when its last article leaves it (``story_index.record``,
    ``_merge``, ``Archive.rekey``'s merge)."""
    return _breaches(
        conn, "SELECT s.id FROM stories s WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.story_id = s.id)"
    )


def orphan_buckets(conn: Connection) -> Breach:
    """Article ids of ``story_buckets`` rows whose article does not exist (the foreign key cascades a delete)."""
    return _breaches(
        conn,
        "SELECT DISTINCT b.article_id AS id FROM story_buckets b "
        "WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = b.article_id)",
    )


def _sketch_byte(dialect: str, offset: int | str) -> str:
    """SQL for the byte at 0-based ``offset`` of the article's sketch: PostgreSQL reads it (``get_byte``); SQLite has
    no such function, so it reads two hex digits of ``h``, the hex of the sketch's head (``missing_buckets``)."""
    if dialect == "postgresql":
        return f"get_byte(s.minhash, {offset})"
    digit = "(instr('0123456789ABCDEF', substr(s.h, {}, 1)) - 1)"
    return f"({digit.format(f'2 * ({offset}) + 1')} * 16 + {digit.format(f'2 * ({offset}) + 2')})"


def _sketch_uint32(dialect: str, offset: int | str) -> str:
    """SQL for the little-endian unsigned 32-bit value at ``offset`` of the sketch (as ``struct`` packs it)."""
    parts = [_sketch_byte(dialect, f"{offset} + {i}") for i in range(4)]
    return f"({parts[0]} + {parts[1]} * 256 + {parts[2]} * 65536 + {parts[3]} * 16777216)"


def missing_buckets(conn: Connection) -> Breach:
    """Articles with a sketch of today's scheme, from enough text to be matched, that lack some of the (band,
    bucket) rows ``story_index.record`` writes for it (``stories.band_values``: the first ``BANDS`` values of the
    sketch). Rows besides those are not looked for: an older scheme's rows are left in place by design
    (``story_index._DELETE_BUCKET``), and cost a lookup only a verification that turns them down.

    The bands are read from the stored sketch by SQL, for every article at once: the header is the scheme (one
    byte) and the number of shingles (four), then the values, four bytes each, little-endian."""
    from aggregator import stories

    dialect = conn.dialect.name
    head = 5 + 4 * stories.BANDS  # what the check reads of a sketch
    if dialect == "postgresql":
        sketched = "SELECT id, minhash FROM articles WHERE length(minhash) = :size AND get_byte(minhash, 0) = :scheme"
    else:
        sketched = (
            f"SELECT id, hex(substr(minhash, 1, {head})) AS h FROM articles "
            "WHERE length(minhash) = :size AND substr(minhash, 1, 1) = :scheme_byte"
        )
    bands = " UNION ALL ".join(f"SELECT {band} AS band" for band in range(stories.BANDS))
    expected = (
        f"SELECT s.id, b.band, {_sketch_uint32(dialect, '5 + 4 * b.band')} AS bucket "
        f"FROM s CROSS JOIN ({bands}) AS b WHERE {_sketch_uint32(dialect, 1)} >= :shingles"
    )
    sql = (
        f"WITH s AS ({sketched}), e AS ({expected}) "
        "SELECT DISTINCT e.id FROM e WHERE NOT EXISTS (SELECT 1 FROM story_buckets sb "
        "WHERE sb.band = e.band AND sb.bucket = e.bucket AND sb.article_id = e.id)"
    )
    params: dict[str, Any] = {"size": stories._SIZE, "shingles": stories.MIN_SHINGLES}
    if dialect == "postgresql":
        params["scheme"] = stories.SCHEME
    else:
        params["scheme_byte"] = bytes([stories.SCHEME])
    return _breaches(conn, sql, **params)


def article_keys(conn: Connection, *, after: int = 0, limit: int = 50_000) -> list[tuple[int, str]]:
    """(id, url) of the articles after id ``after``, in id order, ``limit`` at most: the keys ``db check`` holds up
    against today's canonical form (a rule of Python code, ``aggregator.urls``, that no SQL can apply)."""
    return [
        (int(article_id), url)
        for article_id, url in conn.execute(
            select(Article.id, Article.url).where(Article.id > after).order_by(Article.id).limit(limit)
        )
    ]


def runs_left_running(conn: Connection) -> list[tuple[int, str, str | None, int | None, datetime, bool]]:
    """Runs whose row says "running": (id, source, host, pid, started_at, whether a later run of the same source
    has started since). A later run abandons such a row as it starts when its process is gone from the host
    (``pipelines.store``); one still running after that had a live process then."""
    rows = conn.execute(
        text(
            "SELECT r.id, r.source, r.host, r.pid, r.started_at, EXISTS (SELECT 1 FROM crawl_runs n "
            "WHERE n.source = r.source AND n.id > r.id) FROM crawl_runs r WHERE r.status = 'running' ORDER BY r.id"
        ).columns(started_at=UTCDateTime())
    ).all()
    return [(int(i), s, host, pid, started, bool(newer)) for i, s, host, pid, started, newer in rows]
