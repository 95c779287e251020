"""Stories in the database: each article's LSH buckets in ``story_buckets``, matched inside the writer's transaction.

Matching one article costs one indexed query on its (band, bucket) pairs (the table's primary key starts with
them), then a check of the few candidates' stored sketches: the cost depends on how many near-duplicates there
are, not on the size of the archive (and a bucket that many unrelated articles share is left out: ``HOT_BUCKET``).
A batch is matched before its articles are written (``match``), with a handful of statements whatever its size:
one probe for every pair of the batch (in key order), one read of the candidates' sketches, the batch's articles
matched against each other in memory in their order, the new stories (and a read of a story's articles for each
article that only lies inside, or holds, the articles it matched: a brief, a digest); the articles are then
written with their story and sketch by the caller's upsert, and their buckets by ``record``.

Rules:
- every article with a body gets a story; an article with no near-duplicate is a story of its own;
- a new or changed article joins the story of its most similar verified candidate (``aggregator.stories``) among
  those whose news date (``news_date``) lies within ``STORY_GAP`` of its own: last year's forum, or a trial's
  hearing of six weeks ago under the same summary of the charges, is other news however much text it shares. A
  story is thus a connected group of near-duplicates each near in time to the one it matched: it lasts as long as
  its re-publications keep coming;
- an article whose text changed gets its buckets replaced and is matched again; when nothing matches any longer it
  keeps its story only if no other article shares it, otherwise it starts a new one;
- an article that re-tells articles of several stories (``Sketch.comparable``) joins them into one (the oldest): a
  story is a connected group of near-duplicates, so the grouping does not depend on the order in which sources
  were crawled (the agency copy's versions A ~ B and B ~ C are one story even when A and C, crawled first, matched
  nothing). An article that only holds them, or is held by them, joins no stories together: a digest that carries
  several briefs whole matches each of them, which are not one story; it joins the story of the brief it is most
  similar to;
- such an article (a brief inside a long article, a digest around briefs) joins a story that has other articles
  only if it shares some text with one of them (``_tells_other_news``): a digest archived before the briefs it
  carries would otherwise gather them all, each brief lying inside it, into one story.

Concurrent writers: on SQLite every write transaction holds the database's write lock from its start
(``BEGIN IMMEDIATE``), so matching always sees every committed article. On PostgreSQL a batch's transaction takes
a transaction-level advisory lock (``lock_stories``) before it reads which of its articles are archived, so two
crawls writing at the same moment take turns and the second sees the first's articles and buckets (READ COMMITTED
reads what committed before each statement): two writers never create two stories for one pair, nor write one
article's buckets twice. The lock is held to the commit, which is the end of the batch.

A rule change applies to the articles matched from then on; ``rebuild`` (``aggregator stories rebuild``) matches
every article again in archive order, each against the articles before it only (``Horizon``), in batches that take
the same turn: the grouping a fresh crawl of the archive would make.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, Connection, Engine, bindparam, case, delete, func, or_, select, text, update

from aggregator.store.db import reader
from aggregator.store.models import Article, Story, StoryBucket, UTCDateTime, utcnow
from aggregator.stories import BANDS, Sketch, band_values, close_in_time, sketch, stored_buckets, story_text

STORY_LOCK = 0x73746F72  # the advisory lock key of story matching on PostgreSQL
CHUNK = 5_000
"""Values per ``IN (...)`` list, so a batch of any size stays under SQLite's 32,766 bound values a statement."""
HOT_BUCKET = 100
"""A bucket shared by more articles than this holds a phrase that many unrelated articles print (a standard
sentence the cleanup left in), not one story's text: matching leaves it out, so the candidates it verifies do not
grow with the archive. A true re-telling shares several bands (3 of 12 on average at Jaccard 0.25), not one."""
PROBE_CHUNK = 20_000
"""(band, bucket) pairs per batched probe (500 articles' worth)."""
MEMBERS_READ = 100
"""Articles of a story read to tell whether an article that lies inside (or holds) its articles shares text with
another of them (``_tells_other_news``): one that does is among the first hundred of any real story."""


@dataclass(frozen=True, slots=True)
class Match:
    article_id: int
    story_id: int | None
    similarity: float


@dataclass(frozen=True, slots=True)
class Horizon:
    """Where a rebuild (``rematch``) stands in the archive's order: the articles from ``start`` on (of ``source``,
    when given) are yet to be matched again, and hold the stories an older rule gave them. A crawl that had
    archived only the articles before them would not know them: matching leaves them out (as candidates, as
    members of a story, in counting a bucket's articles), so each article meets the archive as a fresh crawl
    meeting the articles in their order would have. Ids are given in the order rows are written (a merge of two
    rows keeps the first one's id and archive time), so id order is archive order."""

    start: int
    source: str | None = None

    def matched(self) -> ColumnElement[bool]:
        """The articles matching may see: those before the horizon, and those the rebuild leaves as they are."""
        articles = Article.__table__.c
        if self.source is None:
            return articles.id < self.start
        return or_(articles.id < self.start, articles.source != self.source)

    def before(self, conn: Connection, found: dict[int, list[int]]) -> dict[int, list[int]]:
        """``probe_many``'s answer without the articles past the horizon (a bucket none is left in is dropped)."""
        past = {other for members in found.values() for other in members if other >= self.start}
        if past and self.source is not None:  # another source's article is not re-matched: it is as it stands
            articles = Article.__table__.c
            theirs: set[int] = set()
            for chunk in chunks(sorted(past)):
                rows = conn.execute(
                    select(articles.id).where(articles.id.in_(chunk), articles.source == self.source)
                ).scalars()
                theirs.update(rows)
            past = theirs
        if not past:
            return found
        return {pair: kept for pair, members in found.items() if (kept := [i for i in members if i not in past])}


def lock_stories(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK})


PROBE_MANY = {
    # The pairs, each as one number (band << 32 | bucket), drive a nested loop over the primary key (CROSS JOIN
    # keeps SQLite from reordering the join): one index probe per pair, whatever the table's size.
    "sqlite": text(
        "SELECT s.band, s.bucket, s.article_id FROM json_each(:pairs) AS p CROSS JOIN story_buckets AS s "
        "ON s.band = (p.value >> 32) AND s.bucket = (p.value & 4294967295)"
    ),
    "postgresql": text(
        "SELECT s.band, s.bucket, s.article_id "
        "FROM unnest(CAST(:bands AS integer[]), CAST(:buckets AS bigint[])) AS p(band, bucket) "
        "JOIN story_buckets AS s ON s.band = p.band AND s.bucket = p.bucket"
    ),
}


_NEWS_DATE = func.coalesce(Article.__table__.c.published_at, Article.__table__.c.archived_at)
"""An archived article's news date (``news_date``), read with its sketch (no statement of its own)."""


def news_date(published_at: datetime | None, archived_at: datetime) -> datetime:
    """The date an article tells its news on, as ``STORY_GAP`` compares them: its published time, else the time it
    was archived (as a story lists its articles). A backfill of old pages archives them today: their own dates
    keep them apart from today's news."""
    return published_at or archived_at


def pair_key(band: int, bucket: int) -> int:
    """A (band, bucket) pair as one number: a band's bucket is a 32-bit value (``aggregator.stories``)."""
    return (band << 32) | bucket


def candidates(conn: Connection, article_id: int | None, sketch: Sketch, when: datetime | None = None) -> list[Match]:
    """Articles sharing a bucket with ``sketch`` that verify as the same story, most similar first: of those whose
    news date is within ``STORY_GAP`` of ``when`` (any, without it)."""
    pairs = sketch.buckets()
    if not pairs:
        return []
    found = _telling(probe_many(conn, np.array([pair_key(band, bucket) for band, bucket in pairs], dtype=np.int64)))
    ids = sorted({other for members in found.values() for other in members if other != article_id})
    if not ids:
        return []
    articles = Article.__table__.c
    rows = conn.execute(
        select(articles.id, articles.story_id, articles.minhash, _NEWS_DATE).where(articles.id.in_(ids))
    )
    matches = []
    for other_id, story_id, blob, dated in rows:
        if not close_in_time(when, dated):
            continue
        other = Sketch.unpack(blob)
        if other is not None and sketch.same_story(other):
            matches.append(Match(other_id, story_id, sketch.containment(other)))
    matches.sort(key=lambda m: (-m.similarity, m.article_id))
    return matches


def _telling(found: dict[int, list[int]]) -> dict[int, list[int]]:
    """The buckets that say something: a bucket of more than ``HOT_BUCKET`` articles is left out of matching."""
    return {pair: members for pair, members in found.items() if len(members) <= HOT_BUCKET}


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def probe_many(conn: Connection, keys: npt.NDArray[np.int64]) -> dict[int, list[int]]:
    """The articles in each bucket of ``keys`` (distinct ``pair_key`` numbers, best sorted), one query per
    PROBE_CHUNK of them."""
    found: dict[int, list[int]] = {}
    probe = PROBE_MANY["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    for start in range(0, len(keys), PROBE_CHUNK):
        chunk = keys[start : start + PROBE_CHUNK]
        if conn.dialect.name == "postgresql":
            params: dict[str, Any] = {"bands": (chunk >> 32).tolist(), "buckets": (chunk & 0xFFFFFFFF).tolist()}
        else:
            params = {"pairs": "[" + ",".join(map(str, chunk.tolist())) + "]"}
        for band, bucket, article_id in conn.execute(probe, params):
            found.setdefault(pair_key(band, bucket), []).append(article_id)
    return found


def _age(story_id: int) -> tuple[bool, int]:
    """Oldest first: the archive's stories by id, then the ones this batch creates (negative, in creation order)."""
    return story_id < 0, abs(story_id)


_DELETE_BUCKET = delete(StoryBucket).where(
    StoryBucket.band == bindparam("b"), StoryBucket.bucket == bindparam("h"), StoryBucket.article_id == bindparam("a")
)
"""An article's buckets are found from its stored sketch, by the primary key (cheaper than the index by article,
which a merge's delete uses), of this scheme or the previous one (``stored_buckets``: scheme 3's values are scheme
2's, and the same rows written again would break the primary key). Rows of an older scheme cannot be found that way
and stay: a lookup may then list the article as a candidate, and its current sketch's verification turns it down."""

_SET_STORY = (
    update(Article)
    .where(Article.id == bindparam("a_id"))
    .values(
        story_id=bindparam("s_id"),
        minhash=bindparam("m"),
        # A move to another story changes what the article's page shows (the story's other articles): a change for
        # the change feed (``Article.changed_at``). A sketch written again under the same story is none.
        changed_at=case(
            (Article.story_id.is_distinct_from(bindparam("s_id")), bindparam("now", type_=UTCDateTime())),
            else_=Article.changed_at,
        ),
    )
)


_NEW_STORIES = {
    # n new stories in one statement with the time bound once (a row of parameters per story cost more than the
    # insert), their ids returned
    "sqlite": text(
        "INSERT INTO stories (created_at, updated_at) SELECT :now, :now FROM json_each(:slots) RETURNING id"
    ).bindparams(bindparam("now", type_=UTCDateTime())),
    "postgresql": text(
        "INSERT INTO stories (created_at, updated_at) SELECT :now, :now FROM generate_series(1, :n) RETURNING id"
    ).bindparams(bindparam("now", type_=UTCDateTime())),
}


@dataclass(slots=True)
class Plan:
    """What matching a batch decided, before its articles are written (see ``match``)."""

    stories: dict[int, int]
    """Article key -> story id (stories the batch created exist already)."""
    buckets: npt.NDArray[np.int64]
    """(band, bucket, article key) rows to write, an (n, 3) array in key order."""
    left: set[int]
    """Stories an article moved out of: dropped by ``record`` if nobody tells them any longer."""


def current_stories(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[int | None, bytes | None]]:
    """Archived articles' story and stored sketch (what ``match`` needs of articles it re-matches)."""
    articles = Article.__table__.c
    found: dict[int, tuple[int | None, bytes | None]] = {}
    for chunk in chunks(list(dict.fromkeys(ids))):
        rows = conn.execute(select(articles.id, articles.story_id, articles.minhash).where(articles.id.in_(chunk)))
        found.update((article_id, (story_id, blob)) for article_id, story_id, blob in rows)
    return found


def news_dates(conn: Connection, ids: Sequence[int]) -> dict[int, datetime]:
    """Archived articles' news dates (``news_date``), as the database holds them now."""
    articles = Article.__table__.c
    found: dict[int, datetime] = {}
    for chunk in chunks(list(dict.fromkeys(ids))):
        rows = conn.execute(select(articles.id, _NEWS_DATE).where(articles.id.in_(chunk)))
        found.update((article_id, when) for article_id, when in rows)
    return found


def assign(conn: Connection, items: Sequence[tuple[int, bytes | None]]) -> dict[int, int]:
    """Match archived articles (id, packed sketch) again, in order, and record their story, sketch and buckets.

    Runs inside the caller's transaction, after their rows hold their current date (``news_dates`` reads it);
    returns article id -> story id. (A batch of new fetches goes through ``match`` and ``record`` around its upsert
    instead, which writes the story and sketch with the row.)
    """
    if not items:
        return {}
    lock_stories(conn)
    ids = [article_id for article_id, _ in items]
    plan = match(conn, items, current_stories(conn, ids), news_dates(conn, ids))
    blobs = dict(items)
    now = utcnow()
    conn.execute(_SET_STORY, [{"a_id": a, "s_id": s, "m": blobs[a], "now": now} for a, s in plan.stories.items()])
    record(conn, plan, {article_id: article_id for article_id in plan.stories})
    return plan.stories


REBUILD_BATCH = 2_000
"""Articles a rebuild matches again in one transaction: what it holds in memory, and how long a crawl's batch may
wait for the writers' turn behind it (about a second: see the README)."""


@dataclass(frozen=True, slots=True)
class Rematched:
    """One batch of a rebuild (``rematch``)."""

    last: int
    """The last article id it matched again (the next batch starts after it)."""
    articles: int
    sketched: int
    """Articles whose sketch was missing or of an older scheme, sketched from their archived text."""


def rematch(conn: Connection, after: int, *, source: str | None = None, size: int = REBUILD_BATCH) -> Rematched | None:
    """Match the next ``size`` articles after id ``after`` (of ``source``) again, in the order they were archived,
    under today's rules, as a crawl that meets them in that order would (``Horizon``); None when none is left.

    Runs in the caller's transaction, in the writers' turn (``lock_stories``, taken before anything is read: a crawl
    may write beside). A sketch of the current ``SCHEME`` is used as stored, its buckets left as they are; one that
    is missing or of an older scheme is computed from the archived title and body, as the dedupe pipeline computes
    it (``story_text``), and its buckets replaced. Only articles whose story or sketch changes are written: a second
    rebuild writes nothing.
    """
    lock_stories(conn)
    articles = Article.__table__.c
    stmt = select(articles.id, articles.story_id, articles.minhash, _NEWS_DATE).where(articles.id > after)
    if source is not None:
        stmt = stmt.where(articles.source == source)
    rows = conn.execute(stmt.order_by(articles.id).limit(size)).all()
    if not rows:
        return None
    current = {article_id: (story_id, blob) for article_id, story_id, blob, _ in rows}
    dates = {article_id: when for article_id, _, _, when in rows}
    blobs = {article_id: blob for article_id, _, blob, _ in rows}
    old = [article_id for article_id, _, blob, _ in rows if Sketch.unpack(blob) is None]
    for chunk in chunks(old):
        texts = conn.execute(select(articles.id, articles.title, articles.body_text).where(articles.id.in_(chunk)))
        blobs.update((article_id, sketch(story_text(title, body)).pack()) for article_id, title, body in texts)
    items = list(blobs.items())  # in id order, as the rows were read
    plan = match(conn, items, current, dates, horizon=Horizon(rows[0][0], source))
    resketched = set(old)
    now = utcnow()
    changed = [
        {"a_id": article_id, "s_id": story_id, "m": blobs[article_id], "now": now}
        for article_id, story_id in plan.stories.items()
        if story_id != current[article_id][0] or article_id in resketched
    ]
    if changed:
        conn.execute(_SET_STORY, changed)
    # The buckets of an unchanged sketch are in the table already (``match`` left them): only new sketches' rows.
    fresh = plan.buckets[np.isin(plan.buckets[:, 2], np.fromiter(resketched, dtype=np.int64, count=len(old)))]
    record(conn, Plan(plan.stories, fresh, plan.left), {article_id: article_id for article_id in plan.stories})
    return Rematched(rows[-1][0], len(rows), len(old))


@dataclass
class Rebuild:
    """What a rebuild (``rebuild``) did."""

    articles: int = 0
    """Articles matched again."""
    sketched: int = 0
    moved: int = 0
    """Articles whose story is another one than before the rebuild (those of a story merged into another too)."""
    stories_before: int = 0
    stories_after: int = 0
    shared_before: int = 0
    """Stories told by two articles or more."""
    shared_after: int = 0
    total: int = 0
    """Articles the rebuild was to match again, as counted at its start (a crawl beside it adds more)."""


def rebuild(
    engine: Engine,
    *,
    source: str | None = None,
    since: datetime | None = None,
    size: int = REBUILD_BATCH,
    progress: Callable[[Rebuild], None] | None = None,
) -> Rebuild:
    """Match every article (of ``source``; from the first archived at or after ``since`` on) again under today's
    story rules, in the order they were archived: the grouping a fresh crawl meeting them in that order would
    make, where matching them again one by one (``assign``) would meet the later articles' stale stories.

    Batches of ``size`` articles, each in a transaction of its own (``rematch``): memory stays bounded, and a crawl
    writing beside waits at most one batch for its turn. Its new articles are matched by the crawl's rule, then once
    more by the rebuild when it reaches them (the rebuild goes on to the last article it finds)."""
    result = Rebuild()
    articles = Article.__table__.c
    scope = select(func.count()).select_from(Article.__table__)
    first = 0
    with reader(engine).connect() as conn:
        if since is not None:
            # Archive order is id order (``Horizon``): the rebuild starts at the first article archived since then.
            first = conn.execute(select(func.min(articles.id)).where(articles.archived_at >= since)).scalar() or 0
            if not first:
                return result
        scope = scope.where(articles.id >= first)
        if source is not None:
            scope = scope.where(articles.source == source)
        result.total = conn.execute(scope).scalar_one()
        result.stories_before, result.shared_before = _story_counts(conn)
        before = _stories_by_article(conn)
    after = first - 1
    while True:
        with engine.begin() as conn:
            done = rematch(conn, after, source=source, size=size)
        if done is None:
            break
        after = done.last
        result.articles += done.articles
        result.sketched += done.sketched
        if progress is not None:
            progress(result)
    with reader(engine).connect() as conn:
        result.stories_after, result.shared_after = _story_counts(conn)
        now = _stories_by_article(conn)
    ids = np.intersect1d(before[0], now[0], assume_unique=True)
    was = before[1][np.searchsorted(before[0], ids)]
    result.moved = int(np.count_nonzero(was != now[1][np.searchsorted(now[0], ids)]))
    return result


def _story_counts(conn: Connection) -> tuple[int, int]:
    """(stories, stories told by two articles or more)."""
    articles = Article.__table__.c
    stories = conn.execute(select(func.count()).select_from(Story.__table__)).scalar_one()
    shared = (
        select(articles.story_id)
        .where(articles.story_id.is_not(None))
        .group_by(articles.story_id)
        .having(func.count() >= 2)
        .subquery()
    )
    return stories, conn.execute(select(func.count()).select_from(shared)).scalar_one()


_READ_STORIES = 100_000
"""Rows a read of every article's story takes at once (``_stories_by_article``)."""


def _stories_by_article(conn: Connection) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every article's id and story (0: none), in id order, as two arrays: 16 bytes an article, to count those a
    rebuild moved (a merge moves articles of other batches)."""
    articles = Article.__table__.c
    ids: list[npt.NDArray[np.int64]] = []
    stories: list[npt.NDArray[np.int64]] = []
    last = 0
    while True:
        rows = conn.execute(
            select(articles.id, func.coalesce(articles.story_id, 0))
            .where(articles.id > last)
            .order_by(articles.id)
            .limit(_READ_STORIES)
        ).all()
        if not rows:
            break
        block = np.array(rows, dtype=np.int64)
        ids.append(block[:, 0])
        stories.append(block[:, 1])
        last = int(block[-1, 0])
    if not ids:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(ids), np.concatenate(stories)


def match(
    conn: Connection,
    items: Sequence[tuple[int, bytes | None]],
    current: dict[int, tuple[int | None, bytes | None]],
    dates: Mapping[int, datetime],
    *,
    horizon: Horizon | None = None,
) -> Plan:
    """Match each (article key, packed sketch) of a batch, in order, against the archive and the batch's earlier
    articles, as if they were written one by one; create the stories it needs and drop the buckets of the articles'
    previous text.

    A key is the article's id when it is archived (``current`` then holds its story and stored sketch, as
    ``current_stories`` reads them) and a negative number for an article the batch adds. ``dates``: each key's news
    date (``news_date``) as the article will be written (a key without one is near any date). The caller holds the
    story lock (``lock_stories``), writes the articles with their story and sketch, then calls ``record``.

    ``horizon`` (a rebuild, ``rematch``): the archive is matched as a crawl that has archived only the articles
    before the horizon would have seen it; the articles of the batch keep the buckets of an unchanged sketch.
    """
    articles = Article.__table__.c
    stale: list[tuple[int, int, int]] = []  # the buckets of the articles' previous text, by primary key
    for article_id, blob in items:
        if article_id in current and (horizon is None or current[article_id][1] != blob):
            stale.extend((band, bucket, article_id) for band, bucket in stored_buckets(current[article_id][1]))
    if stale:
        conn.execute(
            _DELETE_BUCKET, [{"b": band, "h": bucket, "a": article_id} for band, bucket, article_id in set(stale)]
        )
    buckets = _bucket_rows(items)
    keys = np.unique((buckets[:, 0] << 32) | buckets[:, 1])
    in_archive = _telling(horizon.before(conn, probe_many(conn, keys)) if horizon else probe_many(conn, keys))

    # What matching needs of the archive's candidates: their sketch, news date and story (kept up to date as stories
    # merge). The date comes with the row already read: the time limit costs no statement.
    known: dict[int, Sketch | None] = {}
    dated: dict[int, datetime] = {}
    story_of: dict[int, int | None] = {}
    found_ids = sorted({other for found in in_archive.values() for other in found})
    for chunk in chunks(found_ids):
        rows = conn.execute(
            select(articles.id, articles.story_id, articles.minhash, _NEWS_DATE).where(articles.id.in_(chunk))
        )
        for other_id, other_story, blob, when in rows:
            known[other_id], dated[other_id], story_of[other_id] = Sketch.unpack(blob), when, other_story

    leads = _leads(buckets, in_archive)
    blobs = dict(items)
    sketches = {article_id: Sketch.unpack(blobs[article_id]) for article_id in leads}  # the only ones compared
    now = utcnow()
    batch_buckets: dict[int, list[int]] = {}  # the buckets of the batch's articles matched so far
    assigned: dict[int, int] = {}  # article -> story; negative: a story this batch creates
    created = 0
    touched: set[int] = set()
    merged: set[int] = set()
    for article_id, _ in items:
        matched: dict[int, tuple[bool, float]] = {}  # story -> (re-told by this article, best containment)
        through: dict[int, set[int]] = {}  # story -> the articles of it this one matched
        mine = leads.get(article_id, ())
        sketch = sketches[article_id] if mine else None
        when = dates.get(article_id)
        if sketch is not None:
            sharing: set[int] = set()
            for pair in mine:
                if found := in_archive.get(pair):
                    sharing.update(found)
                if found := batch_buckets.get(pair):
                    sharing.update(found)
            sharing.discard(article_id)
            for other in sorted(sharing):
                # An article of the batch matched already is as it will be written; the others as archived.
                if not close_in_time(when, dates.get(other) if other in assigned else dated.get(other)):
                    continue
                other_sketch = sketches[other] if other in assigned else known.get(other)
                if other_sketch is None or not sketch.same_story(other_sketch):
                    continue
                story = assigned[other] if other in assigned else story_of.get(other)
                if story is not None:
                    retold, best = matched.get(story, (False, 0.0))
                    matched[story] = (
                        retold or sketch.comparable(other_sketch),
                        max(best, sketch.containment(other_sketch)),
                    )
                    through.setdefault(story, set()).add(other)
        story_id: int | None = None
        others: list[int] = []
        if sketch is not None and matched:
            joined = [story for story, (retold, _) in matched.items() if retold]
            if joined:
                story_id, *others = sorted(joined, key=_age)
            else:  # it holds, or is held by, the articles it matched: the most similar one's story, and no other
                for story in sorted(matched, key=lambda story: (-matched[story][1], _age(story))):
                    if not _tells_other_news(
                        conn, story, article_id, sketch, through[story], assigned, sketches, horizon
                    ):
                        story_id = story
                        break
        previous = current[article_id][0] if article_id in current else None
        if story_id is not None:
            # A rebuild that leaves an article in its story changes nothing of the story (a second rebuild writes
            # nothing); a crawl's article that matches its story again is news of it.
            if story_id > 0 and (horizon is None or story_id != previous):
                touched.add(story_id)
            if others:  # this article bridges stories: one story from now on
                _merge(conn, story_id, others, now)
                merged.update(others)
                for mapping in (assigned, story_of):
                    for key, value in mapping.items():
                        if value in others:
                            mapping[key] = story_id
        else:
            if (
                previous is not None
                and previous not in merged
                and not _shared(conn, article_id, previous, assigned, horizon)
            ):
                story_id = previous  # its own story: nobody else shares it
            else:
                created += 1
                story_id = -created
        assigned[article_id] = story_id
        for pair in mine:
            batch_buckets.setdefault(pair, []).append(article_id)

    new_stories: dict[int, int] = {}
    placeholders = sorted({s for s in assigned.values() if s < 0}, key=_age)
    if placeholders:
        dialect = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
        if dialect == "postgresql":
            params: dict[str, Any] = {"now": now, "n": len(placeholders)}
        else:
            params = {"now": now, "slots": "[" + ",".join("0" * len(placeholders)) + "]"}
        rows = conn.execute(_NEW_STORIES[dialect], params)
        new_stories = dict(zip(placeholders, sorted(rows.scalars()), strict=True))  # ids in creation order
    final = {article_id: new_stories.get(s, s) for article_id, s in assigned.items()}
    touched -= merged
    if touched:
        conn.execute(update(Story).where(Story.id.in_(sorted(touched))).values(updated_at=now))
    left = {
        story
        for article_id, (story, _) in current.items()
        if story is not None and article_id in final and final[article_id] != story
    }
    return Plan(final, buckets, left)


def _bucket_rows(items: Sequence[tuple[int, bytes | None]]) -> npt.NDArray[np.int64]:
    """The (band, bucket, article key) rows of a batch's sketches, sorted (neighbouring rows share index pages):
    read from the packed sketches in one vectorised pass."""
    latest = dict(items)  # a key given twice: its last sketch, as matching reads it
    positions, values = band_values(list(latest.values()))
    keys = np.fromiter(latest, dtype=np.int64, count=len(latest))[positions]
    rows = np.empty((values.size, 3), dtype=np.int64)
    rows[:, 0] = np.tile(np.arange(BANDS, dtype=np.int64), len(positions))
    rows[:, 1] = values.ravel()
    rows[:, 2] = np.repeat(keys, BANDS)
    return rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]


def _leads(buckets: npt.NDArray[np.int64], in_archive: dict[int, list[int]]) -> dict[int, list[int]]:
    """Each article's pairs (``pair_key``) that can lead to another article: found in the archive, or shared with
    another article of the batch. Most articles have none, and skip matching altogether (found in one vectorised
    pass over the batch's sorted rows, instead of a dictionary lookup per pair and article)."""
    if not len(buckets):
        return {}
    pairs = (buckets[:, 0] << 32) | buckets[:, 1]
    twice = np.zeros(len(pairs), dtype=bool)
    same = pairs[1:] == pairs[:-1]  # sorted rows: a pair's articles are neighbours
    twice[1:] |= same
    twice[:-1] |= same
    if in_archive:
        twice |= np.isin(pairs, np.fromiter(in_archive, dtype=np.int64, count=len(in_archive)))
    leads: dict[int, list[int]] = {}
    for pair, key in zip(pairs[twice].tolist(), buckets[twice, 2].tolist(), strict=True):
        leads.setdefault(key, []).append(pair)
    return leads


def record(conn: Connection, plan: Plan, ids: dict[int, int]) -> None:
    """After the batch's articles are written: their buckets (article key -> id by ``ids``), and the stories their
    only article moved out of dropped."""
    if len(plan.buckets):
        keys = np.fromiter(ids, dtype=np.int64, count=len(ids))
        order = np.argsort(keys)
        found = order[np.searchsorted(keys, plan.buckets[:, 2], sorter=order)]
        rows = plan.buckets.copy()
        rows[:, 2] = np.fromiter(ids.values(), dtype=np.int64, count=len(ids))[found]
        rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]  # new articles' ids are new: sort again
        marker = "%s" if conn.dialect.paramstyle in {"format", "pyformat"} else "?"
        cursor = conn.connection.cursor()  # the driver's own executemany takes the rows as lists, as numpy gives them
        try:
            cursor.executemany(
                f"INSERT INTO story_buckets (band, bucket, article_id) VALUES ({marker}, {marker}, {marker})",
                rows.tolist(),
            )
        finally:
            cursor.close()
    if plan.left:
        articles = Article.__table__.c
        members = select(articles.story_id).where(articles.story_id.in_(plan.left)).distinct().scalar_subquery()
        conn.execute(delete(Story).where(Story.id.in_(plan.left), Story.id.not_in(members)))


def _merge(conn: Connection, story_id: int, others: list[int], now: datetime) -> None:
    """Move the articles of ``others`` to ``story_id`` and drop those stories (the ones already in the archive:
    stories of this batch exist only in ``assign``'s bookkeeping until it ends). Each article moved has changed
    (``Article.changed_at``): its story is another."""
    stored = [other for other in others if other > 0]
    if stored:
        conn.execute(update(Article).where(Article.story_id.in_(stored)).values(story_id=story_id, changed_at=now))
        conn.execute(delete(Story).where(Story.id.in_(stored)))


def _shared(
    conn: Connection, article_id: int, story_id: int, assigned: dict[int, int], horizon: Horizon | None = None
) -> bool:
    """Whether another article tells ``story_id``: in the archive (as this batch left it so far; before the
    ``horizon``, if given) or in the batch."""
    articles = Article.__table__.c
    stmt = select(articles.id).where(articles.story_id == story_id)
    if horizon is not None:
        stmt = stmt.where(horizon.matched())
    members = set(conn.execute(stmt).scalars())
    members |= {other for other, story in assigned.items() if story == story_id}
    members -= {other for other, story in assigned.items() if story != story_id}
    members.discard(article_id)
    return bool(members)


def _tells_other_news(
    conn: Connection,
    story_id: int,
    article_id: int,
    sketch: Sketch,
    matched: set[int],
    assigned: dict[int, int],
    sketches: dict[int, Sketch | None],
    horizon: Horizon | None = None,
) -> bool:
    """Whether ``story_id`` has articles besides the ``matched`` ones (which the article lies inside, or holds) and
    the article shares text with none of them: a digest's story that holds another brief, which a brief lying inside
    the digest must not join. A brief of a long article shares its lead with the article's re-publications. Articles
    whose sketch cannot be compared (none, another scheme) tell nothing; nor, in a rebuild, those past its
    ``horizon``."""
    members: dict[int, Sketch | None] = {}
    if story_id > 0:
        articles = Article.__table__.c
        stmt = select(articles.id, articles.minhash).where(articles.story_id == story_id)
        if horizon is not None:
            stmt = stmt.where(horizon.matched())
        rows = conn.execute(stmt.order_by(articles.id).limit(MEMBERS_READ))
        members = {other: Sketch.unpack(blob) for other, blob in rows if other not in assigned}
    members.update((other, sketches.get(other)) for other, story in assigned.items() if story == story_id)
    rest = [s for other, s in members.items() if s is not None and other != article_id and other not in matched]
    return bool(rest) and not any(sketch.shares_text(other) for other in rest)
