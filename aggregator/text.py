"""Small text helpers shared by extractors and pipelines."""

from __future__ import annotations

import re

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


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""The control characters (Unicode's ``Cc``: C0, DEL and C1) but the tab and the line feed. ESC (``\\x1b``) starts a
terminal's escape sequences, CSI (``\\x9b``) does in one C1 character, BEL ends an OSC sequence (a hyperlink, a
window title): text that holds them, printed, drives the terminal it is printed on."""
_LINE_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CLEANED = {code: " " if chr(code).isspace() else None for code in (*range(0x20), *range(0x7F, 0xA0))}
"""Each control character made a space if Python counts it as whitespace (the tab, line feed, vertical tab, form
feed, carriage return, the separators ``\\x1c``-``\\x1f``, NEL ``\\x85``), as ``str.split`` reads them; else removed."""
_CLEANED_KEEPING_LINES = _CLEANED | {ord("\t"): "\t", ord("\n"): "\n"}


def without_controls(text: str, *, one_line: bool = False) -> str:
    """``text`` as the archive keeps what a page says: without control characters (those ``str.split`` reads as
    whitespace made a space, the others removed), but the tab and line feed unless ``one_line`` (a title, a category,
    a printed date: what a table shows on one line). A page's, a feed's or a server's text holding ESC, BEL or CSI
    drove the terminal of the operator who listed it (colours, a cleared screen, an OSC 8 link to a ``file:`` URL).
    Looked for before anything is copied: nearly no text holds one, and a regular expression's scan of a 24 KB body
    takes some 50 microseconds, a ``str.translate`` of it a millisecond."""
    if (_LINE_CONTROLS if one_line else _CONTROLS).search(text) is None:
        return text
    return text.translate(_CLEANED if one_line else _CLEANED_KEEPING_LINES)


def visible(text: str) -> str:
    """``text`` as a terminal may be given it: each control character but the tab and the line feed written out
    (ESC as ``\\x1b``, CSI as ``\\x9b``), so that what the archive holds is seen, and drives nothing. For an archive
    written before ``without_controls`` kept them out, and for what is not a page's (a reason a server's header is
    quoted in, an exception's message). Every string the ``aggregator`` command prints through Rich passes through it
    (``tables.Terminal``). Its marks end in a hex digit, never in a backslash: Rich's markup escaping keeps its
    meaning whichever of the two runs first."""
    if _CONTROLS.search(text) is None:
        return text
    return _CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
