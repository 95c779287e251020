"""``articles.changed_at``: every write that changes what the downstream site shows of an article stamps it, so that
the change feed (``/api/changes``, ``export --changed-since``) lists it; ``updated_at`` stays the content's time.
On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from aggregator.store import Archive, story_index
from aggregator.store.models import Article, Story
from aggregator.stories import sketch
from tests.test_store import T0, item
from tests.test_withdrawn import gone

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def times(archive: Archive) -> dict[str, tuple[datetime, datetime]]:
    """Each article's URL -> (updated_at, changed_at)."""
    with archive.engine.connect() as conn:
        rows = conn.execute(select(Article.url, Article.updated_at, Article.changed_at)).all()
    return {url: (updated, changed) for url, updated, changed in rows}


def settled(archive: Archive) -> None:
    """Every article's times put back to long ago: what a write changes afterwards stands out."""
    with archive.engine.begin() as conn:
        conn.execute(update(Article).values(updated_at=LONG_AGO, changed_at=LONG_AGO))


def test_archiving_and_editing_stamp_both_times(archive: Archive) -> None:
    before = datetime.now(UTC)
    archive.save([item(1), item(2)])
    stamped = times(archive)
    assert all(updated == changed >= before for updated, changed in stamped.values())
    settled(archive)
    archive.save([item(1, title="Заголовок 1, исправлен", fetched_at=T0 + timedelta(hours=1)), item(2)])
    after = times(archive)
    assert after[item(1).canonical_url][0] == after[item(1).canonical_url][1] > LONG_AGO  # edited
    assert after[item(2).canonical_url] == (LONG_AGO, LONG_AGO)  # fetched again, unchanged: no change


def test_a_withdrawal_and_a_restoration_are_changes_of_what_is_shown_not_of_the_content(archive: Archive) -> None:
    """By an operator, and by the source (its page gone, then found again): ``changed_at`` moves each time,
    ``updated_at`` (the feeds' and sitemaps' date, a run's "updated" count) does not."""
    ids = archive.save([item(1), item(2)]).new_ids
    settled(archive)
    archive.withdraw([ids[0]], "a court order")
    archive.save([], [gone("https://caliber.az/post/story-2/", 404)])
    withdrawn = times(archive)
    for n in (1, 2):
        assert withdrawn[item(n).canonical_url][0] == LONG_AGO
        assert withdrawn[item(n).canonical_url][1] > LONG_AGO
    settled(archive)
    archive.restore([ids[0]])
    archive.mark_seen([item(2).canonical_url])  # a 304 for the page: there again
    restored = times(archive)
    for n in (1, 2):
        assert restored[item(n).canonical_url][0] == LONG_AGO
        assert restored[item(n).canonical_url][1] > LONG_AGO


def test_a_re_extraction_that_changes_an_article_is_a_change(archive: Archive) -> None:
    """An article whose fields change has changed; one only sketched again (its sketch lost here), its story the
    same, has not."""
    ids = archive.save([item(1), item(2)]).new_ids
    settled(archive)
    with archive.engine.begin() as conn:
        conn.execute(update(Article).where(Article.id == ids[1]).values(minhash=None))
    changed = archive.update_extractions([(ids[0], item(1, title="Заголовок 1, прочитан иначе")), (ids[1], item(2))])
    assert changed.changed == {ids[0]}
    after = times(archive)
    assert after[item(1).canonical_url][1] > LONG_AGO and after[item(2).canonical_url][1] == LONG_AGO


def test_an_article_moved_to_another_story_has_changed(archive: Archive) -> None:
    """A and C tell two stories until B, which overlaps both, joins them: C moves to A's story (its page now lists
    A's source beside it), A stays where it was."""
    words = [f"слово{i}" for i in range(200)]
    a, b, c = (" ".join(words[start : start + 100]) for start in (0, 30, 70))
    assert not sketch(a).same_story(sketch(c))

    def told(n: int, text: str):
        return item(n, body_text=text, body_html=f"<p>{text}</p>")

    archive.save([told(1, a)])
    archive.save([told(3, c)])
    settled(archive)
    archive.save([told(2, b)])
    after = times(archive)
    with archive.engine.connect() as conn:
        stories = dict(conn.execute(select(Article.url, Article.story_id)).all())
    assert len(set(stories.values())) == 1
    assert after[item(1).canonical_url] == (LONG_AGO, LONG_AGO)
    assert after[item(3).canonical_url][0] == LONG_AGO and after[item(3).canonical_url][1] > LONG_AGO


def test_a_rebuild_that_moves_an_article_changes_it_and_none_other(archive: Archive) -> None:
    """``stories rebuild`` puts an article an older rule left in a story of its own back with its re-telling: that
    article has changed; the one whose story stays, and the sketches written again, are no change."""
    text = " ".join(f"слово{i}" for i in range(100))
    archive.save([item(1, body_text=text), item(2, body_text=text + " ещё")])
    with archive.session.begin() as session:
        alone = Story()
        session.add(alone)
        session.flush()
        session.execute(update(Article).where(Article.url == item(2).canonical_url).values(story_id=alone.id))
    settled(archive)
    story_index.rebuild(archive.engine)
    after = times(archive)
    assert after[item(1).canonical_url] == (LONG_AGO, LONG_AGO)
    assert after[item(2).canonical_url][0] == LONG_AGO and after[item(2).canonical_url][1] > LONG_AGO


def test_an_article_given_today_s_key_has_changed(archive: Archive) -> None:
    """``rekey`` renames a row keyed by an older release's form of its URL: its source link is another."""
    old = "https://m.report.az/ru/most"
    archive.save([item(1, source="report", url=old, canonical_url=old)])
    settled(archive)
    assert archive.rekey().renamed == 1
    assert times(archive)["https://report.az/ru/most"][1] > LONG_AGO
