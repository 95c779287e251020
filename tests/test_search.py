"""Full-text search on SQLite (FTS5) and PostgreSQL (tsvector + GIN): ranked, filtered, in sync, plain-text queries."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, text, update

from aggregator.items import ArticleItem
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.models import Article
from aggregator.store.search import query_words
from tests.conftest import run_cli

T0 = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)


def item(n: int, title: str, body: str, *, language: str = "ru", day: int = 14) -> ArticleItem:
    return ArticleItem(
        source="caliber",
        url=f"https://caliber.az/post/q-{n}",
        canonical_url=f"https://caliber.az/post/q-{n}",
        language=language,
        title=title,
        body_html=f"<p>{body}</p>",
        body_text=body,
        published_at=T0.replace(day=day),
        raw_body=f"<html>{n}</html>".encode(),
    )


ARTICLES = [
    item(1, "Газопровод Игдыр – Нахчыван расширят", "Министры подписали соглашение в Анкаре."),
    item(2, "Погода на выходные", "В Баку тёплый вечер. Газопровод тут ни при чём, но слово есть в тексте.", day=12),
    item(3, "Caspian ferry enters service", "The ferry Shusha can carry 56 wagons.", language="en"),
    item(4, "Pambıq yığımı başa çatıb", "Ölkədə pambıq yığımı başa çatıb, 312 min ton toplanıb.", language="az"),
    item(5, "Ливень в Баку", "Сильный ливень затопил улицы; МЧС призвало не выходить из дома.", day=10),
]


@pytest.fixture
def archive(db_url: str):
    archive = Archive.open(db_url)
    archive.sync_sources(all_sources())
    archive.save(ARTICLES)
    yield archive
    archive.close()


def urls(hits) -> list[str]:
    return [h.article.url.rsplit("/", 1)[1] for h in hits]


def test_ranked_with_the_title_weighted(archive: Archive) -> None:
    hits = archive.search("газопровод")
    assert urls(hits) == ["q-1", "q-2"]  # in the title beats in the text
    assert hits[0].score > hits[1].score
    assert urls(archive.search("ferry Shusha")) == ["q-3"]
    assert urls(archive.search("pambıq")) == ["q-4"]
    assert archive.search("газопровод ferry") == []  # every word must occur
    assert urls(archive.search("ГАЗОПРОВОД", limit=1)) == ["q-1"]


def test_filters_by_source_and_date(archive: Archive) -> None:
    assert urls(archive.search("газопровод", since=datetime(2026, 9, 13, tzinfo=UTC))) == ["q-1"]
    assert archive.search("газопровод", source="no-such-source") == []
    assert urls(archive.search("газопровод", source="caliber")) == ["q-1", "q-2"]


def test_only_the_latest_matches_are_ranked(archive: Archive) -> None:
    """A search ranks the ``window`` most recently archived matches that pass its filters, so a word every article
    holds costs the same at any archive size: an older, better match outside the window is not found."""
    assert urls(archive.search("газопровод", window=2, limit=1)) == ["q-1"]  # both in the window: best first
    assert urls(archive.search("газопровод", window=1, limit=1)) == ["q-2"]  # q-1 is better but archived earlier
    assert urls(archive.search("газопровод", window=1)) == ["q-1", "q-2"]  # never fewer than ``limit`` ranked
    newer = ArticleItem(
        source="apa",
        url="https://apa.az/news/q-6",
        canonical_url="https://apa.az/news/q-6",
        language="ru",
        title="Новости",
        body_html="<p>Газопровод снова в новостях.</p>",
        body_text="Газопровод снова в новостях.",
        published_at=T0.replace(day=11),
        raw_body=b"<html>6</html>",
    )
    archive.save([newer])
    assert urls(archive.search("газопровод", window=1, limit=1)) == ["q-6"]
    # The filters choose the matches before the window does: the latest match of the source, of the period.
    assert urls(archive.search("газопровод", window=1, limit=1, source="caliber")) == ["q-2"]
    since = datetime(2026, 9, 13, tzinfo=UTC)
    assert urls(archive.search("газопровод", window=1, limit=1, since=since)) == ["q-1"]


def test_the_index_follows_updates_and_deletes(archive: Archive) -> None:
    changed = item(5, "Ливень в Баку закончился", "Дождь прекратился к утру, улицы открыты.", day=10)
    archive.save([changed])  # a changed version from a later crawl
    assert archive.search("затопил") == []
    assert urls(archive.search("прекратился")) == ["q-5"]
    with archive.session.begin() as s:
        s.execute(update(Article).where(Article.url.endswith("q-3")).values(title="Renamed"))
        s.execute(delete(Article).where(Article.url.endswith("q-4")))
    assert archive.search("pambıq") == []
    assert urls(archive.search("renamed")) == ["q-3"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"', []),
        ('газопровод" OR "1"="1', []),  # not an OR: "1" must occur too
        ("газопровод'; DROP TABLE articles; --", []),
        ("title:газопровод", []),  # not a column filter: "title" is a word to find
        ("газопровод*", ["q-1", "q-2"]),  # not a prefix: the word as written
        ("-газопровод", ["q-1", "q-2"]),  # not a negation
        ("газопровод & !Анкаре | (x)", []),
        ("газопровод_Анкаре", ["q-1"]),  # two words, as the index splits them (one would be a phrase: an error)
        ("", []),
        ("   ", []),
    ],
)
def test_queries_are_plain_text(archive: Archive, query: str, expected: list[str]) -> None:
    assert urls(archive.search(query)) == expected  # never a syntax error, never SQL
    assert archive.count(Article) == len(ARTICLES)


def test_operator_words_are_words(archive: Archive) -> None:
    # Were NOT an operator, the text without "Анкаре" (q-2) would be found. PostgreSQL drops "and"/"not" as stop
    # words and finds q-1; SQLite requires them as words and finds nothing.
    assert "q-2" not in urls(archive.search("газопровод AND NOT Анкаре"))
    assert "q-2" not in urls(archive.search("газопровод OR ливень"))
    assert urls(archive.search("NEAR газопровод")) in ([], ["q-1", "q-2"])


def test_a_decomposed_query_finds_what_the_composed_one_finds(archive: Archive) -> None:
    """A query typed or pasted decomposed (NFD: "ç" as "c" and a combining cedilla, "ё" as "е" and a diaeresis, as
    macOS and some keyboards give them) was split at each mark into pieces that are no words, and found nothing."""
    for query, expected in (("başa çatıb", ["q-4"]), ("Ölkədə", ["q-4"]), ("тёплый", ["q-2"])):
        decomposed = unicodedata.normalize("NFD", query)
        assert decomposed != query
        assert urls(archive.search(query)) == expected
        assert urls(archive.search(decomposed)) == expected, decomposed


FOLDED = [
    item(6, "Актёры нарядили ёлку в Баку", "Ёлку привезли вчера из Губы.", day=8),
    item(7, "Bakı şəhərində İlham Əliyev", "Ağac, çay, ölkə, üzüm.", language="az", day=8),
    item(8, "Актеры пришли на праздник", "Газета печатает без точек: елку нарядили.", day=7),
]


TYPED = [
    ("актёры", {"q-6", "q-8"}),
    ("актеры", {"q-6", "q-8"}),
    ("ЁЛКУ", {"q-6", "q-8"}),
    ("елку", {"q-6", "q-8"}),
    ("Bakı şəhərində", {"q-7"}),
    ("Baki seherinde", {"q-7"}),
    ("BAKI", {"q-7"}),
    ("İLHAM ƏLİYEV", {"q-7"}),
    ("ilham eliyev", {"q-7"}),
    ("agac cay olke uzum", {"q-7"}),
    ("pambiq yigimi", {"q-4"}),
    ("Olkede", {"q-4"}),
]


def test_a_word_is_found_typed_with_or_without_the_letters_a_keyboard_may_lack(archive: Archive) -> None:
    """Readers type "е" for "ё", and "e", "i", "s" for "ə", "ı", "ş" on a keyboard without Azerbaijani letters;
    a paper may print either. Both spellings find both, on both databases. (On PostgreSQL "ещё", "всё" and "чём"
    are now the stop words "еще", "все" and "чем" of its Russian configuration, found by no search.)"""
    archive.save(FOLDED)
    found = {query: set(urls(archive.search(query))) for query, _ in TYPED}
    assert found == dict(TYPED)


MARKED = [
    item(9, "Erdoğan və Macron São Paulo-da", "Görüş Café Müller-də olub; Nguyễn və Pašić də gəlib.", language="az"),
    item(10, "Эрдоган и Макрон в Sao Paulo", "Встреча прошла в Cafe Muller; Erdogan, Nguyen и Pasic приехали.", day=9),
    item(11, "Йод в Łódź", "Врачи советуют йод; Kraków и Łódź закупили его.", day=9),
]
"""Foreign names as the press prints them in Latin script, with their marks (q-9) and without (q-10); "й" and "ł",
letters of their own (q-11)."""

TYPED_MARKED = [
    ("Erdogan", {"q-9", "q-10"}),
    ("ERDOĞAN", {"q-9", "q-10"}),
    ("Sao Paulo", {"q-9", "q-10"}),
    ("São Paulo", {"q-9", "q-10"}),
    ("SÃO", {"q-9", "q-10"}),
    ("cafe muller", {"q-9", "q-10"}),
    ("Café Müller", {"q-9", "q-10"}),
    ("CAFÉ MÜLLER", {"q-9", "q-10"}),
    ("Nguyen Pasic", {"q-9", "q-10"}),
    ("Nguyễn Pašić", {"q-9", "q-10"}),
    ("Krakow", {"q-11"}),
    ("йод", {"q-11"}),
    ("иод", set()),  # "й" is a letter of its own, not "и" with a mark
    ("Łódź", {"q-11"}),
    ("Łodz", {"q-11"}),  # "ó" and "ź" are "o" and "z" with a mark ...
    ("Lodz", set()),  # ... "ł" is a letter of its own to Unicode, and to SQLite's tokenizer
]


def test_a_latin_letter_with_marks_is_found_typed_bare_and_the_other_way_round(archive: Archive) -> None:
    """The press prints Turkish, French, Vietnamese, Serbian names with their marks, readers type them without (or
    the paper does): SQLite's tokenizer always made "é" "e", and PostgreSQL now does too, so both answer alike."""
    archive.save(MARKED)
    found = {query: set(urls(archive.search(query))) for query, _ in TYPED_MARKED}
    assert found == dict(TYPED_MARKED)


LETTERS = [
    chr(code)
    for first, last in ((0x00C0, 0x02AF), (0x1E00, 0x1EFF), (0x0400, 0x04FF))  # Latin-1 to IPA (ə), Additional
    for code in range(first, last + 1)
    if unicodedata.category(chr(code)) in ("Lu", "Ll", "Lt")
]
SQLITE_OWN = {"ſ": "s", "ẛ": "s", "Ǡ": "ǡ", "ǡ": "ǡ"}
"""What SQLite's tokenizer does otherwise: a long s is an "s" to it (on both sides of a search, so one finds it), and
its table of marks lacks these two rare letters, an "a" with a dot and a macron, which PostgreSQL folds to "a" (a
word with one is found there by its bare spelling, on SQLite only as written)."""


def indexed_words(url: str) -> dict[str, str]:
    """Letter -> the word the search index holds for an article whose text is "x<letter>x", one article a letter."""
    archive = Archive.open(url)
    archive.sync_sources(all_sources())
    archive.save(item(ord(letter), "x", f"x{letter}x", language="az") for letter in LETTERS)  # q-<code point>
    with archive.engine.begin() as conn:
        if conn.dialect.name == "sqlite":  # FTS5's own list of the words each article's columns hold
            conn.execute(text("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, 'articles_fts', 'instance')"))
            sql = "SELECT url, term FROM temp.words JOIN articles ON id = doc WHERE col = 'body_text'"
        else:  # the body's lexemes (weight B)
            sql = "SELECT url, lexeme FROM articles, unnest(search_vector) WHERE weights = '{B}'"
        words = {chr(int(url.rsplit("-", 1)[1])): word for url, word in conn.execute(text(sql))}
    archive.close()
    return words


def test_both_back_ends_index_every_latin_and_cyrillic_letter_as_a_query_folds_it(
    sqlite_url: str, postgres_url: str
) -> None:
    """Letter by letter, the word each back end indexes is the one ``query_words`` makes of the same text: a Latin
    letter with marks becomes the bare letter on both, and the rest (Cyrillic "й", "ł", "ø", "ß", "æ") stay."""
    on_sqlite, on_postgresql = indexed_words(sqlite_url), indexed_words(postgres_url)
    queried = {letter: "".join(query_words(f"x{letter}x")).lower() for letter in LETTERS}
    assert on_postgresql == queried
    assert on_sqlite == queried | {letter: f"x{plain}x" for letter, plain in SQLITE_OWN.items()}
    bare = {letter: on_postgresql[letter][1:-1] for letter in "éÉüÜğĞãçšćñễřőİıəÅåйЙёЁłøßæ"}
    assert bare == {
        "é": "e", "É": "e", "ü": "u", "Ü": "u", "ğ": "g", "Ğ": "g", "ã": "a", "ç": "c", "š": "s", "ć": "c", "ñ": "n",
        "ễ": "e", "ř": "r", "ő": "o", "İ": "i", "ı": "i", "ə": "e", "Å": "a", "å": "a", "й": "й", "Й": "й", "ё": "е",
        "Ё": "е", "ł": "ł", "ø": "ø", "ß": "ß", "æ": "æ",
    }  # fmt: skip


def test_russian_stemming_on_postgresql(archive: Archive) -> None:
    if archive.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's FTS5 has no Russian stemmer: words match as written")
    assert urls(archive.search("газопровода")) == ["q-1", "q-2"]
    assert urls(archive.search("улицами затопило")) == ["q-5"]
    assert archive.search("carries") == []  # English text is indexed with "simple": no stemming


def test_cli_search(sqlite_url: str) -> None:
    archive = Archive.open(sqlite_url)
    archive.sync_sources(all_sources())
    archive.save([*ARTICLES, item(6, "[video] Ливень в Гяндже", "Ливень затопил улицы Гянджи.", day=9)])
    archive.close()
    # An 80-column terminal: the link under the title; a title's brackets are text, not Rich markup.
    narrow = run_cli("--db", sqlite_url, "search", "ливень", env={"COLUMNS": "80"}).stdout
    lines = narrow.splitlines()
    assert max(len(line) for line in lines) <= 80
    (at,) = [i for i, line in enumerate(lines) if "[video] Ливень в Гяндже" in line]
    assert "https://caliber.az/post/q-6" in lines[at + 1]
    done = run_cli("--db", sqlite_url, "search", "газопровод", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["url"].rsplit("/", 1)[1] for r in rows] == ["q-1", "q-2"] and rows[0]["score"] > rows[1]["score"]
    filtered = run_cli(
        "--db", sqlite_url, "search", "газопровод", "--since", "2026-09-13", "--source", "caliber", "--json"
    )
    assert [r["url"].rsplit("/", 1)[1] for r in json.loads(filtered.stdout)] == ["q-1"]
    english = run_cli("--db", sqlite_url, "search", "ferry", "--language", " EN ", "--json")
    assert [r["url"].rsplit("/", 1)[1] for r in json.loads(english.stdout)] == ["q-3"]
    assert json.loads(run_cli("--db", sqlite_url, "search", "ferry", "--language", "ru", "--json").stdout) == []
    wrong = run_cli("--db", sqlite_url, "search", "ferry", "--language", "English")
    assert wrong.returncode == 2 and "not a language code" in wrong.stderr
    table = run_cli("--db", sqlite_url, "search", '" OR 1=1 --')
    assert table.returncode == 0 and "0 result(s)" in table.stdout
    bad = run_cli("--db", sqlite_url, "search", "x", "--since", "yesterday")
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr


def test_the_read_api_searches(archive: Archive, db_url: str) -> None:
    """``GET /api/search``: the same ranked search for the downstream site's search box, on both back ends."""
    from fastapi.testclient import TestClient

    from aggregator.api import create_app

    def found(response) -> list[str]:
        assert response.status_code == 200, response.text
        return [i["url"].rsplit("/", 1)[1] for i in response.json()["items"]]

    with TestClient(create_app(db_url, most_read_ttl=0)) as client:
        answer = client.get("/api/search", params={"q": "Газопровод"})
        assert found(answer) == ["q-1", "q-2"]
        body = answer.json()
        assert body["query"] == "Газопровод" and [w.casefold() for w in body["words"]] == ["газопровод"]
        first = body["items"][0]
        assert first["title"] == "Газопровод Игдыр – Нахчыван расширят" and first["source"] == "caliber"
        assert first["published_at"] == "2026-09-14T08:00:00Z" and first["score"] > body["items"][1]["score"]
        assert {"id", "language", "archived_at", "story_id", "views"} <= first.keys()
        # Filters: source, language, since (published, else archived); every word must occur.
        assert found(client.get("/api/search", params={"q": "газопровод", "since": "2026-09-13"})) == ["q-1"]
        assert found(client.get("/api/search", params={"q": "Баку", "since": "2026-09-11T00:00:00+04:00"})) == ["q-2"]
        assert found(client.get("/api/search", params={"q": "ferry", "language": "ru"})) == []
        assert found(client.get("/api/search", params={"q": "ferry", "language": "en"})) == ["q-3"]
        assert found(client.get("/api/search", params={"q": "газопровод ferry"})) == []
        assert found(client.get("/api/search", params={"q": "газопровод", "limit": 1})) == ["q-1"]
        assert found(client.get("/api/search", params={"q": 'газопровод" OR "1"="1'})) == []  # plain words
        # The validator: an unchanged answer is a 304.
        again = client.get("/api/search", params={"q": "Газопровод"}, headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304
        # Clear 422s, FastAPI's shape: no query, no word in it, an unknown source, a bad date or limit.
        for params, where in (
            ({}, "q"),
            ({"q": '" * -'}, "q"),
            ({"q": "x", "source": "nosuch"}, "source"),
            ({"q": "x", "since": "yesterday"}, "since"),
            ({"q": "x", "limit": 0}, "limit"),
            ({"q": "x", "language": "English"}, "language"),
        ):
            bad = client.get("/api/search", params=params)
            assert bad.status_code == 422, (params, bad.text)
            assert bad.json()["detail"][0]["loc"] == ["query", where]
    # A withdrawn article is left out, as everywhere the site reads.
    with archive.session.begin() as s:
        s.execute(update(Article).where(Article.url.endswith("q-1")).values(withdrawn_at=T0))
    with TestClient(create_app(db_url, most_read_ttl=0)) as client:
        assert found(client.get("/api/search", params={"q": "газопровод"})) == ["q-2"]
