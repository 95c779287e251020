"""``aggregator schedule`` with the start of each crawl slowed down (a slow fork and exec on a loaded machine), so
that a test can send its stop signal after the loop's look at the stop flag and before the crawl is known.

``python -m tests.helpers.schedule_race MARKER ARGS...``: the scheduler's arguments; MARKER is a file created when a
crawl is about to start (the test sends its signal then), ``DELAY`` seconds before it does.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DELAY = 3.0
MARKER = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("schedule-race-marker")


class _SlowPopen(subprocess.Popen):  # type: ignore[type-arg]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        MARKER.touch()
        time.sleep(DELAY)
        super().__init__(*args, **kwargs)


if __name__ == "__main__":
    import aggregator.commands.schedule as schedule
    from aggregator.cli import main

    schedule.subprocess.Popen = _SlowPopen  # type: ignore[misc]
    sys.argv = ["aggregator", *sys.argv[2:]]
    main()
