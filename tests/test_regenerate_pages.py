"""`make regen-pages` says what it did to each saved-page case, and what that asks of the reader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.regenerate_pages import PAGES, main

CASE = PAGES / "report" / "v2-az-two-element-date"


def test_a_new_case_is_written_then_unchanged_then_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "report" / "new-case"
    case.mkdir(parents=True)
    for name in ("page.html", "meta.json"):
        shutil.copy(CASE / name, case / name)

    assert main([], root=tmp_path) == 0
    assert capsys.readouterr().out.splitlines() == [
        "written    report/new-case",
        "1 written (new: read each file whole before committing it)",
    ]
    written = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    assert (written["source"], written["rejected"]) == ("report", None)

    assert main(["report/new-case"], root=tmp_path) == 0
    assert capsys.readouterr().out.splitlines() == ["unchanged  report/new-case", "1 unchanged"]

    (case / "expected.json").write_text("{}\n", encoding="utf-8")  # what an extractor change looks like from here
    assert main(["report"], root=tmp_path) == 0  # a spider's name: all its cases
    assert capsys.readouterr().out.splitlines() == [
        "CHANGED    report/new-case",
        "1 CHANGED (read each diff before committing it)",
    ]


def test_a_case_it_cannot_read_is_named_and_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    no_meta = tmp_path / "report" / "no-meta"
    no_meta.mkdir(parents=True)
    shutil.copy(CASE / "page.html", no_meta / "page.html")
    no_date = tmp_path / "report" / "no-fetched-at"
    no_date.mkdir()
    shutil.copy(CASE / "page.html", no_date / "page.html")
    (no_date / "meta.json").write_text('{"url": "https://report.az/a/b/", "description": "x"}', encoding="utf-8")

    assert main([], root=tmp_path) == 1
    assert capsys.readouterr().out.splitlines() == [
        "skipped    report/no-fetched-at: meta.json gives no fetched_at",
        "skipped    report/no-meta: no meta.json",
        "2 skipped (left alone: see docs/adding-a-source.md)",
    ]
    assert not (no_meta / "expected.json").exists() and not (no_date / "expected.json").exists()
