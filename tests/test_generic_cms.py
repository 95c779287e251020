"""The generic extractor on pages in the shapes common CMSs print (tests/fixtures/generic_cms/, our own words):
1C-Bitrix, WordPress without an SEO plugin, an old DataLife Engine template, Next.js, a custom Azerbaijani CMS.

Each shape once misled it: the body was a Bitrix page's teasers and readers' comments, the date a header's clock or a
sidebar's, the title the logo, the language the template's, the title cut short by an SEO plugin.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse

from aggregator.extract import extract_page
from aggregator.sources import Source, registered
from spiders.generic import GenericArticle

PAGES = Path(__file__).resolve().parent / "fixtures" / "generic_cms"
FETCHED = datetime(2027, 1, 12, 8, 0, tzinfo=UTC)  # noon in Baku


def source(key: str, host: str, languages: tuple[str, ...] = ("ru",), **extra: Any) -> Source:
    return Source(
        key=key, name=host[:1].upper() + host[1:], domains=(host,), languages=languages, timezone="Asia/Baku",
        homepage=f"https://{host}", entry_urls=(), **extra,
    )  # fmt: skip


BITRIX = source("gorvestnik", "gorod-vestnik.example")
WORDPRESS = source("morskoy", "morskoy-listok.example")
DLE = source("sheki", "sheki-news.example")
NEXT = source("cayxeber", "cay-xeber.example", ("az", "ru"), other_names=("ÇayXəbər",))
URLS = {
    "bitrix-detail": "https://gorod-vestnik.example/news/city/7010/",
    "wordpress-no-seo": "https://morskoy-listok.example/2027/01/11/opresnitel/",
    "dle-old-template": "https://sheki-news.example/812-melnica.html",
    "next-lead-only": "https://cay-xeber.example/az/news/cay-fabriki-812",
    "next-data-only": "https://cay-xeber.example/az/news/cay-fabriki-812",
    "az-template-russian": "https://cay-xeber.example/ru/news/813",
    "ld-headline-cut": "https://maktab-xeber.example/news/77",
}


@pytest.fixture(autouse=True)
def sources() -> Iterator[None]:
    with registered(BITRIX, WORDPRESS, DLE, NEXT):
        yield


def page(name: str) -> str:
    return (PAGES / f"{name}.html").read_text(encoding="utf-8")


def extract(name: str, markup: str | None = None) -> dict[str, Any]:
    record = extract_page((markup or page(name)).encode(), URLS[name], fetched_at=FETCHED)
    assert record["rejected"] is None, record["rejected"]
    return record


def read(name: str, site: Source, markup: str | None = None) -> GenericArticle:
    """The extractor alone on a page, for a registry entry other than the test's default one for its site."""
    response = HtmlResponse(url=URLS[name], body=(markup or page(name)).encode(), encoding="utf-8")
    return GenericArticle(response, FETCHED, source=site)


def paragraphs(record: dict[str, Any]) -> list[str]:
    return record["body_text"].split("\n\n")


# -- the body: the article, not what a CMS prints around it ---------------------------------------------------

BITRIX_ARTICLE = [
    "В центральном парке Гянджи в субботу открыли первый в городе крытый зимний каток на триста посетителей.",
    "Лед на площадке будут заливать каждое утро, а по вечерам для посетителей включат музыку и подсветку.",
    "Прокат коньков стоит три маната в час, школьников по будням пускают бесплатно до обеда.",
]
NOT_THE_ARTICLE = ("читальный зал", "Кюрекчая", "очередь за коньками", "раздевалки", "Другие новости", "фонари")


def test_bitrix_text_typed_loose_with_line_breaks_is_the_body_not_the_teasers_and_comments() -> None:
    """The article is text and <br> in div.news-detail; the section's other news and the readers' comments are tidy
    paragraphs and cells: trafilatura took them, and not a line of the article."""
    record = extract("bitrix-detail")
    assert paragraphs(record) == BITRIX_ARTICLE  # its date line and the headline repeated as <h3> are no paragraphs
    assert not any(words in record["body_html"] for words in NOT_THE_ARTICLE)
    assert record["title"] == "В Гяндже открыли зимний каток"


def test_bitrix_paragraphs_come_without_the_teasers_and_comments_after_them() -> None:
    loose = "<br>\n<br>\n".join(BITRIX_ARTICLE)
    typed = page("bitrix-detail")
    for sentence in BITRIX_ARTICLE:
        typed = typed.replace(sentence, f"<p>{sentence}</p>")
    typed = typed.replace("<br>\n<br>\n", "")
    assert loose not in typed and "<p>В центральном" in typed
    record = extract("bitrix-detail", typed)
    assert paragraphs(record) == BITRIX_ARTICLE
    assert not any(words in record["body_text"] for words in NOT_THE_ARTICLE)


def test_wordpress_related_lists_and_comments_are_not_the_body() -> None:
    record = extract("wordpress-no-seo")
    assert paragraphs(record) == [
        "На северном побережье Апшерона начнут строить станцию, которая будет превращать морскую воду в питьевую.",
        "Первая очередь станции должна давать сто тысяч кубометров воды в сутки, этого хватит для нескольких поселков.",
        "Строительство планируют закончить через два года, подрядчика выберут на открытом конкурсе весной.",
    ]


def test_an_article_whose_html_is_its_lead_takes_its_json_ld_article_body() -> None:
    """A Next.js page renders the lead and placeholders; the article is in its JSON-LD (and its page data)."""
    record = extract("next-lead-only")
    assert paragraphs(record) == [
        "Lənkəranda çay fabriki yenidən işə düşüb, fabrik ildə iki min ton yaşıl və qara çay emal edəcək.",
        "Fabrikin avadanlığı tam yenilənib, yarpaqların qurudulması üçün yeni sobalar quraşdırılıb.",
        (
            "Rayonun çayçıları məhsulu artıq fabrikə birbaşa təhvil verə bilərlər, qiymət mövsümün əvvəlində elan "
            "olunacaq."
        ),
    ]


def test_a_page_rendered_in_the_browser_takes_the_article_from_its_next_data() -> None:
    """Nothing in the HTML, no articleBody: the text named like a body of the page data's object titled as the page
    (not the "most read" item's, not the author's biography), refused as having no body before."""
    record = extract("next-data-only")
    assert paragraphs(record) == paragraphs(extract("next-lead-only"))
    assert "<p>Lənkəranda çay fabriki" in record["body_html"]


def test_registry_boilerplate_is_dropped_before_the_main_text_is_found() -> None:
    """trafilatura's output has no classes left: the source's boilerplate selectors did nothing on a source without
    a body selector."""
    promo = "Материал подготовлен при поддержке агентства по развитию сельского хозяйства."
    assert promo in read("az-template-russian", NEXT).body()[1]
    furnished = source("cayxeber", "cay-xeber.example", ("az", "ru"), boilerplate=(".promo-line",))
    text = read("az-template-russian", furnished).body()[1]
    assert text is not None and promo not in text
    assert text.startswith("Садоводы Губинского района")


def test_comment_blocks_go_a_block_named_comment_without_a_comment_s_traces_stays() -> None:
    """An expert's comment typed inside the article in a block classed "comment" shows no time and no form: it is
    the article's. The readers' comments, with their times, are not."""
    expert = "Агроном Фикрет Алиев считает, что урожай удалось сохранить благодаря раннему поливу садов."
    markup = page("wordpress-no-seo").replace(
        "<p>Первая очередь", f'<div class="comment"><p>{expert}</p></div><p>Первая очередь'
    )
    pruned = read("wordpress-no-seo", WORDPRESS, markup).pruned
    text = pruned.body.text(deep=True, separator=" ") if pruned.body is not None else ""
    assert expert in text
    assert "Давно пора" not in text and "Интересно, сколько" not in text and "Самое читаемое" not in text


# -- the date: the article's own -----------------------------------------------------------------------------


def test_bitrix_date_is_the_article_s_not_the_popular_column_s() -> None:
    record = extract("bitrix-detail")
    assert record["published_raw"] == "10.01.2027 15:40"
    assert record["published_at"] == "2027-01-10T11:40:00+00:00"


def test_wordpress_date_is_the_entry_s_published_time_not_the_header_s_or_a_sidebar_s() -> None:
    record = extract("wordpress-no-seo")
    # not the header's clock (12 January), nor the entry's "updated" time listed first, nor a comment's
    assert record["published_raw"] == "11.01.2027, 09:30"
    assert record["published_meta"] == "2027-01-11T09:30:00+04:00"
    assert record["published_at"] == "2027-01-11T05:30:00+00:00"
    # A theme with its sidebar before the article: the "most read" list's <time> came first in the page.
    markup = page("wordpress-no-seo")
    sidebar = markup[markup.index('<aside id="secondary"') : markup.index("</aside>") + len("</aside>")]
    markup = markup.replace(
        '<span class="header-date"><time datetime="2027-01-12">Вторник, 12 января 2027</time></span>', ""
    )
    left = markup.replace(sidebar, "").replace('<main id="primary"', f'{sidebar}\n<main id="primary"')
    assert left.index("Самое читаемое") < left.index("entry-title")
    record = extract("wordpress-no-seo", left)
    assert (record["published_raw"], record["published_meta"]) == ("11.01.2027, 09:30", "2027-01-11T09:30:00+04:00")


def test_dle_date_is_the_story_s_not_a_related_item_s_nor_the_header_s() -> None:
    """The story's "Вчера, 10:15" is printed above its headline; after it come a related item's "Вчера, 19:40", and
    above everything the header's "Сегодня: 12 января 2027"."""
    record = extract("dle-old-template")
    assert record["published_raw"] == "Вчера, 10:15"
    assert record["published_at"] == "2027-01-11T06:15:00+00:00"


def test_the_printed_date_shown_is_the_one_the_article_is_dated_by() -> None:
    """The article prints when it was updated; the metadata says when it was published, and dates it: the page's
    date text shown beside the date must be the metadata's, not the update line."""
    record = extract("az-template-russian")
    assert record["published_meta"] == "2027-01-10T16:05:00+04:00"
    assert record["published_at"] == "2027-01-10T12:05:00+00:00"
    assert record["published_raw"] == "2027-01-10T16:05:00+04:00"


# -- the title -----------------------------------------------------------------------------------------------


def test_dle_logo_heading_is_not_the_title() -> None:
    assert extract("dle-old-template")["title"] == "Шекинские мастера восстановили старую мельницу"
    logo = '<h1 class="logo"><a href="/" title="Новости Шеки">Новости Шеки</a></h1>'
    # the site's name in the <title> after the headline, as a bare heading
    bare = page("dle-old-template").replace(logo, "<h1>Новости Шеки</h1>")
    assert extract("dle-old-template", bare)["title"] == "Шекинские мастера восстановили старую мельницу"
    # the registry's name of the site
    named = page("dle-old-template").replace(logo, "<h1>Sheki-news.example</h1>")
    assert extract("dle-old-template", named)["title"] == "Шекинские мастера восстановили старую мельницу"


def test_the_site_s_other_name_is_cut_from_the_title() -> None:
    assert extract("az-template-russian")["title"] == "В Губе собрали рекордный урожай яблок"


def test_a_json_ld_headline_cut_short_gives_way_to_the_whole_one() -> None:
    record = extract_page(page("ld-headline-cut").encode(), URLS["ld-headline-cut"], fetched_at=FETCHED)
    assert record["title"] == (
        "Правительство утвердило программу строительства новых школ в горных селах Губинского и Гусарского "
        "районов до конца следующего года"
    )


# -- the language and the cover ------------------------------------------------------------------------------


def test_the_text_s_script_wins_over_a_template_s_declared_language() -> None:
    assert extract("az-template-russian")["language"] == "ru"  # <html lang="az">, Russian text
    declared_ru = page("next-lead-only").replace('<html lang="az">', '<html lang="ru">')
    assert extract("next-lead-only", declared_ru)["language"] == "az"
    # only within the source's languages: an Azerbaijani-only source's page stays Azerbaijani
    assert read("az-template-russian", source("cayxeber", "cay-xeber.example", ("az",))).language() == "az"


def test_without_og_image_the_cover_is_the_article_s_first_picture() -> None:
    """Not the logo, the views icon, the counter's pixel, a data: placeholder or the author's avatar; the lazy
    picture's real address."""
    assert extract("az-template-russian")["cover_image_url"] == "https://cay-xeber.example/uploads/2027/01/yabloki.jpg"
    assert (
        extract("dle-old-template")["cover_image_url"] == "https://sheki-news.example/uploads/posts/2027-01/melnica.jpg"
    )
    assert extract("bitrix-detail")["cover_image_url"] == "https://gorod-vestnik.example/upload/iblock/a1c/katok.jpg"


def test_a_page_with_nothing_but_a_logo_has_no_cover() -> None:
    markup = (
        '<html lang="ru"><head><title>Новость</title></head><body><header><a href="/"><img src="/logo.png"></a>'
        "</header><article><h1>Новость</h1><p>"
        + "В городе прошел первый в этом году снегопад, дороги расчистили к утру. " * 3
        + "</p></article></body></html>"
    )
    response = HtmlResponse(url=URLS["bitrix-detail"], body=markup.encode(), encoding="utf-8")
    assert GenericArticle(response, FETCHED, source=BITRIX).cover_image_url() is None
