"""The ``aggregator`` command: crawl the sources, inspect the archive, manage the database."""

from __future__ import annotations

import codecs
import errno
import importlib
import json
import os
import re
import socket
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from inspect import cleandoc
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperArgument, TyperGroup

from aggregator import __version__
from aggregator.environment import (
    MIRROR_HOST,
    MIRROR_PORT,
    EnvironmentValueError,
    env_settings,
    mirror_address_problem,
)
from aggregator.paths import mirror_dir
from aggregator.present import utc_iso, utc_iso_text
from aggregator.sources import UnknownSourceError, all_sources, resolve_keys
from aggregator.store.db import DatabaseError, sqlite_file
from aggregator.store.models import MAX_ID
from aggregator.tables import WIDE, Terminal, compact_table, header_column, text_and_link, text_and_link_columns
from aggregator.text import visible


def _click_exceptions() -> Any:
    """The module of Click's exceptions that the installed Typer raises: its own copy of Click from Typer 0.2x on
    (``typer._click``), Click itself before."""
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("neither typer._click nor click is installed")


class _Argument(TyperArgument):
    """A positional argument shown by its metavar alone, written as the usage line reads (``ID``, ``ID...``,
    ``[ID]...``, ``ID|URL``), as README's synopses write it. Typer 0.2x wrapped it in braces and dots of its own
    (``{ID...}...`` for ``ID...``) and put the Python type beside it in the help (``ID... <list[int]>``)."""

    def _usage_display_name(self) -> str:
        return str(self.metavar) if self.metavar else super()._usage_display_name()

    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.metavar else super().display_type_rich(ctx)


def _shown_as_documented(params: list[Any]) -> None:
    """Parameters in ``--help`` as README writes them. Flags (``--json``, ``--all``, ``--help``) without a
    placeholder: Typer 0.2x shows each parameter's type, ``--json <bool>``, which reads as if the flag took a value
    (an empty metavar is shown as nothing by every Typer; older ones left booleans out themselves). Options that take
    a value keep the metavar given them (``DATE``, ``[jsonl|csv]``); arguments show theirs alone (``_Argument``)."""
    for param in params:
        if getattr(param, "is_flag", False) and not getattr(param, "count", False):
            param.metavar = ""
        elif type(param) is TyperArgument:
            param.__class__ = _Argument


def _as_documented(command: Any, ctx: Any) -> None:
    """``_shown_as_documented`` for the parameters of ``command`` and of every command under it (a group made by
    another class, too), its help option among them (made on the first look, with the names ``ctx`` gives it); and
    each one's help text rewrapped (``rewrapped``)."""
    _shown_as_documented(command.get_params(ctx))
    _rewrap_help(command)
    for sub in getattr(command, "commands", {}).values():
        _as_documented(sub, ctx)


def _rewrap_help(command: Any) -> None:
    """``command``'s help text ``rewrapped``, once: a command is looked up more than once (to run it, to list it)."""
    if not getattr(command, "help_rewrapped", False):
        command.help = rewrapped(command.help)
        command.help_rewrapped = True


def rewrapped(text: str | None) -> str | None:
    """A help text whose paragraphs Rich wraps to the terminal's width: the single line breaks of a docstring joined.
    Typer keeps them past the first paragraph (and in the command list's summaries), which broke a paragraph at the
    source's width, then again at the terminal's. A paragraph that starts with Click's ``\\b`` line keeps its line
    breaks (an example block), the marker dropped (Typer's Rich help would show it as an empty line) except in the
    first paragraph, where Typer reads it itself."""
    if not text:
        return text
    paragraphs = cleandoc(text).split("\n\n")
    for number, paragraph in enumerate(paragraphs):
        if not paragraph.startswith("\b"):
            paragraphs[number] = " ".join(line.strip() for line in paragraph.splitlines())
        elif number:
            paragraphs[number] = paragraph.removeprefix("\b").lstrip("\n")
    return "\n\n".join(paragraphs)


def choices(values: Iterable[str]) -> str:
    """The metavar of an option that takes one of a few fixed values, as Click shows a choice: ``[jsonl|csv]``. A set
    too long for the column of placeholders (log levels: it took half an 80-column terminal, folded mid-word) gets a
    word for its metavar (``LEVEL``) and is named in the option's help."""
    return "[" + "|".join(values) + "]"


class _Group(TyperGroup):
    """The command groups of ``aggregator``: parameters and help texts shown as README writes them
    (``_as_documented``, applied as each command is looked up, when its help option exists too), and a usage error
    (an option's value refused, a missing option, an unknown command, options that do not go together: ``usage``)
    said as every other error is, one line on stderr, exit status 2; Typer drew a boxed panel under the usage line.
    The line to ask for help follows it, as Click's own."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        _shown_as_documented(params)
        _rewrap_help(self)
        return params

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _as_documented(command, ctx)
        return command

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UnknownSourceError as exc:  # what the archive and the spider modules know of it (source_hints)
            if ctx.parent is None and not exc.hints and ctx.obj is not None:
                from aggregator.source_hints import unknown_source_hints

                exc.hints = unknown_source_hints(str(exc.args[0]), _db_url(ctx))
            raise

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        exceptions = _click_exceptions()
        try:
            status = super().main(*args, **{**kwargs, "standalone_mode": False})
        except exceptions.ClickException as exc:
            usage_error(exc, usage=isinstance(exc, exceptions.UsageError))
        except typer.Abort:
            print("Aborted!", file=sys.stderr)
            sys.exit(1)
        # Not standalone, Click returns what the command returned, or the status of a typer.Exit it raised
        sys.exit(status if isinstance(status, int) else 0)


def usage_error(exc: Any, *, usage: bool) -> NoReturn:
    """A Click error (``exc``) as one line, ``aggregator: error: ...``, and for a usage error the line Click adds to
    ask for help (a line of its own, so the first stays the whole error), then its exit status (2)."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # a group run bare: its help, printed already (Rich) or here
        message = exc.format_message()
        if message:
            print(message, file=sys.stderr)
        sys.exit(exc.exit_code)
    print(f"aggregator: error: {visible(exc.format_message())}", file=sys.stderr)
    ctx = getattr(exc, "ctx", None)
    if usage and ctx is not None and ctx.command.get_help_option(ctx) is not None:
        print(f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.", file=sys.stderr)
    sys.exit(exc.exit_code)


def command_group(**options: Any) -> typer.Typer:
    """A group of ``aggregator``'s commands (``_Group``), which shows its help when run without one."""
    return typer.Typer(cls=_Group, no_args_is_help=True, **options)


app = command_group(
    name="aggregator",
    help="A re-publishing news crawler: crawl the source sites into an archive and inspect what came in.",
    add_completion=False,
    pretty_exceptions_enable=False,
)
articles_app = command_group(help="Look at archived articles.")
db_app = command_group(help="Manage the archive's database schema.")
dates_app = command_group(help="Check how printed dates are read.")
rejects_app = command_group(help="The quarantine: what crawls refused or could not fetch, and why.")
mirror_app = command_group(help="The offline mirror of the source sites.")
app.add_typer(articles_app, name="articles")
app.add_typer(db_app, name="db")
app.add_typer(dates_app, name="dates")
app.add_typer(rejects_app, name="rejects")
app.add_typer(mirror_app, name="mirror")


def reader_gone() -> None:
    """Standard output's reader has closed its end (``aggregator articles list --json | head -1``): what the command
    still writes goes to /dev/null, and the command goes on to its end and its own exit status.

    A reader that has read what it wanted is normal use, not an error: Click's answer to the closed pipe was exit
    status 1 (and Rich's, ``SystemExit(1)`` from the middle of a command), which a script with ``pipefail`` took for
    a failure; and Python, flushing what was left at exit, said "Exception ignored ... BrokenPipeError" on stderr.
    /dev/null under the same file descriptor takes everything, that last flush included."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


class _Stdout(Terminal):
    """Rich's console on standard output, going on quietly past a closed pipe (``reader_gone``), showing control
    characters instead of sending them (``Terminal``)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more is rendered for a reader that is gone
        reader_gone()


def print_json(data: Any) -> None:
    """A command's ``--json`` document on standard output, indented, non-ASCII text as itself; its instants are spelt
    by ``present.utc_iso`` (``2026-11-24T06:05:00Z``, as the read API and ``export`` spell them, not ``+00:00``).
    Flushed here, not at exit, where a closed pipe is "Exception ignored" on stderr (``reader_gone``)."""
    try:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        sys.stdout.flush()
    except BrokenPipeError:
        reader_gone()


out = _Stdout()
err = Terminal(stderr=True)


class CliError(Exception):
    """An error said to the user in one line, with exit status 2."""


MAX_LIMIT = 1_000_000
"""The most a --limit (or a count like it) takes: more rows than a table or a JSON array is read for (``export``
streams any number), and well inside the databases' integers, past which a query fails instead of answering."""
LONGEST_DAYS = 36_600
"""The longest interval or age taken, in days (a century): longer than any archive lives, and short of the ends of
the calendar, which an age counted back from now would cross (an OverflowError, not an answer)."""

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
"""Python's levels, which Scrapy's LOG_LEVEL takes (in any case)."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


def usage(message: str) -> NoReturn:
    """A usage error found once the command runs: a value its option never takes (a date that is none, a format or
    log level not among those there are), or options that do not go together. Said as Click says the ones it finds
    itself (``usage_error``): the line, then where the help is, exit status 2. What depends on the archive or the
    files (an id no article has, a folder that is not there) is no usage error: ``fail``."""
    raise _click_exceptions().UsageError(message)


@contextmanager
def writing(what: str, target: object) -> Iterator[None]:
    """An OSError in the block (a folder the command may not write in, a read-only or full disk) as one line naming
    the file: "cannot write the backup to /srv/a.db: Permission denied", not a traceback (or a message that reads as
    if the archive were at fault)."""
    try:
        yield
    except OSError as exc:
        fail(f"cannot write the {what} to {target}: {exc.strerror or exc}")


def check_charset(charset: str | None) -> None:
    """A ``--charset`` Python cannot decode with, refused by name (it was ignored, or a traceback later)."""
    if charset:
        try:
            codecs.lookup(charset)
        except LookupError:
            usage(f"unknown encoding: {charset!r}")


ARCHIVE_FILES = {
    "": "",
    "-wal": "its write-ahead log",
    "-shm": "its write-ahead log's index",
    "-journal": "its journal",
}
"""The files an SQLite archive is made of, by the suffix each adds to the database's name: the database, and beside
it what SQLite keeps while it writes (commits not yet copied back into the database live in the ``-wal``)."""


def archive_file_kind(path: Path, db_url: str) -> str | None:
    """Which file of the SQLite archive at ``db_url`` ``path`` is ("" for the database itself), or None for none."""
    database = sqlite_file(db_url)
    if database is None:
        return None
    database, path = database.expanduser().resolve(), path.expanduser().resolve()
    for suffix, kind in ARCHIVE_FILES.items():
        if path == database.with_name(database.name + suffix):
            return kind
    return None


def check_output_file(
    path: Path, what: str, *, db_url: str, example: str | None = None, replaced: bool = False
) -> None:
    """One clear line for a file to write that cannot be one: a folder (Python's IsADirectoryError was a traceback),
    a file in a folder that does not exist, or a file of the archive itself (`export -o archive.db` emptied the
    archive; `db backup archive.db-wal --force` threw away the commits not yet in the database). Checked before
    anything is written, so nothing is left half done.

    ``replaced``: the file is written whole beside its place and renamed over it (``paths.replaced_whole``), which
    would put a regular file in the place of a device or a pipe (`db backup /dev/full --force` made /dev/full one, as
    root; `metrics -o /dev/stdout` would have made the system's /dev/stdout one): those are refused."""
    if path.is_dir():
        fail(
            f"{path} is a folder: give a file's name for the {what}"
            + (f", such as {path / example}" if example else "")
        )
    if replaced and path.exists() and not path.is_file():
        fail(f"not a regular file (a device, a pipe?): {path}: the {what} would replace it with a file")
    if not path.parent.is_dir():
        fail(f"no such folder: {path.parent}")
    kind = archive_file_kind(path, db_url)
    if kind is not None:
        fail(f"the {what} would overwrite the archive itself: {path}" + (f" is {kind}" if kind else ""))


def _db_url(ctx: typer.Context) -> str:
    """``--db``, else ``AGGREGATOR_DB_URL`` as the project's settings have it (the environment over the default).
    Read from the settings module itself: Scrapy's ``Settings`` would give the same value and cost a command that
    only reads the archive Scrapy's import, most of its start."""
    from aggregator import settings

    url: str | None = ctx.obj.get("db") if ctx.obj else None
    return url or str(settings.AGGREGATOR_DB_URL)


def _archive(ctx: typer.Context) -> Any:
    """The archive a command reads or edits: it must exist (a mistyped --db is an error, not a new empty archive) and
    be at this release's schema (upgrading is for `db upgrade` and the long-running commands: `require_current`)."""
    from aggregator.store import Archive
    from aggregator.store.db import require_current, require_existing

    url = _db_url(ctx)
    require_existing(url)
    archive = Archive.open(url, migrate=False)
    try:
        require_current(archive.engine)
    except BaseException:
        archive.close()
        raise
    return archive


def _version(value: bool) -> None:
    if value:
        out.print(f"aggregator {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help="Archive database URL (default: AGGREGATOR_DB_URL, else SQLite at <project>/data/archive.db).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Crawl news sources into an attributed archive, and inspect it."""
    environment = env_settings()  # every command refuses a bad AGGREGATOR_* value up front, by name
    if db is not None and not db.strip():
        # `--db "$ARCHIVE_URL"` in a cron line with the variable unset: not the default archive without a word
        usage("--db: an empty URL (an unset variable?); leave --db out for AGGREGATOR_DB_URL or the default archive")
    ctx.obj = {"db": db or environment.get("AGGREGATOR_DB_URL")}


# -- crawl ---------------------------------------------------------------------------------------------

# What to crawl and where from: shared by `crawl` and `schedule`.
SourcesArg = Annotated[
    list[str] | None, typer.Argument(metavar="[SOURCE]...", help="Source keys to crawl (see `aggregator sources`).")
]
AllOpt = Annotated[bool, typer.Option("--all", help="Crawl every registered source.")]
OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Serve the bundled sample of the sites locally and crawl that.")
]
MirrorOpt = Annotated[
    str | None, typer.Option("--mirror", metavar="URL", help="Fetch every page from a mirror holding the same tree.")
]
MirrorRootOpt = Annotated[
    Path | None,
    typer.Option("--mirror-root", metavar="DIR", help="With --offline: the folder to serve instead of data/mirror."),
]
LogLevelOpt = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        metavar="LEVEL",
        help=f"Scrapy's log level, one of {', '.join(LOG_LEVELS)} (default WARNING on a terminal, else INFO).",
    ),
]


def check_log_level(log_level: str | None) -> None:
    """A log level Scrapy takes, or one clear line before anything starts (``schedule``'s runs would each fail)."""
    if log_level and log_level.upper() not in LOG_LEVELS:
        usage(f"--log-level: {log_level!r} is not a log level: {', '.join(LOG_LEVELS)}")


def check_where_from(offline: bool, mirror: str | None, mirror_root: Path | None) -> None:
    """One clear line for options that contradict each other: never a crawl of the real sites by mistake."""
    if offline and mirror:
        usage("--offline and --mirror exclude each other")
    problem = None if mirror is None else mirror_address_problem(mirror)
    if problem:
        usage(f"--mirror {problem}")
    if mirror_root is not None:
        if not offline:
            usage("--mirror-root is the folder --offline serves: add --offline (without it the real sites are crawled)")
        if not mirror_root.is_dir():
            fail(f"--mirror-root: no such folder: {mirror_root}")


def announce_new_archive(db_url: str) -> None:
    """One line on stderr before a crawl creates an SQLite archive that is not there (and the folders it goes in):
    a mistyped path in --db or AGGREGATOR_DB_URL (/srv/archve/a.db) began a new empty archive without a word, and
    the next command read that. Not for the project's default archive, which the first crawl makes; not for one
    opened read-only, which is not created (``connect`` says so)."""
    from aggregator.paths import default_db_url
    from aggregator.store.db import read_only_reason

    path = sqlite_file(db_url)
    if path is None or path.exists() or read_only_reason(db_url) is not None:
        return
    path = path.expanduser().resolve()
    if path == sqlite_file(default_db_url()):
        return
    missing = path.parent
    while not missing.parent.exists() and missing.parent != missing:
        missing = missing.parent
    folder = "" if path.parent.exists() else f", and its folder ({missing} did not exist)"
    print(f"aggregator: creating a new archive at {path}{folder}", file=sys.stderr)


@app.command()
def crawl(
    ctx: typer.Context,
    sources: SourcesArg = None,
    all_: AllOpt = False,
    offline: OfflineOpt = False,
    mirror: MirrorOpt = None,
    mirror_root: MirrorRootOpt = None,
    log_level: LogLevelOpt = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Fetch every article again, not only new ones and the recheck window.")
    ] = False,
    lift_hold_: Annotated[
        bool,
        typer.Option(
            "--lift-hold",
            help="Lift the hold a site's Retry-After put on these sources (a mirror's, with --offline or --mirror) "
            "and crawl them now.",
        ),
    ] = False,
) -> None:
    """Crawl sources into the archive, showing live progress and a summary.

    Exits 1 if a source failed or is unhealthy, 3 if a source was skipped because another run of it holds its lock
    or its site asked (Retry-After) for no request yet.
    """
    if all_ == bool(sources):
        usage("give source keys or --all (not both)")
    check_where_from(offline, mirror, mirror_root)
    check_log_level(log_level)
    chosen = list(all_sources()) if all_ else resolve_keys(sources or [])
    from aggregator.crawl import exit_status, print_summary, run_crawl
    from aggregator.mirror import unreachable
    from aggregator.store import Archive

    db_url = _db_url(ctx)
    environment = env_settings()
    where = mirror or (None if offline else environment.get("AGGREGATOR_MIRROR"))
    why = where and unreachable(where)
    if why:  # before the archive is opened: a crawl that does not start leaves no new empty archive behind
        fail(f"nothing answers at the mirror {where} ({why}): start it, or crawl the bundled sample with --offline")
    announce_new_archive(db_url)
    Archive.open(db_url).close()  # upgrade the schema, and fail early on an unusable database
    if lift_hold_:
        from aggregator.backoff import lift_hold

        for source in chosen:
            lifted = lift_hold(db_url, source.key, mirror=bool(offline or where))
            if lifted is not None:
                asker = f"the mirror {lifted.mirror}" if lifted.mirror else "its site"
                until = lifted.until.isoformat(timespec="seconds")
                said = f"{source.key}: lifted the hold {asker} asked for until {until} (run {lifted.run})"
                print(said, file=sys.stderr)
    # A Redis that cannot be used is not refused here: each source's run is recorded as failed, with the reason
    # (frontier_unreachable, aggregator.scaleout), which `health` and /metrics see; exit status 1.
    redis_url: str = environment.get("AGGREGATOR_REDIS_URL") or ""
    if redis_url and make_url(db_url).get_backend_name() == "sqlite":
        # Not refused: workers on one host share an SQLite file well enough. Workers on other hosts cannot reach it,
        # and each would fill an archive of its own with its share of the frontier, which nothing says.
        print(
            "aggregator: warning: scale-out (AGGREGATOR_REDIS_URL) into an SQLite archive: only workers on this host "
            "share it; workers on several hosts need PostgreSQL (AGGREGATOR_DB_URL=postgresql://...)",
            file=sys.stderr,
        )
    settings = {"LOG_LEVEL": log_level.upper()} if log_level else {}
    outcomes = run_crawl(
        chosen,
        db_url=db_url,
        offline=offline,
        mirror=mirror,
        mirror_root=mirror_root,
        settings=settings,
        refresh=refresh,
    )
    print_summary(outcomes, out)
    raise typer.Exit(exit_status(outcomes))


@app.command()
def reextract(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option("--source", metavar="SOURCE", help="Only this source's articles.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="DATE", help="Only pages fetched since this ISO date or time (UTC if no zone)."
        ),
    ] = None,
) -> None:
    """Re-read the stored pages with today's extractors and pipelines, without the network, and update the articles."""
    from aggregator.reextract import ReextractResult
    from aggregator.reextract import reextract as run_reextract

    if source:
        resolve_keys([source])
    start, _ = time_bounds(since, None)
    archive = _archive(ctx)
    try:
        with spinner("re-extracting…") as say:

            def show(result: ReextractResult) -> None:
                say(f"re-extracting: {result.seen} pages, {result.changed} changed")

            result = run_reextract(archive, source=source, since=start, progress=show)
    finally:
        archive.close()
    superseded = f", {result.superseded} left as a crawl meanwhile changed them" if result.superseded else ""
    out.print(
        f"re-extracted {result.seen} stored page(s): {result.changed} article(s) changed, "
        f"{result.unchanged} unchanged, {len(result.refused)} refused by today's pipelines{superseded}"
    )
    for article_id, reason in result.refused[:20]:
        out.print(f"  article {article_id}: {escape(reason)} (left as it was)")
    if result.renamed or result.merged:
        # Rows an older release keyed by another form of their URL (aggregator.store.repository.Archive.rekey): a
        # merged article's dropped id answers 404 from now on, which a downstream site that keeps ids wants to know.
        merged = ", ".join(f"{gone} into {kept}" for gone, kept in result.merged[:20])
        more = f", and {len(result.merged) - 20} more" if len(result.merged) > 20 else ""
        out.print(
            f"re-keyed by today's form of their URL: {result.renamed} article(s) renamed, {len(result.merged)} "
            f"archived twice merged" + (f" (article {merged}{more})" if merged else "")
        )
    for article_id, why in result.left[:20]:
        out.print(f"  article {article_id}: {escape(why)} (kept under its old key)")


@app.command("sources")
def sources_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """List the registered sources: key, name, languages, time zone, domains, entry URLs, origin.

    The origin of each: built-in, the sources file, or the file's entry replacing the built-in one ("replaced")."""
    from aggregator.sources import BUILT_IN_ORIGIN, FILE_ORIGIN, REPLACED_ORIGIN, origin

    rows: list[dict[str, Any]] = [
        {
            "key": s.key,
            "name": s.name,
            "languages": list(s.languages),
            "timezone": s.timezone,
            "domains": list(s.domains),
            "entry_urls": list(s.entry_urls),
            "origin": origin(s),
        }
        for s in all_sources()
    ]
    if as_json:
        print_json(rows)
        return
    said = {REPLACED_ORIGIN: "sources file, replacing the built-in entry", FILE_ORIGIN: "sources file"}
    if out.width < 120:  # a table would fold the entry URLs, which are meant to be copied: a source a paragraph
        for r in rows:
            facts = [r["name"], ", ".join(r["languages"]), r["timezone"], ", ".join(r["domains"])]
            facts += [said[r["origin"]]] if r["origin"] in said else []
            out.print(f"[bold]{escape(r['key'])}[/bold]  {escape(' · '.join(facts))}")
            for url in r["entry_urls"]:
                out.print(f"  {escape(url)}", soft_wrap=True)
        return
    from_file = any(r["origin"] != BUILT_IN_ORIGIN for r in rows)  # the column says nothing without a sources file
    table = Table("key", "name", "languages", "time zone", "domains", "entry URLs", *(["from"] if from_file else []))
    for r in rows:
        table.add_row(
            r["key"], r["name"], ", ".join(r["languages"]), r["timezone"], ", ".join(r["domains"]),
            "\n".join(r["entry_urls"]), *([said.get(r["origin"], r["origin"])] if from_file else []),
        )  # fmt: skip
    out.print(table)


# -- articles ------------------------------------------------------------------------------------------


def _article_summary(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "source": a.source,
        "language": a.language,
        "title": a.title,
        "url": a.url,
        "published_at": utc_iso(a.published_at),
        "archived_at": utc_iso(a.archived_at),
        "category": a.category,
        "cover_image_url": a.cover_image_url,
    }


def _withdrawal(a: Any) -> dict[str, Any] | None:
    """When, by whom (``source`` or ``operator``) and why an article was withdrawn; None when it is shown."""
    if a.withdrawn_at is None:
        return None
    return {"at": utc_iso(a.withdrawn_at), "by": a.withdrawn_by, "reason": a.withdrawn_reason}


def _filter_options(
    source: str | None,
    language: str | None,
    since: str | None,
    until: str | None,
    story: int | None,
    undated: bool,
    withdrawn: bool = False,
) -> Any:
    """The article filter the options ask for, or one clear error line for an unknown source or a bad date."""
    from aggregator.store.queries import ArticleFilter

    if source:
        resolve_keys([source])
    if language is not None:
        language = _language_option(language)
    start, end = time_bounds(since, until)
    return ArticleFilter(
        source=source, language=language, story=story, undated=undated, since=start, until=end, withdrawn=withdrawn
    )


@contextmanager
def spinner(first: str) -> Iterator[Callable[[str], None]]:
    """A transient spinner on stderr for a long command's progress, saying ``first``; yields what updates its text."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err, transient=True) as bar:
        task = bar.add_task(first)
        yield lambda text: bar.update(task, description=text)


def time_bounds(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """``--since`` / ``--until`` as instants (``present.parse_instant``: UTC when no zone is named; a bare ``--until``
    date includes that day), or one clear error line for one that is no ISO 8601 date or time."""
    from aggregator.present import parse_instant

    bounds: dict[str, datetime | None] = {"since": None, "until": None}
    for name, text in (("since", since), ("until", until)):
        if text:
            try:
                bounds[name] = parse_instant(text, end_of_day=name == "until")
            except ValueError:
                usage(f"--{name}: not an ISO 8601 date or time: {text!r}")
    return bounds["since"], bounds["until"]


def _language_option(text: str) -> str:
    """``--language`` as the archive stores it (a lower-case ISO 639 code), or one clear error line: "Russian" or
    "ru-RU" found nothing, silently. A code no source of the registry publishes in gets a warning, not an error (an
    archive may keep the articles of a source since taken out of the registry)."""
    code = text.strip().lower()
    known = sorted({language for source in all_sources() for language in source.languages})
    if not _LANGUAGE_CODE.fullmatch(code):
        usage(f"--language: {text!r} is not a language code, such as {', '.join(known) or 'ru'}")
    if known and code not in known:
        err.print(f"aggregator: warning: no source publishes in {code!r} (the sources' languages: {', '.join(known)})")
    return code


_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
"""What ``--language`` takes: the two- or three-letter code the archive stores (the read API takes the same)."""


SINCE_HELP = "Only articles published (else archived) at or after this ISO date or time (UTC if no zone)."
UNTIL_HELP = "... and before this ISO date or time (a bare date includes that day)."


@articles_app.command("list")
def articles_list(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option("--source", metavar="SOURCE", help="Only this source's articles.")
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", metavar="LANG", help="Only articles in this language (ru, az, en).")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="DATE", help=SINCE_HELP)] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="DATE", help=UNTIL_HELP)] = None,
    story: Annotated[
        int | None, typer.Option("--story", metavar="ID", max=MAX_ID, help="Only the articles of this story.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, max=MAX_LIMIT, help="At most this many, newest first.")
    ] = 50,
    undated: Annotated[
        bool, typer.Option("--undated", help="Only articles whose date could not be read (the text is kept).")
    ] = False,
    withdrawn: Annotated[
        bool, typer.Option("--withdrawn", help="Only the withdrawn articles (left out of everything else).")
    ] = False,
    no_cover: Annotated[
        bool, typer.Option("--no-cover", help="Only articles without a cover image (a broken cover extraction?).")
    ] = False,
    run: Annotated[
        int | None,
        typer.Option(
            "--run", metavar="ID", max=MAX_ID, help="The articles a crawl run (see `runs`) archived or changed."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """List archived articles, newest first: source, published time (UTC), title, source link.

    Withdrawn articles are left out, as the downstream site leaves them out; --withdrawn lists only them. --run lists
    what one run archived (new) or changed (updated), withdrawn since or not."""
    from aggregator.store.queries import count_articles, list_page, list_without_cover

    if run is not None:
        others = {"--source": source, "--language": language, "--since": since, "--until": until, "--story": story,
                  "--undated": undated, "--withdrawn": withdrawn, "--no-cover": no_cover}  # fmt: skip
        given = [name for name, value in others.items() if value]
        if given:  # the run says which source and when; a filter besides would hide what it did
            usage(f"--run lists what one run archived: it takes no {', '.join(given)}")
        _run_articles(ctx, run, limit=limit, as_json=as_json)
        return
    chosen = _filter_options(source, language, since, until, story, undated, withdrawn)
    archive = _archive(ctx)
    try:
        with archive.reader.connect() as conn:
            if no_cover:
                rows, total = list_without_cover(conn, chosen, limit=limit)
            else:
                rows, _ = list_page(conn, chosen, limit=limit)
                total = count_articles(conn, chosen)
    finally:
        archive.close()
    if as_json:
        summaries = [_article_summary(a) | ({"withdrawn": _withdrawal(a)} if withdrawn else {}) for a in rows]
        print_json(summaries)
        return
    # A terminal too narrow for the link beside the title (80 columns) gets it under the title.
    wide = out.width >= WIDE
    kind = "withdrawn" if withdrawn else "archived"
    bare = " without a cover image" if no_cover else ""
    table = Table(title=f"{len(rows)} of {total} {kind} articles{bare}", title_justify="left")
    table.add_column("id", justify="right")
    table.add_column("source")
    table.add_column("published (UTC)", no_wrap=not wide, max_width=None if wide else 16)
    table.add_column("lang")
    text_and_link_columns(table, "title", "url", wide=wide, narrow="title / source link")
    for a in rows:
        raw = a.published_raw or "no date printed"
        if a.published_at:
            published = a.published_at.strftime("%Y-%m-%d %H:%M")
        elif wide:
            published = f"[dim]undated: {escape(raw if len(raw) <= 24 else raw[:23] + '…')}[/dim]"
        else:
            published = f"[dim]undated\n{escape(raw if len(raw) <= 16 else raw[:15] + '…')}[/dim]"
        title = escape(a.title)
        if withdrawn:  # by whom and why, under the title
            title += f"\n[red]withdrawn by {a.withdrawn_by}: {escape(a.withdrawn_reason or '')}[/red]"
        table.add_row(str(a.id), a.source, published, a.language or "", *text_and_link(title, a.url, wide=wide))
    out.print(table)


def _run_articles(ctx: typer.Context, run_id: int, *, limit: int, as_json: bool) -> None:
    """``articles list --run ID``: the articles the run archived or changed, newest first."""
    from aggregator.store.queries import run_articles, run_window

    archive = _archive(ctx)
    try:
        with archive.reader.connect() as conn:
            window = run_window(conn, run_id)
            if window is None:
                fail(f"no run with id {run_id} (see `runs`: a run older than AGGREGATOR_RUNS_KEEP_DAYS is pruned)")
            rows, total = run_articles(conn, window, limit=limit)
    finally:
        archive.close()
    if as_json:
        print_json([_article_summary(a) | {"change": a.change, "withdrawn": _withdrawal(a)} for a in rows])
        return
    wide = out.width >= WIDE
    which = f"runs {', '.join(map(str, window.runs))}" if len(window.runs) > 1 else f"run {run_id}"
    span = f"{window.start:%Y-%m-%d %H:%M:%S} to {window.end:%H:%M:%S} UTC"
    table = Table(
        title=f"{len(rows)} of {total} article(s) {escape(window.source)}'s {which} archived or changed ({span})",
        title_justify="left",
    )
    table.add_column("id", justify="right")
    table.add_column("change")
    table.add_column("published (UTC)", no_wrap=True)
    table.add_column("lang")
    text_and_link_columns(table, "title", "url", wide=wide, narrow="title / source link")
    for a in rows:
        published = a.published_at.strftime("%Y-%m-%d %H:%M") if a.published_at else "[dim]undated[/dim]"
        title = escape(a.title) + (f"\n[red]withdrawn by {a.withdrawn_by}[/red]" if a.withdrawn_at else "")
        table.add_row(str(a.id), a.change, published, a.language or "", *text_and_link(title, a.url, wide=wide))
    out.print(table)


@articles_app.command("show")
def articles_show(
    ctx: typer.Context,
    wanted: Annotated[
        str,
        typer.Argument(
            metavar="ID|URL",
            help="The article's id (see `articles list`), or an address of it: its source link, or one a listing "
            "linked that leads to it.",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Everything archived about one article: source link, times in UTC and Baku, attribution, story, versions.

    Given an address the archive has no article at, says why: the crawl's refusal of it, or that no crawl met it."""
    from aggregator.present import SITE_TIMEZONE, local_iso, printed_time
    from aggregator.store import queries

    lookup = None if wanted.strip().isdigit() else _addresses(wanted, "not an article id or an http(s) address")
    archive = _archive(ctx)
    try:
        with archive.reader.connect() as conn:
            if lookup is None:
                article_id = int(wanted)
            else:
                found = queries.find_address(conn, *lookup)
                if found.article_id is None:
                    refused = queries.list_rejects(
                        conn, queries.RejectFilter(urls=lookup[2], include_resolved=True), limit=1
                    )
                    fail(_not_archived(found, refused[0] if refused else None))
                article_id = found.article_id
                if found.how != "url":  # on stderr: --json stays the article's document
                    err.print(
                        f"[dim]{escape(found.asked)} leads to article {article_id} ({_FOUND_BY[found.how or '']})[/dim]"
                    )
            article = queries.get_article(conn, article_id)
            if article is None:
                fail(f"no article with id {article_id}")
            source = queries.get_source(conn, article.source)
            siblings = queries.story_siblings(conn, article.id, article.story_id)
            versions = queries.versions(conn, article_id)
            addresses = queries.linked_addresses(conn, article)
            # A later fetch of the article that was refused (a layout change, a page now broken): the archived
            # version is the last one that passed, which the article alone does not say.
            refusals = queries.list_rejects(
                conn, queries.RejectFilter(urls=tuple({article.url, article.fetched_url})), limit=20
            )
    finally:
        archive.close()
    times = {
        name: {"utc": utc_iso(getattr(article, name)), "baku": local_iso(getattr(article, name))}
        for name in ("published_at", "archived_at", "updated_at", "last_seen_at")
    }
    data = _article_summary(article) | {
        "source_name": source.name if source else article.source,
        "source_homepage": source.homepage if source else None,
        "fetched_url": article.fetched_url,
        "linked_url": article.linked_url,
        "linked_urls": addresses,  # every address linked that leads here (redirect or same page)
        "open_rejects": [  # later fetches of it refused, newest first (`rejects show ID`)
            {"id": r.id, "stage": r.stage, "reason": r.reason, "last_seen_at": utc_iso(r.last_seen_at or r.created_at)}
            for r in refusals
        ],
        "published_raw": article.published_raw,
        "updated_at": utc_iso(article.updated_at),
        "last_seen_at": utc_iso(article.last_seen_at),
        "times": times,
        "archived_printed": printed_time(article.archived_at, article.language),
        "attribution_line": article.attribution_line,
        "cited_outlets": article.cited_outlets or [],
        "views": article.views,
        "withdrawn": _withdrawal(article),
        "story_id": article.story_id,
        "story_siblings": [
            {"id": s.id, "source": s.source, "title": s.title, "url": s.url, "published_at": utc_iso(s.published_at)}
            for s in siblings
        ],
        "body_text": article.body_text,
        "body_html": article.body_html,
        "snapshots": [  # the versions fetched, oldest first
            {
                "id": v.id,
                "fetched_at": utc_iso(v.fetched_at),
                "url": v.url,
                "http_status": v.http_status,
                "etag": v.etag,
                "content_hash": v.content_hash,
                "compressed_bytes": v.stored_bytes,
            }
            for v in versions
        ],
    }
    if as_json:
        print_json(data)
        return
    out.print(f"[bold]{escape(article.title)}[/bold]")
    if data["withdrawn"]:
        w = data["withdrawn"]
        out.print(f"[bold red]withdrawn[/bold red] {w['at']} by {w['by']}: {escape(w['reason'] or '')}")
    for label, key in (
        ("id", "id"), ("source", "source_name"), ("language", "language"), ("source link", "url"),
        ("fetched as", "fetched_url"), ("linked as", "linked_urls"), ("printed as", "published_raw"),
        ("category", "category"),
        ("cover", "cover_image_url"), ("cites", "cited_outlets"), ("views", "views"), ("story", "story_id"),
    ):  # fmt: skip
        value = data[key]
        shown = ", ".join(value) if isinstance(value, list) else value
        out.print(f"[dim]{label:>12}[/dim]  {escape(str(shown)) if shown not in (None, '') else '-'}")
    for name, label in (("published_at", "published"), ("archived_at", "archived"), ("updated_at", "updated"),
                        ("last_seen_at", "last seen")):  # fmt: skip
        both = times[name]
        shown = f"{both['utc']} · {both['baku']} {SITE_TIMEZONE}" if both["utc"] else "-"
        out.print(f"[dim]{label:>12}[/dim]  {escape(shown)}")
    out.print(f"[dim]{'page prints':>12}[/dim]  {escape(data['archived_printed'])}")
    out.print()
    if article.attribution_line:
        out.print(f"[italic]{escape(article.attribution_line)}[/italic]")
    out.print(escape(article.body_text))
    out.print()
    if siblings:
        out.print(f"[dim]story {article.story_id}: {len(siblings)} other article(s):[/dim]")
        for s in siblings:
            out.print(f"  #{s.id} {escape(s.source)}  {escape(s.title)}  {escape(s.url)}")
    for r in data["open_rejects"]:
        out.print(
            f"[yellow]refused at a later fetch ({escape(r['stage'])}: {escape(r['reason'])}, last {r['last_seen_at']}):"
            f" reject {r['id']}[/yellow]"
        )
    out.print(f"[dim]{len(versions)} version(s):[/dim]")
    for v in data["snapshots"]:
        out.print(f"  #{v['id']} {v['fetched_at']}  {v['content_hash'][:12]}  {v['compressed_bytes']} bytes")


_FOUND_BY = {
    "fetched_url": "the address it was fetched at",
    "linked_url": "a listing linked it there, and the site redirected",
    "redirect": "an address a crawl was redirected from, or served the page at",
}


def _not_archived(found: Any, reject: Any | None) -> str:
    """Why the archive has no article at an address: what a crawl made of it, or that none met it."""
    shown = found.canonical if found.canonical == found.asked else f"{found.asked} ({found.canonical} as archived)"
    if reject is None:
        return (
            f"no article, redirect or reject at {shown}: no crawl has met it (not linked by the source's listings, "
            "feeds or sitemaps, not on a source's domains, or not fetched yet)"
        )
    last = (reject.last_seen_at or reject.created_at).strftime("%Y-%m-%d %H:%M UTC")
    if reject.resolved_at is not None:  # archived since at another address (its canonical link names another)
        return (
            f"no article at {shown}: its page was archived as article {reject.article_id} after reject {reject.id} "
            f"({reject.stage}: {reject.reason}): see `articles show {reject.article_id}`"
        )
    return (
        f"no article at {shown}: refused, {reject.stage}: {reject.reason} ({reject.attempts} time(s), last {last}): "
        f"see `rejects show {reject.id}`"
    )


@articles_app.command("withdraw")
def articles_withdraw(
    ctx: typer.Context,
    article_ids: Annotated[list[int], typer.Argument(metavar="ID...", help="The articles' ids (see `articles list`).")],
    reason: Annotated[
        str,
        typer.Option("--reason", metavar="TEXT", help="Why, for the record (a takedown request, a correction, ...)."),
    ],
) -> None:
    """Take articles off the downstream site: out of every list, feed, search and story; their pages answer 410.

    The archive keeps them and their versions; `articles restore` shows them again."""
    if not reason.strip():
        usage("--reason: say why the article is withdrawn")
    archive = _archive(ctx)
    try:
        found = archive.withdraw(article_ids, reason.strip())
    finally:
        archive.close()
    _report_missing(article_ids, found)
    out.print(f"withdrew {len(found)} article(s): {', '.join(f'#{i}' for i in found) or '-'}")


@articles_app.command("restore")
def articles_restore(
    ctx: typer.Context,
    article_ids: Annotated[list[int], typer.Argument(metavar="ID...", help="The withdrawn articles' ids.")],
) -> None:
    """Show withdrawn articles again (withdrawn by an operator, or by a crawl that found the page gone)."""
    archive = _archive(ctx)
    try:
        existing, found = archive.restore(article_ids)
    finally:
        archive.close()
    _report_missing(article_ids, existing)
    shown = ", ".join(f"#{i}" for i in existing if i not in found)
    if not found:
        fail(f"none of {shown} is withdrawn (see `articles list --withdrawn`)")
    if shown:
        err.print(f"aggregator: warning: not withdrawn: {shown}")
    out.print(f"restored {len(found)} article(s): {', '.join(f'#{i}' for i in found)}")


def _report_missing(asked: list[int], found: list[int]) -> None:
    """One line on stderr for the ids no article has; exit status 2 when none had one."""
    missing = sorted(set(asked) - set(found))
    if missing and not found:
        fail(f"no article with id {', '.join(str(i) for i in missing)}")
    if missing:
        err.print(f"aggregator: warning: no article with id {', '.join(str(i) for i in missing)}")


@articles_app.command("history")
def articles_history(
    ctx: typer.Context,
    article_id: Annotated[int, typer.Argument(metavar="ID", help="The article's id (see `articles list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of versions.")] = False,
) -> None:
    """Every version of an article that was fetched, oldest first, with what changed (a diff of title and body)."""
    from aggregator.history import article_history

    archive = _archive(ctx)
    try:
        if archive.get_article(article_id) is None:
            fail(f"no article with id {article_id}")
        versions = article_history(archive, article_id)
    finally:
        archive.close()
    if as_json:
        print_json([v.to_dict() | {"fetched_at": utc_iso_text(v.fetched_at)} for v in versions])
        return
    for number, version in enumerate(versions, 1):
        out.print(
            f"[bold]version {number}[/bold]  fetched {utc_iso_text(version.fetched_at)}  "
            f"snapshot #{version.snapshot_id}  {version.content_hash[:12]}  {version.stored_bytes} bytes"
            + (f"  ETag {version.etag}" if version.etag else "")
        )
        out.print(f"  {escape(version.title)}")
        for line in version.diff[2:]:  # past the ---/+++ header
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            out.print(f"    [{style}]{escape(line)}[/{style}]")


def _models() -> Any:
    from aggregator.store import models

    return models


# -- rejects -------------------------------------------------------------------------------------------


ITEM_INSTANTS = ("fetched_at", "published_at")
"""The instants of an item as the pipelines write it down (``ArticleItem.to_record``, Python's ``+00:00``); its
other dates (``published_raw``, ``published_meta``, ``published_feed``) are the page's or the feed's own text."""


def item_document(item: dict[str, Any]) -> dict[str, Any]:
    """An item as ``--json`` prints it (``rejects show``, ``extract``): its instants spelt as every other instant of
    the command's output is (``present.utc_iso``), the rest as it was kept."""
    return item | {key: utc_iso_text(item[key]) for key in ITEM_INSTANTS if isinstance(item.get(key), str)}


def _reject_summary(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "source": r.source,
        "url": r.url,
        "stage": r.stage,
        "reason": r.reason,
        "http_status": r.http_status,
        "created_at": utc_iso(r.created_at),
        "attempts": r.attempts,
        "last_seen_at": utc_iso(r.last_seen_at or r.created_at),
        "resolved_at": utc_iso(r.resolved_at),
        "article_id": r.article_id,
        # what `rejects retry` can run again: open, with its page or its item kept (`rejects list --retryable`)
        "retryable": bool(r.retryable) if hasattr(r, "retryable") else _can_retry(r),
    }


def _can_retry(r: Any) -> bool:
    """``retryable`` of a whole reject row (``rejects show``), as ``queries.list_rejects`` reads it."""
    return r.resolved_at is None and (r.raw_body is not None or r.item is not None)


@rejects_app.command("list")
def rejects_list(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option("--source", metavar="SOURCE", help="Only this source's rejects.")
    ] = None,
    run: Annotated[
        int | None,
        typer.Option("--run", metavar="ID", max=MAX_ID, help="Only those a run refused (see `runs`), last refused."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="DATE", help="Only those last refused at or after this ISO date or time (UTC)."
        ),
    ] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="DATE", help=UNTIL_HELP)] = None,
    stage: Annotated[
        str | None,
        typer.Option(
            "--stage", metavar="STAGE", help="Only those refused at this stage (fetch, validate, cleanup, ...)."
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", metavar="URL", help="Only those of this address (as linked or as fetched).")
    ] = None,
    retryable: Annotated[
        bool,
        typer.Option("--retryable", help="Only those `rejects retry` can run again: open, with a stored page or item."),
    ] = False,
    include_resolved: Annotated[bool, typer.Option("--all", help="Also those a retry has since archived.")] = False,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, max=MAX_LIMIT, help="At most this many, newest first.")
    ] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """List quarantined items and failed fetches, newest first: stage, reason, URL."""
    from aggregator.store.queries import RejectFilter, list_rejects, run_window

    if source:
        resolve_keys([source])
    start, end = time_bounds(since, until)
    chosen = RejectFilter(
        source=source,
        include_resolved=include_resolved,
        run=run,
        since=start,
        until=end,
        stage=stage.strip().lower() if stage else None,
        urls=_addresses(url)[2] if url else (),
        retryable=retryable,
    )
    archive = _archive(ctx)
    try:
        with archive.reader.connect() as conn:
            if run is not None and run_window(conn, run) is None:
                fail(f"no run with id {run} (see `runs`; the rejects of a pruned run keep no run: --since, --until)")
            rows = list_rejects(conn, chosen, limit=limit)
    finally:
        archive.close()
    if as_json:
        print_json([_reject_summary(r) for r in rows])
        return
    # A terminal too narrow for the URL beside the reason (80 columns) gets it under the reason, whole.
    wide = out.width >= WIDE
    table = compact_table(f"{len(rows)} reject(s)", tight=not wide)
    for column in ("id", "source", "last (UTC)", "times", "stage"):
        header_column(table, column, justify="right" if column in {"id", "times"} else "left",
                      width=16 if column == "last (UTC)" else 0)  # fmt: skip
    text_and_link_columns(table, "reason", "url", wide=wide)
    for r in rows:
        when = (r.last_seen_at or r.created_at).strftime("%Y-%m-%d %H:%M")
        reason = escape(r.reason) + (f" [green](archived as {r.article_id})[/green]" if r.resolved_at else "")
        table.add_row(
            str(r.id), r.source or "-", when, str(r.attempts), r.stage, *text_and_link(reason, r.url, wide=wide)
        )
    out.print(table)


def _addresses(url: str, problem: str = "not an http(s) address") -> tuple[str, str, tuple[str, ...]]:
    """An address as given, as the archive keeps an article's (``urls.canonical_url``), and every spelling to look
    it up by: those two and the ones a site serves the same page at (http or https, with ``www.`` or not, a trailing
    slash or not), for a reject is kept at the address fetched. One clear line for what is no http(s) address."""
    from urllib.parse import urlsplit, urlunsplit

    from aggregator.urls import canonical_url

    given = url.strip()
    parts = urlsplit(given)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        usage(f"{problem}: {url!r}")
    canonical = canonical_url(given)
    site = urlsplit(canonical)
    paths = [site.path] if site.query or site.path == "/" else [site.path, site.path + "/"]
    spellings = [
        urlunsplit((scheme, host, path, site.query, ""))
        for scheme in ("https", "http")
        for host in (site.netloc, "www." + site.netloc)
        for path in paths
    ]
    return given, canonical, tuple(dict.fromkeys((given, canonical, *spellings)))


@rejects_app.command("show")
def rejects_show(
    ctx: typer.Context,
    reject_id: Annotated[int, typer.Argument(metavar="ID", help="The reject's id (see `rejects list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Everything kept about one reject: why, where, the item as it was refused, the size of the stored page."""
    archive = _archive(ctx)
    try:
        reject = archive.get_reject(reject_id)
    finally:
        archive.close()
    if reject is None:
        fail(f"no reject with id {reject_id}")
    data = _reject_summary(reject) | {
        "crawl_run_id": reject.crawl_run_id,
        "stored_page_bytes": len(reject.raw_body) if reject.raw_body else 0,
        "item": item_document(reject.item) if reject.item else reject.item,
    }
    if as_json:
        print_json(data)
        return
    for key in ("id", "source", "url", "stage", "reason", "http_status", "created_at", "attempts", "last_seen_at",
                "resolved_at", "article_id", "crawl_run_id", "stored_page_bytes"):  # fmt: skip
        value = data[key]
        out.print(f"[dim]{key:>17}[/dim]  {escape(str(value)) if value is not None else '-'}")
    if data["item"]:
        out.print_json(json.dumps({k: v for k, v in data["item"].items() if k != "body_html"}, ensure_ascii=False))


@rejects_app.command("retry")
def rejects_retry(
    ctx: typer.Context,
    reject_ids: Annotated[
        list[int] | None, typer.Argument(metavar="[ID]...", help="The rejects to retry (see `rejects list`).")
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every open reject with a stored page (after a fix to a spider or pipeline).")
    ] = False,
    source: Annotated[
        str | None, typer.Option("--source", metavar="SOURCE", help="With --all: only this source's rejects.")
    ] = None,
    charset: Annotated[
        str | None,
        typer.Option(
            "--charset",
            metavar="ENCODING",
            help="Read the stored pages in this encoding (e.g. windows-1251): for pages refused as undecodable "
            "text, which declare another one than their bytes are in.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what became of each reject as a JSON object.")] = False,
) -> None:
    """Re-run the current extractor and pipelines on the stored pages (no network); archive what they now accept."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from aggregator.quarantine import NotRetryableError, RetryBatch, retry_reject, retry_rejects

    if every == bool(reject_ids):
        usage("give the IDs of the rejects to retry, or --all")
    if source and not every:
        usage("--source goes with --all")
    if source:
        resolve_keys([source])
    check_charset(charset)
    archive = _archive(ctx)
    try:
        if reject_ids and len(reject_ids) == 1 and not as_json:
            (reject_id,) = reject_ids
            try:
                outcome = retry_reject(archive, reject_id, charset=charset)
            except NotRetryableError as exc:
                fail(str(exc))
            if outcome.archived:
                out.print(f"reject {reject_id}: archived as article {outcome.article_id}")
                return
            err.print(f"reject {reject_id}: still refused ({outcome.stage}): {escape(outcome.reason or '')}")
            raise typer.Exit(1)
        ids = list(reject_ids or []) or archive.retryable_reject_ids(source=source)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err, transient=True) as bar:
            task = bar.add_task("retrying…")

            def show(batch: RetryBatch) -> None:
                bar.update(task, description=f"retrying: {batch.seen} of {len(ids)}, {len(batch.archived)} archived")

            batch = retry_rejects(archive, ids, progress=show, charset=charset)
    finally:
        archive.close()
    if as_json:
        print_json(
            {
                "archived": [{"id": o.reject_id, "article_id": o.article_id} for o in batch.archived],
                "refused": [{"id": o.reject_id, "stage": o.stage, "reason": o.reason} for o in batch.refused],
                "skipped": [{"id": reject_id, "why": why} for reject_id, why in batch.skipped],
            }
        )
    else:
        out.print(
            f"retried {batch.seen} reject(s): {len(batch.archived)} archived, {len(batch.refused)} still refused, "
            f"{len(batch.skipped)} skipped"
        )
        reasons = Counter((o.stage or "", o.reason or "") for o in batch.refused)
        for (stage, reason), n in reasons.most_common(20):
            out.print(f"  still refused ({stage}): {escape(reason)}: {n}")
        for _, why in batch.skipped[:20]:
            out.print(f"  skipped: {escape(why)}", soft_wrap=True)
    if batch.refused:
        raise typer.Exit(1)
    if reject_ids and not batch.archived:  # every one skipped: as for one ID that cannot be retried, exit status 2
        fail(f"none of the {len(reject_ids)} rejects given could be retried (see why each was skipped)")


# -- dates ---------------------------------------------------------------------------------------------


@dates_app.command("parse")
def dates_parse(
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The date as a page prints it, e.g. 'Вчера, 15:31'.")],
    tz: Annotated[
        str | None, typer.Option("--tz", metavar="ZONE", help="The source's time zone (IANA name; default Asia/Baku).")
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", metavar="ISO", help="The moment relative dates count from (default: now), ISO 8601."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", metavar="SOURCE", help="Take the time zone and languages from this source's entry."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Show the instant a printed date means, in UTC and in the source's zone (exit 1 if it is not a date)."""
    from datetime import UTC

    from aggregator.timezones import UnknownTimeZoneError, format_date, zone
    from pipelines.dates import parse_date

    languages: tuple[str, ...] = ("ru", "az", "en")
    if source and tz:  # --tz was quietly ignored for the source's zone
        usage("--tz and --source exclude each other: --source reads the date in the source's own time zone")
    if source:
        entry = resolve_keys([source])[0]
        tz, languages = entry.timezone, entry.languages
    tz = tz or "Asia/Baku"
    try:
        zone(tz)
        moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    except UnknownTimeZoneError as exc:  # --tz's: a source's entry names a zone its loading checked
        usage(f"--tz: {exc}")
    except ValueError:
        usage(f"--now: not an ISO 8601 date and time: {now!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(tz))
    try:
        instant = parse_date(text, timezone=tz, now=moment, languages=languages)
    except OverflowError:  # "yesterday" or a year without one, counted from the first or last day of the calendar
        usage(f"--now: too near the ends of the calendar to read dates from: {now!r}")
    printed = {lang: format_date(instant, language=lang, timezone=tz) for lang in ("ru", "az", "en")} if instant else {}
    result = {
        "text": text,
        "timezone": tz,
        "now": utc_iso(moment),
        "utc": utc_iso(instant),
        "local": instant.astimezone(zone(tz)).isoformat() if instant else None,  # the source's zone: its offset
        "printed": printed or None,
    }
    if as_json:
        print_json(result)
    elif instant is None:
        err.print(f"not a date: {escape(repr(text))}")
    else:
        out.print(f"UTC    {result['utc']}")
        out.print(f"{tz:<6} {result['local']}")
        out.print(f"re-published as: {printed['ru']} · {printed['az']} · {printed['en']}")
    if instant is None:
        raise typer.Exit(1)


# -- db and mirror -------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the archive's tables to the latest schema."""
    import logging

    from aggregator.store.db import connect, current_revision, dispose, shown_url, upgrade

    # Each step as Alembic runs it, and the progress a long one reports (0007 on a big archive takes minutes).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(lambda record: not record.getMessage().startswith(("Context impl", "Will assume")))
    steps = logging.getLogger("alembic.runtime.migration")
    steps.addHandler(handler)
    steps.setLevel(logging.INFO)
    engine = connect(_db_url(ctx))
    try:
        upgrade(engine)
        # The archive as the operator names it (its file's path), whole on one line: a folder's name with "[" in it
        # is no markup, and a script reading the line finds the path unbroken.
        out.print(
            f"schema at revision {current_revision(engine)}: {shown_url(engine.url)}",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    finally:
        steps.removeHandler(handler)
        dispose(engine)  # a read-only archive's log files, if its reads left them, go too


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    """Why a server cannot listen at ``host:port``, and what to give instead, in one line."""
    where = f"cannot listen on {host}:{port}"
    if isinstance(exc, socket.gaierror):  # a name that does not resolve, or not to an IPv4 address
        return f"{where}: {exc.strerror}: give a name or address of this machine, such as 127.0.0.1"
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: the port is in use: stop what holds it, or give another --port (0: any free one)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: {host} is not an address of this machine: give one of its own, such as 127.0.0.1"
    if exc.errno == errno.EACCES and 0 < port < 1024:
        return f"{where}: a port below 1024 needs root: give --port 1024 or above"
    return f"{where}: {exc.strerror or exc}"


@mirror_app.command("serve")
def mirror_serve(
    root: Annotated[
        Path | None, typer.Option("--root", metavar="DIR", help="Folder with one sub-folder per host.")
    ] = None,
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="Address to listen on.")] = MIRROR_HOST,
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = MIRROR_PORT,
) -> None:
    """Serve the offline mirror (the bundled sample by default) for `crawl --mirror URL`."""
    from aggregator.mirror import make_server, server_url

    try:
        server = make_server(root or mirror_dir(), host, port)
    except (FileNotFoundError, NotADirectoryError) as exc:  # the folder, looked at before the port is taken
        fail(str(exc))
    except OSError as exc:
        fail(_cannot_listen(host, port, exc))
    out.print(f"Serving {server.tree.root} at {server_url(server)} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main() -> None:
    """Console-script entry point: known errors are one line on stderr and exit status 2."""
    try:
        app()
    except (CliError, UnknownSourceError, DatabaseError, EnvironmentValueError, FileNotFoundError) as exc:
        # An error may quote the archive (a reject's reason: "nothing was stored to retry"): shown as ``out`` shows it.
        print(f"aggregator: error: {visible(str(exc))}", file=sys.stderr)
        sys.exit(2)
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"aggregator: database error: {visible(detail)}{_database_hint(detail)}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        # `aggregator stats --json > file` on a disk that fills up was a traceback. The commands that write files
        # say which one failed (``writing``); an error writing no named file, of these kinds, is standard output's.
        if exc.filename is not None or exc.errno not in _OUTPUT_ERRORS:
            raise
        sys.stdout = None  # type: ignore[assignment]  # what is left in its buffer cannot be written either
        print(f"aggregator: error: cannot write to standard output: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)


def _database_hint(detail: str) -> str:
    """What to do about a database error an operator can do something about (the driver's words alone say little)."""
    from aggregator.store.db import BUSY_TIMEOUT_MS

    if detail == "database is locked":
        return (
            f": another process held the SQLite archive's write lock longer than the {BUSY_TIMEOUT_MS // 1000} s a "
            "command waits for it (an open transaction in an sqlite3 shell?); the write it waited to make was not "
            "made: run it again once that process is done"
        )
    return ""


_OUTPUT_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}
"""Why writing to an open file fails (the closed pipe, EPIPE, is no failure: ``reader_gone``)."""


from aggregator.commands import backup, check, extract, inspect, runs, schedule, search, serve, stories  # noqa: E402, F401  (registers their commands)
