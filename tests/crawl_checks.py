"""What a crawl of the bundled sample must leave in the archive, checked against hand-written expectations.

``tests/fixtures/sample_expected/*.json`` were written with the sample pages, by hand, not by running the code. An
article whose page prints no year (``year_from_fetch``) gives its instant in some year: the crawl must put it in the
latest year that is not more than a day after the fetch.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from aggregator.sources import all_sources, get_source, source_for_url
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun, Reject, Snapshot

EXPECTED_DIR = Path(__file__).resolve().parent / "fixtures" / "sample_expected"
GUIDE = "docs/adding-a-source.md"
"""How a source's sample and its expectations are made, which the failures below point to."""
BOILERPLATE_MARKERS = ("Просмотров:", "Views:", "Baxışların sayı:", "ads.example.com", "<script", "A+", "night_theme")
# Paragraphs planted in the sample that are the site's furniture, not the article (checked in the body text).
BOILERPLATE_TEXT = (
    "Читайте также", "Подписывайтесь на наш", "Любое использование материалов", "Поделиться", "Read also",
    "Subscribe to our", "Views:", "Həmçinin oxuyun", "abunə olun", "Materiallardan istifadə", "Реклама",
    "Advertisement",
)  # fmt: skip
ATTRIBUTION = {
    "ru": "Icma.az, ссылаясь на сайт {source}, отмечает.",
    "az": "{source} portalından əldə olunan məlumata əsasən, Icma.az xəbər verir.",
    "en": "Icma.az reports, citing {source}.",
}


def source_key(url: str) -> str:
    source = source_for_url(url)
    assert source is not None, f"{url} belongs to no registered source"
    return source.key


@cache
def _expected(sources: tuple[str, ...] | None) -> dict[str, list[dict[str, Any]]]:
    merged: dict[str, list[dict[str, Any]]] = {"articles": [], "rejects": [], "http_errors": []}
    for path in sorted(EXPECTED_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for key in merged:
            merged[key].extend(e for e in data.get(key, []) if sources is None or source_key(e["url"]) in sources)
    return merged


def expected(*sources: str) -> dict[str, list[dict[str, Any]]]:
    """The expectations of the given sources' samples (every source's when none is named)."""
    return _expected(tuple(sorted(sources)) if sources else None)


def sources_with_samples() -> list[str]:
    """Registry keys of the sources whose bundled sample has expectations, in registry order."""
    keys = {source_key(a["url"]) for a in expected()["articles"]}
    return [s.key for s in all_sources() if s.key in keys]


def expected_instant(exp: dict[str, Any], fetched_at: datetime) -> datetime:
    """The instant an expected article's date means when its page was fetched at ``fetched_at``."""
    instant = datetime.fromisoformat(exp["published_at"])
    if not exp.get("year_from_fetch"):
        return instant
    fetched = fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=instant.tzinfo)
    # Not more than a day after the fetch, the grace a printed year has (pipelines.dates): "1 January" fetched on
    # New Year's Eve is the next year's.
    latest = fetched + timedelta(days=1)
    return next(i for y in (1, 0, -1) if (i := instant.replace(year=fetched.year + y)) <= latest)


def session(db_url: str) -> Session:
    return Session(create_engine(normalise_url(db_url)))


def counts(db_url: str) -> dict[str, int]:
    with session(db_url) as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Article, Snapshot, Reject, CrawlRun)
        }


def archived_by_source(db_url: str) -> dict[str, int]:
    """How many articles the archive holds of each source."""
    with session(db_url) as s:
        return dict(s.execute(select(Article.source, func.count()).group_by(Article.source)).tuples().all())


def sample_mismatch(archived: Mapping[str, int], *sources: str) -> str:
    """An assertion's message: the sources whose archived articles are not as many as their expectations say, and
    what to do. A new site's pages put in data/mirror/ are crawled with the others, and the crawl tests failed on a
    bare ``assert 110 == 106`` until a hand-written expectations file named them."""
    folder = EXPECTED_DIR.relative_to(EXPECTED_DIR.parents[2])
    want = Counter(source_key(a["url"]) for a in expected(*sources)["articles"])
    said = []
    for key in sorted(set(archived) | set(want)):
        got, n = archived.get(key, 0), want[key]
        if got == n:
            continue
        if n:
            said.append(f"{key}: {got} article(s) archived, {n} expected by {folder}/")
        else:
            said.append(f"{key}: {got} article(s) archived, and no file in {folder}/ expects any: write {key}.json")
    if not said:
        said.append("every source archived as many articles as expected, but not the expected ones")
    return "; ".join(said) + f' (see {GUIDE}, "The sample\'s expectations")'


def check_archive(db_url: str, *sources: str) -> None:
    """Every valid sample article archived exactly as expected; every broken page quarantined with its reason.

    With ``sources``, only those sources were crawled: the archive holds theirs and nothing else.
    """
    want = expected(*sources)
    with session(db_url) as s:
        articles = {a.url: a for a in s.scalars(select(Article))}
        assert sorted(articles) == sorted(a["url"] for a in want["articles"]), sample_mismatch(
            archived_by_source(db_url), *sources
        )
        for exp in want["articles"]:
            got = articles[exp["url"]]
            where = exp["url"]
            source = get_source(source_key(exp["url"]))
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
            assert got.attribution_line == ATTRIBUTION[exp["language"]].format(source=source.name), where
            assert all(p.strip() != "Caliber.Az" for p in paragraphs), where  # the signature
            snapshot = s.scalars(select(Snapshot).where(Snapshot.article_id == got.id)).one()
            raw = zlib.decompress(snapshot.raw_body)
            assert exp["title"] in raw.decode(snapshot.encoding or "utf-8"), where
            assert snapshot.url.startswith("https://") and source.owns(snapshot.url), where  # editions on subdomains

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
    """The archive's run rows, oldest first (its engine disposed: a test polling them opens no pile of connections)."""
    engine = create_engine(normalise_url(db_url))
    try:
        with Session(engine) as s:
            return list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    finally:
        engine.dispose()
