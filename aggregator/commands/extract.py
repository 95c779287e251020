"""``aggregator extract``: what a crawl would make of one saved page, without network or store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from aggregator.cli import app, check_charset, fail, item_document, out, print_json, usage
from aggregator.present import parse_instant


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        usage(f"--fetched-at must be an ISO 8601 date and time, not {value!r}")


@app.command("extract")
def extract(
    page: Annotated[Path, typer.Argument(metavar="PAGE.html", help="The page as saved from the site (its bytes).")],
    url: Annotated[str, typer.Option("--url", metavar="URL", help="The page's real address (picks the extractor).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the item as a JSON object.")] = False,
    fetched_at: Annotated[
        str | None,
        typer.Option("--fetched-at", metavar="ISO", help="When the page was fetched: 'now' for relative dates."),
    ] = None,
    charset: Annotated[
        str | None,
        typer.Option(
            "--charset",
            metavar="ENCODING",
            help="The encoding the server declared, when the page does not declare one.",
        ),
    ] = None,
) -> None:
    """Run a crawl's extractor and pipelines on a saved page; print the item (no network, nothing stored)."""
    from aggregator.extract import NoExtractorError, extract_page, extractor_name, stored_page_headers

    if page.is_dir():
        fail(f"a folder, not a saved page: {page}")
    if not page.exists():
        fail(f"no such file: {page}")
    if not page.is_file():
        fail(f"not a regular file (a device, a pipe?): {page}")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:  # ftp://caliber.az/... was read as caliber's
        usage(f"not an http(s) URL: {url}")
    check_charset(charset)
    try:
        body, when = page.read_bytes(), _when(fetched_at)
        record = extract_page(body, url, headers=stored_page_headers(charset), fetched_at=when)
        extractor = extractor_name(url, body, when)
    except NoExtractorError as exc:
        fail(str(exc))
    if as_json:
        print_json(item_document(record))
    else:
        _render(item_document(record), extractor)
    if record["rejected"] or record["not_an_article"]:
        raise typer.Exit(1)


def _render(record: dict[str, Any], extractor: str) -> None:
    rejected = record["rejected"]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim", justify="right")
    table.add_column(overflow="fold")
    published = record["published_at"] or "[red]not read[/red]"
    rows = (
        ("extractor", escape(extractor)),
        ("source", escape(record["source"])),
        ("url", escape(record["url"])),
        ("canonical", escape(record["canonical_url"] or "-")),
        ("language", escape(record["language"] or "-")),
        ("published", f"{published}  [dim]printed as[/dim] {escape(repr(record['published_raw']))}"),
        ("metadata date", escape(record["published_meta"] or "-")),
        ("category", escape(record["category"] or "-")),
        ("cover", escape(record["cover_image_url"] or "-")),
        ("cites", escape(", ".join(record["cited_outlets"]) or "-")),
    )
    for label, value in rows:
        table.add_row(label, value)
    out.print(f"[bold]{escape(record['title'] or '(no title)')}[/bold]")
    out.print(table)
    if rejected:
        out.print(f"[red]refused at {escape(rejected['stage'])}: {escape(rejected['reason'])}[/red]")
    skipped = record["not_an_article"]
    if skipped:
        out.print(f"[red]not an article, a crawl would skip it: {escape(skipped['reason'])}[/red]")
    body = record["body_text"] or ""
    if record["attribution_line"]:
        body = f"[italic]{escape(record['attribution_line'])}[/italic]\n\n{escape(body)}"
    else:
        body = escape(body)
    paragraphs = len([p for p in (record["body_text"] or "").split("\n\n") if p.strip()])
    out.print(Panel(body or "[dim](no body)[/dim]", title=f"body: {paragraphs} paragraph(s)", title_align="left"))
