"""The archive as the rest of the code sees it: batched, idempotent writes and the reads the CLI needs."""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from sqlalchemy import (
    Engine,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import sessionmaker

from aggregator.items import GONE_STATUSES, ArticleItem, ExtractionFailure
from aggregator.run_counts import UNKNOWN_COUNTS, run_counts
from aggregator.sources import Source as RegistrySource
from aggregator.store import queries, story_index
from aggregator.store import search as fulltext
from aggregator.store.db import connect, dispose, ensure_schema, reader
from aggregator.store.models import (
    SHORT_TEXT_LENGTH,
    URL_LENGTH,
    Article,
    CrawlRun,
    Redirect,
    Reject,
    Snapshot,
    Source,
    Story,
    names_a_row,
    utcnow,
)
from aggregator.stories import sketch, story_text
from aggregator.text import without_controls
from aggregator.urls import canonical_url


def content_hash(item: ArticleItem) -> str:
    """Hash of what we extracted (not of the raw page, whose ads and counters change on every fetch)."""
    digest = hashlib.sha256()
    for part in (item.title, item.body_html, item.published_raw, item.cover_image_url, item.category):
        digest.update((part or "").encode())
        digest.update(b"\0")
    return digest.hexdigest()


def minhash_of(item: ArticleItem) -> bytes:
    """The item's sketch as the dedupe pipeline computed it, or computed now (items that skipped the pipeline)."""
    return item.minhash or sketch(story_text(item.title, item.body_text)).pack()


COMPRESSION_LEVEL = 2
"""zlib level of stored pages. Measured on the mirror's pages joined into ~58 KB ones (real article pages' size):
level 2 takes 0.39 ms a page and keeps 17.8% of it, level 6 (zlib's default) 1.23 ms and 15.0%; compressing is the
archive writer's largest cost after the database, and reading needs no level."""


def compress(raw: bytes) -> bytes:
    return zlib.compress(raw, COMPRESSION_LEVEL)


def compress_all(pages: Sequence[bytes]) -> list[bytes]:
    return [compress(raw) for raw in pages]


def decompress(blob: bytes) -> bytes:
    return zlib.decompress(blob)


@dataclass(slots=True)
class RejectRecord:
    source: str | None
    url: str
    stage: str
    reason: str
    http_status: int | None = None
    item: dict[str, Any] | None = None
    raw_body: bytes | None = None
    linked_url: str | None = None
    """The address the crawl asked for, when a redirect led to ``url`` (``ArticleItem.linked_url``)."""
    withdraws: bool = True
    """Whether a fetch of this record that found the page gone (404, 410) withdraws the archived article it names.
    The store pipeline holds that back until some page of the site has answered in the run (``pipelines.store``)."""
    only_withdraws: bool = False
    """Not a refusal to record: a gone page recorded earlier in the run, whose withdrawal was held back until now."""

    @classmethod
    def of_page(cls, page: ArticleItem | ExtractionFailure, stage: str, reason: str) -> RejectRecord:
        """A refused page with what a retry needs: its item as a record and its raw body."""
        return cls(
            page.source, page.url, stage, reason, page.http_status, page.to_record(), page.raw_body, page.linked_url
        )


@dataclass(frozen=True, slots=True)
class RefusedPage:
    """An open reject as an incremental crawl needs it: what was refused, why, how often in a row and when last."""

    url: str
    stage: str
    reason: str
    http_status: int | None
    attempts: int
    last_refused: datetime
    linked_url: str | None = None
    """The address the crawl asked for, when a redirect led to ``url``: the page is left alone there too."""


@dataclass(frozen=True, slots=True)
class SweepCandidate:
    """An archived article a sweep may fetch again though no listing links it any more (``aggregator.sweep``)."""

    url: str
    """The article's canonical URL (the archive's key)."""
    fetched_url: str
    """Where a crawl last fetched it: the address the sweep asks for, when it is the article's own
    (``aggregator.sweep.address``)."""
    dated: datetime
    """Published, or archived when the source printed no date."""
    last_seen_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    spellings: tuple[str, ...] = ()
    """For one last fetched elsewhere than its own address: the addresses its snapshots were fetched at, newest
    first (``Archive.with_validators``), where its own address as the site spells it may be
    (``aggregator.sweep.address``)."""
    page: tuple[str, bytes, str | None] | None = None
    """For one last fetched elsewhere and never at its own address: its newest snapshot's address, page and encoding,
    whose canonical link names its own address as the site spells it."""


@dataclass(frozen=True, slots=True)
class RedirectRecord:
    """A redirect a crawl met: from the address it asked for (``url``, what a listing links) to where it ended
    (``target``, the page's address as fetched)."""

    source: str | None
    url: str
    target: str


@dataclass(slots=True)
class Rekeying:
    """What ``Archive.rekey`` did."""

    looked_at: int = 0
    """Articles whose key was checked."""
    renamed: int = 0
    """Rows given their article's key by today's rules (no row held it)."""
    merged: list[tuple[int, int]] = field(default_factory=list)
    """(id of a row merged away, id of the row that holds the article now): the row with today's key and one with
    an older key were one article twice; the first archived keeps its id, the other's no longer answers."""
    left: list[tuple[int, str]] = field(default_factory=list)
    """(article id, why) of rows left under their old key."""


REKEY_BATCH = 1_000
"""Keys read and checked together by ``Archive.rekey``; those to change are changed in one transaction."""
MERGED_CONTENT = (
    "source", "fetched_url", "language", "title", "body_html", "body_text", "published_raw", "category",
    "content_hash", "attribution_line", "cited_outlets",
)  # fmt: skip
"""The columns a merged row takes from the row whose newest version is the newer (``_merged_values``)."""


def _merged_values(keep: Mapping[str, Any], drop: Mapping[str, Any], newest: Mapping[int, int]) -> dict[str, Any]:
    """The row that one article's two rows become (``Archive.rekey``), ``keep``'s id kept: the text, addresses and
    dates of the one whose newest snapshot is the newer (``newest``: article id -> its newest snapshot's id, as every
    reader of "the newest version" takes it), a date, cover or linked address from the other where that one has
    none (as ``save`` keeps them); the first archive time, the latest update and sighting, both rows' views; and
    ``_merged_withdrawal``'s state."""
    newer, older = (drop, keep) if newest.get(drop["id"], 0) > newest.get(keep["id"], 0) else (keep, drop)
    values = {column: newer[column] for column in MERGED_CONTENT}
    for column in ("published_at", "cover_image_url", "linked_url"):
        values[column] = newer[column] if newer[column] is not None else older[column]
    values["archived_at"] = min(keep["archived_at"], drop["archived_at"])
    values["updated_at"] = max(keep["updated_at"], drop["updated_at"])
    values["last_seen_at"] = max(keep["last_seen_at"], drop["last_seen_at"])
    values["views"] = (keep["views"] or 0) + (drop["views"] or 0)
    values.update(_merged_withdrawal(keep, drop))
    if newer is drop:  # its text: matched to a story by ``story_index.assign``, which writes story and sketch
        values["minhash"] = drop["minhash"]
    return values


def _merged_withdrawal(one: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    """Whether one article's two rows, merged, are shown. An operator's withdrawal of either stands (only ``articles
    restore`` lifts one). A withdrawal by the source (a fetch found the page gone) stands if both rows are withdrawn,
    or if no fetch found the other row's page after it: a row withdrawn when a sweep found its old address gone (a
    site that dropped its AMP or mobile pages) while a crawl archived the article at its address today is shown."""
    withdrawn = [row for row in (one, other) if row["withdrawn_at"] is not None]
    operators = [row for row in withdrawn if row["withdrawn_by"] == WITHDRAWN_BY_OPERATOR]
    chosen: Mapping[str, Any] | None = None
    if operators or len(withdrawn) == 2:
        chosen = max(operators or withdrawn, key=lambda row: row["withdrawn_at"])
    elif withdrawn:
        shown = other if withdrawn[0] is one else one
        chosen = withdrawn[0] if shown["last_seen_at"] < withdrawn[0]["withdrawn_at"] else None
    return {
        column: chosen[column] if chosen is not None else None
        for column in ("withdrawn_at", "withdrawn_by", "withdrawn_reason")
    }


class ExtractionUpdate(NamedTuple):
    """What ``Archive.update_extractions`` did: the articles whose fields changed, and those left as they were
    because a crawl stored a newer version of them after their page was read."""

    changed: set[int]
    superseded: set[int]


@dataclass(slots=True)
class SaveResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    withdrawn: int = 0
    """Archived articles whose page a fetch of this batch found gone (HTTP 404 or 410): withdrawn by the source."""
    restored: int = 0
    """Articles withdrawn by their source whose page this batch fetched again: shown again."""
    stale: int = 0
    """Pages fetched before the archived version of their article was, and different from it: not written (an
    older page arriving late, a quarantined one retried after a crawl archived a newer one)."""
    undated: int = 0
    """The batch's new, updated and unchanged articles whose row has no publication date once it is written: those
    ``articles list --undated`` lists. Not the dates pipeline's count: a later version that gives no date keeps the
    archived one (``save``), and a page that printed no date at all is undated as much as one whose date was not
    read."""
    new_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class SearchHit:
    article: Article
    score: float
    """Higher is better; comparable within one result list only (bm25 on SQLite, ts_rank on PostgreSQL)."""


def _story_order() -> tuple[Any, Any]:
    """A story's articles earliest first, an undated one by its archive time, as `articles list` places it. By
    ``published_at`` alone the undated ones (NULL) came first on SQLite and last on PostgreSQL."""
    return func.coalesce(Article.published_at, Article.archived_at), Article.id


def _open_rejects(conn: Any, urls: Iterable[str]) -> list[tuple[int, str | None, str, str, str]]:
    """(id, source, url, stage, reason) of the rejects of these URLs that no crawl or retry has archived yet."""
    r = Reject.__table__.c
    rows: list[Any] = []
    for chunk in story_index.chunks(sorted(set(urls))):
        stmt = select(r.id, r.source, r.url, r.stage, r.reason).where(r.url.in_(chunk), r.resolved_at.is_(None))
        rows += conn.execute(stmt.order_by(r.id)).all()
    return rows


def _resolve_rejects(conn: Any, items: Iterable[ArticleItem], ids: dict[str, int], now: datetime) -> None:
    """A page refused before and archived now (the site fixed it, or a new release reads it): its open rejects are
    resolved as that article. One indexed query per batch, which finds nothing in the usual case."""
    article_of: dict[str, int] = {}
    for item in items:
        article_id = ids.get(item.canonical_url or item.url)
        if article_id is not None:
            article_of[item.url] = article_of[item.canonical_url or item.url] = article_id
            if item.linked_url:  # refused there before the site redirected it here
                article_of[item.linked_url] = article_id
    _resolve_open_rejects(conn, article_of, now)


def _resolve_open_rejects(conn: Any, article_of: dict[str, int], now: datetime) -> None:
    """Resolve the open rejects of these URLs as the articles they map to."""
    found = _open_rejects(conn, article_of)
    if found:
        conn.execute(
            update(Reject)
            .where(Reject.id == bindparam("reject_id"))
            .values(resolved_at=now, article_id=bindparam("a")),
            [{"reject_id": reject_id, "a": article_of[url]} for reject_id, _, url, _, _ in found],
        )


WITHDRAWN_BY_SOURCE = "source"
WITHDRAWN_BY_OPERATOR = "operator"


def _show_again(conn: Any, which: Any, now: datetime, *, by: str | None = WITHDRAWN_BY_SOURCE) -> int:
    """Clear the withdrawal of the articles the condition ``which`` picks (only those withdrawn ``by``, unless
    None): each is changed ``now`` (``Article.changed_at``: the change feed lists it again). Returns how many."""
    stmt = update(Article).where(which, Article.withdrawn_at.is_not(None))
    if by is not None:
        stmt = stmt.where(Article.withdrawn_by == by)
    cleared = conn.execute(stmt.values(withdrawn_at=None, withdrawn_by=None, withdrawn_reason=None, changed_at=now))
    return int(cleared.rowcount or 0)


_ALTERNATE_PREFIXES = ("m.", "amp.")
"""Host prefixes of a site's mobile and AMP copies (``aggregator.urls.ALTERNATE_HOSTS`` less ``www.``)."""
_DIRECTORY_INDEX = re.compile(r"index\.(?:html?|php)")


def alternate_form(url: str) -> bool:
    """Whether ``url`` is a mobile or AMP copy of a page (an ``m.`` or ``amp.`` host, an ``/amp`` path suffix):
    ``canonical_url`` folds it into the article's address, but the site serves it apart, and may drop it while the
    article lives on. ``www.``, ``http``, a trailing slash or a directory index make no other page."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    while prefix := next(
        (p for p in ("www.", *_ALTERNATE_PREFIXES) if host.startswith(p) and "." in host[len(p) :]), None
    ):
        if prefix in _ALTERNATE_PREFIXES:
            return True
        host = host.removeprefix(prefix)
    segments = [segment for segment in parts.path.split("/") if segment]
    while segments and _DIRECTORY_INDEX.fullmatch(segments[-1]):
        segments.pop()
    return len(segments) > 1 and segments[-1].lower() == "amp"


def own_address(url: str, key: str) -> bool:
    """Whether ``url`` is the article keyed ``key``'s own address as a site spells it (its canonical form is the key,
    and it is no mobile or AMP copy): the one address whose page gone is the article gone."""
    return not alternate_form(url) and canonical_url(url) == key


def _withdraw_gone(conn: Any, rejects: Sequence[RejectRecord], now: datetime, *, fetched: set[int]) -> int:
    """Archived articles whose own page a fetch found gone (HTTP 404 or 410) are withdrawn by their source, unless
    they are withdrawn already or the same batch fetched them (``fetched``: at another of their addresses). The page
    is matched by its address as fetched, or as the crawl asked for it when the site redirected it (a site that
    sends a deleted article to its "not found" page), in any spelling of the article's own address (``own_address``:
    a trailing slash, ``www.``). Returns how many.

    A 404 at any other address of an article withdraws nothing: its mobile or AMP copy (``alternate_form``), an alias
    whose page named it in its canonical link (a numeric link, an old slug, a query), an address that redirected to
    it (the ``redirects`` table): the site dropped that address, and the article may live on at its own. It stays
    shown, and the sweep asks for it at its own address when it is due (``aggregator.sweep``), which decides.

    Only a fetch of an archived article's own address can find it gone: an incremental crawl re-fetches the articles
    younger than the recheck window that a listing or feed still links, the sweep those due, and ``crawl --refresh``
    every one."""
    reasons: dict[str, str] = {}
    for record in rejects:
        if record.stage != "fetch" or record.http_status not in GONE_STATUSES or not record.withdraws:
            continue
        reason = f"the source answered HTTP {record.http_status}"
        for url in (record.url, record.linked_url):
            if url and not alternate_form(url):
                reasons.setdefault(url, reason)
                reasons.setdefault(_fitting_url(canonical_url(url)) or url, reason)
    if not reasons:
        return 0
    a = Article.__table__.c
    gone: dict[int, str] = {}
    for chunk in story_index.chunks(sorted(reasons)):
        stmt = select(a.id, a.url).where(a.url.in_(chunk), a.withdrawn_at.is_(None))
        for article_id, url in conn.execute(stmt):
            if article_id not in fetched:
                gone[article_id] = reasons[url]
    if gone:
        # Still shown, checked again as the row is written: on PostgreSQL an operator's `articles withdraw` committed
        # since the select above was overwritten (withdrawn "by source"), and the next crawl finding the page showed
        # the article again, where an operator's withdrawal is only ever lifted by `articles restore`.
        conn.execute(
            update(Article)
            .where(Article.id == bindparam("article_id"), Article.withdrawn_at.is_(None))
            .values(
                withdrawn_at=now, withdrawn_by=WITHDRAWN_BY_SOURCE, withdrawn_reason=bindparam("why"), changed_at=now
            ),
            [{"article_id": article_id, "why": why} for article_id, why in sorted(gone.items())],
        )
    return len(gone)


def _stale(
    conn: Any, latest: Mapping[str, ArticleItem], digests: Mapping[str, str], known: Mapping[str, tuple[int, str]]
) -> set[str]:
    """The URLs of the batch whose page, different from the archived article, was fetched before the article's
    newest version was: written, it would replace the newer text with the older one, and the article would no longer
    show its newest version (``rejects retry`` of a page quarantined before a crawl archived a newer one; a page
    whose batch was written late). One indexed read, for the changed articles only."""
    changed = {known[url][0]: url for url in latest if url in known and known[url][1] != digests[url]}
    if not changed:
        return set()
    s = Snapshot.__table__.c
    newest = (
        select(s.article_id, func.max(s.fetched_at)).where(s.article_id.in_(sorted(changed))).group_by(s.article_id)
    )
    return {
        changed[article_id]
        for article_id, fetched_at in conn.execute(newest)
        if fetched_at is not None
        and latest[changed[article_id]].fetched_at is not None
        and latest[changed[article_id]].fetched_at < fetched_at
    }


def _aliases(
    items: Iterable[ArticleItem], held: Mapping[str, str], fetched_as: Mapping[str, str | None]
) -> list[RedirectRecord]:
    """The addresses besides its row's ``fetched_url`` at which a batch fetched an article's page without a
    redirect (its canonical link names the article: a numeric link to a named page, an old slug the CMS still
    serves, a query the canonical form keeps), each as a redirect to the article: the next incremental run knows
    the article by them as by an address that redirects to it (``aggregator.incremental``). Without it, such an
    address was fetched again at every run (once the row's one address was another) and never rechecked.

    Only a page whose content is the one the article's row holds now (``held``: its content hash by URL): a page
    that claimed the address and is another article (the dedupe step could not tell yet) is fetched again at the
    next run and judged then, not skipped for good under an article that is not its own."""
    found: list[RedirectRecord] = []
    for item in items:
        url = item.canonical_url or item.url
        address = canonical_url(item.url)
        if address == url:
            continue
        fetched = fetched_as.get(url)
        if (fetched is None or canonical_url(fetched) != address) and content_hash(item) == held[url]:
            found.append(RedirectRecord(item.source, item.url, url))
    return found


def _newest_validators(*where: Any) -> Any:
    """(URL, fetched URL, linked URL, ETag, Last-Modified of the newest snapshot) of the articles ``where`` picks:
    what a conditional re-fetch sends."""
    a = Article.__table__.c
    s = Snapshot.__table__.c
    newest = (
        select(s.article_id, func.max(s.id).label("snapshot_id"))
        .join(Article.__table__, a.id == s.article_id)
        .where(*where)
        .group_by(s.article_id)
        .subquery()
    )
    return (
        select(a.url, a.fetched_url, a.linked_url, s.etag, s.last_modified)
        .join(newest, newest.c.article_id == a.id)
        .join(Snapshot.__table__, s.id == newest.c.snapshot_id)
    )


def _storable_reject(record: RejectRecord) -> RejectRecord:
    """A refusal as every back end can keep it: a URL too long for the column is cut (the item keeps it whole), and
    no NUL characters; its reason without control characters (``refusal``)."""
    return RejectRecord(
        record.source,
        record.url.replace("\x00", "")[:URL_LENGTH],
        record.stage,
        refusal(record.reason),
        record.http_status,
        _storable_json(record.item),
        record.raw_body,
        _fitting_url(_storable(record.linked_url)),
    )


class RunWrites(NamedTuple):
    """What the archive shows a run wrote (``_what_it_wrote``)."""

    counts: dict[str, int]
    """``crawl_runs`` count columns -> what the archive shows."""
    unknown: list[str]
    """The count columns the archive cannot tell (left 0 in the row)."""
    last: datetime | None
    """The run's last write, None when it shows none (its end is unknown)."""


def _what_it_wrote(conn: Any, run: CrawlRun, now: datetime) -> RunWrites:
    """A killed run's counts and end, from what it wrote. Its rejects are tied to it (``rejects.crawl_run_id``, until
    a later run meets the same refusal and takes the row): refusals and failed fetches. Its articles are not: a run of
    its own is the only writer of its source's articles from its start until the next run of the source started
    (or now: the run abandoning it is starting), as its lock guarantees (``articles list --run`` reads the same
    window), so those first archived then are its new ones, those changed then its updated ones, those only seen
    then its unchanged ones (a 304 counts so too). A scale-out worker wrote the source's articles side by side with
    the other workers of its crawl: its articles, and its end (a write after its last reject is not known), are
    unknown. Nobody knows its pages or its undated articles."""
    r = Reject.__table__.c
    fetch = r.stage == "fetch"
    row = conn.execute(
        select(
            func.count().filter(fetch),
            func.count().filter(~fetch),
            func.max(func.coalesce(r.last_seen_at, r.created_at)),
        ).where(r.crawl_run_id == run.id)
    ).one()
    counts = {"http_errors": int(row[0] or 0), "rejected": int(row[1] or 0)}
    unknown = ["pages", "dates_unparsed"]
    last: datetime | None = row[2]
    if run.crawl_id is not None:
        return RunWrites(counts, ["items_new", "items_updated", "items_unchanged", *unknown], None)
    start = run.started_at
    later = conn.execute(
        select(func.min(CrawlRun.started_at)).where(CrawlRun.source == run.source, CrawlRun.id > run.id)
    ).scalar()
    end = min(later, now) if later is not None else now
    a = Article.__table__.c
    seen = and_(a.source == run.source, a.last_seen_at >= start, a.last_seen_at <= end)
    new = a.archived_at >= start
    updated = and_(a.archived_at < start, a.updated_at >= start)
    articles = conn.execute(
        select(
            func.count().filter(new),
            func.count().filter(updated),
            func.count().filter(~new, ~updated),
            func.max(a.last_seen_at),
        ).where(seen)
    ).one()
    counts |= {"items_new": int(articles[0]), "items_updated": int(articles[1]), "items_unchanged": int(articles[2])}
    ends = [when for when in (last, articles[3]) if when is not None]
    return RunWrites(counts, unknown, max(ends) if ends else None)


def _save_rejects(conn: Any, rejects: Sequence[RejectRecord], run_id: int | None, now: datetime) -> None:
    """A refusal already open for the same page, stage and reason is counted on its row (``attempts``, with the
    newest item, page and run); any other is a new row. A scheduled crawl that meets a broken page at every run
    thus keeps one row for it, not one a run."""
    latest: dict[tuple[str | None, str, str, str], tuple[RejectRecord, int]] = {}
    rejects = [_storable_reject(record) for record in rejects]
    for record in rejects:  # the same refusal twice in one batch: one row, counted twice
        key = (record.source, record.url, record.stage, record.reason)
        latest[key] = (record, latest[key][1] + 1 if key in latest else 1)
    open_ids = {(source, url, stage, reason): reject_id for reject_id, source, url, stage, reason in _open_rejects(
        conn, (record.url for record in rejects)
    )}  # fmt: skip
    fresh: list[dict[str, Any]] = []
    bumped: list[dict[str, Any]] = []
    for key, (r, times) in latest.items():
        values = {
            "http_status": r.http_status,
            "item": r.item,
            "raw_body": compress(r.raw_body) if r.raw_body else None,
            "crawl_run_id": run_id,
            "last_seen_at": now,
            "linked_url": r.linked_url,
        }
        if key in open_ids:
            bumped.append(
                {f"new_{name}": value for name, value in values.items()} | {"reject_id": open_ids[key], "times": times}
            )
        else:
            fresh.append(
                values
                | {
                    "source": r.source,
                    "url": r.url,
                    "stage": r.stage,
                    "reason": r.reason,
                    "created_at": now,
                    "attempts": times,
                }
            )
    if fresh:
        conn.execute(insert(Reject), fresh)
    if bumped:
        table = Reject.__table__
        columns = ("http_status", "item", "raw_body", "crawl_run_id", "last_seen_at", "linked_url")
        conn.execute(
            update(Reject)
            .where(Reject.id == bindparam("reject_id"))
            .values(
                attempts=Reject.attempts + bindparam("times", type_=Integer),
                **{name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns},
            ),
            bumped,
        )


class Archive:
    """Repository over one database; safe to share between the pipelines of one process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.session = sessionmaker(engine, expire_on_commit=False)
        """Sessions that write (``with archive.session.begin()``)."""
        self.reader = reader(engine)
        """The engine for reads: on SQLite they take no lock, so they neither wait for nor hold up a crawl's writes."""
        self.reading = sessionmaker(self.reader, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, create: bool = True) -> Archive:
        """The archive at ``url``, its schema upgraded unless ``migrate`` is False. ``create=False``: an SQLite file
        that is not there is not made (a read of what a crawl has archived so far, where there is nothing yet or the
        folder was removed: an empty file left there said "holds no archive" to every later command)."""
        engine = connect(url, background_checkpoint=True, create=create)
        if migrate:
            ensure_schema(engine)
        return cls(engine)

    def close(self) -> None:
        if "_compressor" in self.__dict__:
            self._compressor.shutdown()
        dispose(self.engine)

    @cached_property
    def _compressor(self) -> ThreadPoolExecutor:
        """A thread that compresses a batch's pages while the batch is matched and written: zlib lets go of the GIL
        while it deflates (as SQLite does while it works), so the two run side by side on a second core."""
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-compress")

    # -- writes --------------------------------------------------------------------------------------

    def _insert(self) -> Any:
        return postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert

    def sync_sources(self, sources: Iterable[RegistrySource]) -> None:
        insert = self._insert()
        with self.session.begin() as session:
            for src in sources:
                values = {
                    "key": src.key,
                    "name": src.name,
                    "homepage": src.homepage,
                    "domains": list(src.domains),
                    "languages": list(src.languages),
                    "timezone": src.timezone,
                }
                stmt = insert(Source).values(**values)
                session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[Source.key], set_={k: v for k, v in values.items() if k != "key"}
                    )
                )

    @cached_property
    def _upsert_article(self) -> Any:
        """One INSERT .. ON CONFLICT (url) DO UPDATE for a whole batch: keeps ``archived_at`` of the first fetch.

        RETURNING the rows' ids makes SQLAlchemy send the batch as multi-row VALUES statements ("insertmanyvalues",
        up to 1,000 rows each) instead of one statement per row. That matters on SQLite beyond the round trips:
        FTS5 flushes its pending index at every statement savepoint, so the search trigger of migration 0005 cost
        a flush (and a tiny index segment to merge later) per article when each row was a statement of its own.
        """
        table = Article.__table__
        stmt = self._insert()(table)
        updated: dict[str, Any] = {c: stmt.excluded[c] for c in ARTICLE_UPDATED_COLUMNS}
        # A fetch that was not redirected keeps the address a listing linked before (other listings may still).
        updated["linked_url"] = func.coalesce(stmt.excluded.linked_url, table.c.linked_url)
        # A version that gives no date, or no cover, keeps the archived one (``save``).
        updated["published_at"] = func.coalesce(stmt.excluded.published_at, table.c.published_at)
        updated["cover_image_url"] = func.coalesce(stmt.excluded.cover_image_url, table.c.cover_image_url)
        return stmt.on_conflict_do_update(index_elements=[table.c.url], set_=updated).returning(table.c.id, table.c.url)

    @cached_property
    def _insert_snapshot(self) -> Any:
        """Every new version, one returning to an earlier version's text included (A, B, A is three snapshots):
        ``save`` writes none for a page whose content is the article's current one."""
        return insert(Snapshot)

    def save(
        self, items: Sequence[ArticleItem], rejects: Sequence[RejectRecord] = (), run_id: int | None = None
    ) -> SaveResult:
        """Write one batch in one transaction: upsert by canonical URL, a snapshot per new version, rejects.

        A handful of statements per batch, whatever its size (Core executemany, no ORM unit of work).

        A new version that gives no publication date keeps the archived one. That date may have come from the feed
        entry that led to the page (``ArticleItem.published_feed``), which the row does not keep and which a
        sweep's fetch, or a listing's, does not carry; and a page that stops printing its date was still published
        when it was. A version with a date replaces it. So with the cover: the page's own picture, else the feed
        entry's (``ArticleItem.cover_feed``), else the archived one; the cost, a picture a page took down stays.
        """
        withdrawals = rejects
        rejects = [record for record in rejects if not record.only_withdraws]
        result = SaveResult(rejected=len(rejects))
        latest: dict[str, ArticleItem] = {}
        for item in items:  # the same article twice in one batch: the later fetch wins
            latest[item.canonical_url or item.url] = item
        articles = Article.__table__.c
        urls = list(latest)
        with self.engine.begin() as conn:
            story_index.lock_stories(conn)  # PostgreSQL: writers take turns from here (SQLite's BEGIN IMMEDIATE)
            # The batch's time, taken in the writers' turn: the change feed lists a row by the time it holds, and one
            # stamped before a wait for the turn would commit long after the time it says (``CHANGE_SETTLE_SECONDS``).
            now = utcnow()
            known: dict[str, tuple[int, str]] = {}
            back: list[int] = []  # withdrawn because their page was gone, and fetched again now
            current: dict[int, tuple[int | None, bytes | None]] = {}
            linked: dict[str, str | None] = {}
            fetched_as: dict[str, str | None] = {}  # where each article's row says it was fetched
            dated: dict[str, datetime] = {}  # the archived row's news date (story_index.news_date)
            undated: set[str] = set()  # archived without a publication date
            for chunk in story_index.chunks(urls):
                stmt = select(
                    articles.url, articles.id, articles.content_hash, articles.story_id, articles.minhash,
                    articles.linked_url, articles.withdrawn_by, articles.fetched_url, articles.published_at,
                    articles.archived_at,
                ).where(articles.url.in_(chunk))  # fmt: skip
                for (
                    url, article_id, digest, story_id, blob, linked_url, withdrawn_by, fetched, published, archived_at
                ) in conn.execute(stmt):  # fmt: skip
                    known[url] = (article_id, digest)
                    current[article_id] = (story_id, blob)
                    dated[url] = story_index.news_date(published, archived_at)
                    if published is None:
                        undated.add(url)
                    linked[url] = linked_url
                    fetched_as[url] = fetched
                    if withdrawn_by == WITHDRAWN_BY_SOURCE:
                        back.append(article_id)
            rows: list[dict[str, Any]] = []
            versions: list[tuple[str, ArticleItem, str]] = []
            unchanged: list[int] = []
            relinked: list[dict[str, Any]] = []  # unchanged, but reached now through a redirect from a new address
            keys: dict[str, int] = {}  # the article's id, or a negative key for a new one (story_index.match)
            digests = {url: content_hash(item) for url, item in latest.items()}
            stale = _stale(conn, latest, digests, known)
            result.stale = len(stale)
            for url, item in latest.items():
                if url in stale:
                    continue
                digest = digests[url]
                previous = known.get(url)
                if previous is not None and previous[1] == digest:
                    unchanged.append(previous[0])
                    result.undated += url in undated
                    if item.linked_url and item.linked_url != linked[url]:
                        relinked.append({"article_id": previous[0], "new_linked_url": item.linked_url})
                    continue
                keys[url] = previous[0] if previous is not None else -1 - len(keys)
                if item.published_at is None and (previous is None or url in undated):
                    result.undated += 1  # (a version without a date keeps the archived one: the upsert's coalesce)
                rows.append(_article_values(item, url, digest, now))
                versions.append((url, item, digest))
            result.unchanged = len(unchanged)
            ids: dict[str, int] = {}
            if rows:
                pages = self._compressor.submit(compress_all, [item.raw_body for _, item, _ in versions])
                sketches = {url: minhash_of(item) for url, item, _ in versions}
                # Each article's date as the upsert leaves it: a version without one keeps the archived one.
                dates = {keys[url]: item.published_at or dated.get(url, now) for url, item, _ in versions}
                plan = story_index.match(conn, [(keys[url], sketches[url]) for url, _, _ in versions], current, dates)
                for values in rows:  # the story and sketch go in with the row (no second write of it)
                    values["story_id"], values["minhash"] = plan.stories[keys[values["url"]]], sketches[values["url"]]
                ids = {url: article_id for article_id, url in conn.execute(self._upsert_article, rows)}
                conn.execute(
                    self._insert_snapshot,
                    [
                        _snapshot_values(ids[url], item, digest, now, page)
                        for (url, item, digest), page in zip(versions, pages.result(), strict=True)
                    ],
                )
                story_index.record(conn, plan, {keys[url]: ids[url] for url in keys})
                for url, _, _ in versions:
                    if url in known:
                        result.updated += 1
                    else:
                        result.new += 1
                        result.new_ids.append(ids[url])
            for chunk in story_index.chunks(unchanged):
                conn.execute(update(Article).where(Article.id.in_(chunk)).values(last_seen_at=now))
            if relinked:
                conn.execute(
                    update(Article)
                    .where(Article.id == bindparam("article_id"))
                    .values(linked_url=bindparam("new_linked_url")),
                    relinked,
                )
            archived = {url: article_id for url, (article_id, _) in known.items()} | ids
            _resolve_rejects(conn, latest.values(), archived, now)
            if back:
                result.restored = _show_again(conn, Article.id.in_(back), now)
            if rejects:
                _save_rejects(conn, rejects, run_id, now)
            if withdrawals:
                result.withdrawn = _withdraw_gone(conn, withdrawals, now, fetched=set(archived.values()))
            redirects = [RedirectRecord(i.source, i.linked_url, i.url) for i in items if i.linked_url]
            redirects += [RedirectRecord(r.source, r.linked_url, r.url) for r in rejects if r.linked_url]
            held = {url: known[url][1] if url in stale else digests[url] for url in latest}
            fetched_as.update((url, item.url) for url, item, _ in versions)
            redirects += _aliases(items, held, fetched_as)
            if redirects:
                self._save_redirects(conn, redirects, now)
        return result

    def record_redirects(self, redirects: Sequence[RedirectRecord]) -> None:
        """Keep redirects a crawl met without fetching the page they lead to (it had fetched it already)."""
        if redirects:
            with self.engine.begin() as conn:
                self._save_redirects(conn, redirects, utcnow())

    def _save_redirects(self, conn: Any, redirects: Sequence[RedirectRecord], now: datetime) -> None:
        """One row an address (the newest target wins), in one statement; an address too long for a row is left out
        (its page is then fetched again through it, as before there was this table)."""
        rows: dict[str, dict[str, Any]] = {}
        for record in redirects:
            url, target = _fitting_url(_storable(record.url)), _fitting_url(_storable(record.target))
            if url and target and url != target:
                rows[url] = {"source": record.source, "url": url, "target": target, "first_seen_at": now,
                             "last_seen_at": now}  # fmt: skip
        if not rows:
            return
        table = Redirect.__table__
        stmt = self._insert()(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.url],
            set_={"source": stmt.excluded.source, "target": stmt.excluded.target, "last_seen_at": now},
        )
        conn.execute(stmt, [rows[url] for url in sorted(rows)])  # in one order: two workers' batches cannot deadlock

    def mark_seen(self, urls: Sequence[str]) -> int:
        """Record that these archived articles (by canonical URL) were seen now, unchanged (a 304 answer); those
        withdrawn because their page was gone are shown again. Returns how many were."""
        restored = 0
        a = Article.__table__.c
        with self.engine.begin() as conn:
            now = utcnow()  # in the writer's turn, as ``save``'s
            for chunk in story_index.chunks(sorted(set(urls))):
                conn.execute(update(Article).where(Article.url.in_(chunk)).values(last_seen_at=now))
                restored += _show_again(conn, Article.url.in_(chunk), now)
                # The page is there and current: what refused it before (a 404 that withdrew it, a body a broken
                # layout hid) is over. Left open, those rejects stayed in `rejects list` and the metrics for good.
                article_of: dict[str, int] = {}
                for row in conn.execute(select(a.id, a.url, a.fetched_url, a.linked_url).where(a.url.in_(chunk))):
                    for address in row[1:]:
                        if address:
                            article_of[address] = row[0]
                _resolve_open_rejects(conn, article_of, now)
        return restored

    def withdraw(self, ids: Sequence[int], reason: str, *, now: datetime | None = None) -> list[int]:
        """Take these articles off the downstream site, by an operator's decision (``articles withdraw``): only
        ``restore`` shows them again, whatever later crawls find. Returns the ids that exist (withdrawn before or
        not: the reason and time become these)."""
        ids = [i for i in ids if names_a_row(i)]
        with self.engine.begin() as conn:
            found = sorted(conn.scalars(select(Article.id).where(Article.id.in_(ids))))
            if found:
                now = now or utcnow()
                conn.execute(
                    update(Article)
                    .where(Article.id.in_(found))
                    .values(
                        withdrawn_at=now,
                        withdrawn_by=WITHDRAWN_BY_OPERATOR,
                        withdrawn_reason=(_storable(reason) or "")[:SHORT_TEXT_LENGTH],
                        changed_at=now,
                    )
                )
            return found

    def restore(self, ids: Sequence[int]) -> tuple[list[int], list[int]]:
        """Show withdrawn articles again, whoever withdrew them. Returns the ids that exist (as ``withdraw`` does, for
        the operator to hear of the others), and those of them that were withdrawn."""
        ids = [i for i in ids if names_a_row(i)]
        with self.engine.begin() as conn:
            rows = conn.execute(select(Article.id, Article.withdrawn_at).where(Article.id.in_(ids))).all()
            found = sorted(row.id for row in rows if row.withdrawn_at is not None)
            if found:
                _show_again(conn, Article.id.in_(found), utcnow(), by=None)
            return sorted(row.id for row in rows), found

    def start_run(
        self, source: str, spider: str, *, host: str | None = None, pid: int | None = None, crawl_id: str | None = None
    ) -> int:
        with self.session.begin() as session:
            run = CrawlRun(
                source=source, spider=spider, started_at=utcnow(), status="running", host=host, pid=pid,
                crawl_id=crawl_id,
            )  # fmt: skip
            session.add(run)
            session.flush()
            return run.id

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        reason: str | None,
        stats: dict[str, Any],
        health: dict[str, Any] | None = None,
    ) -> None:
        """Close a run's row: end time, status, Scrapy's stats, the counts an operator sorts by, and its health."""
        counts = run_counts(stats)
        with self.session.begin() as session:
            session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == run_id)
                .values(finished_at=utcnow(), status=status, finish_reason=reason, stats=stats, health=health, **counts)
            )

    def abandon_stale_runs(
        self, source: str, *, is_stale: Any, reason: str = "abandoned: its process is gone"
    ) -> list[CrawlRun]:
        """Mark the runs of ``source`` left "running" that ``is_stale(run)`` says are dead as failed, with the counts
        and the end the archive shows of them (``_what_it_wrote``), not zeros and the time they were noticed (a run
        killed after 6 s, 33 articles written, showed "failed 0 0 0 0 0 0" and "18s", when the next run came)."""
        with self.session.begin() as session:
            running = list(
                session.scalars(select(CrawlRun).where(CrawlRun.source == source, CrawlRun.status == "running"))
            )
            stale = [run for run in running if is_stale(run)]
            now = utcnow()
            for run in stale:
                wrote = _what_it_wrote(session.connection(), run, now)
                run.status = "failed"
                run.finish_reason = reason[:100]
                run.finished_at = wrote.last
                for column, count in wrote.counts.items():
                    setattr(run, column, count)
                run.stats = {"finish_reason": reason, UNKNOWN_COUNTS: wrote.unknown}
            return stale

    def recent_item_counts(self, source: str, *, before_run: int | None = None, limit: int = 10) -> list[int]:
        """Articles found by the source's last ``limit`` finished crawls (newest first), for the health's median
        (``queries.item_history``)."""
        with self.reader.connect() as conn:
            return queries.item_history(conn, source, limit=limit, before_run=before_run)

    def known_articles(
        self, source: str, *, recent_since: datetime
    ) -> tuple[Iterator[str], list[tuple[str, str | None, str | None, str]]]:
        """The source's archived articles for an incremental crawl, in two queries.

        Old ones (published, or else archived, before ``recent_since``): their URLs (canonical, as fetched, and as
        linked before a redirect), streamed in chunks (a million articles are never all in memory as strings).
        Recent ones: (URL, ETag, Last-Modified, the article's canonical URL) for each of their URLs, with the
        validators of their newest snapshot, for a conditional re-fetch.
        """
        a = Article.__table__.c
        age = func.coalesce(a.published_at, a.archived_at)
        stmt = _newest_validators(a.source == source, age >= recent_since)
        recent: list[tuple[str, str | None, str | None, str]] = []
        with self.reader.connect() as conn:
            for url, fetched, linked, etag, modified in conn.execute(stmt):
                recent.append((url, etag, modified, url))
                for other in (fetched, linked):
                    if other and other != url:
                        recent.append((other, etag, modified, url))
        return self._old_urls(source, recent_since), recent

    def sweep_window(self, source: str, *, dated_since: datetime, seen_before: datetime) -> list[SweepCandidate]:
        """The source's articles a sweep may look at again (``aggregator.sweep``), in one query: published (or, when
        undated, archived) since ``dated_since``, last seen before ``seen_before``, not withdrawn. Without their
        validators (``with_validators`` adds them to the few a run picks)."""
        a = Article.__table__.c
        dated = or_(a.published_at >= dated_since, and_(a.published_at.is_(None), a.archived_at >= dated_since))
        stmt = select(a.url, a.fetched_url, func.coalesce(a.published_at, a.archived_at), a.last_seen_at).where(
            a.source == source, dated, a.last_seen_at < seen_before, a.withdrawn_at.is_(None)
        )
        with self.reader.connect() as conn:
            return [SweepCandidate(*row) for row in conn.execute(stmt)]

    def with_validators(self, candidates: Sequence[SweepCandidate]) -> list[SweepCandidate]:
        """The candidates with the ETag and Last-Modified of each one's newest snapshot (one query a chunk)."""
        found: dict[str, tuple[str | None, str | None]] = {}
        with self.reader.connect() as conn:
            for chunk in story_index.chunks(sorted({c.url for c in candidates})):
                stmt = _newest_validators(Article.__table__.c.url.in_(chunk))
                found.update((url, (etag, modified)) for url, _, _, etag, modified in conn.execute(stmt))
        elsewhere = {c.url for c in candidates if not own_address(c.fetched_url, c.url)}
        spellings, pages = self._spellings(elsewhere) if elsewhere else ({}, {})
        out = []
        for candidate in candidates:
            etag, modified = found.get(candidate.url, (None, None))
            out.append(
                replace(
                    candidate,
                    etag=etag,
                    last_modified=modified,
                    spellings=tuple(spellings.get(candidate.url, ())),
                    page=pages.get(candidate.url),
                )
            )
        return out

    def _spellings(self, keys: set[str]) -> tuple[dict[str, list[str]], dict[str, tuple[str, bytes, str | None]]]:
        """For articles last fetched elsewhere than their own address (a mobile or AMP copy, an alias): the addresses
        their snapshots were fetched at, newest first; and for those none of which is their own, the newest
        snapshot's address, page (decompressed) and encoding. Two queries a chunk, for the few a sweep picks."""
        a, s = Article.__table__.c, Snapshot.__table__.c
        spellings: dict[str, list[str]] = {}
        pages: dict[str, tuple[str, bytes, str | None]] = {}
        with self.reader.connect() as conn:
            for chunk in story_index.chunks(sorted(keys)):
                stmt = (
                    select(a.url, s.url)
                    .join(Snapshot.__table__, s.article_id == a.id)
                    .where(a.url.in_(chunk))
                    .order_by(s.id.desc())
                )
                for key, fetched in conn.execute(stmt):
                    spellings.setdefault(key, []).append(fetched)
            unknown = sorted(k for k in keys if not any(own_address(u, k) for u in spellings.get(k, ())))
            for chunk in story_index.chunks(unknown):
                newest = (
                    select(func.max(s.id))
                    .join(Article.__table__, a.id == s.article_id)
                    .where(a.url.in_(chunk))
                    .group_by(s.article_id)
                )
                stmt = (
                    select(a.url, s.url, s.raw_body, s.encoding)
                    .join(Snapshot.__table__, s.article_id == a.id)
                    .where(s.id.in_(newest))
                )
                for row in conn.execute(stmt):
                    pages[row[0]] = (row[1], decompress(row[2]), row[3])
        return spellings, pages

    def redirects(self, source: str) -> list[tuple[str, str]]:
        """The redirects the source's crawls met, as (address asked for, where it ended), in one query."""
        r = Redirect.__table__.c
        with self.reader.connect() as conn:
            return [(url, target) for url, target in conn.execute(select(r.url, r.target).where(r.source == source))]

    def refused_pages(self, source: str) -> list[RefusedPage]:
        """The source's open rejects for an incremental crawl, in one query."""
        r = Reject.__table__.c
        last = func.coalesce(r.last_seen_at, r.created_at)
        stmt = select(r.url, r.stage, r.reason, r.http_status, r.attempts, last, r.linked_url).where(
            r.source == source, r.resolved_at.is_(None)
        )
        with self.reader.connect() as conn:
            return [RefusedPage(*row) for row in conn.execute(stmt)]

    def _old_urls(self, source: str, before: datetime) -> Iterator[str]:
        """The old articles' URLs, which an incremental crawl does not fetch again; not those the source withdrew (its
        page answered 404 or 410): a listing that links one again is followed once its refusal's wait is over, as any
        refused page's (and the article is shown again if the page is back). Known as old, one withdrawn by a
        sweep's 404 stayed withdrawn for good, whatever its page did after."""
        a = Article.__table__.c
        age = func.coalesce(a.published_at, a.archived_at)
        shown_or_operators = or_(a.withdrawn_at.is_(None), a.withdrawn_by != WITHDRAWN_BY_SOURCE)
        stmt = select(a.url, a.fetched_url, a.linked_url).where(a.source == source, age < before, shown_or_operators)
        with self.reader.connect() as conn:
            for url, fetched, linked in conn.execution_options(yield_per=10_000).execute(stmt):
                yield url
                if fetched and fetched != url:
                    yield fetched
                if linked:
                    yield linked

    # -- reads ---------------------------------------------------------------------------------------

    def list_articles(self, *, source: str | None = None, limit: int = 50, undated: bool = False) -> list[Article]:
        """Newest first, undated articles last (newest archived first).

        Dated and undated rows are read apart: ``ORDER BY published_at DESC NULLS LAST`` is not the order of a
        PostgreSQL b-tree index (DESC puts NULLs first there), so it sorted the whole table on every call.
        """
        base = select(Article).where(Article.withdrawn_at.is_(None))
        if source:
            base = base.where(Article.source == source)
        undated_rows = base.where(Article.published_at.is_(None)).order_by(Article.id.desc())
        with self.reading() as session:
            if undated:
                return list(session.scalars(undated_rows.limit(limit)))
            dated = base.where(Article.published_at.is_not(None)).order_by(
                Article.published_at.desc(), Article.id.desc()
            )
            rows = list(session.scalars(dated.limit(limit)))
            if len(rows) < limit:
                rows += session.scalars(undated_rows.limit(limit - len(rows)))
            return rows

    def search(
        self,
        query: str,
        *,
        source: str | None = None,
        language: str | None = None,
        since: datetime | None = None,
        limit: int = 20,
        window: int = fulltext.SEARCH_WINDOW,
    ) -> list[SearchHit]:
        """Articles matching every word of ``query`` in title or body, best first among the ``window`` most recently
        archived matches that pass the filters (see aggregator/store/search.py); the window is never smaller than
        ``limit``.

        ``since`` compares with the publication time (the archive time for undated articles).
        """
        chosen = queries.ArticleFilter(source=source, language=language, since=since)
        stmt = queries.search_statement(self.engine.dialect.name, query, chosen, max(window, limit), (Article,))
        if stmt is None:
            return []
        with self.reading() as session:
            return [SearchHit(article, float(score)) for article, score in session.execute(stmt.limit(limit))]

    def list_stories(
        self, *, source: str | None = None, min_articles: int = 2, limit: int = 20
    ) -> list[tuple[Story, list[Article]]]:
        """Stories told by at least ``min_articles`` articles (of ``source``, when given), latest news first."""
        latest = func.max(func.coalesce(Article.published_at, Article.archived_at))
        stmt = (
            select(Article.story_id)
            .where(Article.story_id.is_not(None), Article.withdrawn_at.is_(None))
            .group_by(Article.story_id)
            .having(func.count() >= min_articles)
            .order_by(latest.desc(), Article.story_id.desc())
            .limit(limit)
        )
        if source:
            stmt = stmt.having(func.sum(case((Article.source == source, 1), else_=0)) > 0)
        with self.reading() as session:
            ids = [story_id for story_id in session.scalars(stmt) if story_id is not None]
            stories = {story.id: story for story in session.scalars(select(Story).where(Story.id.in_(ids)))}
            members: dict[int, list[Article]] = {story_id: [] for story_id in ids}
            for article in session.scalars(
                select(Article)
                .where(Article.story_id.in_(ids), Article.withdrawn_at.is_(None))
                .order_by(*_story_order())
            ):
                members[article.story_id or 0].append(article)
        return [(stories[story_id], members[story_id]) for story_id in ids if story_id in stories]

    def most_read(self, *, hours: int = 24, limit: int = 20, now: datetime | None = None) -> list[Article]:
        """The most viewed of the articles published in the last ``hours`` (a range of the published_at index),
        withdrawn ones left out.

        The ids are ranked first, from the (published_at, views, id) index alone, and only the chosen rows loaded:
        ranking whole rows made the database carry every recent article's text through the sort. A few more ids
        than asked for are ranked, so that withdrawn articles (rare, and known only from their rows) leave the
        list full; more are ranked again in the rare case they do not.
        """
        if limit < 1:
            return []
        since = (now or utcnow()) - timedelta(hours=hours)
        ranked = (
            select(Article.id)
            .where(Article.published_at >= since)
            .order_by(Article.views.desc(), Article.published_at.desc(), Article.id.desc())
        )
        take = limit + 20
        shown: list[Article] = []
        looked: set[int] = set()  # ids whose rows were loaded already (a ranking again loads only the others)
        with self.reading() as session:
            while True:
                ranking = list(session.scalars(ranked.limit(take)))
                ids = [i for i in ranking if i not in looked]
                for start in range(0, len(ids), limit):  # the usual case: one load of ``limit`` rows
                    chunk = ids[start : start + limit]
                    looked.update(chunk)
                    rows = select(Article).where(Article.id.in_(chunk), Article.withdrawn_at.is_(None))
                    found = {a.id: a for a in session.scalars(rows)}
                    shown += [found[i] for i in chunk if i in found]
                    if len(shown) >= limit:
                        return shown[:limit]
                if len(ranking) < take:
                    return shown
                take *= 4

    def story(self, story_id: int) -> tuple[Story, list[Article]] | None:
        """A story with its articles, earliest first."""
        if not names_a_row(story_id):
            return None
        with self.reading() as session:
            story = session.get(Story, story_id)
            if story is None:
                return None
            stmt = (
                select(Article)
                .where(Article.story_id == story_id, Article.withdrawn_at.is_(None))
                .order_by(*_story_order())
            )
            return story, list(session.scalars(stmt))

    def with_siblings(self, article_id: int) -> tuple[Article, list[Article]] | None:
        """One article and the other articles of its story (the downstream site's "also reported by")."""
        if not names_a_row(article_id):
            return None
        with self.reading() as session:
            article = session.get(Article, article_id)
            if article is None:
                return None
            if article.story_id is None:
                return article, []
            stmt = (
                select(Article)
                .where(Article.story_id == article.story_id, Article.id != article_id, Article.withdrawn_at.is_(None))
                .order_by(*_story_order())
            )
            return article, list(session.scalars(stmt))

    def get_article(self, article_id: int) -> Article | None:
        if not names_a_row(article_id):
            return None
        with self.reading() as session:
            return session.get(Article, article_id)

    def snapshots(self, article_id: int) -> list[Snapshot]:
        with self.reading() as session:
            stmt = select(Snapshot).where(Snapshot.article_id == article_id).order_by(Snapshot.fetched_at)
            return list(session.scalars(stmt))

    def list_rejects(
        self, *, source: str | None = None, limit: int = 100, include_resolved: bool = False
    ) -> list[Reject]:
        stmt = select(Reject).order_by(Reject.id.desc()).limit(limit)
        if source:
            stmt = stmt.where(Reject.source == source)
        if not include_resolved:
            stmt = stmt.where(Reject.resolved_at.is_(None))
        with self.reading() as session:
            return list(session.scalars(stmt))

    def latest_snapshots(
        self, *, source: str | None = None, since: datetime | None = None, batch: int = 200
    ) -> Iterator[Snapshot]:
        """The newest snapshot of every article (of ``source``; fetched since ``since``), in batches by article id.

        Each batch takes the next ``batch`` articles by id, then their newest snapshots through the snapshots'
        (article_id, ...) index: the cost of a batch does not grow with the archive (grouping every snapshot of the
        archive for each batch made a re-extraction of 100,000 articles spend 25 s in this query alone).
        """
        last_id = 0
        while True:
            articles = select(Article.id).where(Article.id > last_id).order_by(Article.id).limit(batch)
            if source:
                articles = articles.where(Article.source == source)
            with self.reading() as session:
                ids = list(session.scalars(articles))
                if not ids:
                    return
                newest = select(func.max(Snapshot.id)).where(Snapshot.article_id.in_(ids)).group_by(Snapshot.article_id)
                stmt = select(Snapshot).where(Snapshot.id.in_(newest)).order_by(Snapshot.article_id)
                if since:
                    stmt = stmt.where(Snapshot.fetched_at >= since)
                rows = list(session.scalars(stmt))
            yield from rows
            last_id = ids[-1]

    def update_extractions(
        self, updates: Sequence[tuple[int, ArticleItem]], *, read_from: Mapping[int, int] | None = None
    ) -> ExtractionUpdate:
        """Replace articles' extracted fields with re-extractions of their stored pages, in one transaction: the ids of
        those whose fields changed, and of those left as they were for a newer version (``read_from``).

        ``read_from`` (article id -> the snapshot id its re-extraction read): an article whose newest snapshot is
        another one now is left as it is (``superseded``). A crawl running beside
        ``reextract`` stores a new version between the read of a batch's pages and this write: the version read is
        no longer the article's, and writing its text took the new one's back (884 articles of a 3,000 in a probe,
        for good: the next crawl found the page "unchanged" against the reverted text). The check and the write
        take the writers' turn (``story_index.lock_stories``), as ``save`` does.

        No snapshot is added: the pages are the same, only what we read from them changed. Articles whose text (so
        sketch) changed, or that have no story yet, are matched again, in order, as if written one by one.

        A re-extraction that reads no date keeps the archived one, as ``save`` does: the stored page does not hold
        the date of the feed entry that led to it. The cost: a date an older version of the code read from the page,
        and today's code refuses, is not taken away (a re-extraction that reads another date replaces it). So with
        the cover: the stored page does not hold the feed entry's picture either.
        """
        superseded: set[int] = set()
        if not updates:
            return ExtractionUpdate(set(), superseded)
        changed: set[int] = set()
        with self.session.begin() as session:
            story_index.lock_stories(session.connection())
            now = utcnow()  # in the writers' turn, as ``save``'s
            ids = [article_id for article_id, _ in updates]
            if read_from is not None:
                newest = dict(
                    session.execute(
                        select(Snapshot.article_id, func.max(Snapshot.id))
                        .where(Snapshot.article_id.in_(ids))
                        .group_by(Snapshot.article_id)
                    ).all()
                )
                superseded = {i for i in ids if i in read_from and newest.get(i) != read_from[i]}
                updates = [(i, item) for i, item in updates if i not in superseded]
                ids = [i for i, _ in updates]
            articles = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(ids)))}
            rematch: list[tuple[int, bytes | None]] = []
            for article_id, item in updates:
                article = articles.get(article_id)
                if article is None:
                    continue
                values = _article_values(item, item.canonical_url or item.url, content_hash(item), now)
                # What the crawl saw, not what the page says: a stored page knows no request (linked_url, the
                # address a listing linked before a redirect, was written over with None)
                for key in (
                    "url",
                    "archived_at",
                    "last_seen_at",
                    "fetched_url",
                    "updated_at",
                    "changed_at",
                    "linked_url",
                ):
                    values.pop(key)
                if values["published_at"] is None:  # a re-extraction that reads no date keeps the archived one
                    values["published_at"] = article.published_at
                if values["cover_image_url"] is None:  # nor a picture: the archived one may be the feed entry's
                    values["cover_image_url"] = article.cover_image_url
                minhash = minhash_of(item)
                if any(getattr(article, key) != value for key, value in values.items()):
                    for key, value in values.items():
                        setattr(article, key, value)
                    article.updated_at = article.changed_at = now
                    changed.add(article_id)
                if article_id in changed or article.minhash != minhash or article.story_id is None:
                    rematch.append((article_id, minhash))
            if rematch:
                session.flush()
                story_index.assign(session.connection(), rematch)
                for article_id, _ in rematch:
                    session.expire(articles[article_id])
        return ExtractionUpdate(changed, superseded)

    def rekey(self, *, source: str | None = None, batch: int = REKEY_BATCH) -> Rekeying:
        """Key every article (of ``source``) by today's canonical form of its URL: a row keyed by an older release's
        form (``https://m.report.az/...``, ``.../amp``, before ``aggregator.urls`` folded them) is renamed, or, when
        a row holds today's key already (a crawl since the upgrade fetched the article at its address and, finding no
        row under that key, archived it a second time), the two are merged into one (``_merge``). Either way the old
        key becomes a ``redirects`` row leading to the new one: the article's addresses stay known.

        Read in batches of ``batch`` keys by id (their URLs only); the few to change are changed in one transaction a
        batch, in the writers' turn (``story_index.lock_stories``), each row read again there: a crawl may run beside.
        """
        result = Rekeying()
        a = Article.__table__.c
        last_id = 0
        while True:
            stmt = select(a.id, a.url).where(a.id > last_id).order_by(a.id).limit(batch)
            if source:
                stmt = stmt.where(a.source == source)
            with self.reader.connect() as conn:
                rows = conn.execute(stmt).all()
            if not rows:
                return result
            last_id = rows[-1][0]
            result.looked_at += len(rows)
            stale = [article_id for article_id, url in rows if canonical_url(url) != url]
            if stale:
                with self.engine.begin() as conn:
                    story_index.lock_stories(conn)
                    now = utcnow()
                    for article_id in stale:
                        self._rekey(conn, article_id, now, result)

    def _rekey(self, conn: Any, article_id: int, now: datetime, result: Rekeying) -> None:
        """Rename one row to today's key of its URL, or merge it with the row that holds that key (``rekey``)."""
        table = Article.__table__
        row = conn.execute(select(table).where(table.c.id == article_id)).mappings().first()
        if row is None or (key := canonical_url(row["url"])) == row["url"]:
            return  # gone, or re-keyed meanwhile
        if len(key) > URL_LENGTH:
            result.left.append((article_id, f"today's key of {row['url']} is longer than a row keeps"))
            return
        holder = conn.execute(select(table).where(table.c.url == key)).mappings().first()
        addresses = [RedirectRecord(row["source"], row["url"], key)]
        if holder is None:
            conn.execute(update(Article).where(Article.id == article_id).values(url=key, changed_at=now))
            result.renamed += 1
        else:
            keep, drop = (row, holder) if row["id"] < holder["id"] else (holder, row)
            addresses += self._merge(conn, keep, drop, key)
            result.merged.append((drop["id"], keep["id"]))
        # Redirects found leading to the old key lead to the article's key now (``articles show`` finds an article's
        # addresses by it; the incremental crawl, which compares canonical forms, found them either way).
        r = Redirect.__table__.c
        conn.execute(update(Redirect).where(r.target == row["url"]).values(target=key))
        # One that led from today's key to the old one (a site that sent its desktop pages to its mobile ones) would
        # lead nowhere now
        conn.execute(delete(Redirect).where(r.url == key, r.target == key))
        self._save_redirects(conn, addresses, now)

    def _merge(self, conn: Any, keep: Mapping[str, Any], drop: Mapping[str, Any], key: str) -> list[RedirectRecord]:
        """Make ``drop`` part of ``keep`` under ``key``, the article's key by today's rules, and delete it: its
        versions (snapshots), refusals resolved as it, views and the addresses it was fetched at and linked from go
        to ``keep``; the row's fields are ``_merged_values``; the search index follows the rows (triggers, or
        PostgreSQL's generated column). The first archived of the two is kept: its id is the one the downstream site
        has shown longest. Returns the addresses the kept row no longer names, as redirects to ``key``.

        When the text kept is ``drop``'s (its newest version is the newer), the kept row is matched to a story again,
        as a re-extraction that changes an article's text does; a story left with no article is dropped. Deleting the
        row finds its ``story_buckets`` and ``rejects`` rows (the foreign keys' ON DELETE CASCADE / SET NULL) by
        their indexes by article (migration 0020): without them, each merge scanned the buckets, 0.7-1.1 s on SQLite
        and 0.4 s on PostgreSQL at a million articles."""
        table = Article.__table__
        s = Snapshot.__table__.c
        newest: dict[int, int] = dict(
            conn.execute(
                select(s.article_id, func.max(s.id))
                .where(s.article_id.in_([keep["id"], drop["id"]]))
                .group_by(s.article_id)
            ).all()
        )
        values = _merged_values(keep, drop, newest)
        conn.execute(update(Snapshot).where(s.article_id == drop["id"]).values(article_id=keep["id"]))
        conn.execute(update(Reject).where(Reject.article_id == drop["id"]).values(article_id=keep["id"]))
        conn.execute(delete(Article).where(Article.id == drop["id"]))
        retold = "minhash" in values  # the text is drop's
        minhash = values.pop("minhash", keep["minhash"])
        # The kept row has changed whatever it took of the other (its address at least: today's key)
        conn.execute(update(Article).where(Article.id == keep["id"]).values(url=key, changed_at=utcnow(), **values))
        if (retold or keep["story_id"] is None) and minhash is not None:
            story_index.assign(conn, [(keep["id"], minhash)])
        stories = {story for story in (keep["story_id"], drop["story_id"]) if story is not None}
        if stories:
            told = select(table.c.story_id).where(table.c.story_id.in_(stories)).distinct().scalar_subquery()
            conn.execute(delete(Story).where(Story.id.in_(stories), Story.id.not_in(told)))
        kept = {key, values["fetched_url"], values["linked_url"]}
        return [
            RedirectRecord(row["source"], address, key)
            for row in (keep, drop)
            for address in (row["url"], row["fetched_url"], row["linked_url"])
            if address and address not in kept
        ]

    def retryable_reject_ids(self, *, source: str | None = None) -> list[int]:
        """Open rejects with something stored to retry (the page, or the refused item), oldest first."""
        item = func.coalesce(cast(Reject.item, Text), "null")  # the JSON type stores None as JSON's null
        stmt = select(Reject.id).where(Reject.resolved_at.is_(None), or_(Reject.raw_body.is_not(None), item != "null"))
        if source:
            stmt = stmt.where(Reject.source == source)
        with self.reader.connect() as conn:
            return [reject_id for (reject_id,) in conn.execute(stmt.order_by(Reject.id))]

    def get_reject(self, reject_id: int) -> Reject | None:
        if not names_a_row(reject_id):
            return None
        with self.reading() as session:
            return session.get(Reject, reject_id)

    def resolve_reject(self, reject_id: int, article_id: int) -> None:
        with self.session.begin() as session:
            session.execute(
                update(Reject).where(Reject.id == reject_id).values(resolved_at=utcnow(), article_id=article_id)
            )

    def refuse_again(self, reject_id: int, stage: str, reason: str) -> None:
        with self.session.begin() as session:
            session.execute(update(Reject).where(Reject.id == reject_id).values(stage=stage, reason=refusal(reason)))

    def article_id_for(self, url: str) -> int | None:
        with self.reading() as session:
            return session.scalar(select(Article.id).where(Article.url == url))

    def count(self, model: type[Any], **where: Any) -> int:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        with self.reading() as session:
            return int(session.execute(stmt).scalar_one())

    def prune_runs(
        self, *, older_than: datetime, keep: int, source: str | None = None, dry_run: bool = False
    ) -> dict[str, int]:
        """Delete the run rows started before ``older_than``, except each source's newest ``keep`` (whatever their
        age: a source that runs rarely keeps its history) and runs still "running". Their rejects stay, with no run.
        Returns how many each source lost (or would lose, with ``dry_run``); sources that lose none are left out."""
        removed: dict[str, int] = {}
        with self.engine.begin() as conn:
            keys = [source] if source else list(conn.scalars(select(CrawlRun.source).distinct()))
            for key in sorted(keys):
                where = [CrawlRun.source == key, CrawlRun.started_at < older_than, CrawlRun.status != "running"]
                if keep > 0:
                    newest_kept = conn.scalar(
                        select(CrawlRun.id)
                        .where(CrawlRun.source == key)
                        .order_by(CrawlRun.id.desc())
                        .offset(keep - 1)
                        .limit(1)
                    )
                    if newest_kept is None:  # the source has no more than ``keep`` runs
                        continue
                    where.append(CrawlRun.id < newest_kept)
                if dry_run:
                    count = int(conn.scalar(select(func.count()).select_from(CrawlRun).where(*where)) or 0)
                else:
                    count = conn.execute(delete(CrawlRun).where(*where)).rowcount
                if count:
                    removed[key] = count
        return removed

    def list_runs(self, *, source: str | None = None, limit: int = 20) -> list[CrawlRun]:
        stmt = select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)
        if source:
            stmt = stmt.where(CrawlRun.source == source)
        with self.reading() as session:
            return list(session.scalars(stmt))

    def first_runs(self, crawl_ids: Iterable[str]) -> dict[str, int]:
        """Each scale-out crawl's first run (the id it is shown by, ``crawl_runs.crawl_id``)."""
        wanted = set(crawl_ids)
        if not wanted:  # runs of their own: no query
            return {}
        stmt = select(CrawlRun.crawl_id, func.min(CrawlRun.id)).where(CrawlRun.crawl_id.in_(wanted))
        with self.reader.connect() as conn:
            return {str(crawl): int(first) for crawl, first in conn.execute(stmt.group_by(CrawlRun.crawl_id))}


ARTICLE_UPDATED_COLUMNS = (
    "source", "fetched_url", "language", "title", "body_html", "body_text", "published_at", "published_raw",
    "cover_image_url", "category", "content_hash", "attribution_line", "cited_outlets", "updated_at", "changed_at",
    "last_seen_at", "story_id", "minhash",
)  # fmt: skip


def _snapshot_values(article_id: int, item: ArticleItem, digest: str, now: datetime, page: bytes) -> dict[str, Any]:
    """A snapshot row; ``page`` is the item's raw body, compressed."""
    return {
        "article_id": article_id,
        "url": item.url,
        "fetched_at": item.fetched_at or now,
        "http_status": item.http_status,
        "etag": item.etag,
        "last_modified": item.last_modified,
        "content_hash": digest,
        "encoding": item.raw_encoding,
        "compression": "zlib",
        "raw_body": page,
    }


def refusal(reason: str | None) -> str:
    """A reject's reason as the archive keeps it: without control characters but the line feed and tab
    (``text.without_controls``). Reasons quote what a site sent: a redirect's ``Location`` header ("redirected off
    the source's sites (302): ... -> https://evil.example/\\x1b[2J"), a canonical link, an extractor's error about
    the page; with ESC in them, ``rejects list`` cleared the operator's screen. Every refusal is written by
    ``Archive.save`` or ``Archive.refuse_again`` (a crawl's, the writer's for an article the database refused,
    ``rejects retry``'s), both through here."""
    return without_controls(reason or "")


def _storable(text: str | None) -> str | None:
    """Text as every back end can store it: PostgreSQL refuses the NUL character (a JSON-LD ``\\u0000``, a stray
    byte in a page), which SQLite would keep."""
    return text.replace("\x00", "") if text and "\x00" in text else text


def _storable_json(value: Any) -> Any:
    if isinstance(value, str):
        return _storable(value)
    if isinstance(value, list):
        return [_storable_json(v) for v in value]
    if isinstance(value, dict):
        return {_storable(k): _storable_json(v) for k, v in value.items()}
    return value


def _fitting_url(url: str | None) -> str | None:
    """An optional URL, or None when it is longer than a row keeps (a ``data:`` cover image, a tracking query)."""
    return url if url is None or len(url) <= URL_LENGTH else None


def _short(text: str | None) -> str | None:
    text = _storable(text)
    return text[:SHORT_TEXT_LENGTH] if text else text


def _article_values(item: ArticleItem, url: str, digest: str, now: datetime) -> dict[str, Any]:
    """An article row. What a source prints is stored as every back end can keep it: without NUL characters, an
    over-long printed date or category cut short, an over-long cover image or linked address left out (the URLs
    that identify the article are checked by the validate step, which refuses a page whose URL does not fit)."""
    return {
        "source": item.source,
        "url": url,
        "fetched_url": item.url,
        "linked_url": _fitting_url(item.linked_url),
        "language": item.language,
        "title": _storable(item.title) or "",
        "body_html": _storable(item.body_html) or "",
        "body_text": _storable(item.body_text) or "",
        "published_at": item.published_at,
        "published_raw": _short(item.published_raw),
        # The page's own picture; the feed entry's when the page names none (or one too long to keep).
        "cover_image_url": _fitting_url(_storable(item.cover_image_url)) or _fitting_url(_storable(item.cover_feed)),
        "category": _short(item.category),
        "content_hash": digest,
        "attribution_line": _storable(item.attribution_line),
        "cited_outlets": [_storable(name) for name in item.cited_outlets],
        "archived_at": now,
        "updated_at": now,
        "changed_at": now,
        "last_seen_at": now,
    }
