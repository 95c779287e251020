"""Validate and cleanup: what is refused and why; what the body looks like after cleaning."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from aggregator.items import ArticleItem
from aggregator.paths import mirror_dir
from aggregator.urls import canonical_url
from pipelines.base import Rejected
from pipelines.cleanup import (
    BOILERPLATE_PARAGRAPHS,
    BOILERPLATE_PATTERNS,
    CleanupPipeline,
    _folded,
    _lowered,
    clean_body,
    collapse,
    is_boilerplate,
    sanitize_html,
    text_of_safe_html,
)
from pipelines.validate import ValidatePipeline
from tests.fixtures.xss.build import load_vectors

BOILERPLATE = (".post_signature", ".post_hits", ".post_categoty", "[class*=banner]", "[class*=reklam]",
               "[class*=advert]")  # fmt: skip


def article(**fields) -> ArticleItem:
    base = {"source": "caliber", "url": "https://caliber.az/post/x", "title": "Заголовок",
            "body_html": "<p>Текст</p>", "body_text": "Текст"}  # fmt: skip
    return ArticleItem(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": "  "}, "no title"),
        ({"title": None}, "no title"),
        ({"body_html": None, "body_text": None}, "no body"),
        ({"body_html": "<p> </p>", "body_text": ""}, "no body"),
        ({"url": "https://evil.example/post/x"}, "URL outside source domains"),
        ({"canonical_url": "https://www.other.example/a"}, "URL outside source domains"),
        ({"url": "https://caliber.az/post/x?" + "utm=1&" * 400}, "URL longer than 2000 characters (2426)"),
        ({"canonical_url": "https://caliber.az/" + "x" * 2000}, "URL longer than 2000 characters"),
    ],
)
def test_validate_refuses_with_a_reason(fields: dict, reason: str) -> None:
    with pytest.raises(Rejected) as refused:
        ValidatePipeline().process_item(article(**fields))
    assert refused.value.reason.startswith(reason)
    assert refused.value.stage == "validate"


def test_validate_accepts_subdomains_and_passes_other_items_through() -> None:
    item = article(url="https://cdn.caliber.az/post/x")
    assert ValidatePipeline().process_item(item) is item
    other = {"not": "an article"}
    assert ValidatePipeline().process_item(other) is other


@pytest.mark.parametrize(
    "canonical",
    [
        "https://caliber\ufffdaz/post/x",  # a byte of the host lost in transit
        "http://localhost/post/x",  # a CMS left pointing at itself
        "https://cms-staging.internal/post/x",
        "http://10.0.0.12/post/x",
        "https://cms/post/x",
        "javascript:void(0)",
    ],
)
def test_a_canonical_link_that_names_no_public_site_is_ignored_not_refused(canonical: str) -> None:
    """Only a real site's address can be another outlet's article (refused above); a broken tag is not the page's
    fault: the article is archived under the address it was fetched from."""
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    stats = MemoryStatsCollector(get_crawler())
    item = ValidatePipeline(stats).process_item(article(canonical_url=canonical))
    assert item.canonical_url is None
    assert CleanupPipeline().process_item(item).canonical_url == "https://caliber.az/post/x"
    assert stats.get_value("aggregator/canonical_ignored") == 1


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        # The home page (a CMS bug that put every article in one row, each fetch a new version of it), as written,
        # relative, or an edition's; a listing the crawl starts from.
        ("https://caliber.az/post/x", "https://caliber.az/"),
        ("https://caliber.az/post/x", "https://www.caliber.az/index.php"),
        ("https://caliber.az/en/post/x", "https://caliber.az/en/"),
        ("https://caliber.az/post/x", "https://caliber.az/category/mir"),
        ("https://report.az/ru/proisshestviya/x/", "https://report.az/ru/"),
        # Another article: its number is not the page's.
        ("https://caliber.az/post/x-8036", "https://caliber.az/post/y-8037"),
        ("https://haqqin.az/newsarchive/393104", "https://haqqin.az/newsarchive/393105"),
        # No address at all: it failed the whole article in the cleanup ("Port out of range").
        ("https://caliber.az/post/x", "https://caliber.az:99999/post/x"),
    ],
)
def test_a_canonical_link_that_cannot_be_the_page_s_address_is_ignored(url: str, canonical: str) -> None:
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    stats = MemoryStatsCollector(get_crawler())
    source = "report" if "report.az" in url else "haqqin" if "haqqin" in url else "caliber"
    item = ValidatePipeline(stats).process_item(article(source=source, url=url, canonical_url=canonical))
    assert item.canonical_url is None
    assert CleanupPipeline().process_item(item).canonical_url == canonical_url(url)
    assert stats.get_value("aggregator/canonical_ignored") == 1


@pytest.mark.parametrize(
    ("url", "canonical", "kept"),
    [
        (
            "https://caliber.az/post/153813",
            "https://caliber.az/post/slug-153813",
            "https://caliber.az/post/slug-153813",
        ),
        ("https://caliber.az/post/153813", "/post/slug", "https://caliber.az/post/slug"),  # relative
        ("https://caliber.az/post/x", "https://caliber.az/post/x/?utm_source=rss", "https://caliber.az/post/x"),
        ("https://m.caliber.az/post/x/amp/", "https://caliber.az/post/x", "https://caliber.az/post/x"),
        ("https://caliber.az/", "https://caliber.az/", "https://caliber.az/"),  # the home page is itself
    ],
)
def test_a_canonical_link_naming_the_page_in_another_form_stands(url: str, canonical: str, kept: str) -> None:
    from aggregator.urls import absolute

    item = ValidatePipeline().process_item(article(url=url, canonical_url=absolute(url, canonical)))
    assert CleanupPipeline().process_item(item).canonical_url == kept


def test_names_a_public_site() -> None:
    from aggregator.urls import names_a_public_site

    assert names_a_public_site("https://www.globalnewsdesk.example/world/2025/09/x")
    assert names_a_public_site("https://пример.рф/новости")  # an international name
    assert names_a_public_site("https://xn--e1afmkfd.xn--p1ai/x")
    assert not names_a_public_site("https://caliber .az/x")
    assert not names_a_public_site("https://a..az/x")
    assert not names_a_public_site("https://[::1]/x")
    assert not names_a_public_site("ftp://files.example.com/x")


def test_clean_body_removes_furniture_and_unsafe_markup() -> None:
    html = """
      <p>Первый абзац со <a href="/post/other" onclick="steal()">ссылкой</a>.</p>
      <div class="banner_inline"><a href="https://ads.example.com/x"><img src="/b.webp"></a></div>
      <p><img class="lazy" src="/static/img/lazy.gif" data-src="/media/photos/normal/a.webp" alt="фото"></p>
      <div class="reklam_block">Реклама</div><div class="advert-box"><p>Advertisement</p></div>
      <script>alert(1)</script><p><a href="javascript:alert(1)">x</a> Второй абзац.</p>
      <p class="post_signature">Caliber.Az</p><p>&nbsp;</p>
    """
    safe, text = clean_body(html, base_url="https://caliber.az/post/x", boilerplate=BOILERPLATE)
    assert text == "Первый абзац со ссылкой.\n\nx Второй абзац."
    assert 'href="https://caliber.az/post/other"' in safe
    assert 'src="https://caliber.az/media/photos/normal/a.webp"' in safe
    for unsafe in ("onclick", "<script", "javascript:", "ads.example.com", "Реклама", "Advertisement", "lazy.gif",
                   "Caliber.Az", "class="):  # fmt: skip
        assert unsafe not in safe


def test_nested_blocks_count_once() -> None:
    html = "<blockquote><p>Цитата.</p></blockquote><ul><li>Пункт</li></ul><p>Конец.</p>"
    _, text = clean_body(html, base_url="https://caliber.az/post/x")
    assert text == "Цитата.\n\nПункт\n\nКонец."


def test_unwrapped_divs_keep_their_words_apart() -> None:
    # The sanitiser unwraps a <div>: "<div>Баку</div><div>улица</div>" showed readers "Бакуулица", and the text too.
    # A <div> of text in the body is a paragraph of its own; inside a block (a list item) its words stay in the block.
    for html, text in [
        ("<div>Баку</div><div>улица Низами</div>", "Баку\n\nулица Низами"),
        ("<p>Один.</p><div>Баку</div><div>улица</div><p>Два.</p>", "Один.\n\nБаку\n\nулица\n\nДва."),
        ("<ul><li><div>Баку</div><div>улица</div></li></ul>", "Баку улица"),
    ]:
        safe, found = clean_body(html, base_url="https://caliber.az/post/x")
        assert found == text == text_of_safe_html(safe), html
        assert "Бакуулица" not in LexborHTMLParser(safe).text()  # what a browser shows


def test_a_line_break_is_a_space_in_the_text() -> None:
    # "Баку,<br>улица" read "Баку,улица": a word glued for search, the story sketches and the citations.
    html = "<p>Баку,<br>улица Низами</p><p>Один<br/>два</p><table><tr><td>a<br>b</td></tr></table>"
    safe, text = clean_body(html, base_url="https://caliber.az/post/x")
    assert text == "Баку, улица Низами\n\nОдин два\n\na b"
    assert safe.count("<br>") == 3 and text_of_safe_html(safe) == text


def test_superscripts_and_subscripts_survive_without_attributes() -> None:
    # "м2" is not a square metre, nor "CO2" a formula a reader trusts; the text keeps the characters side by side.
    html = '<p>Площадь 120 м<sup class="deg" onclick="x()">2</sup>, выбросы CO<sub style="color:red">2</sub>.</p>'
    safe, text = clean_body(html, base_url="https://caliber.az/post/x")
    assert safe == "<p>Площадь 120 м<sup>2</sup>, выбросы CO<sub>2</sub>.</p>"
    assert text == "Площадь 120 м2, выбросы CO2." == text_of_safe_html(safe)


WATCH = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.mark.parametrize(
    ("player", "url"),
    [
        pytest.param('<iframe src="https://www.youtube.com/embed/dQw4w9WgXcQ"></iframe>', WATCH, id="youtube"),
        pytest.param(
            '<iframe src="//www.youtube.com/embed/dQw4w9WgXcQ?start=30"></iframe>', WATCH, id="protocol-relative"
        ),
        pytest.param(
            '<iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ/"></iframe>', WATCH, id="nocookie"
        ),
        pytest.param(
            '<iframe class="lazy" data-src="//www.youtube.com/embed/dQw4w9WgXcQ" src="about:blank"></iframe>',
            WATCH,
            id="lazy",
        ),
        pytest.param(
            '<iframe src="https://www.youtube.com/embed/videoseries?list=PL0"></iframe>',
            "https://www.youtube.com/embed/videoseries?list=PL0",
            id="youtube-playlist",
        ),
        pytest.param(
            '<iframe src="https://player.vimeo.com/video/76979871" allowfullscreen></iframe>',
            "https://player.vimeo.com/video/76979871",
            id="other-player",
        ),
        pytest.param(
            '<iframe src="//vk.com/video_ext.php?oid=-1&amp;id=2&amp;hash=3"></iframe>',
            "https://vk.com/video_ext.php?oid=-1&id=2&hash=3",
            id="protocol-relative",
        ),
    ],
)
def test_an_embedded_player_becomes_a_link_to_what_it_plays(player: str, url: str) -> None:
    # A reader of the re-published copy still finds the video; the player itself (a frame of another site) never
    # goes into the page.
    for html in (f"<p>Один.</p><div>{player}</div><p>Два.</p>", f"<p>Один.</p>{player}<p>Два.</p>"):
        safe, text = clean_body(html, base_url="https://caliber.az/post/x")
        link = f'<a href="{url.replace("&", "&amp;")}" rel="nofollow noopener">{url.replace("&", "&amp;")}</a>'
        assert safe.replace("\n", "") == f"<p>Один.</p><p>{link}</p><p>Два.</p>"  # a line break after the <div>
        assert text == f"Один.\n\n{url}\n\nДва." == text_of_safe_html(safe)
    # inside a paragraph, the link alone: a paragraph cannot hold another
    safe, text = clean_body(f"<p>Смотрите:{player}</p><p>Два.</p>", base_url="https://caliber.az/post/x")
    assert safe.startswith("<p>Смотрите: <a href=") and safe.count("<p>") == 2 and "iframe" not in safe
    assert text == f"Смотрите: {url}\n\nДва." == text_of_safe_html(safe)
    assert sanitize_html(player, base_url="https://caliber.az/post/x") == f"<p>{link}</p>"


@pytest.mark.parametrize(
    "player",
    [
        '<iframe src="javascript:alert(1)"></iframe>',
        '<iframe src=" JaVaScRiPt:alert(1)"></iframe>',
        '<iframe src="java\tscript:alert(1)"></iframe>',
        '<iframe src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></iframe>',
        '<iframe src="about:blank"></iframe>',
        '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
        '<iframe data-src="javascript:alert(1)" src="https://www.youtube.com/embed/dQw4w9WgXcQ"></iframe>',
        '<iframe src="https://[broken/embed"></iframe>',
        "<iframe><p>Текст внутри фрейма</p></iframe>",
        # Not a video player: an advertisement, a page's "like" box, a poll, the source's own widget.
        '<iframe src="https://googleads.g.doubleclick.net/pagead/ads?client=ca-pub-1"></iframe>',
        '<iframe src="https://www.facebook.com/plugins/page.php?href=https%3A%2F%2Fcaliber.az"></iframe>',
        '<iframe src="https://www.youtube.com/subscribe_widget?channel=caliber"></iframe>',
        '<iframe src="/widgets/poll/12"></iframe>',
    ],
)
def test_a_frame_that_is_not_a_video_player_is_dropped_as_before(player: str) -> None:
    safe, text = clean_body(f"<p>Один.</p>{player}<p>Два.</p>", base_url="https://caliber.az/post/x")
    assert safe == "<p>Один.</p><p>Два.</p>" and text == "Один.\n\nДва."


def test_a_player_address_with_quotes_stays_inside_its_attribute() -> None:
    player = """<iframe src='https://www.youtube.com/embed/x"onload="alert(1)"><script>alert(1)</script>'></iframe>"""
    safe, text = clean_body(f"<p>Один.</p>{player}", base_url="https://caliber.az/post/x")
    (link,) = LexborHTMLParser(safe).css("a")
    href = 'https://www.youtube.com/embed/x"onload="alert(1)"><script>alert(1)</script>'
    assert dict(link.attrs) == {"href": href, "rel": "nofollow noopener"}
    assert [node.tag for node in LexborHTMLParser(safe).body.traverse()] == ["body", "p", "p", "a"]  # no script
    assert text == text_of_safe_html(safe)


def test_a_body_that_is_only_a_player_is_still_refused() -> None:
    # A video with nothing to read beside it was refused when the player was dropped; its link alone is no article.
    body = '<div class="video"><iframe src="https://www.youtube.com/embed/dQw4w9WgXcQ"></iframe></div><p>&nbsp;</p>'
    assert clean_body(body, base_url="https://caliber.az/post/x") == ("", "")
    with pytest.raises(Rejected, match="no body"):
        CleanupPipeline().process_item(article(body_html=body))
    _, text = clean_body(f"{body}<p>Паводок на Куре.</p>", base_url="https://caliber.az/post/x")
    assert text == f"{WATCH}\n\nПаводок на Куре."


def test_cleanup_normalises_the_item_and_refuses_an_empty_body() -> None:
    item = article(
        url="https://caliber.az/en/post/142379/",
        canonical_url="https://www.globalnews.example/x",  # off-site: the fetched URL is canonical instead
        title="  Title \n with   spaces ",
        cover_image_url="/media/photos/original/c.webp",
        category=" KARABAKH ",
    )
    cleaned = CleanupPipeline().process_item(item)
    assert cleaned.canonical_url == "https://caliber.az/en/post/142379"
    assert cleaned.title == "Title with spaces"
    assert cleaned.cover_image_url == "https://caliber.az/media/photos/original/c.webp"
    assert cleaned.category == "KARABAKH"
    with pytest.raises(Rejected, match="no body"):
        CleanupPipeline().process_item(article(body_html='<div class="banner_x">ad</div>', body_text="ad"))


# --- bodies without paragraphs ----------------------------------------------------------------------------------------
# A site types a short item as text and <br> straight in the body, or its paragraphs as <div>s: nothing of it was a
# block, so nothing was judged as furniture, the text came out as one paragraph, and the extractors (which read <p>
# only) handed validation an empty text: the article was refused as having no body.


@pytest.mark.parametrize(
    ("html", "paragraphs"),
    [
        pytest.param(
            "Первый абзац.<br><br>\n Второй абзац,<br>с переносом строки.<br><br><br>Третий абзац.",
            ["Первый абзац.", "Второй абзац, с переносом строки.", "Третий абзац."],
            id="text-and-line-breaks",
        ),
        pytest.param(
            "<div>Первый абзац.</div><div><br></div><div><span>Второй абзац.</span></div><p>Третий.</p>",
            ["Первый абзац.", "Второй абзац.", "Третий."],
            id="divs",
        ),
        pytest.param(
            "<div class='block-text'>Строка одна.<br>Строка две.</div><div class='block-text'>Второй блок.</div>",
            ["Строка одна. Строка две.", "Второй блок."],
            id="text-blocks",
        ),
        pytest.param(
            "<aside>Врезка</aside><section><div>Глубоко</div> и рядом</section><dl><dt>Термин</dt><dd>Смысл</dd></dl>",
            ["Врезка", "Глубоко", "и рядом", "Термин", "Смысл"],
            id="other-containers",
        ),
    ],
)
def test_text_outside_paragraphs_becomes_paragraphs(html: str, paragraphs: list[str]) -> None:
    safe, text = clean_body(html, base_url="https://caliber.az/post/x", boilerplate=BOILERPLATE)
    assert text.split("\n\n") == paragraphs
    assert text == text_of_safe_html(safe)
    assert safe.count("<p>") == len(paragraphs)  # in the HTML too, each a paragraph
    assert "<br><br>" not in safe.replace("\n", "")  # the breaks between paragraphs are the paragraphs' edges now


def test_a_body_of_text_and_line_breaks_is_archived() -> None:
    html = "Порывы ветра до 20 метров в секунду.<br><br>Жителей просят быть осторожными.<br><br>Caliber.Az"
    item = ValidatePipeline().process_item(article(body_html=html, body_text="Порывы ветра до 20 метров в секунду."))
    cleaned = CleanupPipeline().process_item(item)
    assert cleaned.body_text == "Порывы ветра до 20 метров в секунду.\n\nЖителей просят быть осторожными."
    assert cleaned.body_html.count("<p>") == 2


def test_each_div_is_a_paragraph_and_its_furniture_goes() -> None:
    html = """<p>Экспорт газа вырос на 4%.</p>
      <div>Первый абзац в div.</div>
      <div>Второй абзац в div.</div>
      <div class="read_more">Читайте также: <a href="/post/gaz">Азербайджан и Болгария обсудили газ</a></div>
      <div class="share"><span>Поделиться:</span> <a href="https://t.me/share">Telegram</a> <a href="https://wa.me/">WhatsApp</a>
        <a href="https://www.facebook.com/sharer">Facebook</a></div>
      <div class="cta"><a href="https://t.me/caliberaz">Подписывайтесь на наш Telegram-канал</a></div>
      <strong>Caliber.Az</strong>"""
    safe, text = clean_body(html, base_url="https://caliber.az/post/x", source_names=frozenset({"caliber.az"}))
    assert text.split("\n\n") == ["Экспорт газа вырос на 4%.", "Первый абзац в div.", "Второй абзац в div."]
    assert text == text_of_safe_html(safe)
    for furniture in ("Читайте", "Поделиться", "WhatsApp", "Подписывайтесь", "Caliber.Az"):
        assert furniture not in safe


# --- what is boilerplate and what is the article ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "«Теперь все права защищены законом», — заявил депутат.",
        "Все права защищены законом, напомнил министр.",
        "Активисты призвали граждан подписаться на нашу общую петицию, сообщил организатор.",
        "Подписаться на нашу петицию можно до пятницы.",
        '"We will follow our own path," the minister said.',
        "Follow the money, the prosecutor told the court.",
        "Смотрите также на таблицу ниже: в ней приведены данные за пять лет.",
        "Read more about the plan in the ministry's report, he said.",
        "«Подписывайтесь на наш канал», — призывал блогер своих зрителей.",
        "«Kanalımıza abunə olun», — deyə bloger çağırıb.",
        "Share prices rose 4% on Monday.",
        "По теме переговоров высказался и министр.",
        "Join the discussion, the organisers urged.",
        "Mövzu İlə bağlı nazirlik açıqlama yayıb.",
        "Həmçinin oxumaq üçün yeni kitabxana açılıb.",
        "Подписаться на рассылку министерства можно на его сайте.",
        "Subscribe to the theory or not, the numbers are clear.",
        "Все новости о ходе выборов публикуются в Telegram-канале ЦИК.",
        "Смотрите видео на YouTube:",
        "«Следите за новостями в Telegram», — посоветовал министр.",
        "Read the report on the ministry's website.",
    ],
)
def test_a_notices_words_inside_an_article_sentence_are_the_article(text: str) -> None:
    assert not is_boilerplate(text, frozenset({"caliber.az", "caliber"}))
    _, found = clean_body(f"<p>{text}</p>", base_url="https://caliber.az/post/x")
    assert found == text


@pytest.mark.parametrize(
    "text",
    [
        "Подпишитесь на наш Telegram-канал",
        "Подписывайтесь на Caliber.az в Telegram",
        "Подписывайтесь на Report.az в Telegram",  # any name: not only the source's own
        "Присоединяйтесь к нашему Telegram-каналу",
        "👉 Подписывайтесь на нас в Instagram",
        "Join our Telegram channel",
        "Subscribe to Caliber.az on Telegram",
        "Follow us on X",
        "Bizi Telegram-da izləyin",
        "Telegram kanalımıza abunə olun!",
        "Также читайте:",
        "Читайте также",
        "Читайте также: Азербайджан и Болгария обсудили поставки газа",
        "По теме:",
        "Поделиться: Facebook Telegram WhatsApp",
        "Share on Facebook",
        "Caliber.az © 2024. Все права защищены..",
        "© 2026 Trend News Agency. Все права защищены. Использование материалов только с гиперссылкой.",
        "Все права защищены.",
        # Azerbaijani in capitals, or with a capital İ: str.lower() reads "DİGƏR" as "di̇gər", "SAYI" as "sayi"
        "DİGƏR XƏBƏRLƏR",
        "HƏMÇİNİN OXUYUN:",
        "BİZİ TELEGRAM KANALIMIZDA İZLƏYİN",
        "BAXIŞ SAYI: 1 204",
        "Materiallardan İstifadə zamanı hiperlink mütləqdir",
        # read-also prompts in other spellings, a subscribe button's word, a follow prompt in general words
        "Читайте также >>",
        "Həmçinin oxu:",
        "Also read:",
        "Подписаться",
        "Subscribe ›",
        "Следите за нами в соцсетях",
        # where to read the site, in Russian: they stayed at the end of re-published bodies
        "Читайте нас в Telegram",
        "Читайте Caliber.az в Дзене",
        "Смотрите нас на YouTube",
        "Следите за новостями в нашем Telegram-канале",
        "Больше новостей — в нашем Telegram-канале",
        "Все новости в Telegram",
        "Самые важные новости — в нашем Telegram",
        "Read us on Telegram",
    ],
)
def test_prompts_and_notices_are_boilerplate(text: str) -> None:
    assert is_boilerplate(text, frozenset({"caliber.az", "caliber"}))


def test_boilerplate_lines_go_and_the_rest_of_their_paragraph_stays() -> None:
    html = (
        "<p>Ветер усилится до 23 метров в секунду.<br>Температура понизится на 4 градуса.<br>Caliber.Az<br>"
        'Подписывайтесь на наш Telegram-канал: <a href="https://t.me/caliberaz">t.me/caliberaz</a></p>'
        "<p>Bizi Telegram kanalımızda izləyin<br>Caliber.Az</p>"
        "<p><strong>Читайте также:</strong><br><a href='/post/y'>Курс маната на 14 сентября</a></p>"
    )
    safe, text = clean_body(html, base_url="https://caliber.az/post/x", source_names=frozenset({"caliber.az"}))
    assert text == "Ветер усилится до 23 метров в секунду. Температура понизится на 4 градуса."
    assert text == text_of_safe_html(safe)
    assert safe.count("<p>") == 1 and not re.search(r"<br>\s*</p>", safe)  # no line break left at the end
    for furniture in ("Caliber.Az", "Подписывайтесь", "t.me", "izləyin", "Читайте", "Курс маната"):
        assert furniture not in safe


def test_a_paragraph_typed_with_blank_lines_is_paragraphs() -> None:
    # One <p> whose paragraphs a blank line (two <br> or more) parts, as a body of text and <br> has them: its text
    # glued them into one ("... секунду. Температура ..."), and each was judged only as a line of the whole.
    html = (
        "<p>Ветер усилится до 23 метров в секунду.<br><br>Температура понизится на 4 градуса,<br>осадков не будет."
        "<br>\n<br><br>Caliber.Az<br>Подписывайтесь на наш Telegram-канал</p>"
        "<p><b>Первая строка<br><br>вторая строка</b> одного абзаца.</p>"
        "<p><strong>Читайте также:</strong><br><br><a href='/post/y'>Курс маната на 14 сентября</a></p>"
    )
    safe, text = clean_body(html, base_url="https://caliber.az/post/x", source_names=frozenset({"caliber.az"}))
    assert text.split("\n\n") == [
        "Ветер усилится до 23 метров в секунду.",
        "Температура понизится на 4 градуса, осадков не будет.",
        "Первая строка вторая строка одного абзаца.",  # the <b>'s line breaks are the <b>'s
    ]
    assert text == text_of_safe_html(safe)
    assert safe.count("<p>") == 3 and "секунду.</p><p>Температура" in safe  # paragraphs in the HTML too
    for furniture in ("Caliber.Az", "Подписывайтесь", "Читайте", "Курс маната"):
        assert furniture not in safe


def test_a_table_of_one_cell_is_the_body_around_it() -> None:
    # An old template's frame: the body in the one cell of a table. A cell is never removed and its text is its own,
    # so the read-also line and the signature in it stayed, and its paragraphs ran together into one.
    html = (
        '<table width="100%" cellpadding="0"><tr><td class="text">'
        "Первый абзац старой статьи.<br><br>Второй абзац старой статьи.<br><br>"
        "<b>Читайте также:</b> <a href='/post/1'>Другая статья</a><br><br>Caliber.Az</td></tr></table>"
        "<table><tr><td><div>Абзац в блоке.</div><div>Подписывайтесь на наш Telegram-канал</div>"
        "<div>Ещё один абзац.</div><table><tr><td>1</td><td>2</td></tr></table></td></tr></table>"
    )
    safe, text = clean_body(html, base_url="https://caliber.az/post/x", source_names=frozenset({"caliber.az"}))
    assert text.split("\n\n") == [
        "Первый абзац старой статьи.",
        "Второй абзац старой статьи.",
        "Абзац в блоке.",
        "Ещё один абзац.",
        "1",
        "2",
    ]
    assert text == text_of_safe_html(safe)
    for furniture in ("Caliber.Az", "Подписывайтесь", "Читайте", "Другая статья"):
        assert furniture not in safe
    tree = LexborHTMLParser(safe)
    assert len(tree.css("table")) == 1 and len(tree.css("td")) == 2  # a table of data stays one


def test_table_cells_are_never_removed() -> None:
    # An empty cell, or one reading "Share" or "Реклама", is a cell: removing it moved the row's cells under the
    # wrong column. Rows stay too; what is inside a cell is cleaned.
    html = (
        "<table><tr><td></td><th>2023</th><th>2024</th></tr><tr><th>Реклама</th><td>3 млн</td><td></td></tr>"
        "<tr><th>Share</th><td><p>Реклама</p>40%</td><td><script>x()</script></td></tr></table><p>Конец.</p>"
    )
    safe, text = clean_body(html, base_url="https://caliber.az/post/x")
    table = LexborHTMLParser(safe).css_first("table")
    assert table is not None
    assert [[c.text() for c in row.css("td,th")] for row in table.css("tr")] == [
        ["", "2023", "2024"],
        ["Реклама", "3 млн", ""],
        ["Share", "40%", ""],
    ]
    assert text == text_of_safe_html(safe)


def test_a_tables_merged_cells_keep_their_spans_and_a_list_its_first_number() -> None:
    # Without its colspan the header over two columns covered one, and every header after it stood over the wrong
    # column; without its rowspan the row under a label over two rows shifted left. A list continued after a
    # paragraph ("start=4") was numbered from 1 again.
    html = (
        '<table border="1"><thead><tr><th colspan="2" style="x">Показатель</th><th>2025</th></tr></thead>'
        '<tbody><tr><td rowspan="2" onclick="x()">ВВП</td><td>млрд манатов</td><td>75,3</td></tr>'
        '<tr><td>рост, %</td><td colspan="2;color:red" rowspan="-1">4,1</td></tr></tbody></table>'
        '<ol start="4" type="a" reversed><li value="9">четвёртый</li></ol><ol start="x"><li>первый</li></ol>'
    )
    safe, text = clean_body(html, base_url="https://caliber.az/post/x")
    assert safe == (
        '<table><thead><tr><th colspan="2">Показатель</th><th>2025</th></tr></thead>'
        '<tbody><tr><td rowspan="2">ВВП</td><td>млрд манатов</td><td>75,3</td></tr>'
        "<tr><td>рост, %</td><td>4,1</td></tr></tbody></table>"  # a span that is no plain number goes
        '<ol start="4"><li>четвёртый</li></ol><ol><li>первый</li></ol>'
    )
    assert text == text_of_safe_html(safe)


def test_no_attribute_outside_the_allow_list_not_even_title_and_lang() -> None:
    # The sanitiser's own defaults allow "title" and "lang" on every element: a link's tooltip of the source's
    # ("Перейти на Caliber.az") came along with it.
    html = '<p title="Подсказка" lang="ru" dir="ltr">Текст <a href="/x" title="Caliber.az" hreflang="en">ссылка</a></p>'
    safe, _ = clean_body(html, base_url="https://caliber.az/post/x")
    assert safe == '<p>Текст <a href="https://caliber.az/x" rel="nofollow noopener">ссылка</a></p>'


def test_azerbaijani_headings_in_capitals_go_with_their_links() -> None:
    html = (
        "<p>Bakıda yeni park istifadəyə verilib.</p>"
        "<p><strong>HƏMÇİNİN OXUYUN:</strong></p><p><a href='/az/post/1'>Sumqayıtda yeni məktəb açılıb</a></p>"
        "<p>Parkın sahəsi 5 hektardır.</p>"
        "<h3>DİGƏR XƏBƏRLƏR</h3><ul><li><a href='/az/post/2'>Gəncədə körpü təmir olunub</a></li>"
        "<li><a href='/az/post/3'>Lənkəranda çay yığımı başlayıb</a></li></ul>"
    )
    safe, text = clean_body(html, base_url="https://caliber.az/az/post/x")
    assert text == "Bakıda yeni park istifadəyə verilib.\n\nParkın sahəsi 5 hektardır."
    for furniture in ("OXUYUN", "Sumqayıt", "XƏBƏRLƏR", "Gəncə", "Lənkəran"):
        assert furniture not in safe


def test_a_prompt_ending_in_a_colon_goes_with_the_links_under_it() -> None:
    html = (
        "<p>Первый абзац статьи.</p>"
        "<p>Подписывайтесь на нас:</p><p><a href='https://t.me/caliberaz'>Telegram</a> | "
        "<a href='https://facebook.com/caliberaz'>Facebook</a></p>"
        "<div class='cta'><p>Подписывайтесь на наш канал в Telegram</p><a href='https://t.me/caliberaz'>Подписаться</a>"
        "</div><p>Поделиться:</p><p><a href='https://www.facebook.com/sharer'>Facebook</a></p>"
        "<p>Второй абзац статьи со <a href='/post/1'>ссылкой</a>.</p>"
    )
    safe, text = clean_body(html, base_url="https://caliber.az/post/x")
    assert text == "Первый абзац статьи.\n\nВторой абзац статьи со ссылкой."
    for furniture in ("Подпис", "Telegram", "Facebook", "Поделиться"):
        assert furniture not in safe


def test_a_short_sentence_with_a_link_after_read_also_links_is_the_article() -> None:
    # The links under a read-also heading are its items while they show next to nothing beside their links; a short
    # sentence of the article that links a word or two counted as one, and went with them.
    html = (
        "<p>Первый абзац статьи.</p><p>Читайте также:</p><p><a href='/post/2'>Другая новость дня</a></p>"
        "<p>Подробности — <a href='https://mfa.gov.az'>на сайте МИД</a>.</p>"
        "<p><b>Oxu:</b></p><ul><li><a href='/az/post/2'>Digər xəbər</a> 20 noyabr 2026, 11:00</li></ul>"
        "<p>Ətraflı məlumat <a href='https://www.sehiyye.gov.az/'>nazirliyin saytında</a>.</p>"
        "<p>Həmçinin oxuyun:</p><p><a href='/az/post/3'>Bakıda yeni park salınıb</a> FOTO</p>"
        "<ul><li>Birinci <a href='https://e-qanun.az/1'>bənd</a></li><li>İkinci <a href='/y'>bənd</a></li></ul>"
    )
    safe, text = clean_body(html, base_url="https://caliber.az/post/x")
    assert text.split("\n\n") == [
        "Первый абзац статьи.",
        "Подробности — на сайте МИД.",
        "Ətraflı məlumat nazirliyin saytında.",
        "Birinci bənd",
        "İkinci bənd",
    ]
    for furniture in ("Читайте", "Другая новость", "Oxu", "Digər xəbər", "park", "FOTO"):
        assert furniture not in safe


def test_an_editors_insertion_is_text_and_an_ad_slot_is_not() -> None:
    # <ins> went with its text, as the advertisements' slots (<ins class="adsbygoogle">) go: an editor's insertion
    # left a gap in the sentence ("Текст  дальше.").
    html = (
        '<p>Текст <ins>вставленный редактором</ins> дальше. <ins datetime="2026-11-20">Обновлено в 12:00.</ins></p>'
        '<ins class="adsbygoogle" data-ad-client="ca-pub-1" style="display:block">Реклама</ins>'
        '<ins data-revive-zoneid="3" data-revive-id="a1"><a href="https://ads.example.com/c">Кредит за час</a></ins>'
    )
    safe, text = clean_body(html, base_url="https://caliber.az/post/x")
    assert safe == "<p>Текст вставленный редактором дальше. Обновлено в 12:00.</p>"
    assert text == "Текст вставленный редактором дальше. Обновлено в 12:00."


def test_a_telegram_posts_widget_becomes_a_link_to_the_post() -> None:
    # Telegram's embed code is a script naming the post and nothing else: dropped with the scripts, the post the
    # article quotes left no trace.
    widget = '<script async src="https://telegram.org/js/telegram-widget.js?22" data-telegram-post="{}"></script>'
    html = (
        "<p>Министерство сообщило в Telegram:</p>"
        + widget.format("mfa_az/1234")
        + "<p>Заявление опубликовано утром.</p>"
        + widget.format('x/1" onload="alert(1)')  # no post's name: dropped with the scripts
        + '<script async src="https://telegram.org/js/telegram-widget.js?22" data-telegram-login="bot"></script>'
    )
    safe, text = clean_body(html, base_url="https://caliber.az/post/x")
    link = '<a href="https://t.me/mfa_az/1234" rel="nofollow noopener">https://t.me/mfa_az/1234</a>'
    assert safe.replace("\n", "") == (
        f"<p>Министерство сообщило в Telegram:</p><p>{link}</p><p>Заявление опубликовано утром.</p>"
    )
    assert text == "Министерство сообщило в Telegram:\n\nhttps://t.me/mfa_az/1234\n\nЗаявление опубликовано утром."
    assert text == text_of_safe_html(safe)
    # a post with nothing to read beside it is no article, as a player alone is not
    assert clean_body(widget.format("mfa_az/1234"), base_url="https://caliber.az/post/x") == ("", "")


@pytest.mark.parametrize(
    ("source", "url", "signature"),
    [
        ("apa", "https://apa.az/infrastruktur/x-813300", "APA"),
        ("report", "https://report.az/ru/finansy/x/", "Report"),
        ("report", "https://report.az/ru/finansy/x/", "Report.az"),
        ("caliber", "https://caliber.az/post/x", "Caliber"),
        ("apa", "https://apa.az/ru/obshestvo/x-813136", "АПА"),  # the registry's name in Cyrillic (other_names)
    ],
)
def test_the_sources_bare_signature_goes(source: str, url: str, signature: str) -> None:
    # The names come from the registry: another outlet's name alone is not this source's signature.
    body = f"<p>Курс составил 1,7 маната за доллар.</p><p>{signature}</p><p>Reuters</p>"
    item = CleanupPipeline().process_item(article(source=source, url=url, body_html=body))
    assert item.body_text == "Курс составил 1,7 маната за доллар.\n\nReuters"


@pytest.mark.parametrize(
    "cover",
    ["javascript:alert(1)", "data:image/gif;base64,R0lGODlhAQABAAAAACw=", " JaVaScRiPt:alert(1)", "mailto:a@b.c"],
)
def test_a_cover_is_a_web_address_or_none(cover: str) -> None:
    assert CleanupPipeline().process_item(article(cover_image_url=cover)).cover_image_url is None
    relative = CleanupPipeline().process_item(article(cover_image_url="/media/c.webp"))
    assert relative.cover_image_url == "https://caliber.az/media/c.webp"


@pytest.mark.parametrize(
    "picture",
    ["javascript:alert(1)", " JaVaScRiPt:alert(1)", "data:image/gif;base64,R0lGODlhAQABAAAAACw=", "//[broken/x.jpg",
     "https://", "mailto:a@b.c"],
)  # fmt: skip
def test_a_feed_entry_s_picture_is_a_web_address_or_none_as_a_page_s(picture: str) -> None:
    """The feed entry's picture (``cover_feed``) becomes the cover of a page that names none: it is checked as the
    page's own is, so a feed cannot put a script or an address of nothing where the cover is shown."""
    assert CleanupPipeline().process_item(article(cover_feed=picture)).cover_feed is None
    kept = CleanupPipeline().process_item(article(cover_feed="https://caliber.az/rss/1.jpg"))
    assert kept.cover_feed == "https://caliber.az/rss/1.jpg" and kept.cover_image_url is None


def test_lazy_images_get_their_real_address() -> None:
    html = (
        "<p>Мост.</p>"
        '<p><img src="data:image/svg+xml,%3Csvg%3E%3C/svg%3E" data-srcset="/m/a.webp 800w, /o/a.webp 1600w" alt="a">'
        '<noscript><img src="/m/a.webp"></noscript></p>'
        '<p><img src="/static/img/placeholder.gif" data-lazy="/m/b.webp" alt="b"></p>'
        '<p><img data-src="javascript:alert(1)" src="/m/c.webp" alt="c"></p>'
        '<p><img srcset="/m/d.webp 1x, /o/d.webp 2x" alt="d"></p>'
        '<p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="pixel"></p>'
    )
    safe, text = clean_body(html, base_url="https://caliber.az/post/x")
    sources = [img.attrs.get("src") for img in LexborHTMLParser(safe).css("img")]
    assert sources == [f"https://caliber.az/m/{name}.webp" for name in "abcd"]
    assert "<p></p>" not in safe and "placeholder" not in safe and "pixel" not in safe
    assert text == "Мост."


# --- the body text is the safe HTML's text --------------------------------------------------------------------------
# clean_body takes the text from the blocks it keeps rather than parsing its own output again; these tests hold the
# two equal on hostile input, on the bundled sample's bodies and on generated markup.

_TAGS = ("p", "div", "span", "blockquote", "blockquote", "blockquote", "li", "ul", "ol", "h2", "td", "b", "a", "font",
         "section", "figure", "figcaption", "caption", "script", "style", "noscript", "svg", "iframe", "table",
         "tr", "h1", "h5")  # fmt: skip
_WORDS = ("Баку", "Bakı", "news", "Читайте также:", "Caliber.Az", "&amp;", "&nbsp;", "<br>", "  ", "\n", "2024",
          "Просмотров: 12", "<img data-src='/a.webp'>", "<img src='javascript:x'>", "<!-- c -->", "Ə",
          "<iframe src='//www.youtube.com/embed/dQw4w9WgXcQ'></iframe>", "<iframe src='javascript:x'></iframe>",
          "<sup>2</sup>", "<br><br>", "Подписаться", "DİGƏR XƏBƏRLƏR:",
          "<script data-telegram-post='caliberaz/12'></script>")  # fmt: skip


@st.composite
def markup(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if depth < 3 and draw(st.booleans()):
            tag = draw(st.sampled_from(_TAGS))
            parts.append(f"<{tag}>{draw(markup(depth + 1))}</{tag}>")
        else:
            parts.append(draw(st.sampled_from(_WORDS)))
    return "".join(parts)


def shown_characters(safe: str) -> str:
    """Every character a reader sees in safe HTML but whitespace, in order: a check of ``text_of_safe_html``
    itself, which cannot leave text out unseen."""
    body = LexborHTMLParser(safe).body
    return "".join((body.text(deep=True, separator="") if body is not None else "").split())


def assert_text_is_the_safe_htmls(html: str) -> None:
    safe, text = clean_body(html, base_url="https://caliber.az/post/x", boilerplate=BOILERPLATE)
    assert text == text_of_safe_html(safe), html
    assert "".join(text.split()) == shown_characters(safe), html


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param("<p>Один.</p><div>Фраза в блоке div.</div><p>Два.</p>", "Один.|Фраза в блоке div.|Два.", id="div"),
        pytest.param(
            "<p>Один.</p>Фраза прямо в теле.<p>Два.</p>", "Один.|Фраза прямо в теле.|Два.", id="loose-in-body"
        ),
        pytest.param(
            "<p>Один.</p><span>Фраза в span.</span> <b>и жирная</b><p>Два.</p>",
            "Один.|Фраза в span. и жирная|Два.",
            id="span-and-bold",
        ),
        pytest.param(
            "<div>Первая строка<br>вторая строка</div><p>Два.</p>",
            "Первая строка вторая строка|Два.",
            id="after-a-line-break",
        ),
        pytest.param("<div><p>Один.</p>Хвост после абзаца.</div>", "Один.|Хвост после абзаца.", id="tail-in-a-div"),
        pytest.param("<p>Один.</p><div>до<p>внутри</p>после</div>", "Один.|до|внутри|после", id="around-a-paragraph"),
        pytest.param(
            "<blockquote>Слова цитаты<p>Абзац цитаты.</p></blockquote><p>Два.</p>",
            "Слова цитаты|Абзац цитаты.|Два.",
            id="quote-beside-its-paragraph",
        ),
        pytest.param("<ul><li>Пункт</li></ul>После списка.<p>Два.</p>", "Пункт|После списка.|Два.", id="after-a-list"),
        pytest.param(
            "<table><caption>Подпись</caption><tr><td>Ячейка</td></tr></table>После таблицы.",
            "Подпись|Ячейка|После таблицы.",
            id="table-caption-and-after",
        ),
        pytest.param(
            "<figure><img src='/a.webp'>Текст у фото</figure><p>Два.</p>",
            "Текст у фото|Два.",
            id="figure-without-caption",
        ),
        pytest.param(
            "<ul><li>Пункт<ul>вложенный</ul>хвост</li></ul><p>Два.</p>",
            "Пункт|вложенный|хвост|Два.",
            id="list-in-a-list-item",
        ),
        pytest.param("<h2>Заголовок<ol>список</ol></h2><p>Два.</p>", "Заголовок|список|Два.", id="list-in-a-heading"),
        pytest.param(
            "<p>Один.</p><section><div>Глубоко <i>внутри</i>.</div></section>",
            "Один.|Глубоко внутри.",
            id="deep-in-containers",
        ),
        pytest.param(
            "<p>Один.</p><p class='post_signature'>Caliber.Az</p>Остаток.",
            "Один.|Остаток.",
            id="after-a-removed-signature",
        ),
    ],
)
def test_text_outside_the_blocks_is_in_the_body_text(html: str, expected: str) -> None:
    """A sentence the sanitiser keeps outside any block (the <div> or <span> around it unwrapped, or loose in the
    body) is a paragraph of its own in the text: search, the story sketches and the citations read only the text."""
    safe, text = clean_body(html, base_url="https://caliber.az/post/x", boilerplate=BOILERPLATE)
    assert text.split("\n\n") == expected.split("|")
    assert text == text_of_safe_html(safe)
    assert "".join(text.split()) == shown_characters(safe)


@settings(max_examples=500, deadline=None)
@given(markup())
def test_body_text_is_the_text_of_the_safe_html_on_generated_markup(html: str) -> None:
    assert_text_is_the_safe_htmls(html)


def test_body_text_is_the_text_of_the_safe_html_on_hostile_vectors() -> None:
    for vector in load_vectors():
        assert_text_is_the_safe_htmls(f"<p>Начало.</p>{vector.html}<p>Конец.</p>")
        assert_text_is_the_safe_htmls(vector.html)


def test_body_text_is_the_text_of_the_safe_html_on_the_sample() -> None:
    bodies = 0
    for page in sorted(mirror_dir().rglob("*.html")):
        root = LexborHTMLParser(page.read_bytes()).body
        for node in root.css(".post_body") if root is not None else []:
            assert_text_is_the_safe_htmls(node.html or "")
            bodies += 1
    assert bodies >= 40


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "Ə", " ", "\n", "\t", "\u00a0", "\u2009", "\u3000", "\x85", "\u2028"])))
def test_collapse_equals_split_and_join(text: str) -> None:
    assert collapse(text) == " ".join(text.split())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "Ə", " ", "\u00a0", "\u00ad", "\u200b", "\u2060", "\ufeff", "\u200d"])))
def test_collapse_drops_the_invisible_characters(text: str) -> None:
    invisible = "\u00ad\u200b\u2060\ufeff"
    assert collapse(text) == " ".join("".join(c for c in text if c not in invisible).split())


def test_soft_hyphens_and_zero_width_spaces_are_out_of_the_text_and_the_title() -> None:
    # A "типограф" hyphenates long words with soft hyphens, a copy and paste leaves zero-width spaces: invisible on
    # the page, but "Ген\u00adас\u00adсамблея" is not "Генассамблея" to search, the story sketches or the citations.
    html = "<p>Ген\u00adас\u00adсамблея ООН\u200b, как со\u00adоб\u00adща\u00adет Re\u00adport.</p>"
    safe, text = clean_body(html, base_url="https://caliber.az/post/x")
    assert text == "Генассамблея ООН, как сообщает Report." == text_of_safe_html(safe)
    assert "\u00ad" in safe or "&shy;" in safe  # a hyphenation hint where the page is shown
    item = ArticleItem(source="caliber", language="ru", url="https://caliber.az/post/x",
                       title="\ufeffГен\u00adас\u00adсамблея ООН", body_html=html)  # fmt: skip
    cleaned = CleanupPipeline().process_item(item)
    assert cleaned.title == "Генассамблея ООН" and cleaned.body_text == text


def test_only_the_plain_space_is_printable_whitespace() -> None:
    # collapse's shortcut rests on this: a printable text holds no whitespace but plain spaces
    assert [c for c in map(chr, range(0x110000)) if c.isspace() and c.isprintable()] == [" "]


# --- the boilerplate test's shortcut ---------------------------------------------------------------------------------
# is_boilerplate runs the regex only on a block holding one of the words each pattern lists as in all its matches.

_PATTERN_WORDS = {w for pattern, _ in BOILERPLATE_PATTERNS for w in re.findall(r"[^\W\d_]+", pattern)} - {"b", "s", "d"}
_BOILERPLATE_PIECES = (
    *sorted(_PATTERN_WORDS), *sorted({w.upper() for w in _PATTERN_WORDS if "ı" in w or "i" in w}),
    " ", " ", "  ", ":", "-", "©", "2024", "1 204", ".", "\t", "İ", "I", "ı",
)  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_BOILERPLATE_PIECES), max_size=9))
def test_every_boilerplate_match_holds_one_of_its_patterns_words(pieces: list[str]) -> None:
    text = "".join(pieces)
    lowered = _lowered(text)  # as the patterns read it: lower-cased, the dotted and dotless i both as i
    for pattern, words in BOILERPLATE_PATTERNS:
        if re.search(_folded(pattern), lowered):
            assert any(_folded(w) in lowered for w in words), (pattern, text)
    assert is_boilerplate(text) is (bool(text) and len(text) <= 240 and bool(BOILERPLATE_PARAGRAPHS.search(lowered)))


def test_decomposed_text_is_stored_composed() -> None:
    """A page typed in decomposed Unicode ("й" as "и" + a breve): stored so, its words were found by no search of
    them, on either database, and the boilerplate patterns missed it ("Подпишитесь" with a decomposed "й" ...)."""
    import unicodedata

    def nfd(text: str) -> str:
        return unicodedata.normalize("NFD", text)

    item = CleanupPipeline().process_item(
        article(
            title=nfd("Новый музей йогурта"),
            body_html=nfd("<p>Открылся музей, ёлка стоит.</p><p>Подпишитесь на наш Telegram-канал</p>"),
            category=nfd("Культура и йога"),
        )
    )
    assert item.title == "Новый музей йогурта" and unicodedata.is_normalized("NFC", item.title)
    assert item.body_text == "Открылся музей, ёлка стоит."
    assert unicodedata.is_normalized("NFC", item.body_html) and item.category == "Культура и йога"
