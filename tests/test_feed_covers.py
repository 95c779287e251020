"""A feed entry's picture is the cover of an article page that names none: real crawls of the bundled feed sources
(haqqin's own spider, minval's generic one), served from a copy of the sample whose pages lost their pictures."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sqlalchemy import select

from aggregator.mirror import serve_mirror
from aggregator.reextract import reextract
from aggregator.store import Archive
from aggregator.store.models import Article
from tests.conftest import SAMPLE, run_cli
from tests.crawl_checks import expected, runs, session

HAQQIN_PICTURES = re.compile(r'<meta property="og:image"[^>]*>|<figure class="article__image">.*?</figure>')
"""A haqqin page's own pictures: its ``og:image`` and the article's figure (its spider's cover selector)."""
FEED_PICTURE = "https://i.haqqin.az/rss/1014102_190x143.jpg"
"""The picture haqqin's feed gives 393110 (a thumbnail of the page's own, at an address of its own here)."""
THUMBNAIL = "https://i.haqqin.az/rss/1014097_190x143.jpg"
"""The picture haqqin's feed gives 393102, whose page keeps its own."""
GAS = "https://minval.az/uploads/2026/11/gaz-tarif.jpg"
MOVED = "https://minval.az/news/old/124006"
"""Where minval's feed links 124006: an old address that redirects to the page."""


def _replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == count, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def _mirror(root: Path) -> None:
    """The sample's haqqin and minval, with: haqqin 393110's page stripped of its pictures; the feed's pictures of
    393110 and 393102 at addresses of their own; minval 124006 (no picture on its page) given one in the feed and
    linked at an address that redirects to it; minval 124004 (none either) given a ``javascript:`` one."""
    for site in ("haqqin.az", "minval.az"):
        shutil.copytree(SAMPLE / site, root / site)
    page = root / "haqqin.az" / "newsarchive" / "393110.html"
    html = page.read_text(encoding="utf-8")
    assert len(HAQQIN_PICTURES.findall(html)) == 2
    page.write_text(HAQQIN_PICTURES.sub("", html), encoding="utf-8")
    feed = root / "haqqin.az" / "rss_ru.xml"
    _replace(feed, "https://i.haqqin.az/1014102_res_0_5c1e0a7d3b9f4e21.jpg", FEED_PICTURE, count=2)  # and its duplicate
    _replace(feed, "https://i.haqqin.az/1014097_res_0_27c9e4b0f5a18d63.jpg", THUMBNAIL)
    feed = root / "minval.az" / "rss"
    _replace(
        feed,
        "<link>https://minval.az/news/124006</link>",
        f'<link>{MOVED}</link><enclosure url="{GAS}" type="image/jpeg" length="0"/>',
    )
    _replace(
        feed,
        "<link>https://minval.az/news/124004</link>",
        '<link>https://minval.az/news/124004</link><enclosure url="javascript:alert(1)" type="image/jpeg" length="0"/>',
    )
    with (root / "minval.az" / "_mirror.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[[response]]\npath = "/news/old/124006"\nstatus = 301\n')
        toml.write('headers = { Location = "https://minval.az/news/124006" }\n')


def _covers(db_url: str) -> dict[str, str | None]:
    with session(db_url) as s:
        return {a.url: a.cover_image_url for a in s.scalars(select(Article))}


def test_a_page_without_a_picture_takes_its_feed_entry_s(tmp_path: Path) -> None:
    """Pages that print no picture of their own are archived with their feed entry's (an RSS ``<enclosure>``, a
    description's picture), by a site's own spider and by the generic one, also through a redirect; a page's own
    picture wins over its entry's; a ``javascript:`` picture never reaches the archive. A re-extraction, which has no
    feed, keeps the covers; and an incremental crawl's conditional request for a page that changed since brings the
    entry's picture along too."""
    root = tmp_path / "mirror"
    _mirror(root)
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_mirror(root) as base:
        done = run_cli("--db", url, "crawl", "haqqin", "minval", "--mirror", base, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    own = {a["url"]: a["cover_image"] for a in expected("haqqin", "minval")["articles"]}
    covers = _covers(url)
    assert covers["https://haqqin.az/newsarchive/393110"] == FEED_PICTURE  # the page has none
    assert covers["https://haqqin.az/newsarchive/393102"] == own["https://haqqin.az/newsarchive/393102"] != THUMBNAIL
    assert covers["https://minval.az/news/124006"] == GAS  # reached through the redirect
    assert own["https://minval.az/news/124004"] is None and covers["https://minval.az/news/124004"] is None
    untouched = set(own) - {"https://haqqin.az/newsarchive/393110", "https://minval.az/news/124006"}
    assert {u: covers[u] for u in untouched} == {u: own[u] for u in untouched}
    with session(url) as s:
        moved = s.scalars(select(Article).where(Article.url == "https://minval.az/news/124006")).one()
        assert moved.linked_url == MOVED

    archive = Archive.open(url)
    try:
        result = reextract(archive)
    finally:
        archive.close()
    assert result.seen == len(covers) and not result.refused
    assert _covers(url) == covers

    # The page changed since, and its entry's picture too: rechecked with a conditional request (through the
    # redirect again), the new version takes the entry's new picture.
    _replace(root / "minval.az" / "rss", GAS, GAS.replace(".jpg", "-2.jpg"))
    _replace(root / "minval.az" / "news" / "124006.html", "прежде всего зимой.", "прежде всего зимой и весной.")
    with serve_mirror(root) as base:
        done = run_cli(
            "--db", url, "crawl", "minval", "--mirror", base, cwd=tmp_path, env={"AGGREGATOR_RECHECK_HOURS": "100000"}
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert runs(url)[-1].stats["aggregator/rechecked"] >= 1
    assert _covers(url) == covers | {"https://minval.az/news/124006": GAS.replace(".jpg", "-2.jpg")}
