"""Where the project's files live, whether run from a checkout or from an installed wheel."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_dir() -> Path | None:
    """The checkout this package runs from (the folder holding ``scrapy.cfg``), or None for a wheel install."""
    root = PACKAGE_DIR.parent
    return root if (root / "scrapy.cfg").is_file() and (root / "pyproject.toml").is_file() else None


def data_dir() -> Path:
    """``<project>/data`` in a checkout; a per-user folder when installed without one."""
    root = project_dir()
    if root is not None:
        return root / "data"
    return Path.home() / ".local" / "share" / "aggregator"


def mirror_dir() -> Path:
    """The bundled offline sample of the source sites (one folder per host)."""
    root = project_dir()
    if root is not None:
        return root / "data" / "mirror"
    return PACKAGE_DIR / "_bundled" / "mirror"


def default_db_url() -> str:
    """The embedded default archive: an absolute SQLite path, never relative to the working directory."""
    return f"sqlite:///{data_dir() / 'archive.db'}"


@contextmanager
def replaced_whole(target: Path, *, fsync: bool = False) -> Iterator[Path]:
    """A path beside ``target`` for the block to write; when the block ends without an error, it replaces ``target``
    in one rename (after an fsync, with ``fsync``), so that no reader sees half a file and a failure leaves the old
    one whole. The partial file is removed whatever happens, as far as the folder lets it: on a read-only disk even
    removing a file that is not there fails, and that error hid the block's own, which says why (a traceback).

    A symbolic link is followed: the file it names is replaced, and the link stays a link (renamed over, it was
    replaced by a file of its own, and the file it named was left as it was)."""
    if target.is_symlink():
        target = target.resolve()
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        yield partial
        if fsync:
            with partial.open("rb+") as written:
                os.fsync(written.fileno())
        partial.replace(target)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
