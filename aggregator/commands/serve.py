"""``aggregator serve``: the read API, feeds and article pages over the archive."""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Annotated

import typer

from aggregator.cli import _archive, _cannot_listen, _db_url, app, fail, out, usage
from aggregator.environment import shown_redis_url

UVICORN_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
"""uvicorn's log levels, as ``--help`` names them: ``uvicorn.config.LOG_LEVELS``, which is not imported for the start
of every command (the option is checked against uvicorn's own)."""


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="PORT", min=0, max=65535, help="Port to listen on.")] = 8080,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            metavar="N",
            min=1,
            max=64,
            help="Server processes sharing the port, each with its own connections to the archive (one a core).",
        ),
    ] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request (uvicorn's access log).")
    ] = False,
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level", metavar="LEVEL", help=f"uvicorn's log level, one of {', '.join(UVICORN_LOG_LEVELS)}."
        ),
    ] = "info",
) -> None:
    """Serve the read API (/api/...), RSS and Atom feeds (/feeds/...) and article pages (/news/ID) for the site."""
    import uvicorn
    from uvicorn.config import LOG_LEVELS, STARTUP_FAILURE

    from aggregator.api import app as api
    from aggregator.crawl import project_settings

    if log_level.lower() not in LOG_LEVELS:  # uvicorn looks it up once the app is built: a KeyError, a traceback
        usage(f"--log-level: {log_level!r} is not one of uvicorn's log levels: {', '.join(LOG_LEVELS)}")
    _up_to_date(ctx)  # and fail early on an unusable database
    db_url = _db_url(ctx)
    settings = project_settings()
    site_name = str(settings.get("AGGREGATOR_SITE_NAME"))
    redis_url = settings.get("AGGREGATOR_REDIS_URL")
    if redis_url:
        _can_remember_views(redis_url, str(settings.get("AGGREGATOR_REDIS_NAMESPACE") or "aggregator"))
    listening = _listen(host, port)
    port = listening.getsockname()[1]  # the port the system gave, for --port 0
    processes = f", {workers} processes" if workers > 1 else ""
    where = f"[{host}]" if ":" in host else host
    out.print(
        f"Serving the archive at http://{where}:{port}/ (API docs at /docs{processes}, Ctrl-C to stop)", soft_wrap=True
    )  # whole on one line: a script starting the server with --port 0 reads the port from it
    if warning := _host_header_warning(host, settings.get("AGGREGATOR_PUBLIC_URL")):
        out.print(warning, soft_wrap=True)
    # Where the views counter remembers its readers (aggregator/api/view_record.py): an operator running several
    # processes learns here whether each counts a reader again.
    if redis_url:
        out.print(f"Views: readers remembered in Redis at {shown_redis_url(redis_url)}, shared by every process")
    elif workers > 1:
        out.print("Views: each process remembers its own readers (AGGREGATOR_REDIS_URL names a Redis to share them)")
    options = {"host": host, "port": port, "log_level": log_level.lower(), "access_log": access_log}
    if workers == 1:
        # The socket bound above is the one served (``uvicorn.run`` does what follows, binding the port itself):
        # with --port 0 the port said is the port served.
        try:
            server = uvicorn.Server(uvicorn.Config(api.create_app(db_url, site_name=site_name), **options))  # type: ignore[arg-type]
            server.run(sockets=[listening])
        except KeyboardInterrupt:  # a second Ctrl-C, or the first one raised again once the server has stopped
            pass
        finally:
            listening.close()
        if not server.started:  # uvicorn's log said why (the app's startup failed), as uvicorn.run exits
            raise typer.Exit(STARTUP_FAILURE)
        return
    # Several processes: uvicorn starts each from an import string, and each builds its app from the environment. Its
    # supervisor binds the port itself, for all of them: the one given, or the one the system gave above.
    listening.close()
    os.environ[api.SERVE_DB_URL], os.environ[api.SERVE_SITE_NAME] = db_url, site_name
    uvicorn.run(f"{api.__name__}:{api.app_from_environment.__name__}", factory=True, workers=workers, **options)  # type: ignore[arg-type]


def _up_to_date(ctx: typer.Context) -> None:
    """The archive at this release's schema before the server reads it: upgraded, as ``crawl`` upgrades it, where this
    process may write it (after installing a release, restarting the site came before the next crawl, and it refused
    every page's archive as "behind" until one ran), else refused in one line (a read-only archive or replica is
    upgraded by whoever writes it). A missing SQLite file is refused, not created: a mistyped ``--db``."""
    from aggregator.store import Archive
    from aggregator.store.db import read_only_reason, require_existing

    url = _db_url(ctx)
    if read_only_reason(url) is not None:
        _archive(ctx).close()
        return
    require_existing(url)
    Archive.open(url, create=False).close()


def _can_remember_views(redis_url: str, namespace: str) -> None:
    """Try the views' Redis once before serving: one that cannot be used (nothing at the address, a wrong password, a
    read-only replica) is one line and exit status 2 naming it, as ``aggregator crawl`` names an unusable frontier.
    Found only at the first view, it was a warning in the log while every process counted its readers alone."""
    from aggregator.api.view_record import START_CHECK_TIMEOUT, SharedViewRecord

    record = SharedViewRecord(redis_url, namespace=namespace, timeout=START_CHECK_TIMEOUT)
    try:
        problem = record.unusable()
    finally:
        record.close()
    if problem:
        fail(f"the views' shared record of readers cannot be used: {problem}; the server does not start")


def _host_header_warning(host: str, public_url: str | None) -> str | None:
    """The line warning that the site's absolute links (canonical, feeds, sitemaps, ``robots.txt``) will name
    whatever host a client sends (``Host: evil.example``), when others can reach the server (an address other than
    the loopback's) and ``AGGREGATOR_PUBLIC_URL`` does not name the site's own; None otherwise. Not a refusal: a
    development machine serving its LAN is legitimate."""
    if public_url:
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:  # a name
        if host.lower() == "localhost":
            return None
    return (
        "Warning: AGGREGATOR_PUBLIC_URL is unset: the links in pages, feeds, sitemaps and robots.txt follow each "
        "request's Host header; set it to the site's address (https://icma.az) when serving others"
    )


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening at the address, bound before the app is built: a busy port or a foreign address is then the
    same one line and exit status 2 as for ``mirror serve``, not uvicorn's log line and its exit status 3 after the
    app was built; and port 0 is a real port, which the line saying where the archive is served can name."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listening = socket.create_server((host, port), family=family)  # SO_REUSEADDR, as uvicorn binds
    except OSError as exc:
        fail(_cannot_listen(host, port, exc))
    return listening
