"""The attribution line, and the sanitiser's contract as the issue states it."""

from __future__ import annotations

import lxml.html
import pytest

from aggregator.crawl import project_settings
from aggregator.environment import env_settings
from aggregator.items import ArticleItem
from pipelines.attribution import AttributionPipeline, AttributionTemplateError, attribution_line
from pipelines.citations import find_citations
from pipelines.cleanup import is_boilerplate, sanitize_html


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("ru", "Icma.az, ссылаясь на сайт Caliber.az, отмечает."),
        ("az", "Caliber.az portalından əldə olunan məlumata əsasən, Icma.az xəbər verir."),
        ("en", "Icma.az reports, citing Caliber.az."),
    ],
)
def test_attribution_line(language: str, line: str) -> None:
    assert attribution_line(site="Icma.az", source="Caliber.az", language=language) == line


def test_unknown_language_and_bad_templates_are_refused() -> None:
    with pytest.raises(AttributionTemplateError, match="no attribution template for language 'tr'"):
        attribution_line(site="Icma.az", source="Caliber.az", language="tr")
    with pytest.raises(AttributionTemplateError, match="must contain"):
        AttributionPipeline(templates={"ru": "{site} отмечает."})


def test_pipeline_names_the_registry_source_not_the_page() -> None:
    item = ArticleItem(
        source="caliber", url="https://caliber.az/az/post/x", language="az",
        body_text="APA-nın məlumatına görə, nazir bunu bildirib. Calibe.az-ın saytında yazılıb.",
    )  # fmt: skip
    out = AttributionPipeline(site="Example.az").process_item(item)
    assert out.attribution_line == "Caliber.az portalından əldə olunan məlumata əsasən, Example.az xəbər verir."
    assert out.cited_outlets[0] == "Apa.az"  # under the registry's name for it
    no_language = AttributionPipeline().process_item(ArticleItem(source="caliber", url="https://caliber.az/post/y"))
    assert no_language.attribution_line == "Icma.az, ссылаясь на сайт Caliber.az, отмечает."  # the default edition


def test_a_source_is_not_its_own_citation_in_any_script() -> None:
    # Apa.az's Russian copy names itself "АПА" (the registry's other name for it), its Azerbaijani copy "APA".
    ru = ArticleItem(
        source="apa", url="https://apa.az/ru/obshestvo/v-naftalane-otkrylsya-novyj-sanatorij-813136", language="ru",
        body_text="В Нафталане начал работу санаторий, передает АПА. Как сообщает Report, курорт принял гостей.",
    )  # fmt: skip
    assert AttributionPipeline().process_item(ru).cited_outlets == ["Report.az"]
    az = ArticleItem(
        source="apa", url="https://apa.az/sosial/x-813137", language="az",
        body_text="Bu barədə APA xəbər verir. Report-a istinadən bildirilir ki, sanatoriya açılıb.",
    )  # fmt: skip
    assert AttributionPipeline().process_item(az).cited_outlets == ["Report.az"]
    # another source citing APA under either name cites it, under the registry's name
    other = ArticleItem(
        source="caliber", url="https://caliber.az/post/x", language="ru",
        body_text="Как передает АПА, санаторий открыт. Об этом сообщил Report.",
    )  # fmt: skip
    assert AttributionPipeline().process_item(other).cited_outlets == ["Apa.az", "Report.az"]


@pytest.mark.parametrize(
    ("source", "language", "body"),
    [
        # its name in the other script, which no registry lists in full: other outlets' copy, and its own translated
        # pieces, write it so
        ("report", "ru", "Как сообщает Репорт, в Баку прошла встреча министров."),
        ("report", "ru", "Об этом сообщил агентству «Репорт» министр экономики."),
        ("trend", "ru", "Как сообщает Тренд, движение по мосту восстановлено."),
        ("haqqin", "ru", "Как сообщает Хаггин.аз, отставка подписана."),
        ("caliber", "ru", "Как сообщает Калибр, переговоры продолжатся."),
        ("minval", "ru", "Как сообщает Минвал, переговоры продолжатся."),
        ("apa", "ru", "Как сообщает Апа, курорт принял гостей."),
        # its name with the words that say what it is, as its English and Azerbaijani copy names it
        ("trend", "en", "Trend News Agency reports that the bridge reopened."),
        ("report", "en", "Report News Agency reports that the bridge reopened."),
        # the re-publisher, written with the Azerbaijani dotted İ
        ("caliber", "az", "İcma.az xəbər verir ki, yol bağlanıb."),
    ],
)
def test_a_source_is_not_its_own_citation_in_another_spelling(source: str, language: str, body: str) -> None:
    item = ArticleItem(source=source, url=f"https://{source}.az/x", language=language, body_text=body)
    assert find_citations(body, language)  # the name is read as an outlet's ...
    assert AttributionPipeline().process_item(item).cited_outlets == []  # ... and known for the source's own


def test_another_outlets_name_that_sounds_alike_is_cited() -> None:
    # Another source citing them cites them, in either script.
    body = "Как сообщает Тренд, мост открыт. Как сообщает Репорт, движение восстановлено. По данным ТАСС, все в норме."
    item = ArticleItem(source="caliber", url="https://caliber.az/post/x", language="ru", body_text=body)
    assert AttributionPipeline().process_item(item).cited_outlets == ["Trend.az", "Report.az", "TASS"]
    # Only across scripts is a name compared by its sounds, and a short one in full: "EPA" is not Apa.az's "АПА".
    item = ArticleItem(
        source="apa", url="https://apa.az/x", language="en",
        body_text="According to EPA, the air is clean. Trendy Media reports that the bridge reopened.",
    )  # fmt: skip
    assert AttributionPipeline().process_item(item).cited_outlets == ["EPA", "Trendy Media"]
    item = ArticleItem(
        source="trend", url="https://trend.az/x", language="ru",
        body_text="Как сообщает ЕПА, воздух чист. Как сообщает Trendy Media, мост открыт.",
    )  # fmt: skip
    assert AttributionPipeline().process_item(item).cited_outlets == ["ЕПА", "Trendy Media"]


def test_the_republishers_own_name_is_no_citation() -> None:
    # A body that carries the re-publisher's line, or names it: its page would print itself as its article's source.
    ru = ArticleItem(
        source="caliber", url="https://caliber.az/post/x", language="ru",
        body_text="Icma.az, ссылаясь на сайт Caliber.az, отмечает.\n\nПереговоры продолжатся, сообщает ТАСС.",
    )  # fmt: skip
    assert AttributionPipeline().process_item(ru).cited_outlets == ["TASS"]
    az = ArticleItem(
        source="caliber", url="https://caliber.az/az/post/x", language="az",
        body_text="Icma.az xəbər verir ki, yol bağlanıb. Bu barədə APA xəbər verir.",
    )  # fmt: skip
    assert AttributionPipeline().process_item(az).cited_outlets == ["Apa.az"]
    # the name the settings give the site, not a fixed one
    other = ArticleItem(
        source="caliber", url="https://caliber.az/post/y", language="ru",
        body_text="Как сообщает Example.az, мост открыт. Как сообщает Icma.az, движение восстановлено.",
    )  # fmt: skip
    assert AttributionPipeline(site="Example.az").process_item(other).cited_outlets == ["Icma.az"]


def test_citations_are_read_in_the_language_the_body_is_written_in() -> None:
    # A Russian body under the English edition's address: its citations are in Russian phrases. The line stays in
    # the page's language, as the page's labels do.
    body = (
        "Переговоры в Брюсселе завершились поздно вечером в понедельник, сообщает ТАСС. Стороны не смогли согласовать "
        "текст итоговой декларации и договорились встретиться снова через месяц.\n\nКак передает Report со ссылкой "
        "на дипломатические источники, следующий раунд может пройти в Баку."
    )
    item = ArticleItem(source="caliber", url="https://caliber.az/en/post/x", language="en", body_text=body)
    out = AttributionPipeline().process_item(item)
    assert out.cited_outlets == ["TASS", "Report.az"]
    assert out.attribution_line == "Icma.az reports, citing Caliber.az."
    # an English body on an Azerbaijani page
    english = (
        "The talks in Brussels ended late on Monday without a joint declaration, according to Reuters. The two "
        "delegations agreed to meet again next month, a senior diplomat told AFP on condition of anonymity.\n\nThe "
        "next round is expected to take place in Baku, where both foreign ministers are due in early spring."
    )
    az_page = ArticleItem(source="caliber", url="https://caliber.az/az/post/y", language="az", body_text=english)
    assert AttributionPipeline().process_item(az_page).cited_outlets == ["Reuters", "AFP"]
    # a short line in another script says nothing of the body's language: the page's phrases are read
    short = ArticleItem(
        source="caliber", url="https://caliber.az/en/post/z", language="en",
        body_text="Как сообщает ТАСС, мост открыт. According to Reuters, the bridge reopened.",
    )  # fmt: skip
    assert AttributionPipeline().process_item(short).cited_outlets == ["Reuters"]


def test_a_reprint_cites_its_origin_not_the_source() -> None:
    item = ArticleItem(
        source="caliber", url="https://caliber.az/en/post/142379/", language="en",
        body_text="The National Interest has published an article by Mark Episkopos on Belarus. Caliber.Az reprints "
        "the article.\n\nCan Belarus be turned? Washington's window is wider than it looks.",
    )  # fmt: skip
    assert AttributionPipeline().process_item(item).cited_outlets == ["The National Interest"]


def test_templates_and_site_name_from_the_environment() -> None:
    found = env_settings({"AGGREGATOR_ATTRIBUTION_EN": "{site} republishes {source}.", "AGGREGATOR_SITE_NAME": "X.az"})
    assert found["AGGREGATOR_ATTRIBUTION_TEMPLATES"] == {"en": "{site} republishes {source}."}
    settings = project_settings(found)
    assert settings["AGGREGATOR_SITE_NAME"] == "X.az"


def test_sanitize_html_contract() -> None:
    html = """<div><p onclick="x()">Текст <a href="/post/2" target="_blank">ссылка</a>
      <a href="JaVaScRiPt:alert(1)">плохо</a> <a href="mailto:a@b.c">почта</a></p>
      <img class="lazy" src="/lazy.gif" data-src="/media/a.webp" alt="фото" width="5">
      <span style="color:red">цвет</span><h5>малый</h5><table><tr><td>1</td></tr></table></div>"""
    safe = sanitize_html(html, base_url="https://caliber.az/post/1")
    tree = lxml.html.fragment_fromstring(safe, create_parent="div")
    links = tree.findall(".//a")
    assert links[0].get("href") == "https://caliber.az/post/2"
    assert links[0].get("rel") == "nofollow noopener"
    assert links[1].get("href") is None  # javascript: is gone
    assert links[2].get("href") == "mailto:a@b.c"  # an e-mail link keeps its address (cleanup.LINK_SCHEMES)
    img = tree.find(".//img")
    assert img is not None and img.get("src") == "https://caliber.az/media/a.webp" and set(img.attrib) == {"src", "alt"}
    assert {el.tag for el in tree.iter()} <= {"div", "p", "a", "img", "table", "tbody", "tr", "td", "h4"}
    assert "цвет" in tree.text_content()  # unwrapped, not lost
    assert [h.text for h in tree.iter("h4")] == ["малый"]  # a heading still, the deepest kept (cleanup.HEADING_LEVELS)


@pytest.mark.parametrize(
    ("text", "furniture"),
    [
        ("Подписывайтесь на наш Telegram-канал", True),
        ("Читайте также: Генассамблея ООН завершила общие дебаты", True),
        ("Həmçinin oxuyun: Azərbaycan Avropaya qaz ixracını artırır", True),
        ("Read also: Demining teams at work", True),
        ("Просмотров: 179", True),
        ("Baxışların sayı: 1 204", True),
        ("Share this article", True),
        ("Caliber.Аz", True),  # the signature, typed with a Cyrillic А
        ("Caliber.Az reprints the article.", False),  # a sentence of the article, not the signature
        ("Любое использование материалов допускается только при наличии гиперссылки на Caliber.az", True),
        # the same notices worded otherwise: both stayed in re-published bodies
        ("При использовании материалов гиперссылка на Caliber.az обязательна.", True),
        ("Use of materials is allowed only with a hyperlink to Caliber.az.", True),
        ("Any use of the materials requires a hyperlink to Caliber.az.", True),
        (
            "Использование материалов ООН в докладе было широким, сказал он, и ссылки на них есть в приложении. " * 3,
            False,
        ),
        ("The use of materials such as steel was discussed; a hyperlink to the report is below. " * 3, False),
        ("Bütün hüquqlar qorunur.", True),
        ("Caliber.az © 2026. .", True),  # the English edition's notice: the name, the sign, the year, no words
        ("Caliber.Az © 2024-2026", True),
        ("Фото: Report © 2026", False),  # another outlet's credit for a photo
        ("Министр напомнил, что все права защищены законом, и призвал граждан обращаться в суд. " * 3, False),
        ("Президент подписал указ о поддержке подписчиков местных газет.", False),
        # Azerbaijani and Russian forms that stayed in re-published bodies
        ("Bizi Telegram kanalımızda izləyin", True),
        ("Xəbərləri Instagram səhifəmizdə izləyin!", True),
        ("Oxu: Azərbaycan Avropaya qaz ixracını artırır", True),
        ("Читайте: Генассамблея ООН завершила общие дебаты", True),
        ("Реклама", True),
        ("Reklam", True),
        ("Oxucular bu layihəni bəyəniblər.", False),
        ("Nazir oxu: bu sözləri dedi.", False),
        ("Реклама алкоголя будет запрещена с 2027 года.", False),
        ("Reklam bazarı ötən il 12% böyüyüb.", False),
        ("Azarkeşlər komandanı izləyin deyə çağırıb.", False),
    ],
)
def test_boilerplate_paragraphs(text: str, furniture: bool) -> None:
    assert is_boilerplate(text, frozenset({"caliber.az"})) is furniture
