"""What a command costs before and after its work: CPU seconds of whole ``aggregator`` processes, start to exit.

Run from the repo root: ``python bench/startup.py [--rounds 5]``. Prints figures, asserts nothing.

A scheduled job starts ``aggregator crawl`` every few minutes, an operator's shell and the downstream site's scripts
start the read commands: for them the process's start (loading Scrapy, Twisted, SQLAlchemy...) and its end are most
of the cost. Into a temporary SQLite archive holding one crawl of the bundled caliber sample, each round runs, one
after the other:

- floor: ``python -c "import scrapy.crawler, sqlalchemy.orm"`` (the two libraries any crawl must load);
- ``aggregator sources`` (no archive);
- ``aggregator articles list --limit 5``;
- ``aggregator crawl caliber --offline``: an incremental run over the unchanged sample (10 pages fetched: the
  listings and what is due again), so nearly all of it is start-up, opening the archive, the store writer process
  and shutting down.

CPU = user + system time of the process and of its children it waited for (its store writer), from
``getrusage(RUSAGE_CHILDREN)``; the lowest of ``--rounds`` is reported, with its wall time, and each command's CPU
over the floor's.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    script = str(BIN / "aggregator")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    with tempfile.TemporaryDirectory(prefix="aggregator-bench-startup-") as work:
        db = f"sqlite:///{Path(work) / 'archive.db'}"
        timed([script, "--db", db, "crawl", "caliber", "--offline"], env)  # the archive the reads and reruns see
        commands = {
            "floor (import scrapy, sqlalchemy)": [sys.executable, "-c", "import scrapy.crawler, sqlalchemy.orm"],
            "aggregator sources": [script, "sources"],
            "aggregator articles list": [script, "--db", db, "articles", "list", "--limit", "5"],
            "aggregator crawl caliber (rerun)": [script, "--db", db, "crawl", "caliber", "--offline"],
        }
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):
            for name, command in commands.items():
                cpu, wall = timed(command, env)
                if name not in best or cpu < best[name][0]:
                    best[name] = (cpu, wall)
    floor = best["floor (import scrapy, sqlalchemy)"][0]
    print(f"Command start-up and end: lowest CPU of {args.rounds} rounds (process and the children it waited for)")
    for name, (cpu, wall) in best.items():
        print(f"  {name:<36} {cpu:6.2f} CPU-s  {wall:6.2f} s wall  {cpu / floor:5.2f}x the floor")


if __name__ == "__main__":
    main()
