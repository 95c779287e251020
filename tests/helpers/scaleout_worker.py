"""``python -m tests.helpers.scaleout_worker ARGS``: the ``aggregator`` command with the test-only sources."""

from __future__ import annotations

import aggregator.settings
from tests.helpers import scaleout_sources

scaleout_sources.install()
aggregator.settings.SPIDER_MODULES = [*aggregator.settings.SPIDER_MODULES, "tests.helpers.scaleout_sources"]

if __name__ == "__main__":
    from aggregator.cli import main

    main()
