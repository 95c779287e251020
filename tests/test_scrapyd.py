"""The project deploys to Scrapyd: `scrapyd-deploy` builds an egg from this checkout, and a real Scrapyd daemon, which
can import the project only from that egg, runs a crawl of the offline sample into an archive it creates, and
writes the job's items to its feed."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, free_port
from tests.crawl_checks import check_archive, expected, runs

PROJECT_FILES = ("scrapy.cfg", "setup.py", "pyproject.toml", "README.md", "aggregator", "spiders", "pipelines")


def build_egg(tmp_path: Path) -> Path:
    """What an operator runs in the checkout, `scrapyd-deploy --build-egg`, in a copy of it (the build leaves
    build/ and *.egg-info/ behind)."""
    deploy = Path(sys.executable).with_name("scrapyd-deploy")
    if not deploy.exists():
        pytest.fail("scrapyd-deploy is missing: the test extras install scrapyd-client (make test)")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():  # without setup.py, scrapyd-deploy writes one of its own
            shutil.copy2(source, checkout / name)
    egg = tmp_path / "aggregator.egg"
    built = subprocess.run(
        [str(deploy), "--build-egg", str(egg)], cwd=checkout, capture_output=True, text=True, timeout=180
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return egg


def python_without_the_checkout(tmp_path: Path) -> Path:
    """A Python that has this environment's packages (Scrapy, Scrapyd, ...) but not the project: the editable
    install's .pth file is not read, so `aggregator` can only come from the deployed egg, as on a Scrapyd host."""
    venv = tmp_path / "scrapyd-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "environment-packages.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


def call(base: str, endpoint: str, data: dict[str, Any] | list[tuple[str, str]] | None = None) -> Any:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(f"{base}/{endpoint}", data=body, timeout=60) as answer:
        reply = json.load(answer)
    assert reply.get("status") == "ok", reply
    return reply


def upload(base: str, egg: Path, version: str) -> Any:
    """addversion.json takes the egg as a multipart upload."""
    boundary = "aggregator-egg-boundary"
    parts = [
        *(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in (("project", "aggregator"), ("version", version))
        ),
        f'--{boundary}\r\nContent-Disposition: form-data; name="egg"; filename="{egg.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode(),
        egg.read_bytes(),
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    request = urllib.request.Request(
        f"{base}/addversion.json", data=b"".join(parts),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=120) as answer:
        reply = json.load(answer)
    assert reply.get("status") == "ok", reply
    return reply


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """A Scrapyd daemon on 127.0.0.1 polling its queue often: (its URL, its folder, its Python)."""
    python = python_without_the_checkout(tmp_path)
    home = tmp_path / "scrapyd"
    home.mkdir()
    port = free_port()
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\nbind_address = 127.0.0.1\n"
        f"http_port = {port}\npoll_interval = 0.2\nmax_proc = 2\n"
        f"eggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\ndbs_dir = {home / 'dbs'}\n"
        f"items_dir = {home / 'items'}\n"  # a feed export of each job's items, as many operators switch on
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGGREGATOR_", "SCRAPY_", "PYTHONPATH"))}
    env["HOME"] = str(home)  # no ~/.scrapyd.conf of the user's
    log = (home / "daemon.log").open("wb")
    daemon = subprocess.Popen([str(python), "-m", "scrapyd"], cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                call(base, "daemonstatus.json")
                break
            except OSError:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("Scrapyd did not start: " + (home / "daemon.log").read_text()[-3000:])
                time.sleep(0.2)
        yield base, home, python
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()


def finished_job(base: str, job: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in call(base, "listjobs.json?project=aggregator")["finished"]:
            if entry["id"] == job:
                return dict(entry)
        time.sleep(0.3)
    pytest.fail(f"Scrapyd job {job} did not finish in {timeout:.0f} s")


@pytest.mark.slow
def test_scrapyd_runs_a_crawl_from_the_deployed_egg(
    tmp_path: Path, scrapyd: tuple[str, Path, Path], mirror_url: str
) -> None:
    base, home, python = scrapyd
    cannot = subprocess.run([str(python), "-c", "import aggregator.settings"], cwd=home, capture_output=True, text=True)
    assert cannot.returncode != 0, "the daemon's Python must not see the checkout, only the egg"

    egg = build_egg(tmp_path)
    names = zipfile.ZipFile(egg).namelist()
    assert "aggregator/store/migrations/versions/0001_initial.py" in names  # no package: data the build must take
    assert "aggregator/store/migrations/script.py.mako" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "data/"))]

    assert upload(base, egg, "r1")["spiders"] >= 6  # Scrapyd lists the spiders by running `scrapy list` in the egg
    spiders = call(base, "listspiders.json?project=aggregator")["spiders"]
    assert {"caliber", "haqqin", "apa", "report", "trend"} <= set(spiders)

    db_url = f"sqlite:///{tmp_path / 'deployed.db'}"  # a new file: the job creates the schema from the egg
    job = call(
        base, "schedule.json",
        [("project", "aggregator"), ("spider", "caliber"),
         ("setting", f"AGGREGATOR_MIRROR={mirror_url}"), ("setting", f"AGGREGATOR_DB_URL={db_url}")],
    )["jobid"]  # fmt: skip
    finished_job(base, job)
    log = next((home / "logs" / "aggregator" / "caliber").glob(f"{job}.log")).read_text(encoding="utf-8")
    assert "Traceback" not in log, log[-4000:]
    assert "Spider closed (finished)" in log, log[-4000:]

    check_archive(db_url, "caliber")
    [run] = runs(db_url)
    feed = [json.loads(line) for line in (home / "items" / "aggregator" / "caliber" / f"{job}.jl").open()]
    exported = {item["canonical_url"]: item for item in feed if "title" in item}
    assert set(exported) == {a["url"] for a in expected("caliber")["articles"]}
    assert all(base64.b64decode(item["raw_body"]).startswith(b"<") for item in exported.values())
    assert (run.source, run.status) == ("caliber", "finished")

    # A job of a source another run holds: one warning naming the holder and a closed spider, no traceback (it was
    # asyncio's "Task exception was never retrieved", a 22-line one), and no run row.
    from aggregator.locks import source_locks

    with source_locks(db_url, ["caliber"]) as (locked, _):
        assert locked == ["caliber"]
        busy = call(
            base, "schedule.json",
            [("project", "aggregator"), ("spider", "caliber"),
             ("setting", f"AGGREGATOR_MIRROR={mirror_url}"), ("setting", f"AGGREGATOR_DB_URL={db_url}")],
        )["jobid"]  # fmt: skip
        finished_job(base, busy)
    log = next((home / "logs" / "aggregator" / "caliber").glob(f"{busy}.log")).read_text(encoding="utf-8")
    assert "Traceback" not in log and "Task exception" not in log, log[-4000:]
    warning = f"WARNING: caliber: another run of this source is in progress (locked by pid {os.getpid()}); this run"
    assert warning in log and "Spider closed (source_busy)" in log, log[-4000:]
    assert len(runs(db_url)) == 1
