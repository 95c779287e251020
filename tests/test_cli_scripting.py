"""What a script reading the ``aggregator`` command's output relies on (jq from cron): instants spelt one way, as the
read API and ``export`` spell them; a reader that stops early as a normal end; the same counts from ``runs``,
``metrics`` and ``health``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from aggregator.health_checks import PREFIX, Measures
from aggregator.run_counts import run_counts
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.repository import RejectRecord
from tests.conftest import ROOT, run_cli
from tests.test_store import item

OWN_ZONE = {"baku", "local"}
"""Keys of times given in a zone of their own, with its offset (``articles show``'s Baku time, ``dates parse``'s)."""
PAGE_TEXT = {"published_raw", "published_meta", "published_feed"}
"""Keys of dates as a page or a feed printed them: text, whatever it looks like."""


def instants(document: Any, key: str = "") -> list[tuple[str, str]]:
    """(key, text) of every string in a JSON document that is an ISO 8601 time with a zone, but for ``OWN_ZONE``'s
    and ``PAGE_TEXT``'s."""
    if isinstance(document, dict):
        return [found for k, v in document.items() for found in instants(v, k)]
    if isinstance(document, list):
        return [found for v in document for found in instants(v, key)]
    if not isinstance(document, str) or "T" not in document or key in OWN_ZONE | PAGE_TEXT:
        return []
    try:
        zoned = datetime.fromisoformat(document).tzinfo is not None
    except ValueError:
        return []
    return [(key, document)] if zoned else []


def scripted_archive(path: Path) -> str:
    """An SQLite archive with what every ``--json`` shows an instant of: articles (one withdrawn), a refused page
    with its item, a judged run."""
    url = f"sqlite:///{path}"
    archive = Archive.open(url)
    try:
        archive.sync_sources(all_sources())
        refused = item(9, title="")
        record = RejectRecord.of_page(refused, "validate", "no title")
        archive.save([item(n) for n in range(3)], [record])
        archive.withdraw([archive.article_id_for(item(2).canonical_url)], "a takedown request")
        run = archive.start_run("caliber", "caliber")
        stats = {"downloader/request_count": 3, "response_received_count": 3, PREFIX + "extracted": 3}
        verdict = {"status": "green", "problems": [], **asdict(Measures.from_stats(stats, []))}
        archive.finish_run(run, status="finished", reason="finished", stats=stats, health=verdict)
    finally:
        archive.close()
    return url


def test_every_json_output_spells_a_utc_instant_as_the_api_and_export_do(tmp_path: Path) -> None:
    """`articles list --json` said 2026-11-24T06:05:00+00:00 where `export` and the read API say 2026-11-24T06:05:00Z
    for the same instant: a script joining them on it matched nothing."""
    db = scripted_archive(tmp_path / "a.db")
    (reject,) = json.loads(run_cli("--db", db, "rejects", "list", "--json").stdout)
    page = ROOT / "data" / "mirror" / "minval.az" / "news" / "124006.html"
    commands = [
        ("articles", "list", "--json"),
        ("articles", "list", "--withdrawn", "--json"),
        ("articles", "show", "1", "--json"),
        ("articles", "history", "1", "--json"),
        ("rejects", "list", "--json"),
        ("rejects", "show", str(reject["id"]), "--json"),
        ("runs", "--json"),
        ("health", "--source", "caliber", "--max-age", "0", "--json"),
        ("search", "Текст", "--json"),
        ("dates", "parse", "Вчера, 15:31", "--now", "2026-09-15T13:24:00+04:00", "--json"),
        ("extract", str(page), "--url", "https://minval.az/news/124006", "--fetched-at", "2026-11-25T14:00+04:00",
         "--json"),
    ]  # fmt: skip
    for command in commands:
        done = run_cli("--db", db, *command)
        assert done.returncode == 0, (command, done.stderr)
        found = instants(json.loads(done.stdout))
        assert found, f"no instant in `{' '.join(command)}`: the test looks at nothing"
        assert [(key, text) for key, text in found if not text.endswith("Z")] == [], command
    # The same instants as `export` (and the read API, which spells them through the same helper) gives them.
    exported = {
        row["id"]: row
        for row in map(json.loads, run_cli("--db", db, "export", "--format", "jsonl").stdout.splitlines())
    }
    for row in json.loads(run_cli("--db", db, "articles", "list", "--json").stdout):
        assert (row["published_at"], row["archived_at"]) == (
            exported[row["id"]]["published_at"],
            exported[row["id"]]["archived_at"],
        )
    shown = json.loads(run_cli("--db", db, "articles", "show", "1", "--json").stdout)["times"]["published_at"]
    assert shown == {"utc": "2026-03-01T10:00:00Z", "baku": "2026-03-01T14:00:00+04:00"}  # Baku's keeps its offset


def console_script(*args: str) -> subprocess.Popen[bytes]:
    """The installed ``aggregator`` script in a process of its own, its standard output a pipe the test reads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")} | {"COLUMNS": "200"}
    script = Path(sys.executable).with_name("aggregator")
    return subprocess.Popen([str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)


def test_a_reader_that_stops_early_ends_no_command_badly(tmp_path: Path) -> None:
    """`articles list --json | head -1` exited 1 (Click's answer to the closed pipe), `articles show ID | head -1`
    too (Rich's), where the same table's one big write happened to pass: a script with `pipefail` took a reader that
    had read what it wanted for a failed command. Each prints far more than a pipe holds, so the pipe is closed while
    it writes."""
    path = tmp_path / "a.db"
    archive = Archive.open(f"sqlite:///{path}")
    try:
        archive.sync_sources(all_sources())
        long = "Очень длинный заголовок статьи " * 60
        archive.save([item(n, title=f"{n} {long}") for n in range(120)])
        archive.save([item(0, body_text=f"{long}\n\n" * 400)])  # a new version of article 1, with a long body
    finally:
        archive.close()
    db = f"sqlite:///{path}"
    for command in (["articles", "list", "--limit", "120", "--json"], ["articles", "list", "--limit", "120"],
                    ["articles", "show", "1", "--json"], ["articles", "show", "1"]):  # fmt: skip
        process = console_script("--db", db, *command)
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline()
        process.stdout.close()
        status = process.wait(timeout=120)
        stderr = process.stderr.read().decode()
        process.stderr.close()
        assert (status, stderr) == (0, ""), command


def test_runs_metrics_and_health_count_a_swept_page_found_gone_alike(tmp_path: Path) -> None:
    """A page the sweep asked for again and found gone withdraws its article: the source's answer, not a failing site.
    The health check never counted it as an HTTP error; `runs` and `metrics` did, and showed errors on a source
    whose verdict had none."""
    stats = {"downloader/request_count": 40, "response_received_count": 35, PREFIX + "extracted": 30,
             "aggregator/http_errors": 5, "aggregator/swept": 10, "aggregator/swept_gone": 4}  # fmt: skip
    measures = Measures.from_stats(stats, [])
    assert measures.http_errors == run_counts(stats)["http_errors"] == 1  # one definition
    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(db)
    try:
        run = archive.start_run("caliber", "caliber")
        verdict = {"status": "green", "problems": [], **asdict(measures)}
        archive.finish_run(run, status="finished", reason="finished", stats=stats, health=verdict)
    finally:
        archive.close()
    (listed,) = json.loads(run_cli("--db", db, "runs", "--json").stdout)
    assert (listed["http_errors"], listed["swept_gone"]) == (1, 4)
    (health,) = json.loads(run_cli("--db", db, "health", "--source", "caliber", "--json").stdout)
    assert health["http_errors"] == 1
    counts = {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(run_cli("--db", db, "metrics").stdout)
        for sample in family.samples
        if sample.name == "aggregator_source_last_run_count" and sample.labels["source"] == "caliber"
    }
    assert (counts["http_errors"], counts["swept_gone"]) == (1.0, 4.0)
