"""The article page and the front page in a real browser (headless Chromium), served by `aggregator serve`.

The archive is a real crawl of the bundled sample plus hostile pages (tests/fixtures/xss/build.py) whose bodies and
title carry script that would set ``window.__xss``: the rendered page must show the article and run none of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from aggregator.store import Archive
from aggregator.store.models import Article
from tests.api.browser import Chromium, find_chromium
from tests.api.conftest import attribution, crawl_into
from tests.conftest import ROOT, free_port, services_required
from tests.fixtures.xss.build import HOST, OTHER_LISTINGS, Vector, article_page, article_url, listing_page

PAYLOADS = (
    '<script>window.__xss = "script"</script>',
    '<img src="x" onerror="window.__xss = \'img\'">',
    "<svg onload=\"window.__xss='svg'\"><circle r=1></circle></svg>",
    '<a href="javascript:window.__xss=\'link\'" id="trap">ссылка</a>',
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    "<details open ontoggle=\"window.__xss='details'\"><summary>x</summary></details>",
    "<body onload=\"window.__xss='body'\">",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss='mxss'\">",
)
HOSTILE_TITLE = "<img src=x onerror=\"window.__xss='title'\">Заголовок с подвохом"


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        message = "Chromium is not installed (Debian: apt-get install chromium)"
        if services_required():
            pytest.fail(f"{message}; it is required with AGGREGATOR_REQUIRE_SERVICES=1")
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample, and a hostile site crawled on top of it."""
    root = tmp_path_factory.mktemp("hostile-mirror")
    site = root / HOST
    (site / "post").mkdir(parents=True)
    vectors = [Vector(n, html) for n, html in enumerate(PAYLOADS, 1)]
    (site / "post" / "xss-body.html").write_bytes(article_page("xss-body", "Статья с внедренным кодом", PAYLOADS))
    (site / "post" / "xss-title.html").write_bytes(article_page("xss-title", HOSTILE_TITLE, [vectors[0].html]))
    (site / "index.html").write_bytes(
        listing_page([("xss-body", "Статья с внедренным кодом"), ("xss-title", "Заголовок с подвохом")])
    )
    for path in OTHER_LISTINGS:
        target = site / f"{path}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(listing_page([], canonical=f"https://{HOST}/{path}"))
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'archive.db'}"
    crawl_into(url)
    crawl_into(url, "--mirror-root", str(root))
    return url


@pytest.fixture(scope="module")
def server(hostile_db: str) -> Iterator[str]:
    port = free_port()
    script = Path(sys.executable).with_name("aggregator")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "aggregator"]
    process = subprocess.Popen(
        [*command, "--db", hostile_db, "serve", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/sources", timeout=2) as answer:
                json.load(answer)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"aggregator serve did not start: {process.stderr.read().decode()}") from None
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[Chromium]:
    instance = Chromium(chromium, tmp_path / "profile")
    yield instance
    instance.close()


def article(db_url: str, url: str) -> Article:
    archive = Archive.open(db_url)
    with archive.session() as session:
        found = session.scalars(select(Article).where(Article.url == url)).one()
    archive.close()
    return found


DOM = """JSON.stringify({
  title: document.querySelector('h1').textContent,
  attribution: document.querySelector('.attribution').textContent,
  views: document.querySelector('#views').textContent,
  source: document.querySelector('#source').textContent,
  sourceHref: document.querySelector('#source a').href,
  archived: document.querySelector('#archived').textContent,
  paragraphs: document.querySelectorAll('#body p').length,
  scripts: [...document.querySelectorAll('script')].map(s => s.src || s.textContent),
  handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))
    .filter(n => n.startsWith('on')),
  xss: typeof window.__xss,
})"""


def test_article_page_renders_in_chromium_and_runs_no_injected_script(
    server: str, hostile_db: str, browser: Chromium, tmp_path: Path
) -> None:
    hostile = article(hostile_db, article_url("xss-body"))
    urllib.request.urlopen(urllib.request.Request(f"{server}/api/articles/{hostile.id}/views", method="POST"))
    page = browser.open(f"{server}/news/{hostile.id}")
    time.sleep(0.3)  # an onerror / onload handler would have run by now
    dom = json.loads(page.evaluate(DOM))
    page.screenshot(tmp_path / "news.png")
    assert (tmp_path / "news.png").stat().st_size > 1000
    assert dom["title"] == "Статья с внедренным кодом"
    assert dom["attribution"] == attribution("ru", "caliber")
    assert dom["views"] == "Просмотров: 1"
    assert dom["source"] == "Источник: https://caliber.az"
    assert dom["sourceHref"] == hostile.url
    assert dom["archived"].startswith("Эта новость заархивирована с источника ")
    assert dom["paragraphs"] >= 3
    (own,) = dom["scripts"]  # the page's own, counting the view: none of the body's
    assert '"/api/articles/" + shown.dataset.article + "/views"' in own  # one text on every page: its hash allowed
    assert page.evaluate("document.getElementById('view-count').dataset.article") == str(hostile.id)
    assert "Georgia" in page.evaluate("getComputedStyle(document.body).fontFamily")  # the style allowed by its hash
    assert dom["handlers"] == []
    assert dom["xss"] == "undefined"
    page.evaluate("document.querySelectorAll('#body a').forEach(a => a.click())")  # a javascript: link would run
    time.sleep(0.2)
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_hostile_title_is_text(server: str, hostile_db: str, browser: Chromium, tmp_path: Path) -> None:
    hostile = article(hostile_db, article_url("xss-title"))
    page = browser.open(f"{server}/news/{hostile.id}")
    time.sleep(0.3)
    dom = json.loads(page.evaluate(DOM))
    assert dom["title"] == HOSTILE_TITLE  # shown as the text it is
    assert dom["xss"] == "undefined" and dom["handlers"] == []
    front = browser.open(f"{server}/")
    time.sleep(0.3)
    front.screenshot(tmp_path / "front.png")
    latest = json.load(urllib.request.urlopen(f"{server}/api/articles?limit=30"))["items"]
    shown = front.evaluate("[...document.querySelectorAll('#latest li a')].map(a => a.textContent)")
    assert shown == [i["title"] for i in latest]
    assert front.evaluate("document.documentElement.lang") == "ru"
    shown_all: list[str] = []
    older = front
    for _ in range(20):  # the hostile ones are older: follow "next" until they are listed
        href = older.evaluate("document.querySelector('#next') ? document.querySelector('#next').href : ''")
        if not href:
            break
        older = browser.open(href)
        time.sleep(0.3)
        shown_all += older.evaluate("[...document.querySelectorAll('#latest li a')].map(a => a.textContent)")
        assert older.evaluate("typeof window.__xss") == "undefined"
        if HOSTILE_TITLE in shown_all and "Статья с внедренным кодом" in shown_all:
            break
    assert HOSTILE_TITLE in shown_all and "Статья с внедренным кодом" in shown_all


def test_the_article_page_counts_its_view_from_the_browser(server: str, browser: Chromium) -> None:
    """The page counted nothing (a GET stays safe for crawlers and prefetching), and nothing else called the counter:
    views never changed. Opened in a browser, it posts the view once and shows the count the counter answers."""
    listing = json.load(urllib.request.urlopen(f"{server}/api/articles?limit=100"))["items"]
    unread = next(i for i in listing if i["views"] == 0 and i["language"] == "az")
    page = browser.open(f"{server}/news/{unread['id']}")
    deadline = time.monotonic() + 10
    while page.evaluate("document.getElementById('view-count').textContent") != "1" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert page.evaluate("document.getElementById('view-count').textContent") == "1"
    assert page.evaluate("document.getElementById('views').textContent") == "Baxış sayı: 1"
    counted = json.load(urllib.request.urlopen(f"{server}/api/articles/{unread['id']}"))
    assert counted["views"] == 1  # counted in the archive, once
    again = browser.open(f"{server}/news/{unread['id']}")  # the same reader again, within the window: not counted
    time.sleep(0.5)
    assert again.evaluate("document.getElementById('view-count').textContent") == "1"
    assert json.load(urllib.request.urlopen(f"{server}/api/articles/{unread['id']}"))["views"] == 1
