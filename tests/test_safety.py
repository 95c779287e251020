"""Safe defaults on a shared host: a crawl opens no listening socket but the offline mirror's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.crawl import project_settings
from tests.conftest import ROOT


def probe(tmp_path: Path, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.helpers.socket_probe", f"sqlite:///{tmp_path / 'a.db'}"],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_crawl_listens_on_nothing_but_the_mirror(tmp_path: Path) -> None:
    result = probe(tmp_path)
    assert result["pages"] > 40
    assert result["listening"] == [result["mirror_port"]]
    # Nor does it load the remote console's code (Scrapy imported it, and its web server, only to find it off), nor
    # scrapy-redis, nor trafilatura: each was a part of every crawl's start (a second on a slow machine, together).
    assert result["loaded"] == []


@pytest.mark.parametrize("flag", ["AGGREGATOR_TELNET", "AGGREGATOR_REMOTE_CONTROL"])
def test_an_operator_can_switch_the_consoles_on(tmp_path: Path, flag: str) -> None:
    """The probe above would see them: with the switch on, one more port listens."""
    result = probe(tmp_path, **{flag: "1"})
    assert result["mirror_port"] in result["listening"]
    assert len(result["listening"]) == 2
    assert ("aiohttp" in result["loaded"]) == (flag == "AGGREGATOR_REMOTE_CONTROL")


def test_consoles_are_off_by_default_and_the_user_agent_names_us() -> None:
    settings = project_settings()
    assert settings.getbool("TELNETCONSOLE_ENABLED") is False
    assert settings.getbool("REMOTE_CONTROL_ENABLED") is False
    assert settings["USER_AGENT"].startswith("aggregator/")
    assert settings["AGGREGATOR_CONTACT_URL"] in settings["USER_AGENT"]
    contact = project_settings({"AGGREGATOR_CONTACT_URL": "https://ops.example.org/crawler"})
    assert "+https://ops.example.org/crawler" in contact["USER_AGENT"]
