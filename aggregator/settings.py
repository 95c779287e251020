"""Scrapy settings for aggregator, and the one place that reads ``AGGREGATOR_*`` from the environment.

Every setting of ours carries the ``AGGREGATOR_`` prefix. The environment overrides the defaults below; the
``aggregator`` command's options override the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aggregator import __version__
from aggregator.paths import default_db_url


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def env_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings the environment asks for (only those it sets)."""
    env = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for name in ("AGGREGATOR_DB_URL", "AGGREGATOR_MIRROR", "AGGREGATOR_SITE_NAME", "AGGREGATOR_CONTACT_URL"):
        if env.get(name):
            found[name] = env[name]
    templates = {
        lang: env[f"AGGREGATOR_ATTRIBUTION_{lang.upper()}"]
        for lang in ("ru", "az", "en")
        if env.get(f"AGGREGATOR_ATTRIBUTION_{lang.upper()}")
    }
    if templates:
        found["AGGREGATOR_ATTRIBUTION_TEMPLATES"] = templates
    if env.get("AGGREGATOR_STORE_BATCH"):
        found["AGGREGATOR_STORE_BATCH"] = int(env["AGGREGATOR_STORE_BATCH"])
    if "AGGREGATOR_TELNET" in env:
        found["TELNETCONSOLE_ENABLED"] = _flag(env["AGGREGATOR_TELNET"])
    if "AGGREGATOR_REMOTE_CONTROL" in env:
        found["REMOTE_CONTROL_ENABLED"] = _flag(env["AGGREGATOR_REMOTE_CONTROL"])
    return found


def user_agent(contact_url: str) -> str:
    """A User-Agent that names the crawler and where to reach its operator."""
    return f"aggregator/{__version__} (news re-publishing crawler; +{contact_url})"


# -- ours ----------------------------------------------------------------------------------------------

AGGREGATOR_DB_URL = default_db_url()
"""SQLAlchemy URL of the archive; SQLite at ``<project>/data/archive.db`` unless set."""
AGGREGATOR_MIRROR: str | None = None
"""Base URL of an offline mirror (``http://127.0.0.1:PORT``); unset means the real sites."""
AGGREGATOR_SITE_NAME = "Icma.az"
"""The re-publisher's name, as the attribution line prints it."""
AGGREGATOR_ATTRIBUTION_TEMPLATES: dict[str, str] = {}
"""Per-language attribution templates with ``{site}`` and ``{source}``, over the defaults in pipelines/attribution.py
(``AGGREGATOR_ATTRIBUTION_RU`` / ``_AZ`` / ``_EN`` in the environment)."""
AGGREGATOR_CONTACT_URL = "https://icma.az/contact"
"""Where a site operator can reach us; named in the User-Agent."""
AGGREGATOR_STORE_BATCH = 100
"""Items written to the store per transaction."""

# -- Scrapy --------------------------------------------------------------------------------------------

BOT_NAME = "aggregator"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
# Registry entries without a module of their own get the generic feed/sitemap spider (spiders/generic.py).
SPIDER_LOADER_CLASS = "aggregator.spiderloader.RegistrySpiderLoader"

ITEM_PIPELINES = {
    "pipelines.validate.ValidatePipeline": 100,
    "pipelines.cleanup.CleanupPipeline": 200,
    "pipelines.dates.DatesPipeline": 300,
    "pipelines.attribution.AttributionPipeline": 400,
    "pipelines.store.StorePipeline": 900,
}
DOWNLOADER_MIDDLEWARES = {
    # Close to the downloader: the offsite and robots.txt checks see the real URL first.
    "aggregator.mirror.OfflineMirrorMiddleware": 950,
}
REQUEST_FINGERPRINTER_CLASS = "aggregator.urls.CanonicalRequestFingerprinter"
LOG_FORMATTER = "aggregator.logformatter.AggregatorLogFormatter"

ROBOTSTXT_OBEY = True
# Article pages are found on listings; a <meta http-equiv="refresh"> in a page (even inside an article body, where
# Scrapy would still see it) is not followed: it is a way for a page to replace itself with another one.
METAREFRESH_ENABLED = False
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
CONCURRENT_ITEMS = 8  # the default (100) starts that many tasks per response for one item each
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
COOKIES_ENABLED = False
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

# Safe defaults for a crawler on a shared host: no listening sockets unless an operator asks for them.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

globals().update(env_settings())
USER_AGENT = user_agent(AGGREGATOR_CONTACT_URL)
