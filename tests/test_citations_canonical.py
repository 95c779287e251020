"""One outlet, one name: the cited outlets are stored under one name each, whatever script, spelling or case the
text wrote them in (``pipelines.citations.canonical_outlet``)."""

from __future__ import annotations

import pytest

from aggregator.items import ArticleItem
from aggregator.sources import Source, all_sources, registered
from pipelines.attribution import AttributionPipeline
from pipelines.citations import (
    KNOWN_OUTLETS,
    OUTLET_NAMES,
    _is_domain,
    _known_key,
    _known_outlets,
    canonical_outlet,
    canonical_outlets,
    find_citations,
)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        # a source we crawl: the registry's display name, the one its attribution line prints
        ("APA", "Apa.az"), ("АПА", "Apa.az"), ("Apa", "Apa.az"), ("apa.az", "Apa.az"), ("www.apa.az", "Apa.az"),
        ("Report", "Report.az"), ("REPORT", "Report.az"), ("Репорт", "Report.az"), ("report.az", "Report.az"),
        ("Trend", "Trend.az"), ("Тренд", "Trend.az"), ("en.trend.az", "Trend.az"), ("Trend News Agency", "Trend.az"),
        ("Report İnformasiya Agentliyi", "Report.az"), ("Caliber.Аz", "Caliber.az"), ("Калибр", "Caliber.az"),
        ("Хаггин", "Haqqin.az"), ("Haqqin", "Haqqin.az"), ("Minval", "Minval.az"), ("Минвал", "Minval.az"),
        # a known outlet outside the registry: one fixed name
        ("Азертадж", "AZERTAC"), ("АЗЕРТАДЖ", "AZERTAC"), ("Азертаж", "AZERTAC"), ("AZƏRTAC", "AZERTAC"),
        ("Azərtac", "AZERTAC"), ("Azertac", "AZERTAC"), ("Интерфакс", "Interfax"), ("ТАСС", "TASS"), ("tass", "TASS"),
        ("РИА Новости", "RIA Novosti"), ("RİA Novosti", "RIA Novosti"), ("Рейтер", "Reuters"), ("REUTERS", "Reuters"),
        ("Франс Пресс", "AFP"), ("Agence France-Presse", "AFP"), ("Спутник", "Sputnik"),
        ("Sputnik Азербайджан", "Sputnik Azerbaijan"), ("Sputnik Azərbaycan", "Sputnik Azerbaijan"),
        ("Коммерсантъ", "Kommersant"), ("Bloomberq", "Bloomberg"), ("Би-би-си", "BBC"),
        ("Xinhua News Agency", "Xinhua"),
        ("Oxu.Az", "Oxu.az"), ("Oxu", "Oxu.az"), ("Qafqazinfo.az", "Qafqazinfo"),
        ("Guardian", "The Guardian"),  # read after "according to the": the article is not part of the name found
        ("Financial Times", "Financial Times"), ("FINANCIAL TIMES", "Financial Times"),
    ],
)  # fmt: skip
def test_each_name_of_an_outlet_is_stored_as_one(written: str, stored: str) -> None:
    assert canonical_outlet(written) == stored


@pytest.mark.parametrize(
    "name",
    # unknown outlets as found; an edition with a name of its own; a Cyrillic name that only looks like a known
    # Latin one ("ВВС", the Ukrainian air force, is not the BBC; "ЕПА" is not APA)
    ["Казинформ", "Baku TV", "Publika", "Лента.ру", "EPA", "ЕПА", "ВВС", "Kazinform News Agency", "TRT Haber",
     "Interfax-Azerbaijan", "Хаггин.аз"],
)  # fmt: skip
def test_other_names_are_kept_as_found(name: str) -> None:
    assert canonical_outlet(name) == name


def test_every_alias_of_the_fixed_names_is_a_sure_outlet() -> None:
    # A name there that find_citations did not know would never be found to be mapped; and each name belongs to one
    # outlet only.
    seen: dict[str, str] = {}
    for canonical, others in OUTLET_NAMES.items():
        for name in (canonical, *others):
            assert _known_key(name) in _known_outlets() or _is_domain(name), name
            assert seen.setdefault(_known_key(name), canonical) == canonical, f"{name} under two outlets"


@pytest.mark.parametrize("name", KNOWN_OUTLETS)
def test_a_stored_name_stays_what_it_is(name: str) -> None:
    stored = canonical_outlet(name)
    assert canonical_outlet(stored) == stored  # an archive re-extracted, or names mapped twice, keep their name


@pytest.mark.parametrize("source", all_sources(), ids=lambda s: s.key)
def test_a_source_we_crawl_is_cited_under_the_name_its_attribution_line_prints(source: Source) -> None:
    for name in (source.name, *source.domains, *source.other_names, *source.spellings):
        assert canonical_outlet(name) == source.name, name
    item = ArticleItem(
        source=source.key, url=source.homepage, language="en", body_text=f"According to {source.name}, the road opened."
    )
    attributed = AttributionPipeline(site="Example.az").process_item(item)
    other = next(s for s in all_sources() if s.key != source.key)
    citing = AttributionPipeline().process_item(
        ArticleItem(source=other.key, url=other.homepage, language="en", body_text=item.body_text)
    )
    assert citing.cited_outlets == [source.name]
    assert f"citing {source.name}." in attributed.attribution_line  # the same name on its own articles' line


def test_an_outlet_cited_under_several_names_is_listed_once() -> None:
    assert canonical_outlets(["АПА", "Report", "APA", "Репорт", "apa.az", "Казинформ", "казинформ"]) == [
        "Apa.az",
        "Report.az",
        "Казинформ",
    ]
    body = "Как передает АПА, санаторий открыт. Об этом сообщил APA. По данным ТАСС, курорт принял гостей."
    assert find_citations(body, "ru") == ["АПА", "APA", "ТАСС"]  # found as written ...
    item = ArticleItem(source="caliber", url="https://caliber.az/post/x", language="ru", body_text=body)
    assert AttributionPipeline().process_item(item).cited_outlets == ["Apa.az", "TASS"]  # ... stored once each


def test_each_script_of_an_article_names_an_outlet_alike() -> None:
    # Caliber.az's Russian copy writes "АПА", its Azerbaijani and English copy "APA": one outlet on every page.
    bodies = {
        "ru": "Как передает АПА, в Шуше открылся фестиваль.",
        "az": "APA-nın məlumatına görə, Şuşada festival açılıb.",
        "en": "According to APA, a festival opened in Shusha.",
    }
    for language, body in bodies.items():
        item = ArticleItem(source="caliber", url="https://caliber.az/post/x", language=language, body_text=body)
        assert AttributionPipeline().process_item(item).cited_outlets == ["Apa.az"], language


def test_a_host_of_the_sources_own_is_no_citation() -> None:
    # Named as a host ("en.trend.az") the source is itself once its name is known: not a citation of Trend.az.
    item = ArticleItem(source="trend", url="https://en.trend.az/x", language="en", body_text="Source: en.trend.az")
    assert find_citations(item.body_text or "", "en") == ["en.trend.az"]
    assert AttributionPipeline().process_item(item).cited_outlets == []


def test_a_source_registered_for_the_moment_goes_by_its_name() -> None:
    site = Source(
        key="xeberler", name="Xeberler.az", domains=("xeberler.az",), languages=("az",), timezone="Asia/Baku",
        entry_urls=(), homepage="https://xeberler.az",
    )  # fmt: skip
    assert canonical_outlet("xeberler") == "xeberler"
    with registered(site):
        assert canonical_outlet("XEBERLER.AZ") == "Xeberler.az"
        assert canonical_outlet("Xeberler") == "Xeberler.az"
    assert canonical_outlet("Xeberler") == "Xeberler"
