"""Near-duplicate detection for stories: a MinHash sketch of an article's body, LSH bands, and the verification rule.

Re-publishing sites keep most of an agency's text word for word and change the headline, the lead, a paragraph or
a number. Word shingles of ``SHINGLE_WORDS`` words survive that (a verbatim run keeps all its shingles), while two
texts that only share a topic, or fill one template with different facts, share almost none: a changed fact every
few words breaks every shingle that spans it.

Shingles cannot tell everything, and three checks beside them keep different news apart:
- a text that fills the same template with other figures day after day (the currency rates "на 5 декабря", the
  weather, oil prices) keeps long fixed phrases between its figures, enough shingles to pass for one story: the
  sketch keeps the text's numbers with their contexts (``facts``), and two texts that put other numbers in the
  same contexts are other news (``Sketch.conflicts``);
- a background paragraph that agencies repeat under every item of a subject ("Напомним, что ...", "Xatırladaq
  ki, ...") would make two items about different events share most of their text: what the sketch is taken over
  leaves such marked paragraphs out (``story_text``);
- a text printed again weeks or a year later in the same words (a trial's summary of the charges under every
  hearing, an annual warning, a forum's boilerplate) is other news by its date: the store joins no two articles
  further apart in time than ``STORY_GAP`` (``close_in_time``).

What they do not tell apart: two items on different events that quote one long statement in full (a ministry's
statement under a report of a protest and under one of an ambassador summoned) share that block word for word, as a
re-publication with a new lead shares the agency's body. Such pairs, written for the purpose, measure Jaccard 0.34
to 0.64 and containment 0.53 to 0.81, inside the range of the labelled re-tellings (0.27 to 0.87, 0.48 to 0.95),
and a long piece quoting the statement in one paragraph of nine holds the statement's own item as a long article
holds its brief. Items that are mostly the quoted text are one story to a reader too; no threshold on these
measures parts the others without losing labelled re-tellings, and telling quoted text from an agency's own would
take a second sketch (a new ``SCHEME``). They are left joined.

Everything here is a pure function of the text with fixed constants, so sketches computed by different processes,
hosts and releases agree (Python's ``hash()`` is salted per process and is never used). Changing a constant below
changes every sketch: bump ``SCHEME`` so stored sketches of the old scheme are ignored, and run ``aggregator
reextract`` to recompute them. The thresholds of the verification and ``STORY_GAP`` apply when articles are matched
and need neither: a change takes effect for the articles matched from then on.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

SCHEME = 3
"""Version of the sketch layout and parameters, stored in each packed sketch. Scheme 3 (December 2026) appends the
text's facts to scheme 2's values and leaves marked background paragraphs out of the text."""
OLD_SCHEME = 2
"""The previous scheme: the values alone, computed as scheme 3's are (for a text without a background paragraph,
the same). Its sketches are not matched (they have no facts to check), but their bucket rows are found from them
(``stored_buckets``) and replaced when the article is sketched again."""
SHINGLE_WORDS = 5
NUM_PERM = 256
"""MinHash values kept per article: enough that the similarity estimate (its error ~ 0.03) separates re-tellings
from template twins, whose true containments lie ~0.1 apart."""
BANDS = 12
"""LSH over the first BANDS values, one value a band: a pair is a candidate when one of them agrees, with probability
1 - (1 - J)**12: 0.97 at Jaccard 0.25 (the least a re-telling in the labelled pairs measures is 0.27), 0.99 at 0.3,
0.11 at 0.01; those few extra candidates are turned down by the verification. Each article has BANDS rows in
``story_buckets``, and writing them is most of the cost of storing an article: 40 bands of two values each (the
layout until migration 0007) found fewer true pairs (0.92 at 0.25) with 40 rows an article."""
THRESHOLD = 0.38
"""Minimum estimated containment (the share of the smaller text's shingles found in the other) for one story.
Tuned on tests/fixtures/stories/pairs: two re-publications of one agency copy measure 0.48 and up even when each
cut a different paragraph; the same template filled with other facts measures 0.33 at most, look-alikes < 0.15.
Daily items keep more of their template (up to 0.76): their figures tell them apart (``CONFLICT_SHARE``)."""
MIN_SHINGLES = 12
"""Shorter texts (a caption, a one-line brief) are too little evidence to join a story."""
MERGE_JACCARD = 0.25
"""Least Jaccard similarity between an article and an article of another story for the article to join the two
stories into one (``aggregator.store.story_index``). Lower than that, one text mostly holds the other: a digest
("Главное за день") that carries several briefs whole matches each of them, and must not make them one story. The
re-tellings of the labelled pairs measure 0.27 and up, a brief inside a digest of four or more items 0.25 at most."""
SHARED_TEXT = 0.15
"""Least estimated containment for two articles to share some text (``Sketch.shares_text``): more than look-alikes
(same topic, other news) measure; unrelated news measure ~0, a brief and a re-publication of its long article most
of the brief."""
FACTS = 32
"""(context, number) pairs kept per sketch (``facts``): those with the smallest context hashes, so that two texts
keep the same contexts (a bottom-k sample). The bundled sample's articles have 27 at most; a table of rates more."""
MIN_CONFLICTS = 2
CONFLICT_SHARE = 0.2
"""Two texts are other news when they put other numbers in the same contexts at least ``MIN_CONFLICTS`` times, and
in at least this share of the contexts both give a number in (``Sketch.conflicts``). The currency rates of two days
(the pegged currencies and the units agree: 1 доллар США – 1,7000) measure 0.27 and up, the weather and oil prices
0.5 and up; a re-publication keeps its figures (no conflict in the labelled pairs), and one corrected figure or a
dateline of its own ("Баку, 6 декабря") is a single conflict."""

STORY_GAP = timedelta(days=5)
"""Longest time between two articles' news dates (their published time, else the time they were archived:
``aggregator.store.story_index.news_date``) for their matching texts to make them one story. Agencies and
ministries print the same words again weeks and years later, and nothing in the text tells that it is not the
same news: a trial's summary of the charges under every hearing (two hearings six weeks apart measure containment
0.82, every figure agreeing), an annual warning or a forum's boilerplate in last year's wording, a re-publication
that cut the figures telling this year's item from last year's (it matches both, and joined the two years into
one story). Re-publications of one item follow it within hours, now and then a day or two later (after a weekend
or a holiday): five days keeps those, while a weekly rhythm (the next week's hearing, the weekly report) and
anything older is other news. It bounds each matched pair, not the story: an article joins through any article it
matches within the gap, so a story that keeps getting re-publications runs on while they keep coming (and the
grouping stays independent of the order articles are stored in). Not part of the sketch: changing it needs no new
``SCHEME``, and applies to the articles matched from then on (stories joined before stay as they are until their
articles are matched again)."""

_SHIFT = np.uint64(32)
_HEADER = struct.Struct("<BI")  # scheme, number of distinct shingles


def _permutations() -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """The hash family's coefficients, from a fixed seed (the same in every process)."""
    rng = np.random.Generator(np.random.PCG64(20260914))
    a = rng.integers(0, 1 << 63, size=NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd multipliers
    b = rng.integers(0, 1 << 63, size=NUM_PERM, dtype=np.uint64)
    return a, b


_A, _B = _permutations()
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased words, with ``ё`` read as ``е`` (sites differ in writing it)."""
    return _WORD.findall(text.lower().replace("ё", "е"))


_POSITION = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD][
        :SHINGLE_WORDS
    ],
    dtype=np.uint64,
)
"""Odd 64-bit multipliers, one per position in a shingle: a shingle's hash depends on its words' order."""
_LOW32 = np.uint64(0xFFFFFFFF)


def shingle_hashes(text: str) -> npt.NDArray[np.uint64]:
    """The distinct 32-bit hashes of the text's ``SHINGLE_WORDS``-word shingles (one for a shorter text).

    Each word is hashed once; a shingle's hash is the position-weighted sum of its words' hashes (uint64 arithmetic,
    wrapping), folded to 32 bits: one vectorised pass instead of joining and hashing every shingle's string.
    """
    return _shingle_hashes(words(text))


def _shingle_hashes(tokens: list[str]) -> npt.NDArray[np.uint64]:
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    # CRC-32 of each word (stable everywhere, and a few times cheaper per call than a cryptographic hash); two words
    # that collide only merge their shingles, which the estimate does not notice.
    per_word = np.fromiter(map(zlib.crc32, "\0".join(tokens).encode().split(b"\0")), dtype=np.uint64, count=len(tokens))
    width = min(SHINGLE_WORDS, len(tokens))
    n = len(tokens) - width + 1
    combined = per_word[:n] * _POSITION[0]
    for k in range(1, width):
        combined += per_word[k : k + n] * _POSITION[k]
    combined = np.unique(combined)
    folded: npt.NDArray[np.uint64] = (combined ^ (combined >> _SHIFT)) & _LOW32
    return folded


_VALUES = np.dtype([("scheme", "u1"), ("size", "<u4"), ("values", "<u4", (NUM_PERM,))])
"""The start of a packed sketch (``Sketch.pack``), the whole of a scheme-2 one, as a numpy record: many are read at
once by ``band_values``."""
_FACTS = struct.Struct(f"<H{FACTS}Q")  # how many facts the text has, the FACTS kept (unused slots: _NO_FACT)
_NO_FACT = 0xFFFFFFFFFFFFFFFF
_SIZE = _VALUES.itemsize + _FACTS.size
_SIZES = {SCHEME: _SIZE, OLD_SCHEME: _VALUES.itemsize}
"""The length of a packed sketch of each scheme whose bands are read."""


def stored_buckets(blob: bytes | None) -> list[tuple[int, int]]:
    """The (band, bucket) pairs an article's stored sketch gave it: of this scheme, or of ``OLD_SCHEME``."""
    if not blob or _SIZES.get(blob[0]) != len(blob):
        return []
    _, size = _HEADER.unpack_from(blob)
    if size < MIN_SHINGLES:
        return []
    return list(enumerate(struct.unpack_from(f"<{BANDS}I", blob, _HEADER.size)))


def band_values(blobs: list[bytes | None]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """The band values of many packed sketches in one pass: (positions in ``blobs`` of the sketches that have
    buckets, their first ``BANDS`` values as an (n, BANDS) array). The same pairs as each ``Sketch.unpack(blob)
    .buckets()``, without building the sketches (a batch of thousands of articles matches only a few)."""
    sized = [i for i, blob in enumerate(blobs) if blob and len(blob) == _SIZE]
    if not sized:
        return np.empty(0, dtype=np.intp), np.empty((0, BANDS), dtype=np.int64)
    starts = b"".join([blobs[i][: _VALUES.itemsize] for i in sized])  # type: ignore[index]
    records = np.frombuffer(starts, dtype=_VALUES)  # type: ignore[misc]
    keep = (records["scheme"] == SCHEME) & (records["size"] >= MIN_SHINGLES)
    return np.asarray(sized, dtype=np.intp)[keep], records["values"][keep, :BANDS].astype(np.int64)


@dataclass(frozen=True, slots=True)
class Sketch:
    values: npt.NDArray[np.uint32]
    size: int
    """Distinct shingles in the text (turns the Jaccard estimate into a containment estimate)."""
    facts: tuple[int, ...] = ()
    """The text's (context, number) pairs (``facts``), at most ``FACTS``."""
    fact_count: int = 0
    """How many distinct pairs the text has: more than ``FACTS`` when ``facts`` is a sample."""

    def pack(self) -> bytes:
        kept = list(self.facts)
        return (
            _HEADER.pack(SCHEME, self.size)
            + self.values.astype("<u4").tobytes()
            + _FACTS.pack(min(self.fact_count, 0xFFFF), *kept, *[_NO_FACT] * (FACTS - len(kept)))
        )

    @classmethod
    def unpack(cls, blob: bytes | None) -> Sketch | None:
        """The sketch stored in ``articles.minhash``; None when absent or of another scheme."""
        if not blob or len(blob) != _SIZE or blob[0] != SCHEME:
            return None
        _, size = _HEADER.unpack_from(blob)
        values = np.frombuffer(blob, dtype="<u4", count=NUM_PERM, offset=_HEADER.size).astype(np.uint32)
        count, *kept = _FACTS.unpack_from(blob, _VALUES.itemsize)
        return cls(values, size, tuple(kept[: min(count, FACTS)]), count)

    def buckets(self) -> list[tuple[int, int]]:
        """(band, bucket) pairs: the band's value itself (a 32-bit minimum: already a uniform hash, and a small key)."""
        if not self.eligible:
            return []
        return list(enumerate(self.values[:BANDS].tolist()))

    @property
    def eligible(self) -> bool:
        return self.size >= MIN_SHINGLES

    def jaccard(self, other: Sketch) -> float:
        return float(np.count_nonzero(self.values == other.values)) / NUM_PERM

    def containment(self, other: Sketch) -> float:
        """Estimated share of the smaller shingle set found in the other: a short re-telling of a long article
        counts as the same story, which plain Jaccard would under-rate."""
        j = self.jaccard(other)
        common = j * (self.size + other.size) / (1 + j)
        return min(1.0, common / max(1, min(self.size, other.size)))

    def conflicts(self, other: Sketch) -> bool:
        """Whether the two texts put other numbers in the same contexts (see ``CONFLICT_SHARE``): the same
        template filled with other figures (yesterday's rates), however many fixed phrases they share."""
        if not self.facts or not other.facts:
            return False
        limit = 1 << 32  # a sample knows nothing of the contexts after its last one, nor all values of that one
        for kept, count in ((self.facts, self.fact_count), (other.facts, other.fact_count)):
            if count > len(kept):
                limit = min(limit, kept[-1] >> 32)
        mine, theirs = _by_context(self.facts, limit), _by_context(other.facts, limit)
        conflicting = agreeing = 0
        for context in mine.keys() & theirs.keys():
            one, two = mine[context], theirs[context]
            agreeing += len(one & two)
            conflicting += min(len(one - two), len(two - one))
        return conflicting >= MIN_CONFLICTS and conflicting >= CONFLICT_SHARE * (conflicting + agreeing)

    def same_story(self, other: Sketch) -> bool:
        return self.eligible and other.eligible and self.containment(other) >= THRESHOLD and not self.conflicts(other)

    def comparable(self, other: Sketch) -> bool:
        """Whether an article of the same story is a re-telling of this text rather than a text that mostly holds
        it or is mostly held by it (``MERGE_JACCARD``): only such an article joins two stories into one."""
        return self.jaccard(other) >= MERGE_JACCARD

    def shares_text(self, other: Sketch) -> bool:
        return self.containment(other) >= SHARED_TEXT


def close_in_time(one: datetime | None, other: datetime | None) -> bool:
    """Whether two articles' news dates (``news_date``) are near enough for one story (``STORY_GAP``); an article
    of unknown date is near any."""
    return one is None or other is None or abs(one - other) <= STORY_GAP


def _by_context(facts: tuple[int, ...], limit: int) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    for fact in facts:
        if fact >> 32 < limit:
            found.setdefault(fact >> 32, set()).add(fact & 0xFFFFFFFF)
    return found


def facts(tokens: list[str]) -> tuple[tuple[int, ...], int]:
    """The text's numbers in their contexts: (the kept ``FACTS`` pairs, how many distinct pairs there are), each
    pair ``context hash << 32 | number hash``, sorted. A number is a run of digit words, read without what separated
    them ("1,7892" and "1.7892" are one number, "1 000" and "1000" too); its context the word before it and the word
    after it ("евро 1,7892 маната", "на 5 декабря"), which a re-publication keeps with the number."""
    at = [i for i, token in enumerate(tokens) if token.isdigit()]
    found: set[int] = set()
    k = 0
    while k < len(at):
        start = end = at[k]
        k += 1
        while k < len(at) and at[k] == end + 1:
            end, k = end + 1, k + 1
        before = tokens[start - 1] if start else ""
        after = tokens[end + 1] if end + 1 < len(tokens) else ""
        context = zlib.crc32(f"{before}\0{after}".encode())
        found.add(context << 32 | zlib.crc32("".join(tokens[start : end + 1]).encode()))
    return tuple(sorted(found)[:FACTS]), len(found)


def sketch(text: str) -> Sketch:
    tokens = words(text)
    hashed = _shingle_hashes(tokens)
    if not len(hashed):
        return Sketch(np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32), 0, (), 0)
    # Multiply-shift hashing: the high 32 bits of (a * x + b) mod 2**64 (uint64 arithmetic wraps), one per value;
    # computed in place in one buffer (the n x NUM_PERM products are the bulk of the work). The shift keeps the
    # order, so the least high half is the high half of the least value: shifting the NUM_PERM minima instead of the
    # n x NUM_PERM products gives the same sketch with one pass over them fewer.
    permuted = np.multiply.outer(hashed, _A)
    permuted += _B
    return Sketch((permuted.min(axis=0) >> _SHIFT).astype(np.uint32), len(hashed), *facts(tokens))


_BACKGROUND_WORDS = ("Напом", "сообщалось", "Ранее мы", "Xatırlad", "xəbər verildiyi", "Recall that", "reported")
"""Words one of the ``_BACKGROUND`` markers holds: a text with none of them (most) skips the expression."""
_BACKGROUND = re.compile(
    r"(?:(?<=\n)|(?<=[.!?…»\"]\s))"  # at the start of a paragraph or a sentence, never of the text
    r"(?:Напомним|Напоминаем|Как (?:уже |ранее )?сообщалось|Ранее сообщалось"
    r"|Ранее мы (?:уже )?(?:\w+ )?(?:сообщали|писали)"
    r"|Xatırladaq ki|Xatırladırıq ki|(?:Daha )?(?:[Əə]vvəl|[Öö]ncə) xəbər verildiyi kimi"
    r"|Recall that|As (?:was )?(?:previously|earlier) reported|As reported (?:earlier|previously))\b[^\n]*"
)
"""A background passage agencies mark as such, from its marker to the end of its paragraph: "Напомним, что ...",
"Ранее сообщалось ...", "Xatırladaq ki, ...", "Recall that ...". Not "Отметим" or "Qeyd edək ki", which as often
add a fact of the news itself."""


def story_text(title: str | None, body_text: str | None) -> str:
    """What the sketch is taken over: the body only (headlines are what re-publishers rewrite first), without its
    marked background passages (``_BACKGROUND``): an agency repeats the same one under every item of a subject (the
    toll of the mines after each blast), and two items on different events would share most of their text."""
    text = body_text or ""
    for word in _BACKGROUND_WORDS:
        if word in text:
            return _BACKGROUND.sub("", text)
    return text
