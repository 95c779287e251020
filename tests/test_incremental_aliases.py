"""An incremental crawl knows an archived article by every address a listing links it at, not only by those the site
redirects: a page that answers 200 at an alias and names its real address in ``<link rel=canonical>`` (a numeric
link to a named page, an old slug the CMS still serves, a query the canonical form keeps) is skipped at the next run
when the article is old, and rechecked with its validators when it is recent, like an address that redirects to it.

Real crawls of the bundled report.az sample with an overlay (``aggregator.mirror``); what a run fetched in full is
its ``aggregator/articles`` count (every article page that answered 200 reaches the store).
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from aggregator.incremental import KnownArticles
from aggregator.items import ArticleItem
from aggregator.mirror import serve_mirror
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun, Reject, Snapshot
from tests.conftest import SAMPLE, run_cli
from tests.helpers.report_overlay import SECTION
from tests.helpers.report_overlay import listing as _listing
from tests.helpers.report_overlay import put as _put

TEMPLATE = f"{SECTION}/liven-v-baku-podtopleny-ulicy-v-treh-rajonah-stolicy.html"
TEMPLATE_TITLE = "Ливень в Баку: подтоплены улицы в трёх районах столицы"
VOCABULARY = [
    "город", "район", "улица", "дом", "мост", "река", "школа", "рынок", "вокзал", "порт", "поезд", "автобус", "свет",
    "вода", "газ", "тепло", "дорога", "площадь", "парк", "суд", "полиция", "пожар", "ветер", "снег", "дождь", "жара",
    "урожай", "завод", "шахта", "склад",
]  # fmt: skip


def _text(seed: str) -> str:
    rnd = random.Random(seed)
    return "".join("<p>" + " ".join(rnd.choice(VOCABULARY) for _ in range(45)) + ".</p>" for _ in range(3))


def _article_page(slug: str, title: str) -> str:
    """A page of the section whose canonical link names ``/ru/proisshestviya/<slug>/``, with a text of its own."""
    page = (SAMPLE / TEMPLATE).read_text(encoding="utf-8").replace(TEMPLATE_TITLE, title)
    canonical = f'<link rel="canonical" href="https://{SECTION}/{slug}/">'
    page = re.sub(r'<link rel="canonical" href="[^"]*">', canonical, page, count=1)
    return re.sub(r'(<div class="news-detail__desc">).*?(</div>)', rf"\g<1>{_text(title)}\g<2>", page, flags=re.S)


def _serve(root: Path, slug: str, title: str, *at: str) -> None:
    """The article ``slug`` (its canonical address), served the same at each of the addresses ``at``."""
    page = _article_page(slug, title)
    for path in at:
        _put(root, f"{SECTION}/{path}.html", page)


def _crawl(db: str, mirror: str, recheck_hours: str) -> dict[str, Any]:
    env = {"AGGREGATOR_RECHECK_HOURS": recheck_hours, "AGGREGATOR_SWEEP_PER_RUN": "0"}
    done = run_cli("--db", db, "crawl", "report", "--mirror", mirror, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    with Session(create_engine(normalise_url(db))) as s:
        run = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert run is not None
        return dict(run.stats or {})


def _versions(db: str) -> dict[str, int]:
    """Canonical URL -> number of versions of each archived article of the section."""
    with Session(create_engine(normalise_url(db))) as s:
        return {
            url: len(s.scalars(select(Snapshot.id).where(Snapshot.article_id == article_id)).all())
            for article_id, url in s.execute(select(Article.id, Article.url).where(Article.url.like(f"%{SECTION}/%")))
        }


LINKS = [
    "/ru/proisshestviya/one/",
    "/ru/proisshestviya/one-alias/",  # the same page, its canonical link naming `one`
    "/ru/proisshestviya/one-old/",  # and again: the row keeps one address it was fetched at, not two
    "/ru/proisshestviya/two-alias/",  # only ever linked at an alias
    "/ru/proisshestviya/two-old/",
    "/ru/proisshestviya/three/?from=main",  # queries the canonical form keeps (no tracking parameters)
    "/ru/proisshestviya/three/?from=top",
]


def _site(root: Path) -> None:
    _serve(root, "one", "Первая статья о мосте", "one", "one-alias", "one-old")
    _serve(root, "two", "Вторая статья о вокзале", "two-alias", "two-old")
    _serve(root, "three", "Третья статья о рынке", "three")
    _serve(root, "four", "Четвёртая статья о порте", "four", "four-alias")
    _listing(root, [*LINKS, "/ru/proisshestviya/four/"])


def test_an_old_article_linked_at_an_alias_its_canonical_link_names_is_not_fetched_again(tmp_path: Path) -> None:
    overlay = tmp_path / "site"
    _site(overlay)
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_mirror(SAMPLE, overlays=(overlay,)) as mirror:
        first = _crawl(db, mirror, "0")  # every archived article is old at once
        assert first.get("aggregator/canonical_ignored", 0) == 0
        archived = _versions(db)
        for slug in ("one", "two", "three", "four"):
            assert archived[f"https://{SECTION}/{slug}"] == 1, archived

        second = _crawl(db, mirror, "0")
        assert second.get("aggregator/articles", 0) == 0  # no address of an archived article is fetched again

        # A listing starts linking an archived article at another alias: fetched once (nothing told the crawl the
        # address before), and known from then on.
        _listing(overlay, [*LINKS, "/ru/proisshestviya/four/", "/ru/proisshestviya/four-alias/"])
        third = _crawl(db, mirror, "0")
        assert third.get("aggregator/articles", 0) == 1
        assert third.get("aggregator/articles_unchanged", 0) == 1
        fourth = _crawl(db, mirror, "0")
        assert fourth.get("aggregator/articles", 0) == 0
    assert _versions(db) == archived  # nothing written twice, nothing lost


def test_a_recent_article_linked_at_an_alias_its_canonical_link_names_is_rechecked(tmp_path: Path) -> None:
    overlay = tmp_path / "site"
    _site(overlay)
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_mirror(SAMPLE, overlays=(overlay,)) as mirror:
        _crawl(db, mirror, "1000000")  # every archived article is recent
        archived = _versions(db)
        second = _crawl(db, mirror, "1000000")
        # Every address is asked for with the validators of the article's newest version, and the site says 304.
        assert second.get("aggregator/articles", 0) == 0
        assert second.get("aggregator/not_modified", 0) >= len(LINKS) + 1
    assert _versions(db) == archived
    with Session(create_engine(normalise_url(db))) as s:
        refused = s.scalars(select(Reject.url)).all()
    assert not [url for url in refused if re.search(r"/(one|two|three|four)\b", url)], refused


# -- the store alone -------------------------------------------------------------------------------------------------


def _fetched(path: str, article: str, title: str) -> ArticleItem:
    now = datetime.now(UTC)
    return ArticleItem(
        source="report", url=f"https://{SECTION}/{path}", canonical_url=f"https://{SECTION}/{article}",
        language="ru", title=title, body_html=f"<p>{title}</p>", body_text=title, published_at=now - timedelta(days=9),
        fetched_at=now, raw_body=b"<html></html>",
    )  # fmt: skip


def test_the_store_keeps_each_address_that_served_the_articles_page(sqlite_url: str) -> None:
    """Every address but the row's own (``fetched_url``) at which a page with the article's content was fetched,
    across batches; not one whose page had other content (another article that claimed the address)."""
    archive = Archive.open(sqlite_url)
    archive.sync_sources(all_sources())
    try:
        archive.save([_fetched("one-alias/", "one", "Мост"), _fetched("one-old", "one", "Мост")])
        archive.save([_fetched("one?from=top", "one", "Мост"), _fetched("one/", "one", "Мост")])  # unchanged
        archive.save([_fetched("b", "x", "Вокзал"), _fetched("x/", "x", "Рынок")])  # x, at x itself, wins
        redirects = sorted(archive.redirects("report"))
    finally:
        archive.close()
    one = f"https://{SECTION}/one"
    with Session(create_engine(normalise_url(sqlite_url))) as s:
        (fetched,) = s.scalars(select(Article.fetched_url).where(Article.url == one)).all()
    assert fetched == f"https://{SECTION}/one-old"  # the later of the first batch: on the row, not in the table
    assert redirects == [(f"https://{SECTION}/{path}", one) for path in ("one-alias/", "one?from=top")]
    known = KnownArticles.build([one, fetched, f"https://{SECTION}/x", f"https://{SECTION}/x/"], [])  # next run's
    known.add_redirects(redirects)
    for path in ("one", "one-alias", "one-old/", "one/?from=top"):
        assert known.is_old(f"https://{SECTION}/{path}"), path
    assert not known.is_old(f"https://{SECTION}/b")  # fetched again, and judged then
