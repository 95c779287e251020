"""Rows keyed by an older release's form of ``canonical_url`` (``https://m.report.az/...``, ``.../amp``, before
``aggregator.urls`` folded those forms into the article's address): what a crawl does with them, and how
``aggregator reextract`` re-keys them (``Archive.rekey``).

What a crawl of today does with such a row (``test_an_article_archived_under_an_old_key_...``): an old article is
skipped as known (the incremental crawl compares canonical forms), a recent one whose page has not changed is
rechecked and seen (304); but a recent one whose page changed is archived a second time under today's key, next to
the old row, which no crawl ever writes again.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from aggregator.items import ArticleItem
from aggregator.mirror import serve_mirror
from aggregator.reextract import reextract
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.models import Article, Redirect, Reject, Snapshot, Story, StoryBucket
from aggregator.store.repository import WITHDRAWN_BY_OPERATOR, WITHDRAWN_BY_SOURCE
from aggregator.stories import stored_buckets
from aggregator.urls import canonical_url
from tests.conftest import SAMPLE, run_cli
from tests.test_urls import URL_PARTS

# -- today's keys are fixed points -----------------------------------------------------------------------------------


@settings(max_examples=3000, deadline=None)
@given(
    scheme=st.sampled_from(["https://", "http://"]),
    host=st.lists(URL_PARTS, min_size=1, max_size=4).map("".join),
    path=st.lists(URL_PARTS, max_size=8).map("".join),
    tail=st.sampled_from(["", ":8080", "?a=1", "?utm_source=x&b=%20 ", "?b=2&a=1#f"]),
)
@example(scheme="https://", host="www.m.report.az", path="/ru/x", tail="")
@example(scheme="https://", host="caliber.az", path="/post/x/amp/amp", tail="")
@example(scheme="https://", host="caliber.az", path="/post/x/index.html/", tail="")
@example(scheme="https://", host="caliber.az", path="/post/x/amp/index.php", tail="")
@example(scheme="http://", host="н..", path="/x", tail="")
def test_a_canonical_url_is_its_own_canonical_form(scheme: str, host: str, path: str, tail: str) -> None:
    """``reextract`` re-keys every row whose key is not its own canonical form: a key today's crawl writes must be
    one, or each re-extraction moved rows the next crawl wrote again (``www.m.x`` gave ``m.x``, whose form is
    ``x``; ``/a/amp/amp`` gave ``/a/amp``; ``/a/index.html/`` gave ``/a/index.html``)."""
    url = scheme + host + (path if not path or path.startswith("/") else "/" + path) + tail
    try:
        once = canonical_url(url)
    except ValueError:  # not a URL (a bad port)
        return
    assert canonical_url(once) == once


def test_stacked_forms_of_a_page_are_the_page() -> None:
    page = "https://report.az/ru/x"
    for form in ("https://www.m.report.az/ru/x", "https://m.amp.report.az/ru/x/", "https://report.az/ru/x/amp/amp",
                 "https://report.az/ru/x/index.html/", "https://report.az/ru/x/amp/index.html"):  # fmt: skip
        assert canonical_url(form) == page, form
    assert canonical_url("https://www.m.az/a") == "https://m.az/a"  # m.az is a name of its own


# -- the archive, re-keyed -------------------------------------------------------------------------------------------

WORDS = [
    "город", "район", "улица", "дом", "мост", "река", "школа", "рынок", "вокзал", "порт", "поезд", "автобус", "свет",
    "вода", "газ", "тепло", "дорога", "площадь", "парк", "суд", "полиция", "пожар", "ветер", "снег", "дождь", "жара",
    "урожай", "завод", "шахта", "склад",
]  # fmt: skip
T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)


def _text(seed: str) -> str:
    rnd = random.Random(seed)
    return " ".join(rnd.choice(WORDS) for _ in range(120)) + "."


def _item(key: str, title: str, text: str, *, at: datetime, source: str = "report", url: str | None = None,
          linked: str | None = None) -> ArticleItem:  # fmt: skip
    """A page as a crawl stores it under ``key``: an older release's key is given as the item's canonical URL, as
    that release's code computed it."""
    return ArticleItem(
        source=source, url=url or key, canonical_url=key, language="ru", title=title, body_html=f"<p>{text}</p>",
        body_text=text, published_at=T0 - timedelta(days=1), fetched_at=at, raw_body=f"<html>{title}</html>".encode(),
        linked_url=linked,
    )  # fmt: skip


def _row(archive: Archive, url: str) -> Article | None:
    with archive.reading() as session:
        return session.scalars(select(Article).where(Article.url == url)).first()


def _count(archive: Archive, model: Any, *where: Any) -> int:
    with archive.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _stories_are_whole(archive: Archive) -> None:
    """No story without an article, no bucket of an article that is gone."""
    told = select(Article.story_id).where(Article.story_id.is_not(None))
    assert _count(archive, Story, Story.id.not_in(told)) == 0
    assert _count(archive, StoryBucket, StoryBucket.article_id.not_in(select(Article.id))) == 0


def test_reextract_renames_old_keys_and_merges_an_article_archived_twice(db_url: str) -> None:
    old, new = "https://m.report.az/ru/most", "https://report.az/ru/most"
    archive = Archive.open(db_url)
    try:
        archive.sync_sources(all_sources())
        # An older release: the article under its mobile key, two versions, reached once through a redirect; another
        # source's re-telling of it in its story; an AMP key; two old forms of one page nobody holds today's key of.
        text = _text("most")
        archive.save([_item(old, "Мост закрыт", text, at=T0, linked="https://report.az/12345")])
        archive.save([_item(old, "Мост закрыт на ремонт", text + " Обновлено.", at=T0 + timedelta(hours=1))])
        archive.save([_item("https://apa.az/most", "Мост закрыт", text, at=T0, source="apa")])
        archive.save([_item("https://report.az/ru/port/amp", "Порт", _text("port"), at=T0)])
        archive.save([_item("https://m.report.az/ru/park", "Парк", _text("park"), at=T0)])
        archive.save([_item("https://report.az/ru/park/amp", "Парк", _text("park"), at=T0 + timedelta(hours=2))])
        # Today's release: the page changed, and a crawl archived it again under today's key.
        edited = _text("most") + " Мост откроют в понедельник."
        archive.save([_item(new, "Мост откроют в понедельник", edited, at=T0 + timedelta(days=1), url=new + "/")])
        first, second = _row(archive, old), _row(archive, new)
        assert first is not None and second is not None
        with archive.session.begin() as session:
            session.execute(update(Article).where(Article.id == first.id).values(views=7))
            session.execute(update(Article).where(Article.id == second.id).values(views=2))
            session.add(Redirect(source="report", url="https://report.az/ru/most-old", target=old))
            session.add(Redirect(source="report", url=new, target=old))  # desktop to mobile, as the site once did
            session.add(Reject(source="report", url="https://report.az/12345", stage="fetch", reason="HTTP 500",
                               resolved_at=T0, article_id=first.id))  # fmt: skip
        articles, snapshots = _count(archive, Article), _count(archive, Snapshot)
        versions = [s.content_hash for s in archive.snapshots(first.id) + archive.snapshots(second.id)]
        park = [_row(archive, "https://m.report.az/ru/park"), _row(archive, "https://report.az/ru/park/amp")]
        assert [hit.article.id for hit in archive.search("понедельник")] == [second.id]

        result = reextract(archive)

        # The park's two old keys: the first renamed, the second then merged into it.
        assert result.merged == [(second.id, first.id), (park[1].id, park[0].id)] and result.renamed == 2
        assert not result.left
        assert _row(archive, old) is None
        merged = _row(archive, new)
        assert merged is not None and merged.id == first.id  # the first archived keeps its id
        assert merged.title == "Мост откроют в понедельник"  # the newest version's text, and its sketch and buckets
        assert merged.minhash == second.minhash and merged.content_hash == second.content_hash
        assert _count(archive, StoryBucket, StoryBucket.article_id == merged.id) == len(stored_buckets(merged.minhash))
        assert merged.fetched_url == new + "/" and merged.linked_url == "https://report.az/12345"
        assert merged.archived_at == first.archived_at and merged.views == 9
        assert [s.content_hash for s in archive.snapshots(merged.id)] == versions  # every version, in order
        assert _count(archive, Snapshot) == snapshots and _count(archive, Article) == articles - 2
        assert [hit.article.id for hit in archive.search("понедельник")] == [first.id]  # the search index follows
        apa = _row(archive, "https://apa.az/most")
        assert apa is not None and merged.story_id == apa.story_id  # still the story the other source tells
        _stories_are_whole(archive)
        with archive.reading() as session:
            assert session.scalar(select(Reject.article_id).where(Reject.url == "https://report.az/12345")) == first.id
        redirects = dict(archive.redirects("report"))
        assert redirects[old] == new  # the old key, for the next crawl and for `articles show`
        assert redirects["https://report.az/ru/most-old"] == new  # a redirect to the old key leads to the new one
        assert new not in redirects  # and one from today's key to the old one, nowhere
        assert redirects["https://report.az/ru/port/amp"] == "https://report.az/ru/port"
        assert redirects["https://m.report.az/ru/park"] == redirects["https://report.az/ru/park/amp"]
        kept = _row(archive, "https://report.az/ru/park")
        assert kept is not None and kept.id == park[0].id and len(archive.snapshots(kept.id)) == 2

        again = reextract(archive)  # nothing left to re-key
        assert (again.renamed, again.merged) == (0, [])
    finally:
        archive.close()


def test_merging_keeps_the_newest_text_and_an_operators_withdrawal(db_url: str) -> None:
    old, new = "https://report.az/ru/sud/amp", "https://report.az/ru/sud"
    archive = Archive.open(db_url)
    try:
        archive.sync_sources(all_sources())
        archive.save([_item(old, "Суд", _text("sud"), at=T0)])
        # Today's crawl archived it again, a text too unlike to share its story.
        archive.save([_item(new, "Суд", _text("another"), at=T0 + timedelta(hours=1))])
        # The old row got the newer version (an older release's process still crawling beside the upgraded one).
        archive.save([_item(old, "Суд вынес решение", _text("sud") + " Решение.", at=T0 + timedelta(hours=2))])
        first, second = _row(archive, old), _row(archive, new)
        assert first is not None and second is not None and first.story_id != second.story_id
        archive.withdraw([first.id], "a court order")
        assert archive.rekey().merged == [(second.id, first.id)]
        merged = _row(archive, new)
        assert merged is not None and merged.title == "Суд вынес решение" and merged.story_id == first.story_id
        assert merged.withdrawn_by == WITHDRAWN_BY_OPERATOR and merged.withdrawn_reason == "a court order"
        assert _count(archive, Story, Story.id == second.story_id) == 0  # told by the row merged away only
        _stories_are_whole(archive)
    finally:
        archive.close()


def test_a_withdrawal_by_the_source_stands_only_if_no_later_fetch_found_the_article(db_url: str) -> None:
    archive = Archive.open(db_url)
    try:
        archive.sync_sources(all_sources())
        for n, found_later in ((1, True), (2, False)):
            old, new = f"https://m.report.az/ru/{n}", f"https://report.az/ru/{n}"
            archive.save([_item(old, f"Статья {n}", _text(str(n)), at=T0)])
            archive.save([_item(new, f"Статья {n}", _text(str(n)), at=T0 + timedelta(hours=1))])
            gone = T0 + timedelta(days=1)  # a sweep found the mobile address gone
            seen = gone + timedelta(days=1) if found_later else gone - timedelta(hours=1)
            with archive.session.begin() as session:
                session.execute(update(Article).where(Article.url == old).values(
                    withdrawn_at=gone, withdrawn_by=WITHDRAWN_BY_SOURCE, withdrawn_reason="the source answered HTTP 404"
                ))  # fmt: skip
                session.execute(update(Article).where(Article.url == new).values(last_seen_at=seen))
        archive.rekey()
        shown, gone_row = _row(archive, "https://report.az/ru/1"), _row(archive, "https://report.az/ru/2")
        assert shown is not None and shown.withdrawn_at is None
        assert gone_row is not None and gone_row.withdrawn_by == WITHDRAWN_BY_SOURCE
    finally:
        archive.close()


# -- a crawl of today over an archive of an older release ------------------------------------------------------------

SECTION = "report.az/ru/proisshestviya"
TEMPLATE = f"{SECTION}/liven-v-baku-podtopleny-ulicy-v-treh-rajonah-stolicy.html"
TEMPLATE_TITLE = "Ливень в Баку: подтоплены улицы в трёх районах столицы"


def _page(slug: str, title: str) -> str:
    page = (SAMPLE / TEMPLATE).read_text(encoding="utf-8").replace(TEMPLATE_TITLE, title)
    page = re.sub(r'<link rel="canonical" href="[^"]*">', f'<link rel="canonical" href="https://{SECTION}/{slug}/">',
                  page, count=1)  # fmt: skip
    body = "".join(f"<p>{_text(title + str(n))}</p>" for n in range(3))
    return re.sub(r'(<div class="news-detail__desc">).*?(</div>)', rf"\g<1>{body}\g<2>", page, flags=re.S)


def _site(root: Path, titles: dict[str, str]) -> None:
    for slug, title in titles.items():
        (root / SECTION / f"{slug}.html").parent.mkdir(parents=True, exist_ok=True)
        (root / SECTION / f"{slug}.html").write_text(_page(slug, title), encoding="utf-8")
    cards = "".join(f'<a class="news__item" href="/ru/proisshestviya/{slug}/"><div class="news__title">…</div></a>'
                    for slug in titles)  # fmt: skip
    listing = (SAMPLE / f"{SECTION}.html").read_text(encoding="utf-8")
    block = f'<div class="index-post-block">{cards}</div><div class="sidebar">'
    listing = re.sub(r'<div class="index-post-block">.*?</div>\s*<div class="sidebar">', block, listing, flags=re.S)
    (root / f"{SECTION}.html").write_text(listing, encoding="utf-8")


def _crawl(db: str, mirror: str) -> None:
    env = {"AGGREGATOR_RECHECK_HOURS": "1000000", "AGGREGATOR_SWEEP_PER_RUN": "0"}  # every article is recent
    done = run_cli("--db", db, "crawl", "report", "--mirror", mirror, env=env)
    assert done.returncode == 0, done.stderr[-3000:]


def _section(archive: Archive) -> dict[str, int]:
    """URL -> versions of the section's articles."""
    with archive.reading() as session:
        rows = session.execute(select(Article.id, Article.url).where(Article.url.like(f"%{SECTION}/%"))).all()
    return {url: len(archive.snapshots(article_id)) for article_id, url in rows}


def test_an_article_archived_under_an_old_key_is_one_row_again_after_reextract(tmp_path: Path) -> None:
    overlay, db = tmp_path / "site", f"sqlite:///{tmp_path / 'archive.db'}"
    titles = {"one": "Первая статья о мосте", "two": "Вторая статья о вокзале"}
    _site(overlay, titles)
    with serve_mirror(SAMPLE, overlays=(overlay,)) as mirror:
        _crawl(db, mirror)
        archive = Archive.open(db)
        old = {
            f"https://{SECTION}/one": f"https://m.{SECTION}/one",
            f"https://{SECTION}/two": f"https://{SECTION}/two/amp",
        }
        with archive.session.begin() as session:  # what an older release had archived: the rows under those keys
            for url, key in old.items():
                article_id = session.scalar(select(Article.id).where(Article.url == url))
                session.execute(update(Article).where(Article.id == article_id).values(url=key, fetched_url=key))
                session.execute(update(Snapshot).where(Snapshot.article_id == article_id).values(url=key))
        archive.close()

        _site(overlay, {slug: f"{title}: обновлено" for slug, title in titles.items()})  # both pages change
        _crawl(db, mirror)
        archive = Archive.open(db)
        try:
            # Today's crawl archived each a second time, beside its old row: the article twice downstream.
            assert _section(archive) == {**dict.fromkeys(old.values(), 1), **dict.fromkeys(old, 1)}
        finally:
            archive.close()
        done = run_cli("--db", db, "reextract", "--source", "report")
        assert done.returncode == 0, done.stderr[-3000:]
        said = [line for line in done.stdout.splitlines() if line.startswith("re-keyed")]
        assert said and said[0].startswith("re-keyed by today's form of their URL: 0 article(s) renamed, 2 archived "
                                           "twice merged (article "), done.stdout  # fmt: skip
        archive = Archive.open(db)
        try:
            assert _section(archive) == dict.fromkeys(old, 2)  # one row each, with both versions
            assert dict(archive.redirects("report")).items() >= {(key, url) for url, key in old.items()}
        finally:
            archive.close()
        _site(overlay, {slug: f"{title}: обновлено снова" for slug, title in titles.items()})
        _crawl(db, mirror)  # the next crawl finds each at its row: a new version of it, not another row
        archive = Archive.open(db)
        try:
            assert _section(archive) == dict.fromkeys(old, 3)
        finally:
            archive.close()
