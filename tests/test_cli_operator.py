"""The questions an operator asks of an archive a schedule has filled for months: what a run archived and refused,
which runs ran when, why an address is not in the archive, what the archive is made of. The queries behind them run
on both back ends; the commands on SQLite."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store import queries as q
from aggregator.store.models import CrawlRun
from aggregator.store.repository import RedirectRecord, RejectRecord
from tests.conftest import run_cli
from tests.test_cli import usage_error_line
from tests.test_store import item

NIGHT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def fill(archive: Archive) -> dict[str, Any]:
    """Two runs of caliber, as a schedule makes them: the first archives articles 0 and 1 and refuses two pages (a
    page without a body, kept, and a 500, which keeps nothing); the second archives article 2, a new version of
    article 0, and the moved address of article 1 (a redirect); article 3, fetched at a numeric address, is archived
    in no run (as a retry archives). And two runs of apa, dated to 03:00 of a night and an
    hour later, for `runs --since/--until`. Returns the ids."""
    archive.sync_sources(all_sources())
    first = archive.start_run("caliber", "caliber")
    no_body = RejectRecord.of_page(item(7, body_text="", body_html=""), "validate", "no body")
    server_error = RejectRecord("caliber", "https://caliber.az/post/story-8", "fetch", "HTTP 500", 500)
    archive.save([item(0), item(1)], [no_body, server_error], run_id=first)
    archive.finish_run(first, status="finished", reason="finished", stats={})
    second = archive.start_run("caliber", "caliber")
    archive.save([item(0, title="Заголовок 0, исправленный", body_text="Текст 0 иначе"), item(2)], run_id=second)
    archive.record_redirects([RedirectRecord("caliber", "https://caliber.az/post/old-slug-1", item(1).url)])
    archive.finish_run(second, status="finished", reason="finished", stats={})
    # a page fetched at a numeric address whose canonical link names its slug (a retry, in no run)
    archive.save([item(3, url="https://caliber.az/post/153003", canonical_url="https://caliber.az/post/story-3")])
    nightly = []
    for start in (NIGHT, NIGHT + timedelta(hours=1)):
        run = archive.start_run("apa", "apa")
        archive.finish_run(run, status="finished", reason="finished", stats={})
        with archive.engine.begin() as conn:
            conn.execute(update(CrawlRun).where(CrawlRun.id == run).values(started_at=start))
        nightly.append(run)
    ids = {n: archive.article_id_for(item(n).canonical_url) for n in (0, 1, 2, 3)}
    return {"first": first, "second": second, "nightly": nightly, "ids": ids}


def test_the_operators_queries_answer_alike_on_both_back_ends(archive: Archive) -> None:
    """Each read behind `runs --since`, `rejects list --run/--stage/--url/--retryable`, `articles list --run`,
    `articles show URL` and `stats --totals`, on SQLite and PostgreSQL."""
    made = fill(archive)
    first, second, ids = made["first"], made["second"], made["ids"]
    three, four = made["nightly"]
    with archive.reader.connect() as conn:
        night = q.list_runs(conn, since=NIGHT, until=NIGHT + timedelta(minutes=30))
        assert [r.id for r in night] == [three]
        assert [r.id for r in q.list_runs(conn, source="apa", since=NIGHT + timedelta(minutes=30))] == [four]
        assert [r.id for r in q.list_runs(conn, source="caliber", limit=1)] == [second]

        refused = q.list_rejects(conn, q.RejectFilter(run=first), limit=10)
        assert {(r.stage, r.retryable, r.stored_page_bytes > 0) for r in refused} == {
            ("validate", True, True),
            ("fetch", False, False),
        }
        assert q.list_rejects(conn, q.RejectFilter(run=second), limit=10) == []
        assert [r.stage for r in q.list_rejects(conn, q.RejectFilter(retryable=True), limit=10)] == ["validate"]
        assert [r.stage for r in q.list_rejects(conn, q.RejectFilter(stage="fetch"), limit=10)] == ["fetch"]
        asked = ("https://caliber.az/post/story-7/",)  # the address fetched, as the reject keeps it
        assert [r.reason for r in q.list_rejects(conn, q.RejectFilter(urls=asked), limit=10)] == ["no body"]

        # the second run's window holds article 2 (new) and article 0's new version; the first's, articles 0 and 1
        window = q.run_window(conn, second)
        assert window is not None and window.runs == (second,)
        rows, total = q.run_articles(conn, window, limit=10)
        assert total == 2 and {(r.id, r.change) for r in rows} == {(ids[2], "new"), (ids[0], "updated")}
        window = q.run_window(conn, first)
        assert window is not None
        rows, total = q.run_articles(conn, window, limit=1)
        assert (total, len(rows)) == (2, 1)
        assert q.run_window(conn, 9999) is None

        canonical = item(1).canonical_url
        assert q.find_address(conn, canonical, canonical).how == "url"
        moved = "https://caliber.az/post/old-slug-1"
        assert (q.find_address(conn, moved, moved).article_id, q.find_address(conn, moved, moved).how) == (
            ids[1],
            "redirect",
        )
        assert q.find_address(conn, item(1).url, canonical).article_id == ids[1]
        numeric = "http://www.caliber.az/post/153003/"
        spellings = ("https://caliber.az/post/153003", "https://caliber.az/post/153003/")
        found = q.find_address(conn, numeric, "https://caliber.az/post/153003", spellings)
        assert (found.article_id, found.how) == (ids[3], "fetched_url")
        assert q.find_address(conn, "https://caliber.az/post/nowhere", "https://caliber.az/post/nowhere").how is None

        totals = q.source_totals(conn)["caliber"]
        assert (totals.articles, totals.versions, totals.rejects, totals.rejects_open, totals.redirects) == (
            4,
            5,
            2,
            2,
            1,
        )
        assert totals.runs == 2 and totals.page_bytes > 0 and totals.reject_page_bytes > 0


def filled(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(url)
    try:
        made = fill(archive)
    finally:
        archive.close()
    return url, made


def answer(db: str, *args: str) -> Any:
    done = run_cli("--db", db, *args, "--json")
    assert (done.returncode, done.stderr) == (0, ""), args
    return json.loads(done.stdout)


def answer_quietly(db: str, *args: str) -> Any:
    """A ``--json`` answer whatever the command says on stderr besides."""
    done = run_cli("--db", db, *args, "--json")
    assert done.returncode == 0, (args, done.stderr)
    return json.loads(done.stdout)


def error_line(db: str, *args: str) -> str:
    """The one line a command refuses with (exit status 2, nothing on stdout)."""
    done = run_cli("--db", db, *args)
    assert (done.returncode, done.stdout) == (2, ""), (args, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_what_last_nights_run_archived_and_refused(tmp_path: Path) -> None:
    """What did the 03:00 run do? It had no answer but reading every run's counts: `runs` took no time, and neither
    `articles list` nor `rejects list` could be asked for one run's rows."""
    db, made = filled(tmp_path)
    first, second, ids = made["first"], made["second"], made["ids"]
    three, four = made["nightly"]
    at_three = answer(db, "runs", "--since", "2026-11-24T02:55", "--until", "2026-11-24T03:30")
    assert [run["id"] for run in at_three] == [three]
    assert [run["id"] for run in answer(db, "runs", "--until", "2026-11-24")] == [four, three]  # the whole day
    baku = answer(db, "runs", "--source", "apa", "--since", "2026-11-24T07:30+04:00")  # 03:30 UTC
    assert [run["id"] for run in baku] == [four]
    archived = answer(db, "articles", "list", "--run", str(second))
    assert {(a["id"], a["change"]) for a in archived} == {(ids[2], "new"), (ids[0], "updated")}
    assert {a["id"] for a in answer(db, "articles", "list", "--run", str(first))} == {ids[0], ids[1]}
    refused = answer(db, "rejects", "list", "--run", str(first))
    assert sorted((r["stage"], r["reason"], r["retryable"]) for r in refused) == [
        ("fetch", "HTTP 500", False),
        ("validate", "no body", True),
    ]
    table = run_cli("--db", db, "articles", "list", "--run", str(second))
    assert table.returncode == 0 and "updated" in table.stdout and f"run {second}" in table.stdout


def test_rejects_can_be_narrowed_to_what_a_fixed_extractor_can_retry(tmp_path: Path) -> None:
    """After a fix to the extractor, which rejects can be retried? A failed fetch keeps no page to run it on."""
    db, _ = filled(tmp_path)
    retryable = answer(db, "rejects", "list", "--retryable")
    assert [(r["stage"], r["retryable"]) for r in retryable] == [("validate", True)]
    assert [r["reason"] for r in answer(db, "rejects", "list", "--stage", "FETCH")] == ["HTTP 500"]
    assert answer(db, "rejects", "list", "--since", "2099-01-01") == []
    # an address as a listing links it, or as the archive keeps it (http, www., a trailing slash)
    assert [r["reason"] for r in answer(db, "rejects", "list", "--url", "http://www.caliber.az/post/story-7")] == [
        "no body"
    ]


def test_why_an_address_is_not_in_the_archive(tmp_path: Path) -> None:
    """`articles show` took an id only: an operator holding a link had to search three tables by hand."""
    db, made = filled(tmp_path)
    ids = made["ids"]
    assert answer(db, "articles", "show", "http://www.caliber.az/post/story-1/")["id"] == ids[1]
    moved = run_cli("--db", db, "articles", "show", "https://caliber.az/post/old-slug-1", "--json")
    assert moved.returncode == 0 and json.loads(moved.stdout)["id"] == ids[1]
    assert "leads to article" in moved.stderr  # how it was found: not in the --json document
    assert answer_quietly(db, "articles", "show", "http://www.caliber.az/post/153003/")["id"] == ids[3]
    refused = error_line(db, "articles", "show", "https://caliber.az/post/story-7")
    assert "refused, validate: no body" in refused and "rejects show" in refused
    unknown = error_line(db, "articles", "show", "https://caliber.az/post/never-linked")
    assert "no crawl has met it" in unknown
    not_an_address = run_cli("--db", db, "articles", "show", "story-7")
    assert "not an article id or an http(s) address" in usage_error_line(not_an_address, "articles show")
    assert answer(db, "articles", "show", str(ids[0]))["open_rejects"] == []


def test_a_later_refused_fetch_of_an_archived_article_shows_on_it(tmp_path: Path) -> None:
    """A layout change refuses the re-fetch of archived articles: `articles show` showed the archived version as if
    nothing had happened since."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(url)
    try:
        archive.sync_sources(all_sources())
        archive.save([item(0)])
        archive.save([], [RejectRecord.of_page(item(0, body_text="", body_html=""), "validate", "no body")])
        article_id = archive.article_id_for(item(0).canonical_url)
    finally:
        archive.close()
    (refusal,) = answer(url, "articles", "show", str(article_id))["open_rejects"]
    assert (refusal["stage"], refusal["reason"]) == ("validate", "no body")
    assert "refused at a later fetch" in run_cli("--db", url, "articles", "show", str(article_id)).stdout


def test_stats_totals_say_how_big_the_archive_is(tmp_path: Path) -> None:
    db, _ = filled(tmp_path)
    totals = answer(db, "stats", "--totals")
    (caliber,) = [row for row in totals["sources"] if row["source"] == "caliber"]
    assert (caliber["articles"], caliber["versions"], caliber["rejects_open"], caliber["runs"]) == (4, 5, 2, 2)
    assert totals["total"]["articles"] == 4 and totals["database_bytes"] >= (tmp_path / "a.db").stat().st_size
    assert answer(db, "stats", "--totals", "--source", "apa")["sources"] == [
        {"source": "apa"} | dict.fromkeys(caliber.keys() - {"source"}, 0) | {"runs": 2}  # its two nightly runs
    ]
    assert "--days" in usage_error_line(run_cli("--db", db, "stats", "--totals", "--days", "3"), "stats")


BIG_TOTALS = {"articles": 1_204_567, "withdrawn": 12_345, "undated": 23_456, "without_cover": 34_567,
              "versions": 2_345_678, "page_bytes": 1_262_874_214, "rejects_open": 4_567, "rejects": 45_678,
              "reject_page_bytes": 98_765_432, "redirects": 56_789, "runs": 67_890}  # fmt: skip
"""A source's totals after years of crawls: every count and size at its widest."""


def _totals_at(width: int) -> str:
    from rich.console import Console

    from aggregator.commands.inspect import totals_view

    rows = [{"source": "caliber"} | BIG_TOTALS, {"source": "minval"} | dict.fromkeys(BIG_TOTALS, 0)]
    console = Console(width=width, record=True, force_terminal=False)
    for part in totals_view(rows, BIG_TOTALS, console):
        console.print(part)
    return console.export_text()


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120, 160])
def test_stats_totals_show_every_figure_whole_at_any_width(width: int) -> None:
    """At 80 columns one table of eleven counts cut its headers and values short (`sou…`, `art…`, `104… KiB`), and
    at 120 still wrapped them."""
    text = _totals_at(width)
    assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= width, text
    for value in ("caliber", "minval", "total", "1,204,567", "12,345", "23,456", "34,567", "2,345,678", "1,204.4 MiB",
                  "4,567", "45,678", "94.2 MiB", "56,789", "67,890"):  # fmt: skip
        assert value in text, (value, text)
    tables = {"The archive's articles, per source", "Its rejects, redirects and runs"}
    if width >= 120:  # one table, a line a source
        (line,) = [line for line in text.splitlines() if line.startswith("caliber")]
        assert line.split()[1:] == ["1,204,567", "12,345", "23,456", "34,567", "2,345,678", "1,204.4", "MiB",
                                    "45,678", "4,567", "94.2", "MiB", "56,789", "67,890"], text  # fmt: skip
    elif width >= 80:  # two tables
        assert all(title in text for title in tables), text
    else:  # a few lines a source, each figure named
        assert "2,345,678 version(s), their pages 1,204.4 MiB" in " ".join(text.split()), text


def test_stats_totals_on_an_80_column_terminal(tmp_path: Path) -> None:
    db, _ = filled(tmp_path)
    shown = run_cli("--db", db, "stats", "--totals", env={"COLUMNS": "80"}).stdout
    assert "…" not in shown and "source" in shown.split() and "caliber" in shown.split(), shown
    assert max(len(line.rstrip()) for line in shown.splitlines()) <= 80


def test_the_new_options_refuse_bad_values_in_one_line(tmp_path: Path) -> None:
    db, _ = filled(tmp_path)
    assert usage_error_line(run_cli("--db", db, "runs", "--since", "yesterday"), "runs") == (
        "aggregator: error: --since: not an ISO 8601 date or time: 'yesterday'"
    )
    assert "no run with id 999" in error_line(db, "rejects", "list", "--run", "999")
    assert "no run with id 999" in error_line(db, "articles", "list", "--run", "999")
    with_source = run_cli("--db", db, "articles", "list", "--run", "1", "--source", "caliber")
    assert "takes no --source" in usage_error_line(with_source, "articles list")
    no_scheme = run_cli("--db", db, "rejects", "list", "--url", "caliber.az/post/1")
    assert "not an http(s) address" in usage_error_line(no_scheme, "rejects list")
