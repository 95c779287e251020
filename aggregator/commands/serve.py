"""``aggregator serve``: the read API, feeds and article pages over the archive."""

from __future__ import annotations

from typing import Annotated

import typer

from aggregator.cli import _archive, _db_url, app, out


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8080,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level.")] = "info",
) -> None:
    """Serve the read API (/api/...), RSS feeds (/feeds/...) and article pages (/news/ID) for the downstream site."""
    import uvicorn

    from aggregator.api import create_app
    from aggregator.crawl import project_settings

    _archive(ctx).close()  # upgrade the schema, and fail early on an unusable database
    site_name = str(project_settings().get("AGGREGATOR_SITE_NAME"))
    application = create_app(_db_url(ctx), site_name=site_name)
    out.print(f"Serving the archive at http://{host}:{port}/ (API docs at /docs, Ctrl-C to stop)")
    uvicorn.run(application, host=host, port=port, log_level=log_level.lower(), access_log=False)
