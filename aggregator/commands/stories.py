"""``aggregator stories``: near-duplicate articles grouped across sources (see aggregator/stories.py)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from aggregator.cli import (
    MAX_LIMIT,
    _archive,
    _article_summary,
    app,
    command_group,
    fail,
    out,
    print_json,
    spinner,
    time_bounds,
)
from aggregator.present import utc_iso
from aggregator.sources import resolve_keys

stories_app = command_group(help="Stories: the same news told by several articles (usually from several sources).")
app.add_typer(stories_app, name="stories")


def _story(story: Any, articles: list[Any]) -> dict[str, Any]:
    return {
        "id": story.id,
        "created_at": utc_iso(story.created_at),
        "updated_at": utc_iso(story.updated_at),
        "sources": sorted({a.source for a in articles}),
        "articles": [_article_summary(a) for a in articles],
    }


@stories_app.command("list")
def stories_list(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option("--source", metavar="SOURCE", help="Only stories this source took part in.")
    ] = None,
    min_articles: Annotated[
        int,
        typer.Option(
            "--min-articles",
            metavar="N",
            min=1,
            max=MAX_LIMIT,
            help="Only stories told by at least this many articles.",
        ),
    ] = 2,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, max=MAX_LIMIT, help="At most this many stories, latest first.")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """List stories told by several articles, latest first, with their articles and sources."""
    if source:
        resolve_keys([source])
    archive = _archive(ctx)
    try:
        found = archive.list_stories(source=source, min_articles=min_articles, limit=limit)
    finally:
        archive.close()
    if as_json:
        print_json([_story(s, articles) for s, articles in found])
        return
    table = Table(title=f"{len(found)} stories", title_justify="left", show_lines=True)
    table.add_column("story", justify="right")
    table.add_column("sources")
    table.add_column("articles (id, published UTC, title)", overflow="fold")
    for story, articles in found:
        lines = [
            f"{a.id}  {a.published_at.strftime('%Y-%m-%d %H:%M') if a.published_at else 'undated'}  {escape(a.title)}"
            for a in articles
        ]
        table.add_row(str(story.id), ", ".join(sorted({a.source for a in articles})), "\n".join(lines))
    out.print(table)


@stories_app.command("show")
def stories_show(
    ctx: typer.Context,
    story_id: Annotated[int, typer.Argument(metavar="ID", help="The story's id (see `stories list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """One story: its articles, earliest first, with their sources and source links."""
    archive = _archive(ctx)
    try:
        found = archive.story(story_id)
    finally:
        archive.close()
    if found is None:
        fail(f"no story with id {story_id}")
    story, articles = found
    if as_json:
        print_json(_story(story, articles))
        return
    table = Table(title=f"story {story.id}: {len(articles)} article(s)", title_justify="left")
    table.add_column("id", justify="right")
    table.add_column("source")
    table.add_column("published (UTC)", no_wrap=True)
    table.add_column("title", overflow="fold", ratio=3)
    table.add_column("url", overflow="fold", ratio=2)
    for a in articles:
        published = a.published_at.strftime("%Y-%m-%d %H:%M") if a.published_at else "undated"
        table.add_row(str(a.id), a.source, published, escape(a.title), escape(a.url))
    out.print(table)


@stories_app.command("rebuild")
def stories_rebuild(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option("--source", metavar="SOURCE", help="Only this source's articles are matched again.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="From the first article archived since this ISO date or time (UTC if no zone) on.",
        ),
    ] = None,
) -> None:
    """Match every article again under today's story rules, in the order they were archived.

    The stories are then those a fresh crawl would make; in batches, beside a crawl if need be; prints how the
    stories changed."""
    from aggregator.store.story_index import Rebuild, rebuild

    if source:
        resolve_keys([source])
    start, _ = time_bounds(since, None)
    archive = _archive(ctx)
    try:
        with spinner("matching stories again…") as say:

            def show(result: Rebuild) -> None:
                say(f"matching stories again: {result.articles} of {result.total} articles")

            result = rebuild(archive.engine, source=source, since=start, progress=show)
    finally:
        archive.close()
    sketched = f", {result.sketched} sketched anew (no sketch, or one of an older scheme)" if result.sketched else ""
    out.print(
        f"matched {result.articles} article(s) again in the order they were archived: "
        f"{result.moved} moved to another story{sketched}"
    )
    out.print(
        f"stories: {result.stories_before} before, {result.stories_after} after; told by several articles: "
        f"{result.shared_before} before, {result.shared_after} after"
    )
