"""``aggregator schedule``: crawl every N minutes, forever, for a container with no cron.

Each run is an ``aggregator crawl`` child process (Scrapy's reactor runs once per process, and a child's crash or
leak cannot take the scheduler with it). Runs start on a fixed grid (start + k * interval); a run that overruns its
interval is not stacked: the ticks it covered are skipped, and the next run starts at the next tick. SIGTERM, SIGINT
or SIGHUP (a closed terminal or SSH session, ``kill -HUP``) is passed on to a running crawl as SIGTERM, which
finishes its in-flight pages and closes its run record ("partial"); then the scheduler exits 0. The crawl itself
ignores SIGHUP: a hang-up reaches every process of the terminal's group, and would have killed it mid-batch. With
``--max-runs`` (a try-out) it exits with the worst status its runs had, so that a try-out whose every run failed is
not taken for one that worked.
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

from aggregator.cli import (
    LONGEST_DAYS,
    MAX_LIMIT,
    AllOpt,
    LogLevelOpt,
    MirrorOpt,
    MirrorRootOpt,
    OfflineOpt,
    SourcesArg,
    app,
    check_log_level,
    check_where_from,
    usage,
)
from aggregator.sources import resolve_keys

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class UnitMissing(ValueError):
    """A bare number where an interval goes: seconds, minutes and hours are each what someone meant by it."""


def parse_interval(text: str, examples: str = "30s, 10m, 1h") -> float:
    """``30s``, ``10m``, ``1h``, ``1d``, ``1.5m`` -> seconds. A number without its unit is ``UnitMissing``: read as
    seconds, ``schedule --every 10`` meant to be every 10 minutes crawled the real sites every 10 seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not an interval: {text!r} (use e.g. {examples})")
    if not match.group(2):
        raise UnitMissing(f"{text.strip()!r} needs a unit: {examples}")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > LONGEST_DAYS * _UNITS["d"]:
        raise ValueError(f"too long an interval: {text!r} (at most {LONGEST_DAYS}d)")
    return seconds


def interval_option(text: str, option: str, *, examples: str = "30s, 10m, 1h", unit_note: str = "") -> float:
    """The value of an interval option (``--every``, ``--max-age``) in seconds, or a usage error naming the option
    (exit status 2); ``unit_note`` follows the examples when the unit is missing."""
    try:
        return parse_interval(text, examples)
    except UnitMissing as exc:
        raise typer.BadParameter(f"{exc}{unit_note}", param_hint=option) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


# How bad each of ``aggregator crawl``'s exit statuses is: 3 (a source skipped, nothing else wrong) is milder than
# 1 (a source failed, its scale-out Redis unusable among the causes), and 2 (nothing crawled: a usage or database
# error, a mirror not answering) is the worst of them. Any other status (a crash, a kill) is worse still.
_SEVERITY = {0: 0, 3: 1, 1: 2, 2: 3}


def worst_status(statuses: list[int]) -> int:
    """The worst of the runs' exit statuses; a run killed by signal N (``-N`` from ``subprocess``) counts as 128 + N,
    as a shell shows it (an exit status cannot be negative)."""
    shown = [128 - status if status < 0 else status for status in statuses]
    return max(shown, key=lambda status: (_SEVERITY.get(status, len(_SEVERITY)), status), default=0)


def _say(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} schedule: {message}", file=sys.stderr, flush=True)


@app.command("schedule")
def schedule_cmd(
    ctx: typer.Context,
    sources: SourcesArg = None,
    every: Annotated[
        str,
        typer.Option(
            "--every",
            metavar="INTERVAL",
            help="Interval between run starts, with its unit: 30s, 10m, 1h, 1d (a bare number is refused).",
        ),
    ] = "10m",
    all_: AllOpt = False,
    offline: OfflineOpt = False,
    mirror: MirrorOpt = None,
    mirror_root: MirrorRootOpt = None,
    log_level: LogLevelOpt = None,
    max_runs: Annotated[
        int | None,
        typer.Option(
            "--max-runs",
            metavar="N",
            min=1,
            max=MAX_LIMIT,
            help="Stop after this many runs, exiting with the worst status of theirs (default: run forever).",
        ),
    ] = None,
) -> None:
    """Run `aggregator crawl` every --every, forever; an overrun is never stacked; SIGTERM, SIGINT, SIGHUP stop it."""
    if all_ == bool(sources):
        usage("give source keys or --all (not both)")
    check_where_from(offline, mirror, mirror_root)
    check_log_level(log_level)
    interval = interval_option(every, "--every")
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
    if log_level:
        command += ["--log-level", log_level]

    stop = threading.Event()
    child: list[subprocess.Popen[bytes]] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            # A crawl in progress gets the signal too (``_stop_child``), now: it keeps what it fetched and its run
            # ends partial ("stopping after the current run" read as a promise to let it finish).
            _say(f"{signal.Signals(signum).name}: stopping (a run in progress stops now, keeping what it fetched)")
        stop.set()
        for proc in child:
            _stop_child(proc)

    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    try:
        status = _loop(command, interval, max_runs, stop, child)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    raise typer.Exit(status)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""What stops the scheduler gracefully. SIGHUP's default action ended it at once (status 129, no line said), the
running crawl orphaned, or killed by the same hang-up mid-batch with its run row left "running"."""


def _stop_child(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # Scrapy's graceful shutdown


def _ignore_hangup() -> None:
    """In the crawl's process, before it runs the crawl: SIGHUP ignored (an ignored signal stays ignored across
    ``exec``). The scheduler gets the hang-up too and stops the crawl gracefully, with SIGTERM."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def exited(status: int) -> str:
    """A run's end as the log says it: ``exited with status 1``, or ``was killed by SIGKILL`` (``subprocess``'s
    ``-9``, which read as an exit status no command has)."""
    if status >= 0:
        return f"exited with status {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        name = f"signal {-status}"
    return f"was killed by {name}"


def _loop(
    command: list[str],
    interval: float,
    max_runs: int | None,
    stop: threading.Event,
    child: list[subprocess.Popen[bytes]],
) -> int:
    """Run until stopped (exit status 0) or, with ``max_runs``, until that many ran (the worst status of theirs)."""
    origin = time.monotonic()
    runs = 0
    statuses: list[int] = []
    _say(f"every {interval:g}s: {' '.join(command[3:])}")
    while not stop.is_set():
        started = time.monotonic()
        runs += 1
        _say(f"run {runs} starts")
        proc = subprocess.Popen(command, preexec_fn=_ignore_hangup)  # the scheduler has no other thread
        child[:] = [proc]
        if stop.is_set():
            # The stop came after the loop's look and before the crawl was in ``child``, where the handler looks:
            # the crawl was not told, and ran its whole course.
            _stop_child(proc)
        status = proc.wait()
        child.clear()
        took = time.monotonic() - started
        _say(f"run {runs} {exited(status)} after {took:.1f}s")
        statuses.append(status)
        if max_runs is not None and runs >= max_runs and not stop.is_set():
            worst = worst_status(statuses)
            _say(f"{runs} run(s) done: exit status {worst}, the worst of theirs")
            return worst
        if stop.is_set():
            break  # a run cut short by the stop did not overrun anything
        ticks = int((time.monotonic() - origin) // interval) + 1
        next_start = origin + ticks * interval
        skipped = ticks - int((started - origin) // interval) - 1
        if skipped > 0:
            _say(f"run {runs} overran its interval: {skipped} start(s) skipped, none stacked")
        stop.wait(max(0.0, next_start - time.monotonic()))
    _say("stopped")
    return 0  # a stop asked for (SIGTERM, Ctrl-C) is no failure, whatever the run it cut short said
