"""Regenerate the saved-page tests' ``expected.json`` after a deliberate change to extraction or cleanup.

    python -m tests.regenerate_pages                       # every case
    python -m tests.regenerate_pages ru-slug-banner        # cases by name (under any spider)
    python -m tests.regenerate_pages caliber/en-reprint    # or as <spider>/<case>

Each case is ``tests/fixtures/pages/<spider>/<case>/`` with ``page.html`` (the page bytes as fetched),
``meta.json`` (``url``, optional ``headers``, ``fetched_at``, ``description``, optional ``allow_empty``) and
``expected.json``, which is ``aggregator.extract.extract_page``'s output for that page. Read the diff of every
regenerated file before committing it: the expected output is only as good as the eye that checked it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aggregator.extract import extract_page

PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"

VOLATILE_FIELDS: frozenset[str] = frozenset()
"""Fields left out of ``expected.json`` because they change from run to run; none while fetched_at is fixed."""


@dataclass(frozen=True)
class PageCase:
    spider: str
    name: str
    folder: Path

    @property
    def id(self) -> str:
        return f"{self.spider}/{self.name}"

    @property
    def page(self) -> Path:
        return self.folder / "page.html"

    @property
    def meta_file(self) -> Path:
        return self.folder / "meta.json"

    @property
    def expected_file(self) -> Path:
        return self.folder / "expected.json"

    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = json.loads(self.meta_file.read_text(encoding="utf-8"))
        return meta

    def extract(self) -> dict[str, Any]:
        """What ``extract_page`` makes of the saved page today, without the volatile fields."""
        meta = self.meta()
        record = extract_page(
            self.page.read_bytes(),
            meta["url"],
            headers=meta.get("headers"),
            fetched_at=datetime.fromisoformat(meta["fetched_at"]),
        )
        return {k: v for k, v in record.items() if k not in VOLATILE_FIELDS}

    def expected(self) -> dict[str, Any]:
        expected: dict[str, Any] = json.loads(self.expected_file.read_text(encoding="utf-8"))
        return expected


def all_cases(root: Path = PAGES) -> list[PageCase]:
    """Every case folder, ``<root>/<spider>/<case>/``, sorted."""
    return [
        PageCase(spider_dir.name, case_dir.name, case_dir)
        for spider_dir in sorted(p for p in root.iterdir() if p.is_dir())
        for case_dir in sorted(p for p in spider_dir.iterdir() if p.is_dir())
    ]


def dump(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, indent=2) + "\n"


def select(cases: list[PageCase], names: list[str]) -> list[PageCase]:
    if not names:
        return cases
    chosen = [c for c in cases if c.id in names or c.name in names]
    unknown = [n for n in names if not any(n in {c.id, c.name} for c in cases)]
    if unknown:
        raise SystemExit(f"no such case: {', '.join(unknown)} (known: {', '.join(c.id for c in cases)})")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.regenerate_pages", description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case names (<case> or <spider>/<case>); default: all")
    args = parser.parse_args(argv)
    for case in select(all_cases(), args.cases):
        text = dump(case.extract())
        before = case.expected_file.read_text(encoding="utf-8") if case.expected_file.exists() else None
        if before == text:
            status = "unchanged"
        else:
            case.expected_file.write_text(text, encoding="utf-8")
            status = "written" if before is None else "CHANGED"
        print(f"{status:9}  {case.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
