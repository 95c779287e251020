"""The archive as the rest of the code sees it: batched, idempotent writes and the reads the CLI needs."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import sessionmaker

from aggregator.items import ArticleItem
from aggregator.sources import Source as RegistrySource
from aggregator.store.db import connect, ensure_schema
from aggregator.store.models import Article, CrawlRun, Reject, Snapshot, Source, utcnow


def content_hash(item: ArticleItem) -> str:
    """Hash of what we extracted (not of the raw page, whose ads and counters change on every fetch)."""
    digest = hashlib.sha256()
    for part in (item.title, item.body_html, item.published_raw, item.cover_image_url, item.category):
        digest.update((part or "").encode())
        digest.update(b"\0")
    return digest.hexdigest()


def compress(raw: bytes) -> bytes:
    return zlib.compress(raw, 6)


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


@dataclass(slots=True)
class SaveResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    new_ids: list[int] = field(default_factory=list)


class Archive:
    """Repository over one database; safe to share between the pipelines of one process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.session = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Archive:
        engine = connect(url)
        if migrate:
            ensure_schema(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

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

    def save(
        self, items: Sequence[ArticleItem], rejects: Sequence[RejectRecord] = (), run_id: int | None = None
    ) -> SaveResult:
        """Write one batch in one transaction: upsert by canonical URL, a snapshot per new version, rejects."""
        result = SaveResult(rejected=len(rejects))
        latest: dict[str, ArticleItem] = {}
        for item in items:  # the same article twice in one batch: the later fetch wins
            latest[item.canonical_url or item.url] = item
        now = utcnow()
        insert = self._insert()
        with self.session.begin() as session:
            known = {
                url: (article_id, digest)
                for url, article_id, digest in session.execute(
                    select(Article.url, Article.id, Article.content_hash).where(Article.url.in_(list(latest)))
                )
            }
            unchanged: list[int] = []
            for url, item in latest.items():
                digest = content_hash(item)
                previous = known.get(url)
                if previous is not None and previous[1] == digest:
                    unchanged.append(previous[0])
                    result.unchanged += 1
                    continue
                values = _article_values(item, url, digest, now)
                stmt = insert(Article).values(**values, archived_at=now)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[Article.url], set_={k: stmt.excluded[k] for k in values if k != "url"}
                ).returning(Article.id)
                article_id = session.execute(stmt).scalar_one()
                if previous is None:
                    result.new += 1
                    result.new_ids.append(article_id)
                else:
                    result.updated += 1
                snap = insert(Snapshot).values(
                    article_id=article_id,
                    url=item.url,
                    fetched_at=item.fetched_at or now,
                    http_status=item.http_status,
                    etag=item.etag,
                    last_modified=item.last_modified,
                    content_hash=digest,
                    encoding=item.raw_encoding,
                    compression="zlib",
                    raw_body=compress(item.raw_body),
                )
                session.execute(snap.on_conflict_do_nothing(index_elements=["article_id", "content_hash"]))
            if unchanged:
                session.execute(update(Article).where(Article.id.in_(unchanged)).values(last_seen_at=now))
            if rejects:
                session.add_all(
                    Reject(
                        source=r.source,
                        url=r.url,
                        stage=r.stage,
                        reason=r.reason,
                        http_status=r.http_status,
                        item=r.item,
                        raw_body=compress(r.raw_body) if r.raw_body else None,
                        crawl_run_id=run_id,
                        created_at=now,
                    )
                    for r in rejects
                )
        return result

    def start_run(self, source: str, spider: str) -> int:
        with self.session.begin() as session:
            run = CrawlRun(source=source, spider=spider, started_at=utcnow(), status="running")
            session.add(run)
            session.flush()
            return run.id

    def finish_run(self, run_id: int, *, status: str, reason: str | None, stats: dict[str, Any]) -> None:
        with self.session.begin() as session:
            session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == run_id)
                .values(finished_at=utcnow(), status=status, finish_reason=reason, stats=stats)
            )

    # -- reads ---------------------------------------------------------------------------------------

    def list_articles(self, *, source: str | None = None, limit: int = 50) -> list[Article]:
        stmt = select(Article).order_by(Article.published_at.desc().nulls_last(), Article.id.desc()).limit(limit)
        if source:
            stmt = stmt.where(Article.source == source)
        with self.session() as session:
            return list(session.scalars(stmt))

    def get_article(self, article_id: int) -> Article | None:
        with self.session() as session:
            return session.get(Article, article_id)

    def snapshots(self, article_id: int) -> list[Snapshot]:
        with self.session() as session:
            stmt = select(Snapshot).where(Snapshot.article_id == article_id).order_by(Snapshot.fetched_at)
            return list(session.scalars(stmt))

    def list_rejects(self, *, source: str | None = None, limit: int = 100) -> list[Reject]:
        stmt = select(Reject).order_by(Reject.id.desc()).limit(limit)
        if source:
            stmt = stmt.where(Reject.source == source)
        with self.session() as session:
            return list(session.scalars(stmt))

    def count(self, model: type[Any], **where: Any) -> int:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        with self.session() as session:
            return int(session.execute(stmt).scalar_one())

    def list_runs(self, *, source: str | None = None, limit: int = 20) -> list[CrawlRun]:
        stmt = select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)
        if source:
            stmt = stmt.where(CrawlRun.source == source)
        with self.session() as session:
            return list(session.scalars(stmt))


def _article_values(item: ArticleItem, url: str, digest: str, now: datetime) -> dict[str, Any]:
    return {
        "source": item.source,
        "url": url,
        "fetched_url": item.url,
        "language": item.language,
        "title": item.title or "",
        "body_html": item.body_html or "",
        "body_text": item.body_text or "",
        "published_at": item.published_at,
        "published_raw": item.published_raw,
        "cover_image_url": item.cover_image_url,
        "category": item.category,
        "content_hash": digest,
        "updated_at": now,
        "last_seen_at": now,
    }
