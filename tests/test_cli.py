"""The ``aggregator`` command: every command documented (help text and README), errors in one line."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from aggregator.cli import CliError, app
from aggregator.sources import all_sources
from aggregator.store import Archive
from tests.conftest import ROOT, run_cli
from tests.test_backup import archive_with_articles


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the Typer app (Typer carries its own click: walk it by duck typing)."""
    yield path, command
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from walk(sub, (*path, name))


COMMANDS = [(path, cmd) for path, cmd in walk(typer.main.get_command(app)) if path]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_and_a_readme_section(path: tuple[str, ...], command: Any) -> None:
    assert (command.help or "").strip(), f"`aggregator {' '.join(path)}` has no help text"
    for param in command.params:
        if param.param_type_name == "option":
            assert (param.help or "").strip(), f"option {param.opts} of {' '.join(path)} has no help"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"aggregator {' '.join(path)}" in readme, f"README.md does not mention `aggregator {' '.join(path)}`"


def test_the_tests_forked_commands_answer_as_the_installed_script(tmp_path: Path) -> None:
    """``run_cli`` forks its commands from a process with the libraries loaded (tests/helpers/preforked.py): each
    must see its own arguments, environment and folder, and end with the script's output and status."""
    commands = [
        (("sources", "--json"), {}),
        (("--db", "x.db", "articles", "list"), {}),  # refused, naming the folder it was run in
        (("articles", "list"), {"AGGREGATOR_DB_URL": f"sqlite:///{tmp_path / 'none.db'}"}),
        (("crawl", "caliber", "--mirror", "127.0.0.1"), {"COLUMNS": "60"}),
    ]
    for args, env in commands:
        forked, fresh = (run_cli(*args, cwd=tmp_path, env=env, fresh=f) for f in (False, True))
        assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
        assert forked.returncode == 0 or forked.stderr.startswith("aggregator: error: ")


def test_help_runs_for_every_command() -> None:
    # The installed console script once, in a child process; then every command's help in this process (a child
    # process per command cost half a minute of start-up for nothing more).
    done = run_cli("--help")
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    runner = CliRunner()
    for path, _ in COMMANDS:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
        assert f"aggregator {' '.join(path)}" in " ".join(result.output.split()), (path, result.output)


def one_line_error(done) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def usage_error_line(done: Any, command: str) -> str:
    """The line a usage error is said in (exit status 2), followed by the one saying where ``command``'s help is, as
    for the errors Click finds itself: a value an option does not take, options that do not go together."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("aggregator: error: "), done.stderr
    assert lines[1] == f"Try '{' '.join(('aggregator', command)).strip()} --help' for help.", done.stderr
    return lines[0]


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert "unknown source 'nope'" in one_line_error(run_cli("--db", db, "crawl", "nope", "--offline"))
    assert "--all" in usage_error_line(run_cli("--db", db, "crawl"), "crawl")
    both = run_cli("--db", db, "crawl", "--all", "--offline", "--mirror", "http://x")
    assert "exclude" in usage_error_line(both, "crawl")
    # --mirror-root without --offline crawled the real sites (the folder was quietly ignored)
    no_offline = usage_error_line(run_cli("--db", db, "crawl", "--all", "--mirror-root", str(tmp_path)), "crawl")
    assert "add --offline" in no_offline
    scheduled = run_cli("--db", db, "schedule", "--all", "--mirror-root", str(tmp_path))
    assert "add --offline" in usage_error_line(scheduled, "schedule")
    no_scheme = run_cli("--db", db, "crawl", "caliber", "--mirror", "127.0.0.1:8000")
    assert "http(s) address" in usage_error_line(no_scheme, "crawl")
    missing = tmp_path / "nope"
    assert f"no such folder: {missing}" in one_line_error(
        run_cli("--db", db, "crawl", "--all", "--offline", "--mirror-root", str(missing))
    )
    assert run_cli("--db", db, "db", "upgrade").returncode == 0
    assert "no article with id 12345" in one_line_error(run_cli("--db", db, "articles", "show", "12345"))
    assert "unsupported database" in one_line_error(run_cli("--db", "mysql://x@127.0.0.1/y", "articles", "list"))
    unreachable = one_line_error(run_cli("--db", "postgresql://postgres@127.0.0.1:1/nothing", "articles", "list"))
    assert unreachable.startswith("aggregator: database error:")
    assert "unknown source" in one_line_error(run_cli("--db", db, "articles", "list", "--source", "nope"))


def test_a_bad_mirror_address_is_shown_where_mirror_serve_listens() -> None:
    # It suggested port 8000, where nothing of ours listens.
    serve = dict(COMMANDS)[("mirror", "serve")]
    default = {param.name: param.default for param in serve.params}
    line = usage_error_line(run_cli("crawl", "caliber", "--mirror", "127.0.0.1"), "crawl")
    assert f"such as http://{default['host']}:{default['port']}, not '127.0.0.1'" in line


def test_a_file_path_for_db_is_told_the_url_it_meant(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    line = one_line_error(run_cli("--db", str(path), "articles", "list"))
    assert line == f"aggregator: error: not a database URL: '{path}': for the SQLite file there, give sqlite:///{path}"
    # A relative path: the URL names the file by its absolute path, as the default archive's URL does.
    relative = one_line_error(run_cli("--db", "x.db", "articles", "list", cwd=tmp_path))
    assert relative.endswith(f"give sqlite:///{path}")
    assert not path.exists()
    assert one_line_error(run_cli("--db", "no such thing", "articles", "list")).endswith("'no such thing'")
    # `--db "$ARCHIVE_URL"` with the variable unset read the default archive (and a crawl would have written it).
    for empty in ("", "  "):
        done = run_cli("--db", empty, "runs", "--limit", "1")
        assert "--db: an empty URL" in usage_error_line(done, "")


def test_db_upgrade_creates_the_schema_where_asked(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "archive.db"
    done = run_cli("--db", f"sqlite:///{target}", "db", "upgrade")
    assert done.returncode == 0, done.stderr
    from aggregator.store.db import connect, head_revision

    assert f"schema at revision {head_revision(connect(f'sqlite:///{target}'))}" in done.stdout
    assert target.is_file()
    assert "Running upgrade 0006 -> 0007" in done.stderr  # each step is shown as it runs
    again = run_cli("--db", f"sqlite:///{target}", "db", "upgrade")
    assert again.returncode == 0 and "Running upgrade" not in again.stderr


def test_db_url_from_the_environment(tmp_path: Path) -> None:
    target = tmp_path / "env.db"
    done = run_cli("db", "upgrade", env={"AGGREGATOR_DB_URL": f"sqlite:///{target}"})
    assert done.returncode == 0, done.stderr
    assert target.is_file()


def test_sources_lists_the_registry() -> None:
    rows = json.loads(run_cli("sources", "--json").stdout)
    caliber = next(r for r in rows if r["key"] == "caliber")
    assert caliber["name"] == "Caliber.az"
    assert caliber["timezone"] == "Asia/Baku"
    assert set(caliber["languages"]) == {"ru", "en", "az"}
    # An 80-column terminal: each source a paragraph, each entry URL whole on a line of its own (to be copied).
    lines = run_cli("sources", env={"COLUMNS": "80"}).stdout.splitlines()
    assert "caliber  Caliber.az · " in lines[0]
    for row in rows:
        assert all(f"  {url}" in lines for url in row["entry_urls"]), row["key"]


def test_default_database_is_an_absolute_path_in_the_project() -> None:
    from aggregator.paths import default_db_url

    url = default_db_url()
    assert url == f"sqlite:///{ROOT / 'data' / 'archive.db'}"
    assert Path(url.removeprefix("sqlite:///")).is_absolute()


def test_dates_parse_shows_utc_local_and_printed_forms() -> None:
    done = run_cli("dates", "parse", "Вчера, 15:31", "--now", "2026-09-15T13:24:00+04:00", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["utc"] == "2026-09-14T11:31:00Z"  # as the read API and `export` spell a UTC instant
    assert result["local"] == "2026-09-14T15:31:00+04:00"  # the source's zone: its offset
    assert result["now"] == "2026-09-15T09:24:00Z"
    assert result["printed"]["ru"] == "14 Сентября 2026 15:31"
    plain = run_cli("dates", "parse", "15 Noyabr 10:31", "--source", "caliber", "--now", "2026-09-15T13:24:00")
    assert plain.returncode == 0 and "2025-11-15T06:31:00Z" in plain.stdout  # no year: last year's
    not_a_date = run_cli("dates", "parse", "Просмотров:66")
    assert not_a_date.returncode == 1 and "not a date" in not_a_date.stderr
    bracketed = run_cli("dates", "parse", "[/b] Просмотров")  # printed as text, not as Rich markup
    assert bracketed.returncode == 1 and "not a date: '[/b] Просмотров'" in bracketed.stderr, bracketed.stderr
    mars = run_cli("dates", "parse", "10:00", "--tz", "Mars/Olympus")
    assert usage_error_line(mars, "dates parse") == "aggregator: error: --tz: unknown time zone 'Mars/Olympus'"
    assert "--now" in usage_error_line(run_cli("dates", "parse", "10:00", "--now", "yesterday"), "dates parse")


def test_articles_list_undated(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from aggregator.items import ArticleItem

    url = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(url)
    archive.sync_sources(all_sources())
    fetched = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    common = {"source": "caliber", "language": "ru", "body_html": "<p>b</p>", "body_text": "b", "fetched_at": fetched}
    archive.save(
        [
            ArticleItem(url="https://caliber.az/post/dated", title="Dated", published_raw="23 Марта 2024 18:14",
                        published_at=datetime(2024, 3, 23, 14, 14, tzinfo=UTC), **common),
            ArticleItem(url="https://caliber.az/post/undated", title="Undated", published_raw="скоро", **common),
        ]
    )  # fmt: skip
    archive.close()
    rows = json.loads(run_cli("--db", url, "articles", "list", "--undated", "--json").stdout)
    assert [r["url"] for r in rows] == ["https://caliber.az/post/undated"]
    table = run_cli("--db", url, "articles", "list", "--undated")
    assert "1 of 1 archived articles" in table.stdout and "undated: скоро" in table.stdout
    # An 80-column terminal: the link goes under the title, nothing is cut, no line is wider than the terminal.
    narrow = run_cli("--db", url, "articles", "list", env={"COLUMNS": "80"}).stdout
    lines = narrow.splitlines()
    assert max(len(line) for line in lines) <= 80
    for title, link in (("Dated", "https://caliber.az/post/dated"), ("Undated", "https://caliber.az/post/undated")):
        (at,) = [i for i, line in enumerate(lines) if f"│ {title} " in line]
        assert link in lines[at + 1]
    assert "2024-03-23 14:14" in narrow and "undated" in narrow and "скоро" in narrow


def test_the_crawl_summary_fits_an_80_column_terminal() -> None:
    from rich.console import Console

    from aggregator.crawl import COUNTERS, stats_table

    console = Console(width=80, record=True, force_terminal=False)
    stats = {keys[0]: 12345 for _, keys in COUNTERS}
    console.print(stats_table({"caliber": stats, "minval": stats}, title="Crawl summary"))
    text = console.export_text()
    assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= 80
    for label, _ in COUNTERS:
        for word in label.split():
            assert word in text, word
    assert text.count("12345") == 2 * len(COUNTERS)


def test_the_crawl_summary_counts_as_the_run_row_does() -> None:
    """Answers 304 are pages fetched and articles unchanged in `runs`: the summary of the same run said 0 unchanged.
    And a swept page found gone is no fetch error in `runs` (``run_counts.LEFT_OUT``): the summary counted it."""
    from rich.console import Console

    from aggregator.crawl import stats_table
    from aggregator.run_counts import run_counts

    stats = {"response_received_count": 10, "aggregator/not_modified": 3, "aggregator/articles_unchanged": 2,
             "aggregator/articles": 2, "item_dropped_count": 1, "aggregator/http_errors": 5,
             "aggregator/swept_gone": 4}  # fmt: skip
    row = run_counts(stats)
    assert (row["pages"], row["items_unchanged"], row["rejected"], row["http_errors"]) == (13, 5, 1, 1)
    console = Console(width=120, record=True, force_terminal=False)
    console.print(stats_table({"caliber": stats}, title="Crawl summary"))
    lines = [line.replace("fetch errors", "fetch_errors") for line in console.export_text().splitlines()]
    header, values = [line.split() for line in lines if line.startswith(("source", "cal"))]
    shown = dict(zip(header[1:], values[1:], strict=False))
    assert (shown["pages"], shown["unchanged"], shown["rejected"]) == ("13", "5", "1")
    # A swept page found gone withdraws its article: no fetch error in the row, nor in the summary (it was 5 here).
    assert (shown["accepted"], shown["fetch_errors"]) == ("2", "1")


def test_withdrawals_held_back_are_said_when_the_source_is_red_too(capsys: pytest.CaptureFixture[str]) -> None:
    """A site answering 404 for every page (a broken deploy) turns red, and the line saying its archived articles
    were not withdrawn for it was printed only for a green source: never in the case it is for."""
    from rich.console import Console

    from aggregator.crawl import SourceOutcome, print_summary

    stats = {"response_received_count": 8, "aggregator/http_errors": 53, "aggregator/withdrawals_held": 53}
    red = SourceOutcome("caliber", "finished", stats, problems=["unhealthy: no article found on the listings"])
    print_summary([red], Console(width=200, record=True, file=io.StringIO()))
    said = capsys.readouterr().err.strip()
    assert said == (
        "caliber: unhealthy: no article found on the listings; "
        "53 archived article(s) answered 404/410 but not withdrawn: no page of the site answered"
    )


def test_a_sources_outcome_line_is_coloured_at_its_tick_only() -> None:
    """Rich's highlighter coloured "1." of "finished in 1.2s" on a terminal, and left "2s" plain."""
    from rich.console import Console

    from aggregator.crawl import SourceOutcome, print_summary

    console = Console(force_terminal=True, color_system="truecolor", file=io.StringIO(), width=200)
    print_summary([SourceOutcome("caliber", "finished", {"elapsed_time_seconds": 1.2})], console)
    line = console.file.getvalue().splitlines()[-1]  # type: ignore[attr-defined]
    assert line.endswith("✓\x1b[0m caliber: finished in 1.2s"), repr(line)


def _rendered(table: object, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, force_terminal=False)
    console.print(table)
    return console.export_text()


def _rendered_all(parts: list[object], width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, force_terminal=False)
    for part in parts:
        console.print(part)
    return console.export_text()


def test_runs_and_health_fit_an_80_column_terminal() -> None:
    """Both tables show every header word and every value whole in 80 columns, at the sizes of a large first run (a
    partial run's reason and a source's problems under the table); a wide terminal shows them in columns."""
    from rich.console import Console

    from aggregator.commands.runs import health_table, health_view, runs_table

    run = {
        "id": 12345, "source": "caliber", "status": "partial", "finish_reason": "closespider_timeout",
        "started_at": "2026-12-03T11:39:30Z", "finished_at": "2026-12-03T12:39:31Z", "pages": 54321,
        "new": 12345, "updated": 123, "unchanged": 1234, "rejected": 987, "http_errors": 876,
        "dates_unparsed": 12, "swept": 4567, "health": "red", "host": "crawler-1", "pid": 4242,
    }  # fmt: skip
    verdict = {
        "source": "haqqin", "run": 12345, "status": "red", "finished_at": "2026-12-03T12:39:31Z", "items": 1234,
        "extracted": 1087, "median": 1250.5, "coverage": {"title": 1.0, "body": 0.5, "date": 0.99}, "undated": 0.01,
        "http_error_rate": 0.125, "problems": ["body in 50% of items (< 95%)", "no judged run since yesterday"],
    }  # fmt: skip
    never = {
        "source": "minval",
        "run": None,
        "status": "unknown",
        "problems": ["no run recorded yet: is it scheduled?"],
    }
    table, below = runs_table(
        [run, {**run, "id": 12346, "status": "finished", "finish_reason": "finished"}], wide=False
    )
    narrow = _rendered(table, 80)
    assert "…" not in narrow and max(len(line.rstrip()) for line in narrow.splitlines()) <= 80
    for value in ("12345", "caliber", "12-03 11:39", "3601s", "partial", "54321", "12345", "123", "1234", "987",
                  "876", "red", "started", "(UTC)", "http", "err", "health"):  # fmt: skip
        assert value in narrow, value
    assert below == ["run 12345 (caliber): partial, closespider_timeout"]
    table, below = runs_table([run], wide=True)
    wide = _rendered(table, 200)
    assert below == [] and all(
        v in wide for v in ("2026-12-03 11:39:30", "closespider_timeout", "crawler-1:4242", "undated", "swept", "4567")
    )
    assert "4567" not in narrow

    # Health at 80 columns: the run's counts, then its coverage beside the count of articles it extracted (of which
    # the shares are: 1087, not the 1234 articles found), each table whole.
    narrow = _rendered_all(health_view([verdict, never], Console(width=80)), 80)
    assert "…" not in narrow and max(len(line.rstrip()) for line in narrow.splitlines()) <= 80
    for value in ("haqqin", "red", "12-03 12:39", "1234", "1250.5", "extracted", "1087", "100%", "50%", "99%", "1%",
                  "12%", "minval", "unknown"):  # fmt: skip
        assert value in narrow, value
    assert narrow.index("1087") < narrow.index("50%") and "Coverage of the articles extracted" in narrow
    assert narrow.endswith(
        "haqqin: body in 50% of items (< 95%); no judged run since yesterday\n"
        "minval: no run recorded yet: is it scheduled?\n"
    )
    table, below = health_table([verdict, never], wide=True)
    wide = _rendered(table, 200)
    assert below == [] and "no judged run since yesterday" in wide and "no run recorded yet" in wide
    assert "extracted" in wide and "1087" in wide


READERS = [
    ["articles", "list"],
    ["articles", "show", "1"],
    ["articles", "history", "1"],
    ["articles", "withdraw", "1", "--reason", "takedown"],
    ["articles", "restore", "1"],
    ["rejects", "list"],
    ["rejects", "show", "1"],
    ["rejects", "retry", "--all"],
    ["reextract"],
    ["runs"],
    ["health"],
    ["metrics"],
    ["stats"],
    ["export"],
    ["search", "Baku"],
    ["stories", "list"],
    ["stories", "show", "1"],
    ["serve"],
    ["db", "prune-runs", "--keep", "5"],
    ["db", "backup", "copy.db"],
]


@pytest.mark.parametrize("command", READERS, ids=[" ".join(c) for c in READERS])
def test_a_command_that_reads_refuses_a_missing_archive_and_creates_none(tmp_path: Path, command: list[str]) -> None:
    # A mistyped --db used to leave a new, empty archive behind and print an empty table.
    from aggregator.store.db import ArchiveMissing

    typo = tmp_path / "achive.db"
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{typo}", *command])
    assert isinstance(result.exception, ArchiveMissing), (result.exception, result.output)
    assert str(result.exception).startswith(f"no archive at {typo}:")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_archive_is_one_line_and_the_writing_commands_create_it(tmp_path: Path) -> None:
    typo = tmp_path / "sub" / "achive.db"
    line = one_line_error(run_cli("--db", f"sqlite:///{typo}", "articles", "list"))
    assert line.startswith(f"aggregator: error: no archive at {typo}: check --db")
    assert not typo.exists()
    assert run_cli("--db", f"sqlite:///{typo}", "db", "upgrade").returncode == 0
    listed = run_cli("--db", f"sqlite:///{typo}", "articles", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def test_a_log_level_that_is_not_one_is_refused_before_the_crawl(tmp_path: Path) -> None:
    """It crashed with Python's `ValueError: Unknown level` traceback (exit 1) once the crawl had started."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    line = usage_error_line(run_cli("--db", db, "crawl", "caliber", "--offline", "--log-level", "BOGUS"), "crawl")
    assert "--log-level: 'BOGUS' is not a log level" in line
    assert not (tmp_path / "a.db").exists()  # refused before anything was opened


def test_a_source_named_twice_is_crawled_once(tmp_path: Path, mirror_url: str) -> None:
    """The second crawl of it found the first holding its lock: "skipped: another run ... in progress", exit 3."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    done = run_cli("--db", db, "crawl", "caliber", "caliber", "--mirror", mirror_url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "skipped" not in done.stderr
    runs = json.loads(run_cli("--db", db, "runs", "--json").stdout)
    assert [r["source"] for r in runs] == ["caliber"]


def test_dates_parse_refuses_a_zone_and_a_source_together_and_search_a_query_without_words(tmp_path: Path) -> None:
    """`dates parse --tz UTC --source caliber` read the date in Baku time, ignoring --tz without a word; `search ""`
    printed "0 result(s)" as if the archive held nothing."""
    assert "--tz and --source exclude each other" in usage_error_line(
        run_cli("dates", "parse", "Вчера, 15:31", "--tz", "UTC", "--source", "caliber"), "dates parse"
    )
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert run_cli("--db", db, "db", "upgrade").returncode == 0
    for query in ("", "   ", "!?"):
        assert f"no word to search for in {query!r}" in usage_error_line(run_cli("--db", db, "search", query), "search")
    assert run_cli("--db", db, "search", "Баку").returncode == 0


HUGE = "100000000000000000000"  # past SQLite's 64-bit and PostgreSQL's 32-bit integers


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_number_option_has_a_bound(path: tuple[str, ...], command: Any) -> None:
    """A --limit the database could not hold was a traceback ("Python int too large to convert to SQLite INTEGER")."""
    for param in getattr(command, "params", []):
        if param.param_type_name == "option" and param.bare_type() in ("int", "float"):
            assert param.max is not None, f"{param.opts} of `aggregator {' '.join(path)}` takes any number"


def test_ids_and_dates_past_the_databases_range_answer_and_never_crash(db_url: str) -> None:
    """They were tracebacks, exit 1: "Python int too large to convert to SQLite INTEGER" (PostgreSQL: "integer out
    of range") and "date value out of range"."""
    assert run_cli("--db", db_url, "db", "upgrade").returncode == 0
    limit = run_cli("--db", db_url, "articles", "list", "--limit", HUGE)
    assert limit.returncode == 2 and "Invalid value for '--limit'" in limit.stderr, limit.stderr[-2000:]
    for command, kind in (("articles", "article"), ("rejects", "reject"), ("stories", "story")):
        assert f"no {kind} with id {HUGE}" in one_line_error(run_cli("--db", db_url, command, "show", HUGE))
    for command in (("articles", "list", "--until", "9999-12-31"), ("export", "--since", "0001-01-01T00:00+01:00")):
        done = run_cli("--db", db_url, *command)
        assert done.returncode == 0, (command, done.stderr[-2000:])


def test_an_output_that_is_a_folder_or_a_bad_log_level_is_one_line(tmp_path: Path) -> None:
    """`export --output FOLDER` was IsADirectoryError and `serve --log-level bogus` KeyError: 'bogus', tracebacks."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert run_cli("--db", db, "db", "upgrade").returncode == 0
    folder = tmp_path / "out"
    folder.mkdir()
    for command in (("export", "--format", "jsonl", "--output", str(folder)), ("metrics", "--output", str(folder))):
        assert f"{folder} is a folder" in one_line_error(run_cli("--db", db, *command))
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["a.db", "out"]
    # Refused before the archive is opened: a missing one is not what it says.
    bogus = run_cli("--db", f"sqlite:///{tmp_path / 'none.db'}", "serve", "--log-level", "bogus")
    line = usage_error_line(bogus, "serve")
    assert "--log-level: 'bogus' is not one of uvicorn's log levels: critical, error, warning, info, debug" in line


def test_an_output_that_is_a_file_of_the_archive_is_refused_and_the_archive_left_whole(tmp_path: Path) -> None:
    """`export -o archive.db` emptied the archive (then "database disk image is malformed"), `metrics -o archive.db`
    replaced it with the metrics, and `db backup archive.db-wal --force` threw away the commits not yet copied back
    into the database: an operator's slip of the tab key cost the archive."""
    database = archive_with_articles(tmp_path / "archive.db", 2)
    wal = tmp_path / "archive.db-wal"
    wal.write_bytes(b"")  # as a crawl leaves it beside the database while it writes
    (tmp_path / "out").mkdir()
    before = database.read_bytes()
    runner = CliRunner()
    for target, command, kind in (
        (database, ("export", "--output"), ""),
        (Path(f"{tmp_path}/out/../archive.db"), ("metrics", "--output"), ""),
        (wal, ("export", "-o"), " is its write-ahead log"),
        (wal, ("db", "backup", "--force"), " is its write-ahead log"),
        (tmp_path / "archive.db-shm", ("metrics", "-o"), " is its write-ahead log's index"),
    ):
        result = runner.invoke(app, ["--db", f"sqlite:///{database}", *command, str(target)])
        assert isinstance(result.exception, CliError), (command, result.exception, result.output)
        what = "backup" if "backup" in command else command[0]
        assert str(result.exception) == f"the {what} would overwrite the archive itself: {target}{kind}"
    assert database.read_bytes() == before and wal.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.db", "archive.db-wal", "out"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full (a disk that is always full) here")
def test_an_export_the_disk_cannot_take_is_one_line(tmp_path: Path) -> None:
    """`export --output FILE` or `export > FILE` on a disk that fills up (or in a folder the operator may not write
    in, or on a read-only disk) was an OSError traceback, exit 1. /dev/full is a full disk for anyone, root too."""
    db = f"sqlite:///{archive_with_articles(tmp_path / 'a.db')}"
    for fmt in ("jsonl", "csv"):
        line = one_line_error(run_cli("--db", db, "export", "--format", fmt, "--output", "/dev/full"))
        assert line == "aggregator: error: cannot write the export to /dev/full: No space left on device"
        with open("/dev/full", "w") as full:
            line = one_line_error(run_cli("--db", db, "export", "--format", fmt, stdout=full))
        assert line == "aggregator: error: cannot write the export to standard output: No space left on device"


def test_output_the_disk_cannot_take_is_one_line_for_every_command(tmp_path: Path) -> None:
    """`stats --json > file`, `articles list > file`, `sources > file` on a full disk were tracebacks (exit 1)."""
    db = f"sqlite:///{archive_with_articles(tmp_path / 'a.db')}"
    for command in (["stats", "--json"], ["articles", "list"], ["articles", "show", "1", "--json"], ["sources"]):
        with open("/dev/full", "w") as full:
            line = one_line_error(run_cli("--db", db, *command, stdout=full))
        assert line == "aggregator: error: cannot write to standard output: No space left on device", command


def test_serve_says_in_one_line_why_it_cannot_listen(tmp_path: Path) -> None:
    # uvicorn logged its own error after the app was built and exited 3, unlike `mirror serve` (exit 2, one line).
    import socket

    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert run_cli("--db", db, "db", "upgrade").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        in_use = one_line_error(run_cli("--db", db, "serve", "--port", str(port)))
    assert in_use == (
        f"aggregator: error: cannot listen on 127.0.0.1:{port}: the port is in use: stop what holds it, "
        "or give another --port (0: any free one)"
    )
    elsewhere = one_line_error(run_cli("--db", db, "serve", "--host", "192.0.2.1"))  # RFC 5737: no machine has it
    assert "192.0.2.1 is not an address of this machine" in elsewhere


def test_every_commands_summary_is_one_line_of_the_command_list() -> None:
    """The command list shows each docstring's first paragraph with its line breaks: a summary broken over two lines
    of source read "... the scale-out crawl" then "(by its first run) ..." under it, cut mid-sentence."""

    def commands(group: Any, path: str) -> Iterator[tuple[str, Any]]:
        for name, command in getattr(group, "commands", {}).items():
            yield f"{path} {name}", command
            yield from commands(command, f"{path} {name}")

    listed = dict(commands(typer.main.get_command(app), "aggregator"))
    assert {"aggregator runs", "aggregator articles withdraw", "aggregator db upgrade"} <= set(listed)
    broken = {
        name: summary
        for name, command in listed.items()
        if "\n" in (summary := (command.help or "").strip().split("\n\n")[0])
    }
    assert broken == {}


def test_a_locked_sqlite_archive_says_what_to_do(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """An sqlite3 shell holding a write transaction made a crawl end "database error: database is locked" after the
    wait (a minute: a real lock in a test would cost it), and nothing more."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    import aggregator.cli

    def locked() -> None:
        raise OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(aggregator.cli, "app", locked)
    with pytest.raises(SystemExit) as exited:
        aggregator.cli.main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("aggregator: database error: database is locked: another process held the SQLite archive")
    assert "30 s" in err and "the write it waited to make was not made" in err and err.count("\n") == 1


def test_extract_tells_a_folder_or_a_device_from_a_missing_file(tmp_path: Path) -> None:
    """Each was "no such file" (a file that is there)."""
    for path, said in ((tmp_path, "a folder, not a saved page"), (Path("/dev/null"), "not a regular file")):
        done = run_cli("extract", str(path), "--url", "https://example.org/a")
        assert done.returncode == 2 and done.stderr.strip().startswith(f"aggregator: error: {said}"), done.stderr


# -- what a new operator met: usage errors, flags in --help, a new archive, serve --port 0, narrow runs ----------


def test_usage_errors_are_one_line_in_the_style_of_every_other_error(tmp_path: Path) -> None:
    """Typer drew a boxed panel under the usage line for these; every other error is `aggregator: error: ...`."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    cases = [
        (("articles", "list", "--limit", "0"), "Invalid value for '--limit': ", "articles list"),
        (("health", "--max-age", "5x"), "Invalid value for --max-age: not an interval: '5x'", "health"),
        (("articles", "withdraw", "1"), "Missing option '--reason'", "articles withdraw"),
        (("articles", "lst"), "No such command 'lst'", "articles"),
        (("--bogus",), "No such option: --bogus", ""),
    ]
    for args, said, command in cases:
        done = run_cli("--db", db, *args)
        assert done.returncode == 2, (args, done.stderr)
        error, hint = done.stderr.splitlines()  # the error; where the help is (the command as it was run)
        assert error.startswith(f"aggregator: error: {said}"), (args, done.stderr)
        assert hint.startswith("Try '") and hint.endswith(f"{' ' if command else ''}{command} --help' for help.")
        assert "╭" not in done.stderr and "Usage:" not in done.stderr
    assert not (tmp_path / "a.db").exists()
    # In this process too (CliRunner), as the tests that invoke the app see it; a group run bare shows its help.
    result = CliRunner().invoke(app, ["articles", "list", "--limit", "0"])
    assert result.exit_code == 2 and result.output.startswith("aggregator: error: Invalid value for '--limit'")
    bare = run_cli("db")
    assert bare.returncode == 2 and "Usage:" in bare.stdout and "upgrade" in bare.stdout and not bare.stderr


def test_a_flag_shows_no_placeholder_in_help_and_an_option_that_takes_a_value_keeps_its_own() -> None:
    """Typer 0.2x showed `--json <bool>`, `--all <bool>`, `--help <bool>`: as if each took a value."""
    runner = CliRunner()
    for path, _ in COMMANDS:
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).output
        assert "<bool>" not in shown and "BOOLEAN" not in shown, (path, shown)
    listed = run_cli("articles", "list", "--help").stdout  # the installed script, as an operator runs it
    lines = {line.split()[1]: line.split()[2] for line in listed.splitlines() if line.startswith("│ --")}
    assert {lines[flag] for flag in ("--json", "--undated", "--withdrawn", "--help")} == {"Only", "Print", "Show"}
    assert (lines["--since"], lines["--run"], lines["--limit"]) == ("DATE", "ID", "N")  # values keep theirs
    assert "URL" in run_cli("--help").stdout.split()  # --db URL


def test_every_help_shows_placeholders_as_readme_writes_them() -> None:
    """`export --help` showed `--format <str>` (not its choices), `--source <str>`, `--output <path>`, `crawl`'s
    argument `sources... <list[str]>`: Typer's names of Python types; and usage lines `{ID...}...` for `ID...`."""
    from aggregator.export import FORMATS

    runner = CliRunner()
    shown = {path: runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).output for path, _ in COMMANDS}
    for path, text in shown.items():
        # `<project>` is the --db help's word for the project's folder, not a placeholder
        assert set(re.findall(r"<[^<>]*>", text)) <= {"<project>"}, (path, text)
        usage = next(line for line in text.splitlines() if "Usage:" in line)
        assert "{" not in usage and "}" not in usage, usage  # Typer 0.2x: `{ID...}...` for a required ID...
    usages = {path: next(line.split("[OPTIONS]")[1].strip() for line in text.splitlines() if "Usage:" in line)
              for path, text in shown.items()}  # fmt: skip
    assert usages[("articles", "withdraw")] == usages[("articles", "restore")] == "ID..."
    assert usages[("rejects", "retry")] == "[ID]..." and usages[("crawl",)] == "[SOURCE]..."
    assert (usages[("articles", "show")], usages[("db", "backup")], usages[("search",)]) == ("ID|URL", "FILE", "QUERY")
    rows = [line.split()[1:] for line in shown[("export",)].splitlines() if line.startswith("│ --")]
    options = {row[0]: row[2] if row[1] == "-o" else row[1] for row in rows}  # -o: --output's short name
    assert options["--format"] == f"[{'|'.join(FORMATS)}]" == "[jsonl|csv]"
    assert (options["--output"], options["--source"], options["--since"]) == ("FILE", "SOURCE", "DATE")


def test_help_paragraphs_are_wrapped_to_the_terminal_and_example_blocks_keep_their_lines() -> None:
    """Typer kept a docstring's single line breaks past its first paragraph: at 200 columns `crawl --help` still
    broke "... holds its lock" / "or its site asked ..." where the source did, and at 80 broke it twice."""
    from aggregator.cli import rewrapped

    crawl = CliRunner().invoke(app, ["crawl", "--help"], env={"COLUMNS": "200"}).output
    assert "holds its lock or its site asked (Retry-After) for no request yet." in crawl
    export = CliRunner().invoke(app, ["export", "--help"], env={"COLUMNS": "200"}).output
    assert "exports only them. --changed-since exports what changed" in export
    # Click's mark of a block that keeps its line breaks: a line of a backspace alone before it
    docstring = (
        "First\n    line.\n\n    A paragraph\n    in two.\n\n    \b\n    aggregator crawl --all\n    aggregator runs"
    )
    assert rewrapped(docstring) == "First line.\n\nA paragraph in two.\n\naggregator crawl --all\naggregator runs"


def test_usage_errors_found_as_a_command_runs_say_where_the_help_is(tmp_path: Path) -> None:
    """`export --format xml` was one line with no word of the help, unlike `--limit 0`'s: the commands' own checks of
    a value (a date, a format, a log level) and of options that do not go together answer as Click's do."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    page = tmp_path / "page.html"
    page.write_text("<html></html>", encoding="utf-8")
    cases: list[tuple[tuple[str, ...], str, str]] = [
        (("export", "--format", "xml"), "export", "--format: 'xml' is not one of jsonl, csv"),
        (("export", "--changed-since", "soon"), "export", "--changed-since: not an ISO 8601"),
        (("export", "--changed-since", "2026-01-01", "--undated"), "export", "it takes no --undated"),
        (("stats", "--totals", "--days", "3"), "stats", "it takes no --days"),
        (("runs", "--until", "soon"), "runs", "--until: not an ISO 8601"),
        (("health", "--max-age", "5x"), "health", "Invalid value for --max-age: not an interval"),
        (("crawl", "--all", "--log-level", "LOUD"), "crawl", "--log-level: 'LOUD' is not a log level"),
        (("crawl", "caliber", "--all"), "crawl", "give source keys or --all"),
        (("schedule", "--all", "--offline", "--mirror", "http://x"), "schedule", "exclude each other"),
        (("reextract", "--since", "soon"), "reextract", "--since: not an ISO 8601"),
        (("search", "?!"), "search", "no word to search for"),
        (("serve", "--log-level", "loud"), "serve", "--log-level: 'loud' is not one of uvicorn's log levels"),
        (("extract", str(page), "--url", "ftp://caliber.az/a"), "extract", "not an http(s) URL"),
        (("extract", str(page), "--url", "https://caliber.az/a", "--fetched-at", "soon"), "extract", "--fetched-at"),
        (("extract", str(page), "--url", "https://caliber.az/a", "--charset", "nope"), "extract", "unknown encoding"),
        (("articles", "list", "--language", "English"), "articles list", "--language: 'English' is not a language"),
        (("articles", "list", "--run", "1", "--undated"), "articles list", "it takes no --undated"),
        (("articles", "show", "story-7"), "articles show", "not an article id or an http(s) address"),
        (("articles", "withdraw", "1", "--reason", " "), "articles withdraw", "--reason: say why"),
        (("rejects", "list", "--since", "soon"), "rejects list", "--since: not an ISO 8601"),
        (("rejects", "retry"), "rejects retry", "give the IDs of the rejects to retry, or --all"),
        (("rejects", "retry", "1", "--source", "caliber"), "rejects retry", "--source goes with --all"),
        (("stories", "rebuild", "--since", "soon"), "stories rebuild", "--since: not an ISO 8601"),
        (("dates", "parse", "10:00", "--now", "soon"), "dates parse", "--now: not an ISO 8601"),
        (("dates", "parse", "10:00", "--tz", "Mars/Olympus"), "dates parse", "--tz: unknown time zone"),
        (("--db", "", "runs"), "", "--db: an empty URL"),
    ]
    for args, command, said in cases:
        line = usage_error_line(run_cli(*(args if args[0] == "--db" else ("--db", db, *args))), command)
        assert line.startswith("aggregator: error: ") and said in line, (args, line)
    assert not (tmp_path / "a.db").exists()  # each refused before the archive was opened (or made)


def test_a_crawl_into_an_archive_that_is_not_there_says_it_creates_one(tmp_path: Path) -> None:
    """A mistyped --db path (/srv/archve/a.db) began a new empty archive, and its folders, without a word; the crawl
    log named it by its URL, escaped."""
    target = tmp_path / "new" / "sub" / "a.db"
    first = run_cli("--db", f"sqlite:///{target}", "crawl", "minval", "--offline", "--log-level", "INFO")
    assert first.returncode == 0, first.stderr[-3000:]
    said = [line for line in first.stderr.splitlines() if "creating a new archive" in line]
    assert said == [
        f"aggregator: creating a new archive at {target}, and its folder ({tmp_path / 'new'} did not exist)"
    ]
    assert f"[pipelines.store] INFO: Archiving into {target} (run 1)" in first.stderr
    # the summary's count of the articles the pipelines passed on, beside those they refused
    header = next(line for line in first.stdout.splitlines() if line.startswith("source"))
    assert header.split()[:3] == ["source", "pages", "accepted"] and "rejected" in header.split()
    again = run_cli("--db", f"sqlite:///{target}", "crawl", "minval", "--offline")
    assert again.returncode == 0 and "creating" not in again.stderr, again.stderr[-3000:]
    beside = tmp_path / "b.db"
    made = run_cli("--db", f"sqlite:///{beside}", "crawl", "minval", "--offline")
    assert f"aggregator: creating a new archive at {beside}\n" in made.stderr
    # A crawl that does not start (nothing at the mirror) leaves no new archive behind.
    from tests.conftest import free_port

    nowhere = tmp_path / "c.db"
    stopped = run_cli("--db", f"sqlite:///{nowhere}", "crawl", "minval", "--mirror", f"http://127.0.0.1:{free_port()}")
    assert stopped.returncode == 2 and "nothing answers at the mirror" in stopped.stderr
    assert "creating" not in stopped.stderr and not nowhere.exists()


def test_the_default_archive_is_created_without_a_word(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import aggregator.paths
    from aggregator.cli import announce_new_archive

    default = tmp_path / "data" / "archive.db"
    monkeypatch.setattr(aggregator.paths, "default_db_url", lambda: f"sqlite:///{default}")
    announce_new_archive(f"sqlite:///{default}")
    announce_new_archive(f"sqlite:///{tmp_path / 'data' / '..' / 'data' / 'archive.db'}")  # the same file
    assert capsys.readouterr().err == ""
    announce_new_archive(f"sqlite:///{tmp_path / 'other.db'}")
    assert capsys.readouterr().err == f"aggregator: creating a new archive at {tmp_path / 'other.db'}\n"


def test_serve_on_port_0_says_the_port_it_serves(tmp_path: Path) -> None:
    """It said "Serving the archive at http://127.0.0.1:0/" while uvicorn listened on a port of its own."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    db = f"sqlite:///{archive_with_articles(tmp_path / 'a.db')}"
    script = Path(sys.executable).with_name("aggregator")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "aggregator"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")} | {"COLUMNS": "60"}
    server = subprocess.Popen(
        [*command, "--db", db, "serve", "--port", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        first = server.stdout.readline()  # whole on one line, however narrow the terminal
        assert first.startswith("Serving the archive at http://127.0.0.1:"), first
        port = int(first.split("http://127.0.0.1:")[1].split("/")[0])
        assert port != 0
        for _ in range(300):  # until it has started
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/articles?limit=1", timeout=10) as answer:
                    assert len(json.load(answer)["items"]) == 1
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1][-3000:]
                time.sleep(0.1)
        else:
            pytest.fail("nothing answered at the port said")
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)


def test_runs_show_every_figure_on_a_terminal_narrower_than_its_table() -> None:
    """At 60 columns Rich dropped the table's last columns, the HTTP errors and the health, without a word."""
    from rich.console import Console

    from aggregator.commands.runs import runs_view

    run = {
        "id": 12345, "crawl": 12340, "source": "caliber", "status": "partial", "finish_reason": "closespider_timeout",
        "started_at": "2026-12-03T11:39:30Z", "finished_at": "2026-12-03T12:39:31Z", "pages": 54321,
        "new": 12345, "updated": 123, "unchanged": 1234, "rejected": 987, "http_errors": 876,
        "dates_unparsed": 12, "swept": 4567, "health": "red", "host": "crawler-1", "pid": 4242,
    }  # fmt: skip
    worker = run | {"id": 12346, "host": "crawler-2"}  # another worker of its scale-out crawl (one alone is a run)
    for width in (40, 60, 80):
        console = Console(width=width, record=True, force_terminal=False)
        for part in runs_view([run, worker], console):
            console.print(part)
        text = console.export_text()
        assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= width, text
        for value in ("12345", "caliber", "partial", "closespider_timeout", "54321", "123", "1234", "987", "876",
                      "red", "12340"):  # fmt: skip
            assert value in text, (width, value, text)
        # the table where it fits whole (80 columns), else a few lines a run, each figure named
        words = " ".join(text.split())
        assert ("987 rejected, 876 HTTP errors" in words) == (width < 80), (width, text)


def test_serve_names_uvicorns_own_log_levels() -> None:
    """`serve --help` names the levels without importing uvicorn for every command: they must stay uvicorn's."""
    from uvicorn.config import LOG_LEVELS

    from aggregator.commands.serve import UVICORN_LOG_LEVELS

    assert tuple(LOG_LEVELS) == UVICORN_LOG_LEVELS
    shown = " ".join(CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output.split())
    assert f"one of {', '.join(LOG_LEVELS)}" in shown
