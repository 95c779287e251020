"""Run an offline crawl of caliber in this process, sending this process a stop signal (SIGTERM, or SIGINT with
``--sigint``) while the spider is opening, and print, as JSON, the run rows it left (source, status, finish reason).

Used by tests/test_unattended.py in a child process: ``python -m tests.helpers.signal_while_opening DB_URL
[--sigint]``. The signal comes from an item pipeline's ``open_spider``, which then holds the opening a second
longer: the moment of a Ctrl-C or a ``systemctl stop`` while a crawl starts (it loads the archive's known URLs,
longer the larger the archive).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from tests.helpers.signal_while_closing import main

_signum = signal.SIGINT if "--sigint" in sys.argv else signal.SIGTERM


class SignalOnOpen:
    """An item pipeline, opened with the others, before the engine has started."""

    async def open_spider(self) -> None:
        os.kill(os.getpid(), _signum)
        await asyncio.sleep(1.0)  # the asyncio reactor's loop: the signal's handler runs meanwhile


if __name__ == "__main__":
    main(sys.argv[1], pipeline=f"{__spec__.name}.SignalOnOpen")
