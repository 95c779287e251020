"""Near-duplicate detection for stories: a MinHash sketch of an article's body, LSH bands, and the verification rule.

Re-publishing sites keep most of an agency's text word for word and change the headline, the lead, a paragraph or
a number. Word shingles of ``SHINGLE_WORDS`` words survive that (a verbatim run keeps all its shingles), while two
texts that only share a topic, or fill one template with different facts, share almost none: a changed fact every
few words breaks every shingle that spans it.

Everything here is a pure function of the text with fixed constants, so sketches computed by different processes,
hosts and releases agree (Python's ``hash()`` is salted per process and is never used). Changing a constant below
changes every sketch: bump ``SCHEME`` so stored sketches of the old scheme are ignored, and run ``aggregator
reextract`` to recompute them.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SCHEME = 2
"""Version of the sketch layout and parameters, stored in each packed sketch."""
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
Tuned on tests/fixtures/stories/pairs: two re-publications of one agency copy measure 0.43 and up even when each
cut a different paragraph; the same template filled with other facts measures 0.33 at most, look-alikes < 0.15."""
MIN_SHINGLES = 12
"""Shorter texts (a caption, a one-line brief) are too little evidence to join a story."""

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
    tokens = words(text)
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


_PACKED = np.dtype([("scheme", "u1"), ("size", "<u4"), ("values", "<u4", (NUM_PERM,))])
"""A packed sketch (``Sketch.pack``) as a numpy record: many are read at once by ``band_values``."""


def band_values(blobs: list[bytes | None]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """The band values of many packed sketches in one pass: (positions in ``blobs`` of the sketches that have
    buckets, their first ``BANDS`` values as an (n, BANDS) array). The same pairs as each ``Sketch.unpack(blob)
    .buckets()``, without building the sketches (a batch of thousands of articles matches only a few)."""
    sized = [i for i, blob in enumerate(blobs) if blob and len(blob) == _PACKED.itemsize]
    if not sized:
        return np.empty(0, dtype=np.intp), np.empty((0, BANDS), dtype=np.int64)
    records = np.frombuffer(b"".join([blobs[i] for i in sized]), dtype=_PACKED)  # type: ignore[misc]
    keep = (records["scheme"] == SCHEME) & (records["size"] >= MIN_SHINGLES)
    return np.asarray(sized, dtype=np.intp)[keep], records["values"][keep, :BANDS].astype(np.int64)


@dataclass(frozen=True, slots=True)
class Sketch:
    values: npt.NDArray[np.uint32]
    size: int
    """Distinct shingles in the text (turns the Jaccard estimate into a containment estimate)."""

    def pack(self) -> bytes:
        return _HEADER.pack(SCHEME, self.size) + self.values.astype("<u4").tobytes()

    @classmethod
    def unpack(cls, blob: bytes | None) -> Sketch | None:
        """The sketch stored in ``articles.minhash``; None when absent or of another scheme."""
        if not blob or len(blob) != _HEADER.size + 4 * NUM_PERM:
            return None
        scheme, size = _HEADER.unpack_from(blob)
        if scheme != SCHEME:
            return None
        return cls(np.frombuffer(blob, dtype="<u4", offset=_HEADER.size).astype(np.uint32), size)

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

    def same_story(self, other: Sketch) -> bool:
        return self.eligible and other.eligible and self.containment(other) >= THRESHOLD


def sketch(text: str) -> Sketch:
    hashed = shingle_hashes(text)
    if not len(hashed):
        return Sketch(np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32), 0)
    # Multiply-shift hashing: the high 32 bits of (a * x + b) mod 2**64 (uint64 arithmetic wraps), one per value;
    # computed in place in one buffer (the n x NUM_PERM products are the bulk of the work). The shift keeps the
    # order, so the least high half is the high half of the least value: shifting the NUM_PERM minima instead of the
    # n x NUM_PERM products gives the same sketch with one pass over them fewer.
    permuted = np.multiply.outer(hashed, _A)
    permuted += _B
    return Sketch((permuted.min(axis=0) >> _SHIFT).astype(np.uint32), len(hashed))


def story_text(title: str | None, body_text: str | None) -> str:
    """What the sketch is taken over: the body only (headlines are what re-publishers rewrite first)."""
    return body_text or ""
