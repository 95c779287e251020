"""Write the saved-page tests' ``expected.json``: a new case's first one, and again after a deliberate change to
extraction or cleanup.

    python -m tests.regenerate_pages                       # every case (what `make regen-pages` runs)
    python -m tests.regenerate_pages ru-slug-banner        # cases by name (under any spider)
    python -m tests.regenerate_pages caliber/en-reprint    # or as <spider>/<case>
    python -m tests.regenerate_pages caliber               # every case of a spider

Each case is ``tests/fixtures/pages/<spider>/<case>/`` with ``page.html`` (the page bytes as fetched),
``meta.json`` (``url``, optional ``headers``, ``fetched_at``, ``description``, optional ``allow_empty``) and
``expected.json``, which is ``aggregator.extract.extract_page``'s output for that page. Each case is printed with
what was done: ``written`` (a new case: read the whole file, which is what the test will hold the extractor to),
``CHANGED`` (the output differs from the file it replaced: read the diff) or ``unchanged``. A case that cannot be
read (no page.html or meta.json, no ``url`` or ``fetched_at``) is named, left alone, and the exit status is 1.
The expected output is only as good as the eye that checked it. How to add a case, and what each ``meta.json``
field means: docs/adding-a-source.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
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


def problem(case: PageCase) -> str | None:
    """Why the case cannot be extracted (a file or a ``meta.json`` field it needs is missing), or None."""
    for file in (case.page, case.meta_file):
        if not file.is_file():
            return f"no {file.name}"
    try:
        meta = case.meta()
    except ValueError as exc:
        return f"meta.json is not JSON: {exc}"
    missing = [k for k in ("url", "fetched_at") if not (isinstance(meta, dict) and meta.get(k))]
    return f"meta.json gives no {' and no '.join(missing)}" if missing else None


def select(cases: list[PageCase], names: list[str]) -> list[PageCase]:
    """The cases named by ``<spider>/<case>``, ``<case>`` or ``<spider>`` (all of its cases); every case for none."""
    if not names:
        return cases
    wanted = set(names)
    chosen = [c for c in cases if wanted & {c.id, c.name, c.spider}]
    unknown = [n for n in names if not any(n in {c.id, c.name, c.spider} for c in cases)]
    if unknown:
        raise SystemExit(f"no such case: {', '.join(unknown)} (known: {', '.join(c.id for c in cases)})")
    return chosen


ADVICE = {
    "written": "new: read each file whole before committing it",
    "CHANGED": "read each diff before committing it",
    "skipped": "left alone: see docs/adding-a-source.md",
}
"""What the closing line asks of the reader, by what was done to the cases."""


def regenerate(case: PageCase) -> str:
    """Write the case's ``expected.json`` unless it holds today's output already; what was done."""
    text = dump(case.extract())
    before = case.expected_file.read_text(encoding="utf-8") if case.expected_file.exists() else None
    if before == text:
        return "unchanged"
    case.expected_file.write_text(text, encoding="utf-8")
    return "written" if before is None else "CHANGED"


def main(argv: list[str] | None = None, root: Path = PAGES) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.regenerate_pages", description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="<spider>/<case>, <case> or <spider>; default: every case")
    args = parser.parse_args(argv)
    done: Counter[str] = Counter()
    for case in select(all_cases(root), args.cases):
        why = problem(case)
        status = "skipped" if why else regenerate(case)
        print(f"{status:9}  {case.id}" + (f": {why}" if why else ""))
        done[status] += 1
    closing = (f"{n} {status}" + (f" ({ADVICE[status]})" if status in ADVICE else "") for status, n in done.items())
    print("; ".join(closing))
    return 1 if done["skipped"] else 0


if __name__ == "__main__":
    sys.exit(main())
