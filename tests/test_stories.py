"""Stories: near-duplicates share one, look-alikes do not; on both databases, through crawls and re-extraction."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select, update

from aggregator.items import ArticleItem
from aggregator.reextract import reextract
from aggregator.sources import all_sources
from aggregator.store import Archive, story_index
from aggregator.store.models import Article, Story, StoryBucket
from aggregator.store.story_index import HOT_BUCKET, candidates
from aggregator.stories import (
    BANDS,
    NUM_PERM,
    OLD_SCHEME,
    SCHEME,
    Sketch,
    sketch,
    stored_buckets,
    story_text,
)
from tests.conftest import ROOT, run_cli

STORIES = ROOT / "tests" / "fixtures" / "stories"


def labelled_texts() -> list[dict]:
    texts = []
    for path in sorted((STORIES / "pairs").glob("*.json")):
        for text in json.loads(path.read_text(encoding="utf-8"))["texts"]:
            texts.append({**text, "id": f"{path.stem}:{text['id']}", "language": path.stem})
    return texts


def test_the_labelled_set_covers_three_languages_and_hard_negatives() -> None:
    texts = labelled_texts()
    assert {t["language"] for t in texts} == {"ru", "az", "en"}
    kinds = " ".join(t["kind"] for t in texts)
    assert kinds.count("template twin") >= 6 and kinds.count("look-alike") >= 6
    assert sum(1 for a, b in itertools.combinations(texts, 2) if a["story"] and a["story"] == b["story"]) >= 10


def test_every_true_pair_is_found_and_no_false_one() -> None:
    texts = labelled_texts()
    sketches = {t["id"]: sketch(story_text(None, t["text"])) for t in texts}  # as the store sketches a body
    missed, false = [], []
    for a, b in itertools.combinations(texts, 2):
        same = bool(a["story"]) and a["story"] == b["story"]
        sa, sb = sketches[a["id"]], sketches[b["id"]]
        candidate = bool(set(sa.buckets()) & set(sb.buckets()))  # what the database lookup would find
        found = candidate and sa.same_story(sb)
        if same and not found:
            missed.append((a["id"], b["id"], round(sa.containment(sb), 2)))
        if found and not same:
            false.append((a["id"], b["id"], round(sa.containment(sb), 2)))
    assert missed == [], "recall: true pairs not found"
    assert false == [], "precision: pairs wrongly joined"


def test_the_sketch_is_the_same_in_every_process() -> None:
    text = labelled_texts()[0]["text"]
    code = "import sys; from aggregator.stories import sketch; sys.stdout.write(sketch(sys.stdin.read()).pack().hex())"
    other = subprocess.run(
        [sys.executable, "-c", code], input=text, capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert bytes.fromhex(other) == sketch(text).pack()
    unpacked = Sketch.unpack(sketch(text).pack())
    assert unpacked is not None and unpacked.jaccard(sketch(text)) == 1.0


PINNED_DIGESTS = {
    2: "971270c4a81fb3ee04bda786ef38e258cfaa7273766834c2385122f1a34fe1ae",
    3: "bc6419bb70b28768db7ee4697b5d24e8d51bb9d6cdc001c3186cd71bad00b0fe",
}
"""Per sketch scheme, the SHA-256 of the packed sketch of the first labelled text as that scheme computed it when its
sketches were first stored. Archived sketches are compared with new ones: a release that computes them otherwise
must bump SCHEME (and pin the new scheme's digest here)."""


def test_the_sketch_is_the_same_in_every_release_of_its_scheme() -> None:
    packed = sketch(labelled_texts()[0]["text"]).pack()
    assert hashlib.sha256(packed).hexdigest() == PINNED_DIGESTS.get(SCHEME), f"scheme {SCHEME} computes other sketches"
    # Scheme 3 is scheme 2's values and the facts after them: an article's scheme-2 bucket rows are the ones its
    # scheme-3 sketch gives it (they are replaced, not written twice, when it is sketched again).
    old = bytes([OLD_SCHEME]) + packed[1 : 5 + 4 * NUM_PERM]
    assert hashlib.sha256(old).hexdigest() == PINNED_DIGESTS[OLD_SCHEME]
    assert stored_buckets(old) == stored_buckets(packed) == Sketch.unpack(packed).buckets()  # type: ignore[union-attr]
    assert Sketch.unpack(old) is None  # not matched: it has no facts to check


def by_id(name: str) -> str:
    return next(t["text"] for t in labelled_texts() if t["id"] == name)


def article(n: int, text: str, source: str = "caliber") -> ArticleItem:
    return ArticleItem(
        source=source,
        url=f"https://caliber.az/post/s-{n}",
        canonical_url=f"https://caliber.az/post/s-{n}",
        language="ru",
        title=f"Заголовок {n}",
        body_html="".join(f"<p>{p}</p>" for p in text.split("\n\n")),
        body_text=text,
        raw_body=f"<html>{n}</html>".encode(),
    )


def stories_of(archive: Archive) -> dict[str, int | None]:
    with archive.session() as s:
        return {row.url: row.story_id for row in s.execute(select(Article.url, Article.story_id))}


def test_near_duplicates_share_a_story_in_the_archive(archive: Archive) -> None:
    agency, retold = by_id("ru:quake-agency"), by_id("ru:quake-retold")
    twin, other = by_id("ru:quake-template-twin"), by_id("ru:metro-agency")
    archive.save([article(1, agency), article(2, twin)])  # one batch: matched in order inside it
    archive.save([article(3, retold)])
    archive.save([article(4, other), article(5, by_id("ru:metro-short"))])
    got = stories_of(archive)
    assert all(got.values())
    assert got["https://caliber.az/post/s-3"] == got["https://caliber.az/post/s-1"]
    assert got["https://caliber.az/post/s-2"] not in {got["https://caliber.az/post/s-1"], None}
    assert got["https://caliber.az/post/s-4"] == got["https://caliber.az/post/s-5"]
    assert len(set(got.values())) == 3
    assert archive.count(Story) == 3
    assert archive.count(StoryBucket) == 5 * BANDS  # the buckets live in the database

    archive.save([article(3, retold)])  # an unchanged fetch changes nothing
    assert stories_of(archive) == got and archive.count(StoryBucket) == 5 * BANDS


def test_a_changed_text_gets_its_buckets_replaced(archive: Archive) -> None:
    agency, retold = by_id("en:ferry-agency"), by_id("en:ferry-retold")
    archive.save([article(1, agency), article(2, retold)])
    first = stories_of(archive)
    assert first["https://caliber.az/post/s-1"] == first["https://caliber.az/post/s-2"]
    with archive.session() as s:
        old = set(s.execute(select(StoryBucket.band, StoryBucket.bucket).where(StoryBucket.article_id == 2)))

    archive.save([article(2, by_id("en:chess-agency"))])  # the source replaced the text with other news
    second = stories_of(archive)
    assert second["https://caliber.az/post/s-2"] != second["https://caliber.az/post/s-1"]
    with archive.session() as s:
        new = set(s.execute(select(StoryBucket.band, StoryBucket.bucket).where(StoryBucket.article_id == 2)))
    assert len(new) == BANDS and not (new & old)
    assert archive.count(StoryBucket) == 2 * BANDS

    archive.save([article(3, by_id("en:chess-retold"))])  # a re-telling of the new text finds it
    assert stories_of(archive)["https://caliber.az/post/s-3"] == stories_of(archive)["https://caliber.az/post/s-2"]
    assert archive.count(Story) == 2  # no story is left without articles


def write(barrier: threading.Barrier, errors: list[BaseException], archive: Archive, n: int, text: str) -> None:
    try:
        barrier.wait()
        archive.save([article(n, text)])
    except BaseException as exc:
        errors.append(exc)


def test_two_writers_at_once_make_one_story(db_url: str) -> None:
    """Each round, two archives (as two crawl processes would) save the two halves of a pair at the same moment."""
    writers = [Archive.open(db_url), Archive.open(db_url)]
    writers[0].sync_sources(all_sources())
    pairs = [("ru:cbar-rate-agency", "ru:cbar-rate-retold-lead"), ("az:flight-agency", "az:flight-retold"),
             ("en:budget-agency", "en:budget-retold"), ("az:museum-agency", "az:museum-retold")]  # fmt: skip
    for round_, (a, b) in enumerate(pairs):
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=write, args=(barrier, errors, writers[0], 10 * round_, by_id(a))),
            threading.Thread(target=write, args=(barrier, errors, writers[1], 10 * round_ + 1, by_id(b))),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        got = stories_of(writers[0])
        assert got[f"https://caliber.az/post/s-{10 * round_}"] == got[f"https://caliber.az/post/s-{10 * round_ + 1}"]
    assert writers[0].count(Story) == len(pairs)
    for w in writers:
        w.close()


def labels() -> dict[str, str | None]:
    merged: dict[str, str | None] = {}
    for path in sorted(STORIES.glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def check_story_labels(archive: Archive) -> None:
    """The archive's story groups equal the labels of every source's bundled sample."""
    want = labels()
    got = stories_of(archive)
    missing = sorted(set(want) - set(got))
    assert missing == [], "labelled pages not archived"
    for a, b in itertools.combinations(sorted(want), 2):
        same = want[a] is not None and want[a] == want[b]
        assert (got[a] == got[b]) == same, (a, want[a], b, want[b])


def test_the_crawled_sample_has_the_labelled_stories(db_url: str, tmp_path: Path) -> None:
    assert (STORIES / "caliber.json").exists() and {"gas-igdir", "demining-conference", "baku-rain"} <= set(
        labels().values()
    )
    done = run_cli("--db", db_url, "crawl", "--all", "--offline", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    archive = Archive.open(db_url)
    check_story_labels(archive)
    # Of caliber's own sample, only the labelled stories have more than one article (its other articles on gas,
    # mines and Baku are look-alikes).
    with archive.session() as s:
        rows = list(s.execute(select(Article.url, Article.story_id).where(Article.source == "caliber")))
    groups: dict[int, list[str]] = {}
    for url, story in rows:
        groups.setdefault(story, []).append(url)
    shared = [sorted(urls) for urls in groups.values() if len(urls) > 1]
    assert all(all(labels().get(u) for u in urls) for urls in shared), shared

    listed = run_cli("--db", db_url, "stories", "list", "--source", "caliber", "--json")
    assert listed.returncode == 0, listed.stderr
    stories = json.loads(listed.stdout)
    every = stories_of(archive)
    by_story: dict[int | None, set[str]] = {}
    for url, story in every.items():
        by_story.setdefault(story, set()).add(url)
    told = {every[url] for url, key in labels().items() if key and url.startswith("https://caliber.az/")}
    assert {s["id"] for s in stories} == {story for story in told if len(by_story[story]) > 1}
    for story in stories:  # whole stories, every source's articles, one labelled story each
        urls = {a["url"] for a in story["articles"]}
        assert urls == by_story[story["id"]] and "caliber" in story["sources"]
        assert len({labels()[u] for u in urls if u in labels()}) == 1
    if stories:
        story_id = stories[0]["id"]
        shown = json.loads(run_cli("--db", db_url, "stories", "show", str(story_id), "--json").stdout)
        assert shown["id"] == story_id and shown["sources"] and len(shown["articles"]) >= 2
    missing = run_cli("--db", db_url, "stories", "show", "999999")
    assert missing.returncode == 2 and "no story with id 999999" in missing.stderr

    # Re-extraction rebuilds lost or stale stories from the stored pages.
    with archive.session.begin() as s:
        s.execute(delete(StoryBucket))
        s.execute(update(Article).values(story_id=None, minhash=None))
        s.execute(delete(Story))
    reextract(archive)
    check_story_labels(archive)
    assert archive.count(StoryBucket) > 0
    archive.close()


def test_an_article_with_its_story_siblings_and_the_most_read(archive: Archive) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
    items = [
        article(1, by_id("az:flight-agency")),
        article(2, by_id("az:flight-retold")),
        article(3, by_id("en:chess-agency")),
    ]
    for n, it in enumerate(items):
        it.published_at = now - timedelta(hours=30 if n == 0 else 2)
    archive.save(items)
    ids = {a.url.rsplit("-", 1)[1]: a.id for a in archive.list_articles()}
    found = archive.with_siblings(ids["1"])
    assert found is not None
    assert [a.id for a in found[1]] == [ids["2"]]
    assert archive.with_siblings(ids["3"])[1] == []  # type: ignore[index]
    assert archive.with_siblings(999_999) is None
    with archive.session.begin() as s:
        for key, views in (("1", 900), ("2", 5), ("3", 40)):
            s.execute(update(Article).where(Article.id == ids[key]).values(views=views))
    assert [a.id for a in archive.most_read(hours=24, now=now)] == [ids["3"], ids["2"]]  # the 30-hour-old one is out


def test_a_story_places_an_undated_article_by_its_archive_time_on_both_back_ends(archive: Archive) -> None:
    """`stories show`, `stories list` and an article's siblings list a story earliest first. They sorted by the
    published time alone: an undated article (NULL) came first on SQLite and last on PostgreSQL, wherever its
    archive time, the time `articles list` and the story's own "latest" place it by."""
    from datetime import UTC, datetime, timedelta

    # Hours before now: the undated one, archived now, is near enough in time to join the other two (STORY_GAP).
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
    text = by_id("ru:quake-agency")
    items = [article(1, text), article(2, text), article(3, text)]  # one text three times: one story
    items[0].published_at = at + timedelta(hours=2)
    items[2].published_at = at - timedelta(hours=2)
    archive.save(items)
    with archive.session.begin() as s:  # the undated one archived between the two published times
        s.execute(update(Article).where(Article.url == "https://caliber.az/post/s-2").values(archived_at=at))
    ids = {a.url.rsplit("-", 1)[1]: a.id for a in archive.list_articles()}
    earliest_first = [ids["3"], ids["2"], ids["1"]]
    found = archive.story(archive.get_article(ids["1"]).story_id)  # type: ignore[union-attr, arg-type]
    assert found is not None and [a.id for a in found[1]] == earliest_first
    ((_, members),) = archive.list_stories()
    assert [a.id for a in members] == earliest_first
    assert [a.id for a in archive.with_siblings(ids["3"])[1]] == earliest_first[1:]  # type: ignore[index]


def test_an_article_bridging_two_stories_joins_them_whatever_the_order(archive: Archive) -> None:
    # Three versions of one copy, each overlapping the next: A ~ B and B ~ C, but A and C alone are too far apart.
    # Crawled A, C, then B (sources crawled in another order), the three still end up one story.
    words = [f"слово{i}" for i in range(200)]
    a, b, c = (" ".join(words[start : start + 100]) for start in (0, 30, 70))
    assert not sketch(a).same_story(sketch(c)) and sketch(a).same_story(sketch(b)) and sketch(b).same_story(sketch(c))
    archive.save([article(1, a)])
    archive.save([article(3, c)])
    before = stories_of(archive)
    assert before["https://caliber.az/post/s-1"] != before["https://caliber.az/post/s-3"]
    archive.save([article(2, b)])
    got = stories_of(archive)
    assert len(set(got.values())) == 1
    assert archive.count(Story) == 1


def crafted(values: np.ndarray) -> bytes:
    """A packed sketch with the given values (of a 200-shingle text): what matching reads of an article."""
    return Sketch(values.astype(np.uint32), 200).pack()


def test_a_bucket_many_unrelated_articles_share_is_left_out_of_matching(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Articles that share one phrase and nothing else (a standard sentence) fill one bucket of one band: past
    HOT_BUCKET articles it is no evidence, and a new article that shares only it verifies no candidate; a true
    re-telling still finds its original through its other bands."""
    rng = np.random.default_rng(7)
    shared_phrase = 12345

    def values() -> np.ndarray:
        drawn = rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64)
        drawn[0] = shared_phrase
        return drawn

    originals = [values() for _ in range(HOT_BUCKET + 5)]
    items = []
    for n, drawn in enumerate(originals):
        item = article(n, f"текст {n}")
        item.minhash = crafted(drawn)
        items.append(item)
    archive.save(items)
    assert len(set(stories_of(archive).values())) == len(originals)  # one phrase in common is not one story

    verified: list[int] = []
    same_story = Sketch.same_story

    def counting(self: Sketch, other: Sketch) -> bool:
        verified.append(1)
        return same_story(self, other)

    monkeypatch.setattr(Sketch, "same_story", counting)
    unrelated = article(1000, "другой текст")
    unrelated.minhash = crafted(values())
    with archive.engine.connect() as conn:
        assert candidates(conn, None, Sketch.unpack(unrelated.minhash)) == []  # type: ignore[arg-type]
    archive.save([unrelated])
    assert verified == []

    retold = originals[3].copy()
    changed = rng.choice(np.arange(1, NUM_PERM), size=NUM_PERM // 3, replace=False)
    retold[changed] = rng.integers(0, 2**32, size=len(changed), dtype=np.uint64)
    copy = article(1001, "пересказ")
    copy.minhash = crafted(retold)
    with archive.engine.connect() as conn:
        found = candidates(conn, None, Sketch.unpack(copy.minhash))  # type: ignore[arg-type]
    assert [m.article_id for m in found] == [archive.article_id_for("https://caliber.az/post/s-3")]
    archive.save([copy])
    got = stories_of(archive)
    assert got["https://caliber.az/post/s-1001"] == got["https://caliber.az/post/s-3"]
    assert 0 < len(verified) <= 3  # the original, from its own bands only


def test_two_writers_saving_one_article_at_once(db_url: str) -> None:
    """The same page fetched by two crawls at the same moment: one article, one story, its buckets once."""
    writers = [Archive.open(db_url), Archive.open(db_url)]
    writers[0].sync_sources(all_sources())
    texts = [by_id(name) for name in ("ru:quake-agency", "en:ferry-agency", "az:harvest-agency", "ru:metro-agency")]
    for round_, text_ in enumerate(texts):
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [threading.Thread(target=write, args=(barrier, errors, w, 100 + round_, text_)) for w in writers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
    assert writers[0].count(Article) == len(texts)
    assert writers[0].count(Story) == len(texts)
    assert writers[0].count(StoryBucket) == len(texts) * BANDS
    for w in writers:
        w.close()


def test_story_commands_print_titles_as_text(sqlite_url: str) -> None:
    """A title's brackets ("[video]") are printed as they are, not read as Rich markup and dropped."""
    from datetime import UTC, datetime

    body = " ".join(f"В Гяндже ливень затопил улицу номер {n}, спасатели откачивают воду." for n in range(30))
    at = datetime(2026, 9, 14, 10, 0, tzinfo=UTC)
    archive = Archive.open(sqlite_url)
    archive.sync_sources(all_sources())
    archive.save(
        [
            ArticleItem(source=source, url=f"https://{source}.az/post/rain", language="ru",
                        title=f"[video] Rain {source}", body_html=f"<p>{body}</p>", body_text=body, published_at=at,
                        fetched_at=at)
            for source in ("caliber", "report")
        ]
    )  # fmt: skip
    archive.close()
    listed = run_cli("--db", sqlite_url, "stories", "list")
    assert listed.returncode == 0 and "[video] Rain caliber" in listed.stdout, listed.stdout
    (story,) = json.loads(run_cli("--db", sqlite_url, "stories", "list", "--json").stdout)
    shown = run_cli("--db", sqlite_url, "stories", "show", str(story["id"]))
    assert "[video] Rain report" in shown.stdout, shown.stdout


def test_a_daily_item_is_other_news_every_day(archive: Archive) -> None:
    """The central bank's rates, the weather and oil prices fill one template with other figures every day. Their
    fixed phrases between the figures made each day's item join the day before's story, and through it every
    earlier day's: one story of all the rates ever published. Each day is a story of its own, which a re-publication
    of that day's item joins."""
    series = [
        ("ru:rates-dec05", "ru:rates-dec06", "ru:rates-dec07"),
        ("ru:rates-brief-dec05", "ru:rates-brief-dec06"),
        ("ru:weather-dec05", "ru:weather-dec06", "ru:weather-dec07"),
        ("ru:oil-dec05", "ru:oil-dec06", "ru:oil-dec07"),
        ("en:rates-dec05", "en:rates-dec06"),
        ("az:rates-dec05", "az:rates-dec06"),
    ]
    url = {}
    for day in range(3):  # a day's items in a batch, as a crawl stores them
        names = [days[day] for days in series if day < len(days)]
        archive.save([article(len(url) + n, by_id(name), source="report") for n, name in enumerate(names)])
        url.update({name: f"https://caliber.az/post/s-{len(url) + n}" for n, name in enumerate(names)})
    archive.save([article(100, by_id("ru:rates-dec06-reprint"), source="apa")])
    got = stories_of(archive)
    assert len({got[u] for u in url.values()}) == len(url) == 15  # every day's item a story of its own
    assert got["https://caliber.az/post/s-100"] == got[url["ru:rates-dec06"]]
    assert [[a.source for a in members] for _, members in archive.list_stories()] == [["report", "apa"]]


def test_other_news_under_the_same_background_paragraph_are_other_stories(archive: Archive) -> None:
    """Agencies close every item of a subject with the same background ("Напомним, что ...", "Xatırladaq ki, ...",
    "Recall that ..."), often longer than the news: two items on different events shared most of their text and
    were one story. A re-publication of one of them, background and all, still joins it."""
    names = ["ru:mine-fuzuli", "ru:mine-terter", "az:mine-fuzuli", "az:mine-tartar", "en:corridor-train"]
    names.append("en:corridor-venture")
    for n, name in enumerate(names):
        archive.save([article(n, by_id(name))])
    archive.save([article(10, by_id("ru:mine-fuzuli-reprint"), source="minval")])
    got = stories_of(archive)
    assert len({got[f"https://caliber.az/post/s-{n}"] for n in range(len(names))}) == len(names)
    assert got["https://caliber.az/post/s-10"] == got["https://caliber.az/post/s-0"]


@pytest.mark.parametrize("digest_first", [False, True], ids=["briefs-first", "digest-first"])
def test_a_digest_joins_no_stories_together(archive: Archive, digest_first: bool) -> None:
    """A digest ("Главное за 5 декабря") carries the day's briefs whole, so each brief lies inside it and matches
    it. Archived after them, it matched their six stories and joined them into one; archived before them, each
    brief joined the digest's story. Either way six unrelated news, and every later re-publication of any of them,
    were shown as one story. The digest joins one of them (the brief it is most similar to) and no two."""
    data = json.loads((STORIES / "sets" / "digest.json").read_text(encoding="utf-8"))
    briefs, reprints = data["briefs"], data["reprints"]
    if digest_first:
        archive.save([article(50, data["digest"])])
    url = {}
    for key, text_ in briefs.items():
        url[key] = f"https://caliber.az/post/s-{len(url)}"
        archive.save([article(len(url) - 1, text_, source="report")])
    if not digest_first:
        archive.save([article(50, data["digest"])])
    for n, text_ in enumerate(reprints.values()):
        archive.save([article(60 + n, text_, source="apa")])
    got = stories_of(archive)
    assert len({got[u] for u in url.values()}) == len(briefs) == 6
    assert got["https://caliber.az/post/s-50"] in {got[u] for u in url.values()}
    for n, key in enumerate(reprints):
        assert got[f"https://caliber.az/post/s-{60 + n}"] == got[url[key]]
    assert archive.count(Story) == len(briefs)
    for _, members in archive.list_stories(limit=50):  # a reader's story holds one news (and maybe the digest)
        told = {key for key, text_ in briefs.items() for a in members if a.body_text == text_}
        told |= {key for key, text_ in reprints.items() for a in members if a.body_text == text_}
        assert len(told) == 1, [a.url for a in members]


def test_sketching_again_replaces_the_previous_scheme_and_splits_its_daily_stories(archive: Archive) -> None:
    """After the upgrade, the archive holds scheme-2 sketches (values, no facts) and the stories they made, daily
    items of several days in one. Re-extraction sketches the articles again: their bucket rows, the same values as
    scheme 2's, are replaced (written again beside the old ones, they broke the primary key), and the days part."""
    names = ["ru:rates-dec05", "ru:rates-dec06", "ru:rates-dec07", "ru:rates-dec06-reprint"]
    archive.save([article(n, by_id(name)) for n, name in enumerate(names)])
    ids = [archive.article_id_for(f"https://caliber.az/post/s-{n}") for n in range(len(names))]
    with archive.session.begin() as s:  # as scheme 2 left them: one story, its sketches and (the same) bucket rows
        first = s.scalar(select(Article.story_id).where(Article.id == ids[0]))
        for n, article_id in enumerate(ids):
            old = bytes([OLD_SCHEME]) + sketch(by_id(names[n])).pack()[1 : 5 + 4 * NUM_PERM]
            s.execute(update(Article).where(Article.id == article_id).values(minhash=old, story_id=first))
        s.execute(delete(Story).where(Story.id != first))
    assert len(set(stories_of(archive).values())) == 1 and archive.count(StoryBucket) == len(names) * BANDS

    for batch in ([0], [1, 2, 3]):  # what `reextract` does, a batch at a time
        with archive.engine.begin() as conn:
            story_index.assign(conn, [(ids[n], sketch(by_id(names[n])).pack()) for n in batch])
    got = stories_of(archive)
    assert archive.count(StoryBucket) == len(names) * BANDS
    assert len({got[f"https://caliber.az/post/s-{n}"] for n in range(3)}) == 3
    assert got["https://caliber.az/post/s-3"] == got["https://caliber.az/post/s-1"]
    assert archive.count(Story) == 3
