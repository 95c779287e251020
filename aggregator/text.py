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
