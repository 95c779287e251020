"""The operator's reads at a terminal: `articles list` filters, `articles show`, `stats`, `export`."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from aggregator.export import export_articles
from aggregator.sources import get_source
from aggregator.store import Archive
from aggregator.store.models import Article, Reject, Story
from aggregator.store.queries import ArticleFilter
from tests.api.conftest import item, save
from tests.conftest import run_cli
from tests.test_cli import one_line_error, usage_error_line


def listed(db: str, *args: str) -> list[dict]:
    done = run_cli("--db", db, "articles", "list", "--limit", "500", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def db_count(db: str, *where) -> int:
    archive = Archive.open(db)
    with archive.session() as session:
        total = session.scalar(select(func.count()).select_from(Article).where(*where))
    archive.close()
    return int(total or 0)


def test_articles_list_filters(sample_db: str) -> None:
    everything = listed(sample_db)
    assert len(everything) == db_count(sample_db)
    english = listed(sample_db, "--language", "en")
    assert english and {r["language"] for r in english} == {"en"}
    assert len(english) == db_count(sample_db, Article.language == "en")
    window = listed(sample_db, "--since", "2025-01-01", "--until", "2025-12-31")
    expected = [
        r["id"] for r in everything
        if r["published_at"] and "2025-01-01" <= r["published_at"][:10] <= "2025-12-31"
    ]  # fmt: skip
    assert window and [r["id"] for r in window] == expected  # a bare --until date includes that day
    zoned = listed(sample_db, "--since", "2025-01-01T04:00:00+04:00", "--until", "2026-01-01T00:00:00Z")
    assert [r["id"] for r in zoned] == expected
    archive = Archive.open(sample_db)
    with archive.session.begin() as session:
        story = Story()
        session.add(story)
        session.flush()
        session.execute(update(Article).where(Article.id.in_([1, 2])).values(story_id=story.id))
        story_id = story.id
    archive.close()
    assert sorted(r["id"] for r in listed(sample_db, "--story", str(story_id))) == [1, 2]
    table = run_cli("--db", sample_db, "articles", "list", "--language", "az", "--limit", "2")
    assert f"2 of {db_count(sample_db, Article.language == 'az')} archived articles" in table.stdout
    # What the archive stores is a lower-case code: " EN " is that code; a name is an error, not an empty list.
    assert listed(sample_db, "--language", " EN ") == english
    for command in (["articles", "list"], ["export"]):
        named = run_cli("--db", sample_db, *command, "--language", "English")
        assert named.returncode == 2 and named.stdout == "", named.stdout
        assert "--language: 'English' is not a language code, such as az, en, ru" in named.stderr, named.stderr
    nobody = run_cli("--db", sample_db, "articles", "list", "--language", "tr", "--json")
    assert nobody.returncode == 0 and json.loads(nobody.stdout) == []
    assert "warning: no source publishes in 'tr' (the sources' languages: az, en, ru)" in nobody.stderr


def test_articles_show_everything(sample_db: str) -> None:
    archive = Archive.open(sample_db)
    with archive.session.begin() as session:
        cited = session.scalars(select(Article).where(Article.cited_outlets != []).order_by(Article.id)).first()
        other = session.scalars(select(Article).where(Article.id != cited.id).order_by(Article.id)).first()
        story = Story()
        session.add(story)
        session.flush()
        session.execute(update(Article).where(Article.id.in_([cited.id, other.id])).values(story_id=story.id))
    archive.close()
    done = run_cli("--db", sample_db, "articles", "show", str(cited.id), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    entry = get_source(cited.source)
    assert data["url"] == cited.url and data["source_name"] == entry.name
    assert data["source_homepage"] == entry.homepage
    assert data["attribution_line"] == cited.attribution_line and data["cited_outlets"] == cited.cited_outlets
    archived = cited.archived_at
    assert data["times"]["archived_at"]["utc"] == archived.isoformat().replace("+00:00", "Z")
    assert data["times"]["archived_at"]["baku"] == archived.astimezone(ZoneInfo("Asia/Baku")).isoformat()
    assert data["times"]["archived_at"]["baku"].endswith("+04:00")
    assert [s["id"] for s in data["story_siblings"]] == [other.id]
    assert len(data["snapshots"]) == 1 and data["snapshots"][0]["compressed_bytes"] > 0
    text = run_cli("--db", sample_db, "articles", "show", str(cited.id)).stdout
    for expected in ("Asia/Baku", entry.name, cited.attribution_line, f"#{other.id}", "1 version(s)"):
        assert expected in text, expected


def test_errors_are_one_line(sample_db: str) -> None:
    # A value an option does not take is a usage error: its line, then where the help is.
    since = run_cli("--db", sample_db, "articles", "list", "--since", "yesterday")
    assert "--since" in usage_error_line(since, "articles list")
    assert "--until" in usage_error_line(run_cli("--db", sample_db, "export", "--until", "2026-13-01"), "export")
    assert "unknown source" in one_line_error(run_cli("--db", sample_db, "stats", "--source", "nope"))
    assert "unknown source" in one_line_error(run_cli("--db", sample_db, "export", "--source", "nope"))
    assert "--format" in usage_error_line(run_cli("--db", sample_db, "export", "--format", "xml"), "export")
    unreachable = run_cli("--db", "postgresql://postgres@127.0.0.1:1/nothing", "stats")
    assert one_line_error(unreachable).startswith("aggregator: database error:")


def test_dates_at_the_ends_of_the_calendar_are_its_ends(sample_db: str) -> None:
    """Moved to UTC, or to the end of their day, they left Python's calendar: "OverflowError: date value out of
    range", a traceback."""
    everything = listed(sample_db)
    assert listed(sample_db, "--until", "9999-12-31", "--since", "0001-01-01T00:00+01:00") == everything
    assert listed(sample_db, "--since", "9999-12-31T23:59-01:00") == []


def test_stats(sample_db: str) -> None:
    archive = Archive.open(sample_db)
    rejects = archive.count(Reject)
    archive.close()
    done = run_cli("--db", sample_db, "stats", "--days", "3", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    # The sample was archived today, or yesterday and today when its crawl (once a session) ran across midnight UTC.
    days = {(datetime.now(UTC) - timedelta(days=n)).date().isoformat() for n in (0, 1)}
    caliber = [r for r in rows if r["source"] == "caliber"]
    assert caliber and {r["day"] for r in caliber} <= days, caliber
    caliber_articles = Article.source == "caliber"
    assert sum(r["articles"] for r in caliber) == db_count(sample_db, caliber_articles)
    assert sum(r["undated"] for r in caliber) == db_count(sample_db, caliber_articles, Article.published_at.is_(None))
    assert sum(r["undated"] for r in caliber) >= 1
    assert sum(r["articles"] for r in rows) == db_count(sample_db)
    assert sum(r["rejects"] for r in rows) == rejects > 0
    # Withdrawn articles stay counted among those archived, and are counted as withdrawn too.
    withdrawn_before = sum(r["withdrawn"] for r in rows)
    assert withdrawn_before == db_count(sample_db, Article.withdrawn_at.is_not(None))
    shown = Article.withdrawn_at.is_(None)
    archive = Archive.open(sample_db)
    with archive.session() as session:
        victim = session.scalars(select(Article).where(caliber_articles, shown).order_by(Article.id)).first()
    archive.close()
    assert run_cli("--db", sample_db, "articles", "withdraw", str(victim.id), "--reason", "takedown").returncode == 0
    after = json.loads(run_cli("--db", sample_db, "stats", "--days", "3", "--json").stdout)
    assert sum(r["withdrawn"] for r in after) == withdrawn_before + 1
    assert sum(r["withdrawn"] for r in after if r["source"] == "caliber") >= 1
    assert sum(r["articles"] for r in after) == db_count(sample_db)
    # An article archived 10 days ago is outside a 3-day window and inside a 30-day one.
    old = datetime.now(UTC) - timedelta(days=10)
    archive = Archive.open(sample_db)
    with archive.session.begin() as session:
        session.execute(update(Article).where(Article.id == 1).values(archived_at=old))
    archive.close()
    recent = json.loads(run_cli("--db", sample_db, "stats", "--days", "3", "--json").stdout)
    assert sum(r["articles"] for r in recent) == db_count(sample_db) - 1
    month = json.loads(run_cli("--db", sample_db, "stats", "--days", "30", "--json").stdout)
    (moved,) = [r for r in month if r["day"] == old.date().isoformat()]
    assert moved["articles"] == 1 and moved["rejects"] == 0
    chart = run_cli("--db", sample_db, "stats", "--days", "3")
    assert chart.returncode == 0 and "█" in chart.stdout and "total" in chart.stdout and "withdrawn" in chart.stdout
    assert any(f"{day}  " in chart.stdout for day in {r["day"] for r in caliber}), chart.stdout


def test_export_jsonl_and_csv(sample_db: str, tmp_path) -> None:
    done = run_cli("--db", sample_db, "export", "--format", "jsonl", "--language", "ru")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == db_count(sample_db, Article.language == "ru") and {r["language"] for r in rows} == {"ru"}
    first = rows[0]
    assert first["body_html"] and first["attribution_line"] and get_source(first["source"]).owns(first["url"])
    assert [r["id"] for r in rows] == [r["id"] for r in listed(sample_db, "--language", "ru")]
    target = tmp_path / "all.csv"
    written = run_cli("--db", sample_db, "export", "--format", "csv", "--output", str(target))
    assert written.returncode == 0 and f"exported {db_count(sample_db)} article(s)" in written.stdout
    table = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(table) == db_count(sample_db)
    cited = next(r for r in table if r["cited_outlets"] != "[]")
    assert json.loads(cited["cited_outlets"])
    assert any(r["published_at"] == "" for r in table)  # the undated one


def test_export_streams_in_bounded_memory(sqlite_url: str) -> None:
    """30 MB of articles exported with a few MB of memory: pages of rows, never the whole result."""
    body = "<p>" + "Длинный абзац статьи для проверки памяти. " * 120 + "</p>"  # about 9 KB in UTF-8
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for chunk in range(6):
        save(sqlite_url, [
            item(f"big-{chunk}-{n}", published=start + timedelta(minutes=chunk * 1000 + n), body_html=body)
            for n in range(500)
        ])  # fmt: skip
    archive = Archive.open(sqlite_url)
    sink = _Counter()
    tracemalloc.start()
    try:
        written = export_articles(archive.engine, ArticleFilter(), "jsonl", sink, batch=100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        archive.close()
    assert written == 3000
    assert sink.size > 25_000_000
    assert peak < sink.size / 5, (peak, sink.size)


class _Counter(io.TextIOBase):
    """A stream that keeps only the number of bytes written to it."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text.encode())
        return len(text)
