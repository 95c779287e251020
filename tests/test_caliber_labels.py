"""caliber.az's category label, typed in capitals on its article pages, as its listings and the other sources print
a category: "ПОЛИТИКА" is "Политика"."""

from __future__ import annotations

import pytest

from spiders.caliber import label_case


@pytest.mark.parametrize(
    ("label", "language", "cased"),
    [
        ("ПОЛИТИКА", "ru", "Политика"),
        ("В МИРЕ", "ru", "В мире"),
        ("KARABAKH", "en", "Karabakh"),
        ("SOUTH CAUCASUS", "en", "South Caucasus"),  # English capitalises each word of a heading
        ("OIL&GAS", "en", "Oil&Gas"),
        # Azerbaijani: "İ" is the capital of "i", "I" of "ı" (str.lower made them "i̇" and "i")
        ("SİYASƏT", "az", "Siyasət"),
        ("İQTİSADİYYAT", "az", "İqtisadiyyat"),
        ("QARABAĞ", "az", "Qarabağ"),
        ("BAKI", "az", "Bakı"),
        ("İDMAN", "az", "İdman"),
        # the site's own spelling, with a small letter in it, stays
        ("Политика", "ru", "Политика"),
        ("Oil&Gas", "en", "Oil&Gas"),
        ("COVID-19 və təhsil", "az", "COVID-19 və təhsil"),
        ("2026", "ru", "2026"),
        ("", "ru", ""),
        (None, "ru", None),
    ],
)
def test_a_label_in_capitals_is_cased_as_a_category(label: str | None, language: str, cased: str | None) -> None:
    assert label_case(label, language) == cased
