"""One article, one row, whatever address it is reached by; and distinct articles never in one row.

A listing links an article with tracking parameters, on the mobile or AMP host, with or without its trailing slash;
a page's ``<link rel=canonical>`` is relative, empty, carries tracking parameters, names the home page (a CMS bug),
another article (another CMS bug) or another site (a reprint, refused). The archive keeps each article once, under
its address, and the next run fetches none of them again.
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from aggregator.items import ArticleItem
from aggregator.mirror import serve_mirror
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun, Reject, Snapshot
from pipelines.dedupe import DedupePipeline
from tests.conftest import SAMPLE, run_cli
from tests.helpers.report_overlay import SECTION
from tests.helpers.report_overlay import listing as _listing
from tests.helpers.report_overlay import put as _put

A = "liven-v-baku-podtopleny-ulicy-v-treh-rajonah-stolicy"  # an article of the sample
A_URL = f"https://{SECTION}/{A}"
A_TITLE = "Ливень в Баку: подтоплены улицы в трёх районах столицы"
WORDS = [
    "министр", "заявил", "сегодня", "на", "совещании", "правительства", "что", "бюджет", "дороги", "школа", "больница",
    "фестиваль", "музыка", "футбол", "команда", "победа", "нефть", "газ", "экспорт", "рост", "цены", "погода", "снег",
    "ветер", "парламент", "закон", "реформа", "суд", "решение", "выставка",
]  # fmt: skip

CANONICAL_LINKS = {
    "home-canonical": '<link rel="canonical" href="https://report.az/">',
    "home-relative-canonical": '<link rel="canonical" href="/">',
    "edition-canonical": '<link rel="canonical" href="https://report.az/ru/">',
    "relative-canonical": '<link rel="canonical" href="/ru/proisshestviya/relative-canonical/">',
    "empty-canonical": '<link rel="canonical" href="">',
    "tracked-canonical": '<link rel="canonical" href="../tracked-canonical/?utm_source=rss&amp;yclid=7">',  # relative
    "no-canonical": "",
    "reprint-canonical": '<link rel="canonical" href="https://www.bbc.com/russian/news-1">',
}
"""Articles (their slugs) and the canonical link each page declares."""

A_FORMS = (
    f"/ru/proisshestviya/{A}/?utm_source=facebook&utm_medium=social",
    f"/ru/proisshestviya/{A}/?fbclid=IwAR0&gclid=x&yclid=1&_openstat=abc&ref=main",
    f"/ru/proisshestviya/{A}#comments",
    f"http://report.az/ru/proisshestviya/{A}/",
    f"https://www.report.az/ru/proisshestviya/{A}/",
    f"https://m.report.az/ru/proisshestviya/{A}/",
    f"https://amp.report.az/ru/proisshestviya/{A}/",
    f"https://REPORT.AZ:443/ru/proisshestviya/{A}/",
    f"/ru/proisshestviya/{A}/?amp=1",
)
"""How the listing links the sample's article: each the same page (the mobile and AMP hosts serve it too)."""


def _body(seed: str) -> str:
    rnd = random.Random(seed)
    return "".join("<p>" + " ".join(rnd.choice(WORDS) for _ in range(40)) + ".</p>" for _ in range(3))


def _page(template: str, title: str, canonical: str, seed: str) -> str:
    page = template.replace(A_TITLE, title)
    page = re.sub(r'<link rel="canonical" href="[^"]*">', canonical, page, count=1)
    return re.sub(r'(<div class="news-detail__desc">).*?(</div>)', rf"\g<1>{_body(seed)}\g<2>", page, flags=re.S)


def _site(root: Path) -> None:
    template = (SAMPLE / SECTION / f"{A}.html").read_text(encoding="utf-8")
    for host in ("www.report.az", "m.report.az", "amp.report.az"):
        _put(root, f"{host}/ru/proisshestviya/{A}.html", template)
    for slug, canonical in CANONICAL_LINKS.items():
        _put(root, f"{SECTION}/{slug}.html", _page(template, f"Статья {slug}", canonical, slug))
    _listing(root, [*A_FORMS, *(f"/ru/proisshestviya/{slug}/" for slug in CANONICAL_LINKS)])


def _crawl(db: str, mirror: str) -> dict[str, Any]:
    env = {"AGGREGATOR_RECHECK_HOURS": "0", "AGGREGATOR_SWEEP_PER_RUN": "0"}  # every archived article is old
    done = run_cli("--db", db, "crawl", "report", "--mirror", mirror, env=env)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    with Session(create_engine(normalise_url(db))) as s:
        run = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert run is not None
        return dict(run.stats or {})


def _rows(db: str) -> dict[str, tuple[str, int]]:
    """URL -> (title, number of versions) of each archived article of the section."""
    with Session(create_engine(normalise_url(db))) as s:
        versions = (
            select(Article.url, Article.title, func.count(Snapshot.id))
            .join(Snapshot, Snapshot.article_id == Article.id)
            .where(Article.source == "report")
            .group_by(Article.id)
        )
        return {url: (title, n) for url, title, n in s.execute(versions)}


def test_each_article_is_one_row_at_every_run_whatever_its_links_and_canonical_links_say(tmp_path: Path) -> None:
    overlay = tmp_path / "site"
    _site(overlay)
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_mirror(SAMPLE, overlays=(overlay,)) as mirror:
        first = _crawl(db, mirror)
        rows = _rows(db)
        # The home page and the edition's are no article's address: a row each for the pages that named them.
        assert "https://report.az/" not in rows and "https://report.az/ru" not in rows
        for slug in CANONICAL_LINKS.keys() - {"reprint-canonical"}:
            assert rows[f"https://{SECTION}/{slug}"] == (f"Статья {slug}", 1), slug
        assert rows[A_URL] == (A_TITLE, 1)  # every form of its link: one fetch, one row
        assert first["aggregator/canonical_ignored"] == 3
        with Session(create_engine(normalise_url(db))) as s:
            refused = s.scalars(select(Reject.reason).where(Reject.url.like("%reprint-canonical%"))).one()
        assert refused == "URL outside source domains: canonical https://www.bbc.com/russian/news-1"

        # Next run: a page whose canonical link names the sample's article (archived, not fetched again), but is
        # another article. It gets a row of its own; the article keeps its own text.
        template = (SAMPLE / SECTION / f"{A}.html").read_text(encoding="utf-8")
        claimed = f'<link rel="canonical" href="https://{SECTION}/{A}/">'
        _put(overlay, f"{SECTION}/claims-a.html", _page(template, "Другая статья", claimed, "claims-a"))
        _listing(overlay, [*A_FORMS, *(f"/ru/proisshestviya/{slug}/" for slug in [*CANONICAL_LINKS, "claims-a"])])
        second = _crawl(db, mirror)
        rows = _rows(db)
        assert rows[A_URL] == (A_TITLE, 1)
        assert rows[f"https://{SECTION}/claims-a"] == ("Другая статья", 1)
        assert second.get("aggregator/articles", 0) == 1  # that page alone: every other one is known

        third = _crawl(db, mirror)
    assert third.get("aggregator/articles", 0) == 0, json.dumps(third, indent=1)  # nothing fetched as new
    assert _rows(db) == rows


# -- the dedupe step alone -------------------------------------------------------------------------------------------

TEXT = (
    "Сильный ливень, начавшийся в Баку во второй половине дня, привёл к подтоплению ряда улиц в Ясамальском, "
    "Насиминском и Хатаинском районах столицы. Министерство по чрезвычайным ситуациям призвало жителей по "
    "возможности не выходить из дома и не оставлять автомобили в низинах."
)
OTHER_TEXT = (
    "Парламент одобрил в первом чтении проект государственного бюджета на следующий год. За документ проголосовали "
    "девяносто депутатов, против выступили пятеро; второе чтение назначено на конец месяца, сообщает пресс-служба."
)


def _article(url: str, canonical: str, title: str, text: str) -> ArticleItem:
    now = datetime.now(UTC)
    return ArticleItem(
        source="report", url=url, canonical_url=canonical, language="ru", title=title, body_html=f"<p>{text}</p>",
        body_text=text, published_at=now - timedelta(days=3), fetched_at=now, raw_body=b"<html></html>",
    )  # fmt: skip


def _dedupe(db_url: str | None = None) -> DedupePipeline:
    pipeline = DedupePipeline(sketch_here=False, db_url=db_url)
    pipeline.open_spider()
    return pipeline


def test_a_page_claiming_the_address_of_another_article_fetched_in_the_run_keeps_its_own() -> None:
    dedupe = _dedupe()
    dedupe.process_item(_article(A_URL + "/", A_URL, A_TITLE, TEXT))
    other = dedupe.process_item(_article(f"https://{SECTION}/other/", A_URL, "Парламент одобрил бюджет", OTHER_TEXT))
    assert other.canonical_url == f"https://{SECTION}/other"
    # The same article at another address: the same headline, the link stands.
    alias = dedupe.process_item(_article(f"https://{SECTION}/old-slug/", A_URL, A_TITLE, TEXT))
    assert alias.canonical_url == A_URL


@pytest.mark.parametrize(
    ("title", "text", "kept"),
    [
        ("Парламент одобрил бюджет", OTHER_TEXT, False),
        ("Ливень в Баку: подтоплены улицы в четырёх районах", OTHER_TEXT, True),  # rewritten under its headline
        ("Власти Баку подсчитывают ущерб от непогоды", TEXT + " Уточнено число районов.", True),  # re-titled
        (A_TITLE, OTHER_TEXT[:40], True),  # too short to tell by the text: the same headline
        ("Парламент одобрил бюджет", OTHER_TEXT[:40], False),
    ],
)
def test_a_page_claiming_the_address_of_an_archived_article_keeps_its_own_if_it_is_another(
    sqlite_url: str, title: str, text: str, kept: bool
) -> None:
    archive = Archive.open(sqlite_url)
    archive.sync_sources(all_sources())
    archive.save([_article(A_URL + "/", A_URL, A_TITLE, TEXT)])
    archive.close()
    dedupe = _dedupe(sqlite_url)
    try:
        claimant = dedupe.process_item(_article(f"https://{SECTION}/claims-a/", A_URL, title, text))
    finally:
        dedupe.close_spider()
    assert claimant.canonical_url == (A_URL if kept else f"https://{SECTION}/claims-a")


def test_outside_a_crawl_the_dedupe_step_reads_no_archive_and_changes_no_address() -> None:
    dedupe = DedupePipeline(sketch_here=False, db_url="sqlite:////nonexistent/archive.db")  # no spider opened
    dedupe.process_item(_article(A_URL, A_URL, A_TITLE, TEXT))
    other = dedupe.process_item(_article(f"https://{SECTION}/other", A_URL, "Парламент", OTHER_TEXT))
    assert other.canonical_url == A_URL
