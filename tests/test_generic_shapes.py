"""The generic extractor on article pages in shapes common among Azerbaijani and Russian news sites, as saved pages
(tests/fixtures/generic_shapes/<case>/: page.html, meta.json, expected.json, our own words; the sites are not
registered, so ``extract_page`` reads them as a site named after its host would be read).

Each case re-extracts to its expected.json, as tests/test_saved_pages.py does for the site spiders' pages; the
tests after it name what the shapes lost before: a readers' comment section whose markup names nothing was kept as
the article's last paragraphs; trafilatura dropped every ``<time>`` element, a live blog's times of its updates and a
date inside a sentence with them; a caption outside ``<figcaption>`` was lost or became a paragraph of the body (in
a caption-classed element beside its picture, in one holding the picture too, WordPress's linked to its attachment
page or in a gallery, Blogger's caption table); and a category printed unlabelled in DLE's info line, in WordPress's
entry footer or under a plural label ("Рубрики:") was not read.

After a deliberate change to extraction or cleanup: ``python -m tests.test_generic_shapes [case ...]`` rewrites the
expected.json files; read the diff of each.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator.extract import extract_page

CASES = Path(__file__).resolve().parent / "fixtures" / "generic_shapes"
NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def extract(name: str, markup: str | None = None) -> dict[str, Any]:
    folder = CASES / name
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    body = markup.encode() if markup is not None else (folder / "page.html").read_bytes()
    record = extract_page(
        body, meta["url"], headers=meta.get("headers"), fetched_at=datetime.fromisoformat(meta["fetched_at"])
    )
    return json.loads(json.dumps(record))  # the JSON round trip expected.json went through


def page(name: str) -> str:
    return (CASES / name / "page.html").read_text(encoding="utf-8")


def paragraphs(record: dict[str, Any]) -> list[str]:
    return record["body_text"].split("\n\n")


@pytest.mark.parametrize("name", NAMES)
def test_page_extracts_to_expected(name: str) -> None:
    expected = json.loads((CASES / name / "expected.json").read_text(encoding="utf-8"))
    assert extract(name) == expected, f"{name} no longer extracts to its expected.json"


@pytest.mark.parametrize("name", NAMES)
def test_every_case_is_an_accepted_article_with_its_title_date_and_body(name: str) -> None:
    record = extract(name)
    assert record["rejected"] is None and record["not_an_article"] is None
    assert record["title"] and record["published_at"] and record["cover_image_url"]
    assert len(paragraphs(record)) >= 3


# -- readers' comments whose markup names nothing ------------------------------------------------------------

ABSHERON = [
    (
        "На Апшероне несколько фермерских хозяйств заложили плантации шафрана, который раньше здесь выращивали "
        "только на приусадебных участках."
    ),
    "Первый урожай с новых плантаций собрали осенью, и он оказался выше, чем ожидали сами фермеры.",
    "Агрономы считают, что сухой климат полуострова хорошо подходит для этой культуры и площади можно увеличить втрое.",
]


def test_a_comment_section_known_by_its_heading_is_not_the_body() -> None:
    """<section class="feedback"> opened by "Комментарии (5)": each comment, with its name and time, was a paragraph
    of the article."""
    record = extract("main-with-comment-section")
    assert paragraphs(record) == ABSHERON
    assert "Комментарии" not in record["body_html"] and "Мардакянах" not in record["body_html"]
    assert record["published_at"] == "2027-01-10T05:15:00+00:00"  # the article's line, not a comment's time


def test_a_comment_heading_over_the_comments_that_follow_it() -> None:
    """The heading in <main> itself, the comments a list after it: the list goes, the heading with it."""
    markup = page("main-with-comment-section").replace('<section class="feedback">', "").replace("</section>", "")
    markup = markup.replace("<h2>Комментарии (5)</h2>", '<h2>Комментарии (5)</h2><div class="list">', 1)
    markup = markup.replace("<form", "</div><form", 1)
    record = extract("main-with-comment-section", markup)
    assert paragraphs(record) == ABSHERON


def test_a_part_of_the_article_headed_comments_stays() -> None:
    """Experts' comments in the article's text under a heading "Комментарии": no form, no times: the article's."""
    expert = "Эксперт по сельскому хозяйству считает, что урожайность шафрана на Апшероне можно удвоить."
    markup = page("main-with-comment-section").replace(
        "<p>Агрономы считают", f"<h3>Комментарии</h3><p>{expert}</p><p>Агрономы считают"
    )
    assert expert in paragraphs(extract("main-with-comment-section", markup))


# -- <time> inside the text ---------------------------------------------------------------------------------


def test_a_live_blog_keeps_the_time_of_each_update() -> None:
    record = extract("live-blog-timed-updates")
    assert paragraphs(record)[1:] == [
        "15:10",
        "Метрополитен продлит работу сегодня до двух часов ночи из-за большого числа пассажиров.",
        "13:45",
        "На трассе Баку — Губа вновь открыто движение, дорожные службы расчистили перевал.",
        "11:20",
        "Министерство образования объявило, что завтра занятия в школах столицы пройдут дистанционно.",
        "09:05",
        "Аэропорт задержал шесть рейсов, взлетную полосу очищают от снега и наледи.",
    ]
    # the page's own date line, a <time> of its own, is still no line of the body
    assert "08:30" not in record["body_text"]
    assert record["published_at"] == "2027-01-12T04:30:00+00:00"


def test_a_date_inside_a_sentence_keeps_its_words() -> None:
    sentence = (
        'Следующий сбор урожая фермеры ожидают <time datetime="2027-10-15">15 октября</time>, если осень будет сухой.'
    )
    markup = page("main-with-comment-section").replace("<p>Агрономы считают", f"<p>{sentence}</p><p>Агрономы считают")
    record = extract("main-with-comment-section", markup)
    assert "Следующий сбор урожая фермеры ожидают 15 октября, если осень будет сухой." in paragraphs(record)
    # a date the article tells of is not the date it was published (it dated the page 14 October before)
    assert record["published_raw"] == "10.01.2027 09:15 · Агро"
    assert record["published_at"] == "2027-01-10T05:15:00+00:00"


# -- captions outside <figcaption> ---------------------------------------------------------------------------


def figcaptions(record: dict[str, Any]) -> list[str]:
    return re.findall(r"<figcaption>(.*?)</figcaption>", record["body_html"])


def test_a_credit_in_a_caption_div_stays_with_its_picture() -> None:
    """<div class="photo"><img><div class="photo-caption">Foto: ...</div>: trafilatura dropped the credit."""
    assert "Foto: Qəbələ Xəbər" in figcaptions(extract("gallery-captions"))
    assert "Фото: пресс-служба исполнительной власти" in figcaptions(extract("dle-category-label"))


def test_wordpress_captions_and_a_span_under_a_picture_are_figcaptions() -> None:
    record = extract("wordpress-wp-caption-breadcrumb")
    assert figcaptions(record) == ["Главный зал музея. Фото: Шеки Дейли", "Кялагаи местных мастериц"]
    # the widget area's teasers, a picture and a caption-classed title each, are no part of the article
    assert "ярмарка" not in record["body_text"] and "халва" not in record["body_text"]


def test_a_caption_after_a_line_break_under_its_picture() -> None:
    assert figcaptions(extract("json-ld-breadcrumb-span-caption")) == ["Foto: Cənub Xəbər"]


def test_a_teaser_with_a_caption_class_inside_the_article_is_not_a_figure() -> None:
    """A caption-classed title under a picture linking to another article, or a title that is such a link, is a
    teaser, even inside the article's block."""
    teasers = (
        '<div class="more"><a href="/2027/01/10/yarmarka/"><img src="/wp-content/uploads/2027/01/yarmarka.jpg"></a>'
        '<span class="caption">В Шеки прошла зимняя ярмарка ремесел</span></div>'
        '<div class="more"><img src="/wp-content/uploads/2027/01/halva.jpg"><span class="caption">'
        '<a href="/2027/01/09/halva/">Шекинская халва получила знак качества</a></span></div>'
    )
    markup = page("wordpress-wp-caption-breadcrumb").replace("  </div>\n</article>", f"{teasers}</div></article>", 1)
    record = extract("wordpress-wp-caption-breadcrumb", markup)
    assert figcaptions(record) == ["Главный зал музея. Фото: Шеки Дейли", "Кялагаи местных мастериц"]


def figures(record: dict[str, Any]) -> list[tuple[str, str]]:
    """Each ``<figure>`` of the body as (its picture's address, its caption's words)."""
    root = LexborHTMLParser(record["body_html"]).body
    assert root is not None
    found = []
    for figure in root.css("figure"):
        img, caption = figure.css_first("img"), figure.css_first("figcaption")
        words = " ".join(caption.text(deep=True, separator=" ").split()) if caption is not None else ""
        found.append(((img.attrs.get("src") or "") if img is not None else "", words))
    return found


def paragraph_texts(record: dict[str, Any]) -> list[str]:
    """The words of each ``<p>`` of the body's HTML (a caption left a paragraph shows here)."""
    root = LexborHTMLParser(record["body_html"]).body
    assert root is not None
    return [" ".join(p.text(deep=True, separator=" ").split()) for p in root.css("p")]


SHAMAKHI = "https://shamakhi-info.example/storage/news/2027/01/"
SHAMAKHI_FIGURES = [
    (f"{SHAMAKHI}uzum.jpg", "Виноградник в селе Мейсари. Фото: Шамахы Инфо"),
    (f"{SHAMAKHI}zavod.jpg", "Винзавод в Мейсари принимает первые партии винограда"),
    (f"{SHAMAKHI}bochki.jpg", "Дубовые бочки, в которых вино выдерживают три года. Фото: пресс-служба завода"),
]


def test_a_caption_wrapper_holding_the_picture_and_its_words() -> None:
    """<div class="img-caption"><a><img></a>words</div> and <div class="image-caption"><img><p>..</p><p>..</p>: the
    words were a paragraph of the body (the picture inside it); and a caption starting with an icon (<i class="fa
    fa-camera">) was lost whole."""
    record = extract("custom-cms-caption-wrappers")
    assert figures(record) == SHAMAKHI_FIGURES
    captions = [caption for _, caption in SHAMAKHI_FIGURES]
    assert not any(caption in text for text in paragraph_texts(record) for caption in captions)
    for address, _ in SHAMAKHI_FIGURES:
        assert record["body_html"].count(address) == 1  # each picture once, in its figure
    assert "Лянкяране" not in record["body_html"]  # the sidebar's teaser in the same wrapper


def test_an_icon_before_the_words_of_a_figcaption() -> None:
    """The page's own <figcaption> with a camera icon before the credit: trafilatura dropped it with the icon."""
    markup = page("custom-cms-caption-wrappers").replace(
        '<div class="image-box"><img src="/storage/news/2027/01/uzum.jpg" alt="Виноградник"><span class="caption">',
        '<figure><img src="/storage/news/2027/01/uzum.jpg" alt="Виноградник"><figcaption>',
    )
    markup = markup.replace("Шамахы Инфо</span></div>", "Шамахы Инфо</figcaption></figure>", 1)
    assert '<figcaption><i class="fa fa-camera"></i>' in markup
    assert figures(extract("custom-cms-caption-wrappers", markup))[0] == SHAMAKHI_FIGURES[0]


def test_a_teaser_in_a_caption_wrapper_inside_the_article_is_not_a_figure() -> None:
    """The wrapper's picture links to another article: a teaser, whatever its class says."""
    teaser = (
        '<div class="img-caption"><a href="/news/chay-2027"><img src="/storage/news/2027/01/chay.jpg" alt=""></a>'
        "В Лянкяране открыли новую чайную фабрику</div>"
    )
    markup = page("custom-cms-caption-wrappers").replace(
        '  </div>\n</div>\n<div class="sidebar', f'{teaser}</div></div><div class="sidebar', 1
    )
    assert teaser in markup
    assert figures(extract("custom-cms-caption-wrappers", markup)) == SHAMAKHI_FIGURES


CENUB = "https://cenub-xeberleri.example/wp-content/uploads/2027/01/"


def test_wordpress_captions_of_pictures_linked_to_their_attachment_page_or_file() -> None:
    """div#attachment_N.wp-caption whose picture links to its attachment page (rel="attachment wp-att-N"): taken
    for a teaser, its caption was a paragraph. One linked to the full-size file, printed twice by a lazy-loading
    plugin (the second in <noscript>), and a [gallery]'s dl.gallery-item (dt.gallery-icon, dd.wp-caption-text): the
    caption was a paragraph, and the gallery's pictures were lost."""
    record = extract("wordpress-attachment-captions")
    assert figures(record) == [
        (f"{CENUB}cay-fabriki-sex-1024x683.jpg", "Fabrikin emal sexi. Foto: Cənub Xəbərləri"),
        (f"{CENUB}cay-plantasiyasi-1024x683.jpg", "Haftoni kəndi yaxınlığındakı çay plantasiyası"),
        (f"{CENUB}qablasdirma-150x150.jpg", "Çayın qablaşdırılması"),
        (f"{CENUB}anbar-150x150.jpg", "Hazır məhsulun anbarı"),
    ]
    assert paragraph_texts(record) == [
        (
            "Lənkəran rayonunun Haftoni kəndində gündə otuz ton yaşıl çay yarpağı emal edə bilən yeni fabrik "
            "istifadəyə verilib."
        ),
        "Fabrikdə yüz iyirmi nəfər daimi işlə təmin olunub, onların əksəriyyəti ətraf kəndlərin sakinləridir.",
        "Müəssisənin məhsulları həm daxili bazara, həm də Rusiya və Qazaxıstana ixrac ediləcək.",
        "Rayon icra hakimiyyəti gələn il bölgədə daha iki çay emalı müəssisəsinin açılacağını bildirib.",
    ]  # no caption left a paragraph of its own
    assert record["body_html"].count("cay-plantasiyasi-1024x683.jpg") == 1
    # neither link around a picture (to its attachment page, to its file) is left, as a link or a line of its own
    assert "<a " not in record["body_html"]
    assert "cay-fabriki-sex/" not in record["body_html"] and "cay-plantasiyasi.jpg" not in record["body_html"]


BLOGGER = "https://blogger.googleusercontent.com/img/b/R29vZ2xl/"
BLOGGER_FIGURES = [
    (f"{BLOGGER}AVvXsEgBanya1/w640-h480/banya-fasad.jpg", "Фасад бани после реставрации"),
    (f"{BLOGGER}AVvXsEgBanya3/w640-h480/banya-zal.jpg", "Главный зал. Фото автора"),
]


def test_a_blogger_caption_table_is_a_figure() -> None:
    """Blogger's editor captions a picture in a table (table.tr-caption-container: the picture in one row,
    td.tr-caption in the next): the body held the table, picture and caption in cells."""
    record = extract("blogger-caption-table")
    assert figures(record) == BLOGGER_FIGURES
    assert "<table" not in record["body_html"] and "<td" not in record["body_html"]
    assert "<figcaption>Главный зал. <i>Фото автора</i></figcaption>" in record["body_html"]  # its italics kept
    assert not any(caption in text for text in paragraph_texts(record) for _, caption in BLOGGER_FIGURES)
    # the picture without a caption (div.separator) stays a picture of the body
    assert f'<img src="{BLOGGER}AVvXsEgBanya2/w640-h480/banya-kupol.jpg">' in record["body_html"]


def test_a_caption_table_with_the_caption_above_the_picture() -> None:
    original = page("blogger-caption-table")
    caption_row = '<tr><td class="tr-caption" style="text-align: center;">Фасад бани после реставрации</td></tr>'
    assert caption_row in original
    markup = original.replace(caption_row, "").replace("<tbody><tr>", f"<tbody>{caption_row}<tr>", 1)
    record = extract("blogger-caption-table", markup)
    assert figures(record) == BLOGGER_FIGURES
    assert (
        f'<figure><figcaption>Фасад бани после реставрации</figcaption><img src="{BLOGGER_FIGURES[0][0]}">'
        in (record["body_html"])
    )


@pytest.mark.parametrize(
    "table",
    [
        pytest.param(
            '<table class="tr-caption-container"><tbody><tr><td><a href="https://guba-zametki.blogspot.com/2026/12/'
            'blog-post_20.html"><img src="https://blogger.googleusercontent.com/img/b/R29vZ2xl/AVvXsEgBazar/s1600/'
            'bazar.jpg" width="640" height="480"></a></td></tr><tr><td class="tr-caption">Зимний базар в Губе</td>'
            "</tr></tbody></table>",
            id="picture-linking-to-another-post",
        ),
        pytest.param(
            '<table class="tr-caption-container"><tbody><tr><td><img src="https://blogger.googleusercontent.com/img/'
            'b/R29vZ2xl/AVvXsEgBazar/s1600/bazar.jpg"></td><td>Зимний базар</td></tr><tr><td class="tr-caption">'
            "Яблоки и хурма</td><td>Декабрь 2026</td></tr></tbody></table>",
            id="words-besides-the-caption",
        ),
        pytest.param(
            '<table class="tr-caption-container"><tbody><tr><td><img src="https://blogger.googleusercontent.com/img/'
            'b/R29vZ2xl/AVvXsEgBazar/s1600/bazar.jpg"></td><td><img src="https://blogger.googleusercontent.com/img/'
            'b/R29vZ2xl/AVvXsEgBazar/s1600/hurma.jpg"></td></tr><tr><td class="tr-caption">Яблоки и хурма</td>'
            "</tr></tbody></table>",
            id="two-pictures",
        ),
    ],
)
def test_a_table_that_is_no_captioned_picture_is_no_figure(table: str) -> None:
    """A teaser of another post in the caption table, a table of words with a picture in a cell, a table of two
    pictures: none is one picture with its caption."""
    markup = page("blogger-caption-table").replace("<p>Музей обещают", f"{table}<p>Музей обещают", 1)
    assert table in markup
    record = extract("blogger-caption-table", markup)
    assert figures(record) == BLOGGER_FIGURES
    assert "bazar.jpg" not in "".join(re.findall(r"<figure>.*?</figure>", record["body_html"]))


# -- the category where a CMS prints it ---------------------------------------------------------------------


def test_the_category_of_a_labelled_info_line() -> None:
    """DLE's "Категория: <a href=/ekonomika/>Экономика</a>": not the menu's first section."""
    assert extract("dle-category-label")["category"] == "Экономика"


def test_the_category_of_a_date_line_link_to_the_articles_own_folder() -> None:
    assert extract("dle-today-fstory")["category"] == "Общество"  # /obshestvo/ on /obshestvo/2291-....html


def test_the_category_of_the_articles_object_in_next_data() -> None:
    """category.name of the object titled as the page, not of a related item."""
    assert extract("next-body-in-markup-and-data")["category"] == "Mədəniyyət"


def test_the_category_of_a_breadcrumb() -> None:
    assert extract("wordpress-wp-caption-breadcrumb")["category"] == "Культура"  # <nav aria-label=breadcrumb>
    assert extract("json-ld-breadcrumb-span-caption")["category"] == "İqtisadiyyat"  # BreadcrumbList by position


def test_no_category_from_a_breadcrumb_of_home_and_news() -> None:
    """ "Главная / Новости" names no section; nor does a breadcrumb whose last step is the home page."""
    assert extract("bitrix-news-detail")["category"] is None
    markup = page("wordpress-wp-caption-breadcrumb").replace('<li><a href="/category/kultura/">Культура</a></li>', "")
    assert extract("wordpress-wp-caption-breadcrumb", markup)["category"] is None


def test_no_category_from_a_label_outside_the_article() -> None:
    """A sidebar's "Рубрика: <a>" beside another article's teaser is not this article's."""
    markup = page("dle-category-label").replace('| Категория: <a href="/ekonomika/">Экономика</a> ', "")
    markup = markup.replace(
        '<div class="footer">', '<aside class="side">Рубрика: <a href="/sport/">Спорт</a></aside><div class="footer">'
    )
    assert extract("dle-category-label", markup)["category"] is None


SEKI_CATEGORY = (
    '<span class="fcat"><i class="fa fa-folder-o"></i> '
    '<a href="https://seki-xeber.example/iqtisadiyyat/">İqtisadiyyat</a></span>'
)


def test_the_category_of_an_unlabelled_link_in_a_dle_info_line() -> None:
    """DLE's div.finfo: the date (a link to the day's archive), the author's link, then the category's, unlabelled;
    the article's address (/5127-....html) is in no category's folder."""
    assert SEKI_CATEGORY in page("dle-finfo-unlabelled-category")
    assert extract("dle-finfo-unlabelled-category")["category"] == "İqtisadiyyat"


def test_the_category_of_an_info_line_link_to_the_sites_www_host() -> None:
    markup = page("dle-finfo-unlabelled-category").replace(
        "https://seki-xeber.example/iqtisadiyyat/", "https://www.seki-xeber.example/iqtisadiyyat/"
    )
    assert extract("dle-finfo-unlabelled-category", markup)["category"] == "İqtisadiyyat"


def test_the_category_of_an_info_line_around_a_time_element() -> None:
    """The date a <time> inside the date's span: the line is what holds the span."""
    markup = page("dle-finfo-unlabelled-category").replace(
        '<a href="https://seki-xeber.example/2027/01/13/">13-01-2027, 16:40</a>',
        '<time datetime="2027-01-13T16:40">13-01-2027, 16:40</time>',
    )
    assert "<time" in markup
    assert extract("dle-finfo-unlabelled-category", markup)["category"] == "İqtisadiyyat"


def test_the_category_of_a_wordpress_meta_line() -> None:
    """WordPress's cat-links (rel="category tag") in the entry's meta line, beside the date."""
    original = page("wordpress-attachment-captions")
    cat_links = re.search(r'<span class="cat-links">.*?</a></span>', original)
    assert cat_links is not None
    markup = original.replace(cat_links.group(0), "").replace(
        "</time></a></span>", f"</time></a></span> {cat_links.group(0)}"
    )
    assert extract("wordpress-attachment-captions", markup)["category"] == "İqtisadiyyat"


@pytest.mark.parametrize(
    "instead",
    [
        pytest.param("", id="none"),
        pytest.param(
            '<span>Müəllif: <a href="https://seki-xeber.example/redaktor/">Redaktor</a></span>', id="author-label"
        ),
        pytest.param(
            '<span class="byline"><a href="https://seki-xeber.example/redaktor/">Redaktor</a></span>', id="byline"
        ),
        pytest.param('<a href="https://seki-xeber.example/author/redaktor/">Redaktor</a>', id="author-path"),
        pytest.param('<a href="https://seki-xeber.example/redaktor/" rel="author">Redaktor</a>', id="rel-author"),
        pytest.param('Teqlər: <a href="https://seki-xeber.example/bazar/">bazar</a>', id="tags-label"),
        pytest.param(
            '<span class="ftags"><a href="https://seki-xeber.example/bazar/">bazar</a></span>', id="tags-class"
        ),
        pytest.param('<a href="https://seki-xeber.example/tags/bazar/">bazar</a>', id="tags-path"),
        pytest.param('<a href="https://seki-xeber.example/bazar/" rel="tag">bazar</a>', id="rel-tag"),
        pytest.param('<a href="https://seki-xeber.example/2027/01/">Yanvar</a>', id="month-archive"),
        pytest.param('<a href="https://seki-xeber.example/print:5127-sekide-kohne-bazar.html">Çap et</a>', id="print"),
        pytest.param('<a href="https://seki-xeber.example/index.php?do=search&amp;q=bazar">bazar</a>', id="query"),
    ],
)
def test_no_category_from_an_info_line_link_to_no_section(instead: str) -> None:
    """Without the category's link, the info line's others (the day's archive, the author's /user/ page) and the
    sidebar's section link name none; nor does an author's or a tag's link, or a page that is no folder."""
    markup = page("dle-finfo-unlabelled-category").replace(SEKI_CATEGORY, instead)
    assert extract("dle-finfo-unlabelled-category", markup)["category"] is None


def test_the_first_category_of_a_wordpress_entry_footer() -> None:
    """WordPress's cat-links (rel="category tag") in the entry footer after the text, behind a screen-reader label,
    apart from the date line: no category was read. Of the post's two, the first; not a tag (rel="tag"), not the
    sidebar's Categories widget."""
    assert extract("wordpress-entry-footer-category")["category"] == "Region"
    assert extract("wordpress-attachment-captions")["category"] == "İqtisadiyyat"


def test_the_category_of_the_entry_holding_the_text_when_the_headline_is_outside_it() -> None:
    """A theme printing the headline in a page header above the <article>: the entry is the one holding the text."""
    original = page("wordpress-entry-footer-category")
    headline = '<h1 class="entry-title">Qax rayonunda yeni məktəb binası tikiləcək</h1>'
    markup = original.replace(headline, "").replace(
        '<main id="main" class="site-main" role="main">',
        f'<main id="main" class="site-main" role="main"><header class="page-header">{headline}</header>',
    )
    assert markup.count(headline) == 1 and markup.index(headline) < markup.index("<article")
    assert extract("wordpress-entry-footer-category", markup)["category"] == "Region"


WP_CAT_LINKS = (
    '<a href="https://simal-xeber.example/category/region/" rel="category tag">Region</a>, '
    '<a href="https://simal-xeber.example/category/tehsil/" rel="category tag">Təhsil</a>'
)


def test_wordpress_s_default_category_is_none() -> None:
    """ "Uncategorized" (a post given no category) names no section; a real category after it does."""
    default = '<a href="https://simal-xeber.example/category/uncategorized/" rel="category tag">Uncategorized</a>'
    markup = page("wordpress-entry-footer-category").replace(WP_CAT_LINKS, default)
    assert default in markup
    assert extract("wordpress-entry-footer-category", markup)["category"] is None
    markup = page("wordpress-entry-footer-category").replace(
        WP_CAT_LINKS, '<a href="/category/bez-rubriki/" rel="category tag">Без рубрики</a>, ' + WP_CAT_LINKS
    )
    assert extract("wordpress-entry-footer-category", markup)["category"] == "Region"


ENTRY_FOOTER = '  </div>\n  <footer class="entry-footer">'
"""The end of the post's text and the start of its footer, in the WordPress fixture."""
RELATED_POST = (
    '<div class="more-from-region"><article class="post-2701 post type-post status-publish hentry">'
    '<h2 class="entry-title"><a href="https://simal-xeber.example/zaqatalada-findiq-mehsulu/">Zaqatalada fındıq '
    'məhsulu artıb</a></h2><span class="cat-links"><a href="https://simal-xeber.example/category/iqtisadiyyat/" '
    'rel="category tag">İqtisadiyyat</a></span></article></div>'
)


@pytest.mark.parametrize(
    ("where", "what"),
    [
        pytest.param('<aside id="secondary" class="widget-area"', "sidebar", id="sidebar"),
        pytest.param(ENTRY_FOOTER, "related", id="related-post-in-the-entry"),
        pytest.param(ENTRY_FOOTER, "aside", id="aside-in-the-entry"),
    ],
)
def test_no_category_from_category_links_not_of_the_post(where: str, what: str) -> None:
    """Without the post's own cat-links: a theme's sidebar widget listing posts with their categories, a related
    post's card inside the entry (an entry of its own) and a box aside in the entry name no category of the post's;
    nor do the tags that are left (rel="tag")."""
    others = {
        "sidebar": (
            '<aside class="widget-area"><section class="widget widget_latest"><ul><li><a href="https://simal-xeber'
            '.example/zaqatalada-findiq-mehsulu/">Zaqatalada fındıq məhsulu artıb</a> <span class="cat-links"><a '
            'href="https://simal-xeber.example/category/iqtisadiyyat/" rel="category tag">İqtisadiyyat</a></span>'
            "</li></ul></section></aside>"
        ),
        "related": RELATED_POST,
        "aside": (
            '<aside class="entry-box">Bu mövzuda: <a href="https://simal-xeber.example/category/iqtisadiyyat/" '
            'rel="category tag">İqtisadiyyat</a></aside>'
        ),
    }
    original = page("wordpress-entry-footer-category")
    assert where in original
    markup = original.replace(WP_CAT_LINKS, "").replace(where, others[what] + where, 1)
    assert others[what] in markup and 'rel="tag"' in markup
    assert extract("wordpress-entry-footer-category", markup)["category"] is None


def test_the_posts_own_category_before_a_related_posts() -> None:
    """A related post's card before the post's own footer: its category is not the one taken."""
    markup = page("wordpress-entry-footer-category").replace(ENTRY_FOOTER, RELATED_POST + ENTRY_FOOTER, 1)
    assert RELATED_POST in markup
    assert extract("wordpress-entry-footer-category", markup)["category"] == "Region"


PLURAL_LABEL = (
    'Рубрики: <a href="https://lenkoran-vesti.example/kultura/">Культура</a>, '
    '<a href="https://lenkoran-vesti.example/obshestvo/">Общество</a>'
)


@pytest.mark.parametrize(
    "label", ["Рубрики:", "Разделы:", "Категории:", "Kateqoriyalar:", "Bölmələr:", "Rubrikalar:", "Categories:"]
)
def test_the_first_category_after_a_plural_label(label: str) -> None:
    """A story in several categories, listed under a plural label after the text: none was read."""
    markup = page("dle-plural-category-label").replace("Рубрики:", label)
    assert PLURAL_LABEL.replace("Рубрики:", label) in markup
    assert extract("dle-plural-category-label", markup)["category"] == "Культура"


def test_the_first_category_after_a_plural_label_in_the_date_line() -> None:
    """In DLE's info line, the first link (refused as labelled with something else) was passed over for the
    second."""
    original = page("dle-plural-category-label").replace(
        f'<div class="story-cats"><i class="icon-folder"></i> {PLURAL_LABEL}</div>', ""
    )
    assert PLURAL_LABEL not in original
    markup = original.replace('<span class="story-views">', f'| {PLURAL_LABEL} | <span class="story-views">', 1)
    assert PLURAL_LABEL in markup
    assert extract("dle-plural-category-label", markup)["category"] == "Культура"


def test_no_category_from_the_sections_a_footer_lists_under_a_plural_label() -> None:
    """Without the story's own line: the footer's "Разделы:" lists the site's sections, the tags' "Теги:" are
    tags."""
    markup = page("dle-plural-category-label").replace(PLURAL_LABEL, "")
    assert "Разделы: <a" in markup and "Теги: <a" in markup
    assert extract("dle-plural-category-label", markup)["category"] is None


def regenerate(names: list[str]) -> None:
    for name in names or NAMES:
        text = json.dumps(extract(name), sort_keys=True, ensure_ascii=False, indent=2) + "\n"
        file = CASES / name / "expected.json"
        before = file.read_text(encoding="utf-8") if file.exists() else None
        if before != text:
            file.write_text(text, encoding="utf-8")
        print(f"{'unchanged' if before == text else 'written' if before is None else 'CHANGED':9}  {name}")


if __name__ == "__main__":
    regenerate(sys.argv[1:])
