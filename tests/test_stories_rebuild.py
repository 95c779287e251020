"""``aggregator stories rebuild``: today's story rules applied to the whole archive, stories joined under an older
rule undone (``aggregator.store.story_index.rebuild``)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from aggregator import stories
from aggregator.items import ArticleItem
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.models import Article, Story, StoryBucket
from aggregator.store.story_index import Rebuild, rebuild
from tests.conftest import ROOT, run_cli

RECURRING = json.loads((ROOT / "tests" / "fixtures" / "stories" / "sets" / "recurring.json").read_text("utf-8"))[
    "texts"
]
IN_ORDER = sorted(RECURRING, key=lambda name: RECURRING[name]["published"])
"""Archived in the order they were published, one at a time."""
BEFORE_THE_RULE = timedelta(days=100_000)
"""``STORY_GAP`` as it was before the time limit: none."""


def item(name: str, source: str = "caliber") -> ArticleItem:
    text = RECURRING[name]
    url = f"https://{source}.az/post/{name}"
    return ArticleItem(
        source=source,
        url=url,
        canonical_url=url,
        language="ru",
        title=f"Заголовок {name}",
        body_html="".join(f"<p>{p}</p>" for p in text["text"].split("\n\n")),
        body_text=text["text"],
        published_at=datetime.fromisoformat(text["published"]),
        raw_body=f"<html>{name}</html>".encode(),
    )


def archived_before_the_rule(archive: Archive, monkeypatch: pytest.MonkeyPatch, names: list[str]) -> None:
    """The articles archived one by one while any two matching texts were one story, however far apart."""
    with monkeypatch.context() as patched:
        patched.setattr(stories, "STORY_GAP", BEFORE_THE_RULE)
        for name in names:
            archive.save([item(name)])


def stories_of(archive: Archive) -> dict[str, int | None]:
    with archive.session() as s:
        return {url.rsplit("/", 1)[1]: story for url, story in s.execute(select(Article.url, Article.story_id))}


def assert_labelled(got: dict[str, int | None]) -> None:
    assert all(got.values())
    for a, b in itertools.combinations(sorted(got), 2):
        assert (got[a] == got[b]) == (RECURRING[a]["story"] == RECURRING[b]["story"]), (a, b)


def state(archive: Archive) -> tuple[Any, ...]:
    """Everything a rebuild may write: articles' stories and sketches, the stories' rows, the buckets."""
    with archive.session() as s:
        return (
            s.execute(
                select(Article.id, Article.story_id, Article.minhash, Article.updated_at).order_by(Article.id)
            ).all(),
            s.execute(select(Story.id, Story.created_at, Story.updated_at).order_by(Story.id)).all(),
            sorted(s.execute(select(StoryBucket.band, StoryBucket.bucket, StoryBucket.article_id)).all()),
        )


def test_a_rebuild_undoes_the_joins_of_an_older_rule_and_a_second_changes_nothing(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Last year's forum, last month's hearing and last year's warning were joined to this year's under the rule
    before the time limit; matching the articles again would leave them so (they have a story, their text is the
    same). A rebuild groups them as a fresh crawl does today; a second one finds nothing to do and writes nothing."""
    archived_before_the_rule(archive, monkeypatch, IN_ORDER)
    stale = stories_of(archive)
    assert stale["forum-last-year"] == stale["forum"] == stale["forum-reprint"]
    assert stale["trial-hearing-march"] == stale["trial-hearing-april"]
    stories_before = archive.count(Story)

    result = rebuild(archive.engine, size=4)
    got = stories_of(archive)
    assert_labelled(got)
    assert result.articles == result.total == len(RECURRING)
    assert result.moved == sum(got[name] != stale[name] for name in RECURRING) > 0
    assert (result.stories_before, result.stories_after) == (stories_before, archive.count(Story))
    assert result.stories_after == len({text["story"] for text in RECURRING.values()}) > stories_before
    assert result.sketched == 0
    # The first article archived of an old story keeps its id (a downstream site links to it); the ones the
    # rule takes out of it get a new one. Last year's forum was archived first: this year's leave its story.
    assert got["forum-last-year"] == stale["forum-last-year"]
    assert got["trial-hearing-march"] == stale["trial-hearing-march"]
    assert got["forum"] not in set(stale.values())

    before = state(archive)
    again = rebuild(archive.engine, size=4)
    assert (again.articles, again.moved, again.sketched) == (len(RECURRING), 0, 0)
    assert again.stories_before == again.stories_after == result.stories_after
    assert state(archive) == before


def test_the_rebuild_groups_as_a_fresh_crawl_in_any_batch_size(
    archive: Archive, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Archived newest first (a backfill after the crawl) under the old rule, then rebuilt in batches of one, of
    three, and of all: each time the grouping, and the story each article gets, of a fresh archive that took the
    articles in the same order under today's rule."""
    order = IN_ORDER[::-1]
    archived_before_the_rule(archive, monkeypatch, order)
    fresh = Archive.open(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.sync_sources(all_sources())
    for name in order:
        fresh.save([item(name)])
    expected = stories_of(fresh)
    fresh.close()
    for size in (1, 3, len(RECURRING)):
        rebuild(archive.engine, size=size)
        got = stories_of(archive)
        assert_labelled(got)
        for a, b in itertools.combinations(order, 2):
            assert (got[a] == got[b]) == (expected[a] == expected[b]), (size, a, b)


def test_old_sketches_are_sketched_anew_and_their_buckets_replaced(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An article with no sketch (archived before stories) or one of an older scheme is sketched from its archived
    text, as the crawl's pipeline sketches it; its buckets are the new sketch's."""
    names = ["heat-warning-last-year", "heat-warning", "heat-warning-reprint"]
    archived_before_the_rule(archive, monkeypatch, names)
    with archive.session.begin() as s:
        s.execute(update(Article).where(Article.url.endswith("/heat-warning")).values(minhash=None))
        blob = s.scalar(select(Article.minhash).where(Article.url.endswith("/heat-warning-reprint")))
        assert blob is not None
        older = bytes([stories.OLD_SCHEME]) + blob[1 : 5 + 4 * stories.NUM_PERM]  # scheme 2: no facts
        s.execute(update(Article).where(Article.url.endswith("/heat-warning-reprint")).values(minhash=older))
        s.execute(StoryBucket.__table__.delete().where(StoryBucket.article_id.in_(select(Article.id).where(
            Article.url.endswith("/heat-warning")))))  # fmt: skip
    result = rebuild(archive.engine)
    assert result.sketched == 2
    assert_labelled(stories_of(archive))
    with archive.session() as s:
        rows = s.execute(select(Article.id, Article.title, Article.body_text, Article.minhash)).all()
        for article_id, title, body, minhash in rows:
            assert minhash == stories.sketch(stories.story_text(title, body)).pack()
            buckets = set(s.execute(select(StoryBucket.band, StoryBucket.bucket).where(
                StoryBucket.article_id == article_id)).all())  # fmt: skip
            assert buckets == set(stories.Sketch.unpack(minhash).buckets())  # type: ignore[union-attr]
    assert archive.count(StoryBucket) == len(names) * stories.BANDS


def test_a_crawls_articles_archived_during_the_rebuild_are_matched_too(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crawl writes between the rebuild's batches (each its own transaction, in the writers' turn): an article it
    archives meanwhile, matched by the crawl against stories not rebuilt yet, is matched again when the rebuild
    reaches it, since the rebuild goes on to the last article it finds."""
    archived_before_the_rule(archive, monkeypatch, ["forum-last-year", "forum"])
    crawled: list[int] = []

    def crawl_beside(result: Rebuild) -> None:
        if not crawled:
            with monkeypatch.context() as patched:  # a worker still on the old release
                patched.setattr(stories, "STORY_GAP", BEFORE_THE_RULE)
                crawled.extend(archive.save([item("forum-reprint")]).new_ids)

    result = rebuild(archive.engine, size=1, progress=crawl_beside)
    assert crawled and result.articles == 3 and result.total == 2
    assert_labelled(stories_of(archive))


def test_since_and_source_leave_the_other_articles_as_they_are(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--since``: the articles archived before it are left as they are (the rebuild starts at the first one
    archived since, in archive order); ``--source``: only that source's articles are matched again."""
    archived_before_the_rule(archive, monkeypatch, IN_ORDER)
    stale = stories_of(archive)
    earlier = IN_ORDER[: IN_ORDER.index("trial-hearing-april") + 1]
    with archive.session.begin() as s:  # the first ones (to March's hearings) archived a year ago, the rest now
        s.execute(update(Article).where(Article.url.in_([item(name).url for name in earlier])).values(
            archived_at=datetime(2025, 1, 1, tzinfo=UTC)))  # fmt: skip
    assert rebuild(archive.engine, source="report").articles == 0
    assert rebuild(archive.engine, since=datetime.now(UTC) + timedelta(days=1)).articles == 0
    assert stories_of(archive) == stale
    since = rebuild(archive.engine, since=datetime(2026, 1, 1, tzinfo=UTC))
    got = stories_of(archive)
    assert since.articles == len(IN_ORDER) - len(earlier)
    assert got["forum-last-year"] != got["forum"]
    assert got["trial-hearing-march"] == got["trial-hearing-april"]  # archived before --since: as it was


def test_the_command_prints_what_it_changed(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = Archive.open(sqlite_url)
    archive.sync_sources(all_sources())
    archived_before_the_rule(archive, monkeypatch, IN_ORDER)
    before = archive.count(Story)
    archive.close()
    done = run_cli("--db", sqlite_url, "stories", "rebuild")
    assert done.returncode == 0, done.stderr
    after = len({text["story"] for text in RECURRING.values()})
    assert f"matched {len(RECURRING)} article(s) again in the order they were archived" in done.stdout, done.stdout
    assert f"stories: {before} before, {after} after" in done.stdout, done.stdout
    again = run_cli("--db", sqlite_url, "stories", "rebuild")
    assert "0 moved to another story" in again.stdout, again.stdout
    refused = run_cli("--db", sqlite_url, "stories", "rebuild", "--since", "yesterday")
    assert refused.returncode != 0 and "not an ISO 8601 date" in refused.stderr + refused.stdout
