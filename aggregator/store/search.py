"""Full-text search over articles' title and body: FTS5 on SQLite, ``tsvector`` with a GIN index on PostgreSQL.

The search objects are dialect-specific DDL made by migration 0005, outside the models (SQLAlchemy has no type for
an FTS5 table or a generated ``tsvector``): ``include_name`` tells Alembic's schema comparison to leave exactly
these objects out, so autogenerate and the "migrated schema equals models" test keep meaning what they say.

SQLite: ``articles_fts`` is an external-content FTS5 table over ``articles`` (title, body_text), kept in sync by
triggers on insert, update and delete, ranked by bm25 with the title weighted ``TITLE_WEIGHT`` times the body.
FTS5 has no Russian stemmer: words match in the forms written (diacritics folded).
PostgreSQL: ``articles.search_vector`` is a generated column, the title (weight A) and the body (weight B) under
the ``russian`` configuration where the article's language is ``ru`` and ``simple`` otherwise, with a GIN index;
ranked by ``ts_rank``.

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
PG_COLUMN = "search_vector"
PG_INDEX = "ix_articles_search_vector"
TITLE_WEIGHT = 10.0
SEARCH_WINDOW = 2_000
"""Matches ranked by a search at most: the most recently archived (highest ids) among those its filters keep."""
RUSSIAN = "ru"

_MARKS = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
"""Combining marks (accents, the dot of a lower-case Azerbaijani "i̇" from "İ"): part of the word they follow, for
FTS5's unicode61 tokenizer as for a reader, though Python's ``\\w`` does not take them."""
_WORD = re.compile(rf"[^\W_](?:[^\W_]|[{_MARKS}])*")
"""A word as FTS5's unicode61 tokenizer sees one: letters and digits with their marks (``_`` separates words there,
as it does not in ``\\w``). Each is one token, which the index of migration 0008 (no word positions) needs: a
quoted string of two tokens would be a phrase query, which it cannot answer."""


def query_words(query: str) -> list[str]:
    """The words of ``query``, composed (NFC) as pages print them: a query typed or pasted decomposed ("ü" as "u"
    and a combining diaeresis, as macOS and some keyboards give it) was split at each mark into pieces that are no
    words, and found nothing; and a decomposed "й" or "ё" never matches the composed one an article holds."""
    return _WORD.findall(unicodedata.normalize("NFC", query))


def fts5_match(query: str) -> str | None:
    """An FTS5 MATCH expression requiring every word of ``query``, each a quoted string (never an operator)."""
    words = query_words(query)
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's filter for schema comparison: everything but the search objects of migration 0005."""
    if type_ == "table":
        return not (name == FTS_TABLE or (name or "").startswith(FTS_TABLE + "_"))
    if type_ == "column":
        return not (name == PG_COLUMN and parent_names.get("table_name") == "articles")
    if type_ == "index":
        return name != PG_INDEX
    return True
