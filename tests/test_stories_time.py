"""Stories in time: an article joins no story of weeks ago, however much text it shares with it (``STORY_GAP``)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from aggregator.items import ArticleItem
from aggregator.store import Archive, story_index
from aggregator.store.models import Article, Story
from aggregator.stories import STORY_GAP, close_in_time, sketch, story_text
from tests.conftest import ROOT

STORIES = ROOT / "tests" / "fixtures" / "stories"
RECURRING = json.loads((STORIES / "sets" / "recurring.json").read_text(encoding="utf-8"))["texts"]


def article(name: str, text: str, published: datetime | None, source: str = "caliber") -> ArticleItem:
    url = f"https://{source}.az/post/{name}"
    return ArticleItem(
        source=source,
        url=url,
        canonical_url=url,
        language="ru",
        title=f"Заголовок {name}",
        body_html="".join(f"<p>{p}</p>" for p in text.split("\n\n")),
        body_text=text,
        published_at=published,
        raw_body=f"<html>{name}</html>".encode(),
    )


def recurring(name: str) -> ArticleItem:
    text = RECURRING[name]
    return article(name, text["text"], datetime.fromisoformat(text["published"]))


def stories_of(archive: Archive) -> dict[str, int | None]:
    with archive.session() as s:
        return {url.rsplit("/", 1)[1]: story for url, story in s.execute(select(Article.url, Article.story_id))}


def test_the_recurring_texts_match_last_years_or_last_months_text() -> None:
    """What the time limit is for: without it, these pairs of other news verify as one story (and the
    re-publications that cut the figures join this year's story to last year's)."""
    sketches = {name: sketch(story_text(None, text["text"])) for name, text in RECURRING.items()}
    pairs = [
        ("trial-hearing-march", "trial-hearing-april"),
        ("az-trial-hearing-march", "az-trial-hearing-april"),
        ("heat-warning-last-year", "heat-warning-reprint"),
        ("forum-last-year", "forum-reprint"),
    ]
    for old, new in pairs:
        assert sketches[old].same_story(sketches[new]) and sketches[old].comparable(sketches[new]), (old, new)
        gap = datetime.fromisoformat(RECURRING[new]["published"]) - datetime.fromisoformat(RECURRING[old]["published"])
        assert gap > STORY_GAP


ORDERS = {
    "as-published": lambda names: [[name] for name in sorted(names, key=lambda n: RECURRING[n]["published"])],
    "newest-first": lambda names: [[name] for name in sorted(names, key=lambda n: RECURRING[n]["published"])][::-1],
    "one-batch": lambda names: [sorted(names, key=lambda n: RECURRING[n]["published"])],
}


@pytest.mark.parametrize("order", ORDERS)
def test_an_article_joins_no_story_of_weeks_ago(archive: Archive, order: str) -> None:
    """A trial's next hearing six weeks later, under the same summary of the charges, joined the first hearing's
    story; a re-publication of this year's warning or forum opening that cut the paragraph of figures matched last
    year's too, and joined the two years into one story. Each is a story of its own, with its re-publications,
    whatever the order the archive gets them in (a backfill stores last year's pages after today's)."""
    for batch in ORDERS[order](list(RECURRING)):
        archive.save([recurring(name) for name in batch])
    got = stories_of(archive)
    assert all(got.values())
    for a, b in itertools.combinations(sorted(RECURRING), 2):
        same = RECURRING[a]["story"] == RECURRING[b]["story"]
        assert (got[a] == got[b]) == same, (a, b)
    assert archive.count(Story) == len({text["story"] for text in RECURRING.values()})


@pytest.mark.parametrize("order", ["as-published", "bridge-last"])
def test_re_publications_over_days_keep_one_story(archive: Archive, order: str) -> None:
    """Re-publications of one item days apart are one story: the gap is counted from the nearest article that an
    article matches, so a story runs on while they keep coming, even past STORY_GAP from its first article; and
    one that comes later than that after all of them starts a story of its own."""
    copy = RECURRING["trial-hearing-march"]["text"]
    start = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    days = {"agency": 0, "reprint": 4, "late-reprint": 8, "much-later": 8 + STORY_GAP.days + 1}
    items = {name: article(name, copy, start + timedelta(days=day)) for name, day in days.items()}
    names = ["agency", "late-reprint", "reprint"] if order == "bridge-last" else list(days)
    if order == "bridge-last":
        names.append("much-later")
    for name in names:
        archive.save([items[name]])
    got = stories_of(archive)
    assert got["agency"] == got["reprint"] == got["late-reprint"] != got["much-later"]
    assert archive.count(Story) == 2


def test_a_changed_version_without_a_date_is_matched_at_its_archived_date(archive: Archive) -> None:
    """A page fetched again with an edited text, and no date printed any longer, keeps its archived date (the
    upsert keeps it): matched at that date it stays in its story with last March's re-publication, rather than
    being taken for today's news and split off."""
    archive.save([recurring("trial-hearing-march"), recurring("trial-hearing-march-reprint")])
    text = RECURRING["trial-hearing-march"]["text"] + "\n\nНа заседании также присутствовали представители посольств."
    edited = article("trial-hearing-march", text, None)
    archive.save([edited])
    got = stories_of(archive)
    assert got["trial-hearing-march"] == got["trial-hearing-march-reprint"]
    with archive.session() as s:
        dated = s.scalar(select(Article.published_at).where(Article.url.endswith("/trial-hearing-march")))
    assert dated == datetime.fromisoformat(RECURRING["trial-hearing-march"]["published"])


def test_matching_again_reads_the_articles_dates(archive: Archive) -> None:
    """``assign`` (re-extraction) matches archived articles at their archived dates: the April hearing, matched
    again, does not join March's story."""
    names = ["trial-hearing-march", "trial-hearing-march-reprint", "trial-hearing-april"]
    archive.save([recurring(name) for name in names])
    with archive.session.begin() as s:  # as if the April hearing had been stored before the time limit
        march = s.scalar(select(Article.story_id).where(Article.url.endswith("/trial-hearing-march")))
        s.execute(update(Article).where(Article.url.endswith("/trial-hearing-april")).values(story_id=march))
    april = archive.article_id_for("https://caliber.az/post/trial-hearing-april")
    assert april is not None
    with archive.engine.begin() as conn:
        story_index.assign(conn, [(april, sketch(story_text(None, RECURRING["trial-hearing-april"]["text"])).pack())])
    got = stories_of(archive)
    assert got["trial-hearing-march"] == got["trial-hearing-march-reprint"] != got["trial-hearing-april"]


def test_candidates_of_a_date(archive: Archive) -> None:
    """The single-article lookup applies the same limit when given a date (none: any date)."""
    archive.save([recurring("trial-hearing-march")])
    april = sketch(story_text(None, RECURRING["trial-hearing-april"]["text"]))
    when = datetime.fromisoformat(RECURRING["trial-hearing-april"]["published"])
    with archive.engine.connect() as conn:
        assert len(story_index.candidates(conn, None, april)) == 1
        assert story_index.candidates(conn, None, april, when) == []
        assert len(story_index.candidates(conn, None, april, when - timedelta(days=40))) == 1


def test_close_in_time() -> None:
    at = datetime(2026, 3, 3, tzinfo=UTC)
    assert close_in_time(at, at + STORY_GAP) and close_in_time(at + STORY_GAP, at)
    assert not close_in_time(at, at + STORY_GAP + timedelta(seconds=1))
    assert close_in_time(None, at) and close_in_time(at, None)
