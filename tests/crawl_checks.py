"""What a crawl of the bundled sample must leave in the archive, checked against hand-written expectations.

``tests/fixtures/sample_expected/*.json`` were written with the sample pages, by hand, not by running the code. Each
file holds one source's pages (its ``source`` key, or the file name's first word); an article whose page prints no
year (``year_from_fetch``) gives its instant in some year, and the crawl must put it in the latest year that is not
after the fetch.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Collection
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from aggregator.sources import get_source
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun, Reject, Snapshot
from aggregator.text import name_key
from pipelines.attribution import attribution_line

EXPECTED_DIR = Path(__file__).resolve().parent / "fixtures" / "sample_expected"
BOILERPLATE_MARKERS = ("Просмотров:", "Views:", "Baxışların sayı:", "ads.example.com", "<script", "A+", "night_theme")
# Paragraphs planted in the sample that are the site's furniture, not the article (checked in the body text).
BOILERPLATE_TEXT = (
    "Читайте также", "Подписывайтесь на наш", "Любое использование материалов", "Поделиться", "Read also",
    "Subscribe to our", "Views:", "Həmçinin oxuyun", "abunə olun", "Materiallardan istifadə", "Реклама",
    "Advertisement",
)  # fmt: skip
ATTRIBUTION = {
    "ru": "Icma.az, ссылаясь на сайт Caliber.az, отмечает.",
    "az": "Caliber.az portalından əldə olunan məlumata əsasən, Icma.az xəbər verir.",
    "en": "Icma.az reports, citing Caliber.az.",
}
"""The lines as readers see them, typed out once for caliber; other sources' lines come from the same templates."""


@cache
def expected() -> dict[str, list[dict[str, Any]]]:
    merged: dict[str, list[dict[str, Any]]] = {"articles": [], "rejects": [], "http_errors": []}
    for path in sorted(EXPECTED_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        source = data.get("source") or path.stem.split("_")[0]
        for key in merged:
            merged[key].extend({"source": source, **entry} for entry in data.get(key, []))
    return merged


def for_source(source: str) -> dict[str, list[dict[str, Any]]]:
    """The expectations of one source's sample."""
    return {key: [e for e in entries if e["source"] == source] for key, entries in expected().items()}


def expected_attribution(source: str, language: str) -> str:
    if source == "caliber":
        return ATTRIBUTION[language]
    return attribution_line(site="Icma.az", source=get_source(source).name, language=language)


def expected_instant(exp: dict[str, Any], fetched_at: datetime) -> datetime:
    """The instant an expected article's date means when its page was fetched at ``fetched_at``."""
    instant = datetime.fromisoformat(exp["published_at"])
    if not exp.get("year_from_fetch"):
        return instant
    fetched = fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=instant.tzinfo)
    same_year = instant.replace(year=fetched.year)
    return same_year if same_year <= fetched else instant.replace(year=fetched.year - 1)


def session(db_url: str) -> Session:
    return Session(create_engine(normalise_url(db_url)))


def counts(db_url: str) -> dict[str, int]:
    with session(db_url) as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Article, Snapshot, Reject, CrawlRun)
        }


def check_archive(db_url: str, sources: Collection[str] | None = None) -> None:
    """Every valid sample article (of ``sources``; default all) archived exactly as expected; every broken page
    quarantined with its reason."""
    want = expected()
    if sources is not None:
        want = {key: [e for e in entries if e["source"] in sources] for key, entries in want.items()}
    with session(db_url) as s:
        articles = {a.url: a for a in s.scalars(select(Article))}
        assert sorted(articles) == sorted(a["url"] for a in want["articles"])
        for exp in want["articles"]:
            got = articles[exp["url"]]
            where = exp["url"]
            source = get_source(exp["source"])
            assert got.source == source.key, where
            assert got.title == exp["title"], where
            assert got.language == exp["language"], where
            assert got.category == exp["category"], where
            assert got.cover_image_url == exp["cover_image"], where
            if exp["published_at"] is None:  # a date the page prints unreadably: archived undated, text kept
                assert got.published_at is None and got.published_raw == exp["published_raw"], where
            else:
                snapshot = s.scalars(select(Snapshot).where(Snapshot.article_id == got.id)).one()
                assert got.published_at == expected_instant(exp, snapshot.fetched_at), where
            paragraphs = got.body_text.split("\n\n")
            assert paragraphs[0] == exp["first_paragraph"], where
            assert paragraphs[-1] == exp["last_paragraph"], where
            assert len(paragraphs) == exp["paragraphs"], where
            for marker in BOILERPLATE_MARKERS:
                assert marker not in got.body_html, (where, marker)
            for marker in BOILERPLATE_TEXT:
                assert marker not in got.body_text, (where, marker)
            assert got.attribution_line == expected_attribution(source.key, exp["language"]), where
            assert all(name_key(p.strip(" .")) != name_key(source.name) for p in paragraphs), where  # a signature
            snapshot = s.scalars(select(Snapshot).where(Snapshot.article_id == got.id)).one()
            raw = zlib.decompress(snapshot.raw_body)
            assert exp["title"] in raw.decode(snapshot.encoding or "utf-8"), where
            assert snapshot.url.startswith("https://") and source.owns(snapshot.url), where

        rejects = list(s.scalars(select(Reject)))
        for exp in want["rejects"]:
            matching = [r for r in rejects if r.url == exp["url"]]
            assert matching, f"{exp['url']} was not quarantined"
            assert all(r.reason.startswith(exp["reason"]) for r in matching), (
                exp,
                [r.reason for r in matching],
            )
            assert all(r.item and r.item["url"] == exp["url"] and r.raw_body for r in matching)
        for exp in want["http_errors"]:
            matching = [r for r in rejects if r.url == exp["url"] and r.stage == "fetch"]
            assert matching, f"{exp['url']} ({exp['status']}) was not recorded"
            assert all(r.http_status == exp["status"] and r.reason == f"HTTP {exp['status']}" for r in matching)
        for r in rejects:
            assert r.url.startswith("https://"), r.url  # real URLs, never the mirror's


def runs(db_url: str) -> list[CrawlRun]:
    with session(db_url) as s:
        return list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))
