"""Which readers have viewed which articles lately: the views counter counts readers, not requests.

``POST /api/articles/{id}/views`` used to add one for every request, from anyone: a script, or a reader's tab
reloading, could put an article into the most-read list that every page shows. A reader (a client address) is now
counted once per article within a window (``AGGREGATOR_VIEW_WINDOW_SECONDS``), and at most ``VIEWS_PER_MINUTE``
times a minute across articles, so a script walking every id is stopped too.

The record lives in the server process's memory, bounded: past ``max_entries`` the oldest entries are dropped (those
readers would be counted again; under a flood of addresses that is the lesser harm than the server's memory). Each
process of ``aggregator serve --workers N`` keeps its own, and a restart forgets it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

VIEW_WINDOW_SECONDS = 1800.0
"""How long a reader's view of an article is the only one counted (``AGGREGATOR_VIEW_WINDOW_SECONDS``)."""
VIEWS_PER_MINUTE = 60
"""Views a reader may have counted in a minute, across articles: more than a person reads, fewer than a script."""
MAX_ENTRIES = 50_000
"""How many (reader, article) views, and how many readers' minutes, the record keeps at most (some 20 MB)."""
MINUTE = 60.0


@dataclass(frozen=True, slots=True)
class Claim:
    """What a view is: ``new`` (now recorded: count it, or ``release`` it if it is not counted after all),
    ``seen`` (this reader's view of this article is already counted in the window), or ``capped`` (the reader has had
    their views of the minute counted: ``retry_after`` seconds until the minute is over)."""

    kind: Literal["new", "seen", "capped"]
    at: float = 0.0
    retry_after: int = 0


@dataclass(slots=True)
class _Minute:
    start: float
    counted: int


class ViewRecord:
    """Recent counted views by (reader, article), and each reader's count in their current minute.

    Thread-safe: the views endpoint is a plain ``def``, run in the server's thread pool, and a claim checks and
    records under one lock, so two requests of one reader at once count once. ``clock`` is for the tests (seconds,
    never going back).
    """

    def __init__(
        self,
        window: float = VIEW_WINDOW_SECONDS,
        *,
        per_minute: int = VIEWS_PER_MINUTE,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.per_minute = per_minute
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        # Both in the order of their times (views counted; minutes started), so what has expired is at the front.
        self._views: OrderedDict[tuple[str, int], float] = OrderedDict()
        self._minutes: OrderedDict[str, _Minute] = OrderedDict()

    def __len__(self) -> int:
        return len(self._views)

    def claim(self, reader: str, article_id: int) -> Claim:
        """Whether ``reader``'s view of the article is to be counted; a new one is recorded at once."""
        with self._lock:
            now = self.clock()
            self._forget(now)
            if (reader, article_id) in self._views:
                return Claim("seen")
            minute = self._minutes.get(reader)
            if minute is None or now - minute.start >= MINUTE:
                minute = self._minutes[reader] = _Minute(now, 0)
                self._minutes.move_to_end(reader)
            elif minute.counted >= self.per_minute:
                return Claim("capped", retry_after=max(1, math.ceil(minute.start + MINUTE - now)))
            minute.counted += 1
            if self.window > 0:  # 0: every view is counted, only the minute's cap applies
                self._views[(reader, article_id)] = now
            for table in (self._views, self._minutes):
                while len(table) > self.max_entries:
                    table.popitem(last=False)
            return Claim("new", at=now)

    def release(self, reader: str, article_id: int, claim: Claim) -> None:
        """Take back a new claim whose view was not counted (no such article, a withdrawn one, the archive down)."""
        if claim.kind != "new":
            return
        with self._lock:
            if self._views.get((reader, article_id)) == claim.at:
                del self._views[(reader, article_id)]
            minute = self._minutes.get(reader)
            if minute is not None and minute.start <= claim.at and minute.counted > 0:
                minute.counted -= 1

    def _forget(self, now: float) -> None:
        while self._views and now - next(iter(self._views.values())) >= self.window:
            self._views.popitem(last=False)
        while self._minutes and now - next(iter(self._minutes.values())).start >= MINUTE:
            self._minutes.popitem(last=False)
