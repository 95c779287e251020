"""``aggregator search``: ranked full-text search of the archive (the repository's ``Archive.search``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aggregator.cli import (
    MAX_LIMIT,
    _archive,
    _article_summary,
    _language_option,
    app,
    out,
    print_json,
    time_bounds,
    usage,
)
from aggregator.sources import resolve_keys
from aggregator.tables import WIDE, text_and_link, text_and_link_columns


@app.command("search")
def search_cmd(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY", help="Words to find (all of them); quotes and operators are read as plain words."
        ),
    ],
    source: Annotated[
        str | None, typer.Option("--source", metavar="SOURCE", help="Only this source's articles.")
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", metavar="LANG", help="Only articles in this language (ru, az, en).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="DATE", help="Only articles published since this ISO date (UTC if no zone)."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, max=MAX_LIMIT, help="At most this many results.")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """Search titles and texts of archived articles, best match first (title words weigh more).

    Ranked among the latest matches (2,000, or --limit when larger)."""
    if not any(c.isalnum() for c in query):  # it printed "0 result(s) for ''" as if the archive had nothing
        usage(f"no word to search for in {query!r}")
    if source:
        resolve_keys([source])
    if language is not None:
        language = _language_option(language)
    start, _ = time_bounds(since, None)
    archive = _archive(ctx)
    try:
        hits = archive.search(query, source=source, language=language, since=start, limit=limit)
    finally:
        archive.close()
    if as_json:
        rows = [_article_summary(h.article) | {"score": round(h.score, 6)} for h in hits]
        print_json(rows)
        return
    # As `articles list`: a terminal too narrow for the link beside the title gets it under the title.
    wide = out.width >= WIDE
    table = Table(title=f"{len(hits)} result(s) for {query!r}", title_justify="left")
    table.add_column("id", justify="right")
    table.add_column("source")
    table.add_column("published (UTC)", no_wrap=True)
    text_and_link_columns(table, "title", "url", wide=wide, narrow="title / source link")
    for hit in hits:
        a = hit.article
        published = a.published_at.strftime("%Y-%m-%d %H:%M") if a.published_at else "undated"
        table.add_row(str(a.id), a.source, published, *text_and_link(escape(a.title), a.url, wide=wide))
    out.print(table)
