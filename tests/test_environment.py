"""``AGGREGATOR_*`` variables: read into settings when they make sense, a one-line error naming them when not."""

from __future__ import annotations

import socket
import sys

import pytest

from aggregator.cli import main
from aggregator.environment import EnvironmentValueError, env_settings, flag
from aggregator.mirror import unreachable


def test_values_that_make_sense_become_settings() -> None:
    found = env_settings(
        {
            "AGGREGATOR_RECHECK_HOURS": "12.5",
            "AGGREGATOR_STORE_BATCH": "50",
            "AGGREGATOR_MAX_RUN_MINUTES": "0",
            "AGGREGATOR_MAX_DOWNLOAD_MB": "2",
            "AGGREGATOR_CONCURRENCY_PER_SITE": "3",
            "AGGREGATOR_MIRROR": "http://127.0.0.1:8000",
            "AGGREGATOR_REFRESH": "Yes",
            "AGGREGATOR_RUN_LOCK": "off",
            "AGGREGATOR_TELNET": "",
            "AGGREGATOR_STORE_WRITER": "thread",
            "AGGREGATOR_SWEEP_DAYS": "14",
            "AGGREGATOR_SWEEP_PER_RUN": "0",
            "AGGREGATOR_REDIS_HEARTBEAT_TTL": "6",
            "AGGREGATOR_REDIS_URL": "unix:///run/redis.sock?db=2",
            "AGGREGATOR_REDIS_NAMESPACE": "aggregator-staging",
            "PATH": "/bin",
        }
    )
    assert found == {
        "AGGREGATOR_RECHECK_HOURS": 12.5,
        "AGGREGATOR_STORE_BATCH": 50,
        "CLOSESPIDER_TIMEOUT": 0,
        "DOWNLOAD_MAXSIZE": 2 * 1024 * 1024,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 3,
        "AGGREGATOR_MIRROR": "http://127.0.0.1:8000",
        "AGGREGATOR_REFRESH": True,
        "AGGREGATOR_RUN_LOCK": False,
        "TELNETCONSOLE_ENABLED": False,
        "AGGREGATOR_STORE_WRITER": "thread",
        "AGGREGATOR_SWEEP_DAYS": 14.0,
        "AGGREGATOR_SWEEP_PER_RUN": 0,
        "AGGREGATOR_REDIS_HEARTBEAT_TTL": 6.0,
        "AGGREGATOR_REDIS_URL": "unix:///run/redis.sock?db=2",
        "AGGREGATOR_REDIS_NAMESPACE": "aggregator-staging",
    }


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("AGGREGATOR_RECHECK_HOURS", "2h", "AGGREGATOR_RECHECK_HOURS='2h': expected a number of hours"),
        ("AGGREGATOR_RECHECK_HOURS", "-1", "AGGREGATOR_RECHECK_HOURS='-1': expected hours as a number of 0 or more"),
        ("AGGREGATOR_RATE_LIMIT_WAIT", "nan", "expected seconds as a number of 0 or more"),
        ("AGGREGATOR_STORE_BATCH", "1e3", "AGGREGATOR_STORE_BATCH='1e3': expected a whole number of items"),
        ("AGGREGATOR_RUNS_KEEP_MIN", "ten", "expected a whole number of runs"),
        ("AGGREGATOR_SWEEP_PER_RUN", "all", "AGGREGATOR_SWEEP_PER_RUN='all': expected a whole number of articles"),
        ("AGGREGATOR_SWEEP_DAYS", "30d", "AGGREGATOR_SWEEP_DAYS='30d': expected a number of days"),
        ("AGGREGATOR_MAX_DOWNLOAD_MB", "64MB", "expected a number of megabytes"),
        ("AGGREGATOR_CONCURRENCY_PER_SITE", "0", "at least 1 request at a time"),
        ("AGGREGATOR_REDIS_HEARTBEAT_TTL", "3.5", "AGGREGATOR_REDIS_HEARTBEAT_TTL='3.5': at least 4 seconds"),
        ("AGGREGATOR_REDIS_NAMESPACE", "prod:caliber", "AGGREGATOR_REDIS_NAMESPACE='prod:caliber': letters, digits"),
        ("AGGREGATOR_REDIS_NAMESPACE", "news*", "'_', '.' and '-' only, such as aggregator-staging"),
        ("AGGREGATOR_REFRESH", "ture", "AGGREGATOR_REFRESH='ture': expected 1/true/yes/on or 0/false/no/off"),
        ("AGGREGATOR_REMOTE_CONTROL", "enabled", "AGGREGATOR_REMOTE_CONTROL='enabled'"),
        ("AGGREGATOR_MIRROR", "127.0.0.1:8000", "AGGREGATOR_MIRROR needs the mirror's http(s) address"),
        ("AGGREGATOR_STORE_WRITER", "proc", "AGGREGATOR_STORE_WRITER='proc': expected process or thread"),
        # Both crawled until Scrapy's engine opened, then ended in a Twisted traceback and "crawl ended with None".
        ("AGGREGATOR_REDIS_URL", "http://x", "AGGREGATOR_REDIS_URL needs a redis://, rediss:// or unix:// address"),
        ("AGGREGATOR_REDIS_URL", "10.0.0.5:6379", "such as redis://127.0.0.1:6379/0, not '10.0.0.5:6379'"),
        ("AGGREGATOR_REDIS_URL", "redis://:secret@host:63790x/0", "a port that is a number, not 'redis://:***@host"),
        ("AGGREGATOR_PUBLIC_URL", "icma.az", "AGGREGATOR_PUBLIC_URL needs the site's http(s) address"),
        ("AGGREGATOR_PUBLIC_URL", "https://icma.az/news", "the site's address alone (scheme, host, port)"),
        ("AGGREGATOR_PUBLIC_URL", "https://icma.az:x", "AGGREGATOR_PUBLIC_URL is no address"),
    ],
)
def test_a_value_a_variable_cannot_take_is_refused_by_name(name: str, value: str, says: str) -> None:
    with pytest.raises(EnvironmentValueError) as refused:
        env_settings({name: value})
    assert says in str(refused.value)


def test_flags_read_the_usual_words_either_way() -> None:
    assert [flag(v) for v in ("1", "TRUE", " yes ", "On")] == [True] * 4
    assert [flag(v) for v in ("0", "False", "no", "OFF", "", None)] == [False] * 6


def cli_error(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setattr(sys, "argv", ["aggregator", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_the_command_names_the_variable_in_one_line(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # It printed a traceback ending in "could not convert string to float: 'abc'", naming no variable.
    monkeypatch.setenv("AGGREGATOR_RECHECK_HOURS", "abc")
    said = cli_error(["--db", f"sqlite:///{tmp_path / 'a.db'}", "runs"], monkeypatch, capsys)
    assert said == "aggregator: error: AGGREGATOR_RECHECK_HOURS='abc': expected a number of hours"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def test_a_mirror_nothing_answers_at_is_one_line_before_any_crawl(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # It crawled: every request of every source failed, and the summary blamed each source ("no page was fetched").
    db = f"sqlite:///{tmp_path / 'a.db'}"
    mirror = f"http://127.0.0.1:{closed_port()}"
    said = cli_error(["--db", db, "crawl", "caliber", "--mirror", mirror], monkeypatch, capsys)
    assert said.startswith(f"aggregator: error: nothing answers at the mirror {mirror} (")
    assert "--offline" in said
    monkeypatch.setenv("AGGREGATOR_MIRROR", mirror)  # the same from the environment
    assert "nothing answers at the mirror" in cli_error(["--db", db, "crawl", "caliber"], monkeypatch, capsys)
    monkeypatch.setenv("AGGREGATOR_MIRROR", "127.0.0.1:8000")
    assert "AGGREGATOR_MIRROR needs" in cli_error(["--db", db, "crawl", "caliber"], monkeypatch, capsys)


def test_unreachable_says_why_or_nothing() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        assert unreachable(f"http://127.0.0.1:{listening.getsockname()[1]}") is None
    assert unreachable(f"http://127.0.0.1:{closed_port()}") == "Connection refused"
    assert unreachable("http://127.0.0.1:port") == "its port is not a number"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("{bogus} x", "it must contain {site} and {source}"),
        ("{site} {source} {bogus}", "only {site} and {source} can be filled in (KeyError: 'bogus'"),
        ("{site} {source} {0}", "only {site} and {source} can be filled in (IndexError"),
        ("{site} {source} {", "only {site} and {source} can be filled in (ValueError"),
    ],
)
def test_an_attribution_template_that_cannot_be_filled_in_is_refused_by_name(
    value: str, says: str, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was accepted, and the crawl's first article failed with a Twisted traceback ("crawl ended with None")."""
    with pytest.raises(EnvironmentValueError) as refused:
        env_settings({"AGGREGATOR_ATTRIBUTION_RU": value})
    assert str(refused.value).startswith(f"AGGREGATOR_ATTRIBUTION_RU={value!r}: ")
    assert says in str(refused.value)
    monkeypatch.setenv("AGGREGATOR_ATTRIBUTION_RU", value)
    said = cli_error(["--db", f"sqlite:///{tmp_path / 'a.db'}", "crawl", "caliber", "--offline"], monkeypatch, capsys)
    assert said.startswith("aggregator: error: AGGREGATOR_ATTRIBUTION_RU=")
    assert not (tmp_path / "a.db").exists()
