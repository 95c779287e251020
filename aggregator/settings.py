"""Scrapy settings for aggregator.

Every setting of ours carries the ``AGGREGATOR_`` prefix. The environment (read and checked by
``aggregator.environment``) overrides the defaults below; the ``aggregator`` command's options override the
environment.
"""

from __future__ import annotations

from aggregator import __version__
from aggregator.environment import env_settings
from aggregator.paths import default_db_url


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
AGGREGATOR_RUN_LOCK = True
"""A run started by plain ``scrapy crawl`` (Scrapyd) takes its source's lock, as ``aggregator crawl`` does; off, two
runs of one source may overlap (the store stays consistent, it only does the work twice)."""
AGGREGATOR_STORE_WRITER = "process"
"""Who writes the batches: a writer ``process`` beside the crawl (the default: the writes take neither the
crawler's CPU nor its GIL) or a ``thread`` of the crawling process (one process fewer)."""
AGGREGATOR_RECHECK_HOURS = 48.0
"""Archived articles younger than this are re-fetched with conditional requests (to catch edits); older ones are
not fetched again."""
AGGREGATOR_SWEEP_DAYS = 30.0
"""Articles published in the last this many days are looked at again, a few each run, even when no listing links them
any more, so that a later edit or deletion by the source reaches the archive (aggregator/sweep.py); 0 switches it
off."""
AGGREGATOR_SWEEP_PER_RUN = 50
"""At most this many due articles a run of a source asks for again (the sweep); 0 switches it off."""
AGGREGATOR_REFUSED_RETRY_HOURS = 1.0
"""A page a crawl refused (see ``aggregator rejects list``) is not fetched again for this long after its first
refusal, twice as long after each further refusal in a row (a server error or a failed connection is retried at
the next run once first)."""
AGGREGATOR_REFUSED_RETRY_MAX_HOURS = 24.0
"""The longest wait between fetches of a page that keeps being refused."""
AGGREGATOR_RATE_LIMIT_WAIT = 60.0
"""Seconds a site that answers 429 (Too Many Requests) without ``Retry-After`` is left alone (aggregator/backoff.py)."""
AGGREGATOR_RETRY_AFTER_MAX = 300.0
"""The longest ``Retry-After`` a run waits out; a site that asks for longer stops the run (finish reason
``rate_limited``), and the next run goes on."""
AGGREGATOR_HEALTH_MAX_AGE_HOURS = 24.0
"""``aggregator health`` and ``/api/health`` call a source red when its latest judged run is older than this (its
schedule has stopped); 0 never does."""
AGGREGATOR_REFRESH = False
"""Re-fetch every article, archived or not (``crawl --refresh``)."""
AGGREGATOR_STALE_RUN_HOURS = 6.0
"""A run still "running" after this long, from a process on another host, is taken as dead (abandoned)."""
AGGREGATOR_LOCK_CHECK_SECONDS = 30.0
"""On PostgreSQL, how often a running crawl asks whether the connection holding its sources' locks still holds them
(a dropped connection drops them: ``aggregator.locks.LockWatch``); 0 never does."""
AGGREGATOR_RUNS_KEEP_DAYS = 90.0
"""A run's row (``aggregator runs``) is deleted this long after it started, at the end of a later run of its source
(``aggregator db prune-runs`` does it by hand); 0 keeps every row."""
AGGREGATOR_RUNS_KEEP_MIN = 20
"""Each source keeps its newest this many runs whatever their age (never fewer than ``AGGREGATOR_HEALTH_HISTORY``,
whose median the health check needs)."""
AGGREGATOR_REDIS_URL: str | None = None
"""With a Redis URL, crawls share one frontier and duplicate filter there (scrapy-redis): scale-out."""
AGGREGATOR_REDIS_NAMESPACE = "aggregator"
"""The prefix of every Redis key of the shared frontier (``NAMESPACE:SPIDER:requests``, ``...:dupefilter``, the
workers' heartbeats): two deployments (production and staging, say) sharing one Redis server need two namespaces, or
each would crawl the other's frontier and clear its duplicate filter."""
AGGREGATOR_REDIS_IDLE_SECONDS = 10.0
"""A scale-out worker exits when the shared frontier has been empty this long."""
AGGREGATOR_REDIS_HEARTBEAT_TTL = 15.0
"""A scale-out worker's heartbeat in Redis, renewed every 2 seconds, lives this long: a worker not heard from for
this long (killed, its host gone) is taken as gone, and the next worker to start, finding none alive, begins a new
crawl generation. At least 4 seconds (two missed beats)."""
AGGREGATOR_REDIS_OUTAGE_SECONDS = 30.0
"""A scale-out worker whose Redis does not answer holds the requests it finds and waits this long for it, then ends its
run as failed (finish reason ``frontier_lost``) rather than hang or crawl on without its frontier."""
AGGREGATOR_PAGE_MAXSIZE = 5 * 1024 * 1024
"""Bytes an HTML page (a listing, an article) may have, at most ``DOWNLOAD_MAXSIZE``; a larger one is a failed fetch
(aggregator/size_limits.py). News pages weigh 20 to 200 KB; an article of 1.2 million nested ``<div>`` (6 MB) took
33 s and 1.55 GB to parse. 0: ``DOWNLOAD_MAXSIZE``."""
AGGREGATOR_ROBOTSTXT_MAXSIZE = 500 * 1024
"""Bytes of a site's robots.txt that are read (Google's limit); the rules past them are ignored. 0: as much as
``DOWNLOAD_MAXSIZE``."""
AGGREGATOR_MAX_LINKS_PER_LISTING = 1000
"""Article links followed from one listing or feed at most (``spiders.base.LinkCap``); those past it are counted
(``aggregator/links_over_cap``), said in a WARNING, and the run's health is red. A listing of 100,000 links made one
run fetch 10,904 pages in its time limit. Not a sitemap's (the protocol allows 50,000 links to one). 0: no cap."""
AGGREGATOR_HEALTH_HISTORY = 10
"""Runs whose median item count a run is compared with."""
AGGREGATOR_HEALTH_MIN_ITEMS_RATIO = 0.5
"""A run with fewer items than this share of the median of the previous runs is unhealthy."""
AGGREGATOR_HEALTH_MIN_COVERAGE = 0.95
"""Share of items that must have a title, a body and a date."""
AGGREGATOR_HEALTH_MIN_MISSING = 3
"""A field's coverage is judged only when at least this many articles lack it."""
AGGREGATOR_HEALTH_MAX_UNDATED = 0.05
"""Largest share of items whose printed date could not be read."""
AGGREGATOR_HEALTH_MAX_HTTP_ERRORS = 0.1
"""Largest share of requests that may end in an HTTP error or a network failure."""

# -- Scrapy --------------------------------------------------------------------------------------------

BOT_NAME = "aggregator"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
# Registry entries without a module of their own get the generic feed/sitemap spider (spiders/generic.py).
SPIDER_LOADER_CLASS = "aggregator.spiderloader.RegistrySpiderLoader"
# `scrapy parse`, `shell`, `fetch` and `view` look at a page without recording a run, taking the source's lock or
# storing anything (aggregator/scrapy_commands/).
COMMANDS_MODULE = "aggregator.scrapy_commands"

ITEM_PIPELINES = {
    "pipelines.validate.ValidatePipeline": 100,
    "pipelines.cleanup.CleanupPipeline": 200,
    "pipelines.dates.DatesPipeline": 300,
    "pipelines.attribution.AttributionPipeline": 400,
    "pipelines.dedupe.DedupePipeline": 500,
    # A re-fetched page that lost the end of its document never replaces an archived version that has it.
    "pipelines.complete.CompleteVersionPipeline": 800,
    "pipelines.store.StorePipeline": 900,
}
DOWNLOADER_MIDDLEWARES = {
    # Last to see a response, after decompression: a page in another encoding than it declares is read in its own
    # (aggregator/encoding.py).
    "aggregator.encoding.CharsetMiddleware": 100,
    # Before Scrapy's retry (550) sends a 429 or 503 page back to be fetched again: the site is paused first for as
    # long as its Retry-After asks (aggregator/backoff.py).
    "aggregator.backoff.RetryAfterMiddleware": 560,
    # After decompression (590), before Scrapy's retry: a page sent without a length whose document stops mid-way
    # (the connection closed) is fetched again, then a failed fetch (aggregator/truncation.py).
    "aggregator.truncation.CutShortMiddleware": 570,
    # After decompression (590): each request's size limit by its kind (an HTML page, a feed or sitemap, robots.txt),
    # and a failed fetch over it that names the limit (aggregator/size_limits.py).
    "aggregator.size_limits.SizeLimitMiddleware": 580,
    # Before Scrapy's redirect (600) follows one: a link that redirects off the source's sites or in a loop is a failed
    # fetch with its reason; Scrapy would drop it unseen (aggregator/redirect_guard.py).
    "aggregator.redirect_guard.RedirectGuardMiddleware": 650,
    # Close to the downloader: a conditional request's 304 answer is turned into "not modified" for the spider.
    "aggregator.incremental.NotModifiedMiddleware": 940,
}
# With AGGREGATOR_MIRROR set, pages come from the offline mirror under their real URLs (aggregator/mirror.py);
# without it, these are Scrapy's own handlers.
DOWNLOAD_HANDLERS = {
    "http": "aggregator.mirror.MirrorDownloadHandler",
    "https": "aggregator.mirror.MirrorDownloadHandler",
    # A news crawler fetches web pages only. Scrapy's own handlers for these open local files (a sitemap listing
    # file://.../proc/self/environ archived the crawl's environment), FTP and S3 for whatever a page names.
    "file": None,
    "data": None,
    "ftp": None,
    "s3": None,
}
REQUEST_FINGERPRINTER_CLASS = "aggregator.urls.CanonicalRequestFingerprinter"
LOG_FORMATTER = "aggregator.logformatter.AggregatorLogFormatter"
SPIDER_MIDDLEWARES = {
    # Late, next to the engine: sees every request a callback yields, including those of subclasses' callbacks.
    "aggregator.incremental.IncrementalMiddleware": 950,
    # An article reached through a redirect keeps the address its listing links (incremental runs skip it there).
    "aggregator.incremental.LinkedUrlMiddleware": 960,
    # After the spider's own start requests: archived articles due to be looked at again (aggregator/sweep.py).
    "aggregator.sweep.SweepMiddleware": 970,
    # Next to the spider: a page whose callback raised is quarantined with its page (aggregator/callback_errors.py).
    "aggregator.callback_errors.CallbackErrorMiddleware": 990,
}
EXTENSIONS = {
    # First: a run that cannot have its source's lock stops before anything else starts (aggregator/locks.py).
    "aggregator.locks.RunLock": 0,
    # So does a scale-out run whose Redis does not answer, with that reason rather than Scrapy's own error on the way
    # out: aggregator.scaleout.FrontierCheck, which the add-on below puts here when AGGREGATOR_REDIS_URL is set.
    # A SIGTERM after the first stop signal (systemd's to every process, the one `aggregator schedule` passes on)
    # does not turn the graceful stop into an unclean one (aggregator/shutdown.py).
    "aggregator.shutdown.GracefulStop": 10,
    "aggregator.health.HealthMonitoring": 500,
    "aggregator.health.FieldCoverage": 510,
    # Start-up's objects out of the garbage collector's sight, and fewer young collections (aggregator/gc_tuning.py).
    "aggregator.gc_tuning.GarbageCollectorTuning": 900,
}
# Settings that follow from others (the shared scheduler for AGGREGATOR_REDIS_URL, AutoThrottle off for a mirror),
# worked out when each crawler is built, so that `scrapy crawl -s ...` (Scrapyd) gets them too (aggregator/addon.py).
ADDONS = {"aggregator.addon.DerivedSettings": 0}
SPIDERMON_ENABLED = True
SPIDERMON_SPIDER_CLOSE_MONITORS = ("aggregator.health.HealthSuite",)

ROBOTSTXT_OBEY = True
# Politeness: at most this many requests in flight per site, and AutoThrottle adapts the delay to the site's latency
# (it only ever slows down below that limit). Checked with Scrapy 2.19: the per-site limit holds while a download
# delay is in force (AutoThrottle always keeps one), but with no delay at all the downloader starts a burst of queued
# requests before it counts them as in flight (13 at once against a limit of 2): keep AutoThrottle or a
# DOWNLOAD_DELAY > 0 for real sites. Mirror crawls (ours, on 127.0.0.1) switch AutoThrottle off: see crawl.py.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
# Article pages are found on listings; a <meta http-equiv="refresh"> in a page (even inside an article body, where
# Scrapy would still see it) is not followed: it is a way for a page to replace itself with another one.
METAREFRESH_ENABLED = False
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
CONCURRENT_ITEMS = 8  # the default (100) starts that many tasks per response for one item each
# Scrapy re-reads a generator callback's source (inspect.getsource + ast.parse, ~0.4 ms) for almost every response to
# warn about a `return value` inside it: its cache is keyed weakly on the bound method, which dies with its request.
# tests/test_lint.py makes the same check once, over every spider class's generator methods, instead.
WARN_ON_GENERATOR_RETURN_VALUE = False
DOWNLOAD_TIMEOUT = 30
# A response larger than this is cut off and recorded as a failed fetch (Scrapy's default, 1 GiB, lets one broken
# or hostile server fill the crawler's memory, times the requests in flight). This is a feed's or a sitemap's limit
# (a sitemap file may hold 50 MB by the protocol's own); an HTML page has AGGREGATOR_PAGE_MAXSIZE, robots.txt
# AGGREGATOR_ROBOTSTXT_MAXSIZE (aggregator/size_limits.py).
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024
DOWNLOAD_WARNSIZE = 16 * 1024 * 1024
RETRY_TIMES = 2
# A transfer shorter than its Content-Length, or a chunked one without its last chunk, fails (ResponseDataLossError)
# and is retried, then recorded as a failed fetch: never archived cut, never replacing an archived version (Scrapy's
# default, pinned: aggregator/truncation.py).
DOWNLOAD_FAIL_ON_DATALOSS = True
# A run stops after an hour (AGGREGATOR_MAX_RUN_MINUTES; 0: never), as "partial": a schedule's runs are not stacked,
# so one that went on and on (a huge first sitemap, a site answering slowly) would hold back every later one. What
# it did not fetch is not archived, so the next run fetches it.
CLOSESPIDER_TIMEOUT = 60 * 60
COOKIES_ENABLED = False
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

# -- where a crawl connects (aggregator/address_guard.py) ---------------------------------------------------

AGGREGATOR_ALLOW_PRIVATE_ADDRESSES = False
"""A crawl connects to public addresses only: a name that resolves to a loopback, private-network, link-local,
multicast or reserved address (a source's subdomain pointed at 127.0.0.1 or 169.254.169.254) is a failed fetch. On,
an operator crawls an intranet source on purpose, or a developer a site on 127.0.0.1 without the offline mirror (whose
own address is always allowed)."""
# A source's pages are fetched on ports 80 and 443, or on one its registry entry's URLs name for the host, and from
# public addresses: a link, a feed entry or a redirect cannot send the crawler into the operator's network.
DOWNLOADER_MIDDLEWARES |= {
    # After Scrapy's offsite filter (50), before robots.txt (100): a refused port is not asked for its robots.txt.
    "aggregator.address_guard.PortGuardMiddleware": 60,
    # Sees a failed fetch before Scrapy's retry (550): a name the resolver refused is not asked again.
    "aggregator.address_guard.AddressRefusalMiddleware": 555,
}
# Scrapy's default resolver, which refuses those addresses once a name is resolved (DNS_RESOLVER's name since 2.19).
TWISTED_DNS_RESOLVER = "aggregator.address_guard.PublicAddressResolver"

# Safe defaults for a crawler on a shared host: no listening sockets unless an operator asks for them.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

globals().update(env_settings())
USER_AGENT = user_agent(AGGREGATOR_CONTACT_URL)
