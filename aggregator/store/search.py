"""Full-text search over articles' title and body: FTS5 on SQLite, ``tsvector`` with a GIN index on PostgreSQL.

The search objects are dialect-specific DDL made by migration 0005 (and made again by 0008, 0017 and 0019), outside
the models (SQLAlchemy has no type for an FTS5 table or a generated ``tsvector``): ``include_name`` tells Alembic's
schema comparison to leave exactly these objects out, so autogenerate and the "migrated schema equals models" test
keep meaning what they say.

Both sides are folded (``fold``): the index holds, and a query looks for, the words with the letters a reader's
keyboard may lack replaced by the plain ones readers type for them: "еще" finds "ещё", "Baki" finds "Bakı", "seher"
finds "şəhər", "Sao Paulo" finds "São Paulo", "Nguyen" finds "Nguyễn", and the other way round. A Latin letter with
marks is its bare letter (what SQLite's FTS5 tokenizer does with ``remove_diacritics 2``); letters of their own to
Unicode are not: "й" is no "и", and "ø", "ł", "đ", "ß" stay, on both back ends ("Lodz" does not find "Łódź").

SQLite: ``articles_fts`` is an external-content FTS5 table over ``articles_search``, a view of the folded title
and body_text of ``articles``, kept in sync by triggers on insert, update and delete, ranked by bm25 with the title
weighted ``TITLE_WEIGHT`` times the body. Its tokenizer folds Latin letters with a mark itself
(``remove_diacritics 2``); the view and the triggers fold the rest.
FTS5 has no Russian stemmer: words match in the forms written.
PostgreSQL: ``articles.search_vector`` is a generated column, the folded title (weight A) and body (weight B) under
the ``russian`` configuration where the article's language is ``ru`` and ``simple`` otherwise, with a GIN index;
ranked by ``ts_rank``. Its expression (migration 0019) folds as ``fold`` does, with no extension (``unaccent`` is not
IMMUTABLE, which a generated column needs, and may not be installed): ``translate`` of the letters of ``FOLDS``, then,
for a text still holding a character of ``_MARKED_LATIN`` (few do), decomposed (NFD), the marks after a Latin letter
dropped, composed again. A ``translate`` of all 489 Latin letters with marks instead costs the text's length times
theirs: it made indexing an article over ten times as costly (7 ms of the server's time for 2,600 characters).

A word that most articles hold would have every one of its matches ranked (3.6 s for a word in all of 1,000,000
articles on SQLite): a search ranks the ``SEARCH_WINDOW`` most recently archived matches that pass its filters (all of
them when there are fewer), so its cost is bounded at any archive size and a common word finds recent news first.

A query is always plain text: it is split into words, and each word becomes a quoted FTS5 string or goes to
``plainto_tsquery`` as a bound parameter, so quotes, operators (AND, OR, NEAR, ``*``, ``-``) and SQL are words.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

FTS_TABLE = "articles_fts"
FTS_CONTENT = "articles_search"
PG_COLUMN = "search_vector"
PG_INDEX = "ix_articles_search_vector"
TITLE_WEIGHT = 10.0
SEARCH_WINDOW = 2_000
"""Matches ranked by a search at most: the most recently archived (highest ids) among those its filters keep."""
RUSSIAN = "ru"

FOLDS = {
    "ё": "е", "Ё": "Е",  # Russian: "е" is what most readers type for it, and what much of the press prints
    "ə": "e", "Ə": "E", "ı": "i", "İ": "I", "ş": "s", "Ş": "S", "ç": "c", "Ç": "C", "ğ": "g", "Ğ": "G",
    "ö": "o", "Ö": "O", "ü": "u", "Ü": "U",  # Azerbaijani, as typed on a keyboard without its letters
}  # fmt: skip
"""Letter -> the letter readers type for it. Migrations 0017 and 0019 fold the index with the same letters (each keeps
its own copy: a migration's SQL does not change with the code). Most are Latin letters with a mark, which the marks'
folding below would make bare anyway: replacing them first, cheaply, leaves it nothing to do in most Azerbaijani
texts."""
_FOLD = str.maketrans(FOLDS)
_MARKED_LATIN = re.compile("[\u00c0-\u024f\u1e00-\u1eff\u212b]")
"""Where every Latin letter with marks is (Latin-1 Supplement, Latin Extended-A and -B, Latin Extended Additional; the
Angstrom sign): a text without one of these has nothing to fold below."""
_MARKS_ON_LATIN = re.compile("(?<=[A-Za-z])[\u0300-\u036f]+")
"""Combining marks after a Latin letter, in a decomposed (NFD) text: "é" is "e" and an acute there, "й" is "и" and a
breve (which stays: a Cyrillic letter before it)."""

_MARKS = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
"""Combining marks (accents, the dot of a lower-case Azerbaijani "i̇" from "İ"): part of the word they follow, for
FTS5's unicode61 tokenizer as for a reader, though Python's ``\\w`` does not take them."""
_WORD = re.compile(rf"[^\W_](?:[^\W_]|[{_MARKS}])*")
"""A word as FTS5's unicode61 tokenizer sees one: letters and digits with their marks (``_`` separates words there,
as it does not in ``\\w``). Each is one token, which the index of migration 0008 (no word positions) needs: a
quoted string of two tokens would be a phrase query, which it cannot answer."""


def fold(text: str) -> str:
    """``text`` with each letter of ``FOLDS`` replaced by the one readers type for it, and each Latin letter with
    marks by the bare letter: what migration 0019's expression does to the text PostgreSQL indexes, step for step."""
    text = text.translate(_FOLD)
    if not _MARKED_LATIN.search(text):
        return text
    return unicodedata.normalize("NFC", _MARKS_ON_LATIN.sub("", unicodedata.normalize("NFD", text)))


def query_words(query: str) -> list[str]:
    """The words of ``query``, composed (NFC) as pages print them, then folded as the index is: a query typed or
    pasted decomposed ("ü" as "u" and a combining diaeresis, as macOS and some keyboards give it) was split at each
    mark into pieces that are no words, and found nothing; and a decomposed "й" never matches the composed one an
    article holds."""
    return _WORD.findall(fold(unicodedata.normalize("NFC", query)))


def fts5_match(query: str) -> str | None:
    """An FTS5 MATCH expression requiring every word of ``query``, each a quoted string (never an operator)."""
    words = query_words(query)
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's filter for schema comparison: everything but the search objects (0005, 0008, 0017, 0019)."""
    if type_ == "table":
        return not (name in (FTS_TABLE, FTS_CONTENT) or (name or "").startswith(FTS_TABLE + "_"))
    if type_ == "column":
        return not (name == PG_COLUMN and parent_names.get("table_name") == "articles")
    if type_ == "index":
        return name != PG_INDEX
    return True
