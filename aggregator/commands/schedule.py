"""``aggregator schedule``: crawl every N minutes, forever, for a container with no cron.

Each run is an ``aggregator crawl`` child process (Scrapy's reactor runs once per process, and a child's crash or
leak cannot take the scheduler with it). Runs start on a fixed grid (start + k * interval); a run that overruns its
interval is not stacked: the ticks it covered are skipped, and the next run starts at the next tick. SIGTERM or
SIGINT is passed on to a running crawl, which finishes its in-flight pages and closes its run record ("partial");
then the scheduler exits 0.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated

import typer

from aggregator.cli import AllOpt, MirrorOpt, MirrorRootOpt, OfflineOpt, SourcesArg, app, check_where_from, fail
from aggregator.sources import resolve_keys

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """``90``, ``30s``, ``10m``, ``1h``, ``1d`` -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not an interval: {text!r} (use e.g. 30s, 10m, 1h)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _say(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} schedule: {message}", file=sys.stderr, flush=True)


@app.command("schedule")
def schedule_cmd(
    ctx: typer.Context,
    sources: SourcesArg = None,
    every: Annotated[str, typer.Option("--every", help="Interval between run starts: 30s, 10m, 1h.")] = "10m",
    all_: AllOpt = False,
    offline: OfflineOpt = False,
    mirror: MirrorOpt = None,
    mirror_root: MirrorRootOpt = None,
    max_runs: Annotated[
        int | None, typer.Option("--max-runs", min=1, help="Stop after this many runs (default: run forever).")
    ] = None,
) -> None:
    """Run `aggregator crawl` every --every, forever; an overrunning run is never stacked; SIGTERM stops cleanly."""
    if all_ == bool(sources):
        fail("give source keys or --all (not both)")
    check_where_from(offline, mirror, mirror_root)
    try:
        interval = parse_interval(every)
    except ValueError as exc:
        fail(str(exc))
    keys = ["--all"] if all_ else [s.key for s in resolve_keys(sources or [])]
    command = [sys.executable, "-m", "aggregator"]
    if ctx.obj and ctx.obj.get("db"):
        command += ["--db", ctx.obj["db"]]
    command += ["crawl", *keys]
    if offline:
        command.append("--offline")
    if mirror:
        command += ["--mirror", mirror]
    if mirror_root:
        command += ["--mirror-root", str(mirror_root)]

    stop = threading.Event()
    child: list[subprocess.Popen[bytes]] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            _say(f"{signal.Signals(signum).name}: stopping after the current run")
        stop.set()
        for proc in child:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # Scrapy's graceful shutdown

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        _loop(command, interval, max_runs, stop, child)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _loop(
    command: list[str],
    interval: float,
    max_runs: int | None,
    stop: threading.Event,
    child: list[subprocess.Popen[bytes]],
) -> None:
    origin = time.monotonic()
    runs = 0
    _say(f"every {interval:g}s: {' '.join(command[3:])}")
    while not stop.is_set():
        started = time.monotonic()
        runs += 1
        _say(f"run {runs} starts")
        proc = subprocess.Popen(command)
        child[:] = [proc]
        status = proc.wait()
        child.clear()
        took = time.monotonic() - started
        _say(f"run {runs} exited with status {status} after {took:.1f}s")
        if max_runs is not None and runs >= max_runs:
            return
        ticks = int((time.monotonic() - origin) // interval) + 1
        next_start = origin + ticks * interval
        skipped = ticks - int((started - origin) // interval) - 1
        if skipped > 0:
            _say(f"run {runs} overran its interval: {skipped} start(s) skipped, none stacked")
        stop.wait(max(0.0, next_start - time.monotonic()))
    _say("stopped")
