"""Small text helpers shared by extractors and pipelines."""

from __future__ import annotations

# Cyrillic (and Greek) letters that look like Latin ones: sites type "Caliber.Аz" with a Cyrillic А.
_LOOKALIKES = str.maketrans(
    "АВЕКМНОРСТУХаеорсухіјѕԁԛԝΑΒΕΗΙΚΜΝΟΡΤΧΥΖαο",
    "ABEKMHOPCTYXaeopcyxijsdqwABEHIKMNOPTXYZao",
)


def fold_lookalikes(text: str) -> str:
    """``text`` with look-alike Cyrillic/Greek letters as their Latin twins, for comparing names (not for display).

    Only meaningful on names written in Latin letters: a Russian word would be garbled, so fold both sides of a
    comparison of names, never prose that is kept.
    """
    return text.translate(_LOOKALIKES)


def name_key(name: str) -> str:
    """The form under which two spellings of one outlet's name compare equal ("Caliber.Аz" == "caliber.az")."""
    return " ".join(fold_lookalikes(name).casefold().split())


_ASCII_LETTERS = bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1))
_CYRILLIC_LEADS = b"\xd0\xd1"
"""The first UTF-8 bytes of "А".."я", "Ё", "ё" (U+0401..U+0451): one per letter, as no continuation byte is one."""
_AZERBAIJANI_LEADS = b"\xc4\xc6\xc9"
"""The first UTF-8 bytes of "ı", "İ", "ğ", "Ğ" (C4), "Ə" (C6) and "ə" (C9), the letters English has not: the rest of
Latin Extended-A and the IPA letters share them, which no text of ours writes as often."""


def written_language(text: str, min_letters: int) -> str | None:
    """The language of the archive's a text's letters say it is written in: ``ru`` for Cyrillic, ``az`` for Latin
    with Azerbaijani letters (ə, ı, ğ: one in fifty), ``en`` for Latin without; None for a text of fewer than
    ``min_letters`` letters or of no clear script (four fifths of its letters in one). Counted on the text's UTF-8
    bytes, a few microseconds for a page of text: the generic extractor asks it of every body, the attribution step
    of every article."""
    data = text.encode("utf-8", "surrogatepass")
    cyrillic = len(data) - len(data.translate(None, _CYRILLIC_LEADS))
    latin = len(data) - len(data.translate(None, _ASCII_LETTERS))
    letters = cyrillic + latin
    if letters < min_letters:
        return None
    if cyrillic * 5 >= letters * 4:
        return "ru"
    if latin * 5 < letters * 4:
        return None
    marked = len(data) - len(data.translate(None, _AZERBAIJANI_LEADS))
    return "az" if marked * 50 >= latin else "en"
