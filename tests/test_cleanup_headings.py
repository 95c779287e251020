"""Cleanup: a body's subheadings typed as ``<h1>``, ``<h5>`` or ``<h6>`` stay headings (``cleanup.HEADING_LEVELS``),
and every rule the cleanup has for a heading holds for them too."""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator.items import ArticleItem
from pipelines.cleanup import CleanupPipeline, clean_body, sanitize_html, text_of_safe_html, wrap_loose_text_of

URL = "https://caliber.az/post/x"
TITLE = "В Шамахы открылась новая астрофизическая лаборатория"
NAMES = frozenset({"caliber.az"})
BEFORE = "<p>Лаборатория начала работу.</p>"
AFTER = "<p>Наблюдения начнутся в октябре.</p>"


def cleaned(html: str, title: str | None = None) -> tuple[str, str]:
    safe, text = clean_body(html, base_url=URL, title=title, source_names=NAMES)
    assert text == text_of_safe_html(safe)
    return safe, text


# --- the subheading stays a heading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "shown"),
    [
        pytest.param("<h1>Что покажет телескоп</h1>", "<h2>Что покажет телескоп</h2>", id="h1-one-level-down"),
        pytest.param("<h5>Что покажет телескоп</h5>", "<h4>Что покажет телескоп</h4>", id="h5-the-deepest-kept"),
        pytest.param("<h6>Что покажет телескоп</h6>", "<h4>Что покажет телескоп</h4>", id="h6-the-deepest-kept"),
        pytest.param(
            '<h5 class="wp-block-heading" id="tel">Что <strong>покажет</strong> телескоп</h5>',
            "<h4>Что <strong>покажет</strong> телескоп</h4>",
            id="attributes-go-inline-markup-stays",
        ),
        pytest.param("<h2>Что покажет телескоп</h2>", "<h2>Что покажет телескоп</h2>", id="h2-as-it-was"),
        pytest.param("<h4>Что покажет телескоп</h4>", "<h4>Что покажет телескоп</h4>", id="h4-as-it-was"),
    ],
)
def test_a_subheading_in_the_body_is_a_heading(heading: str, shown: str) -> None:
    # The sanitiser unwrapped an <h1>, <h5> or <h6>: the subheading came out a paragraph like any other.
    safe, text = cleaned(BEFORE + heading + AFTER, TITLE)
    assert safe == BEFORE + shown + AFTER
    assert text.split("\n\n") == [
        "Лаборатория начала работу.",
        "Что покажет телескоп",
        "Наблюдения начнутся в октябре.",
    ]


def test_every_level_of_a_body_in_order() -> None:
    html = "".join(f"<h{level}>Уровень {level}</h{level}><p>Текст {level}.</p>" for level in range(1, 7))
    safe, _ = cleaned(html)
    shown = (2, 2, 3, 4, 4, 4)
    assert safe == "".join(f"<h{to}>Уровень {level}</h{to}><p>Текст {level}.</p>" for level, to in enumerate(shown, 1))


def test_the_pipeline_keeps_the_subheadings_of_an_item() -> None:
    html = f"<h1>{TITLE}</h1>{BEFORE}<h5>Что покажет телескоп</h5>{AFTER}<h6>Caliber.Az</h6>"
    item = ArticleItem(source="caliber", url=URL, language="ru", title=TITLE, body_html=html)
    cleaned_item = CleanupPipeline().process_item(item)
    # The pasted headline and the signature go, as they did as paragraphs; the subheading is one.
    assert cleaned_item.body_html == BEFORE + "<h4>Что покажет телескоп</h4>" + AFTER


# --- where a heading sits ---------------------------------------------------------------------------------------------


def test_a_heading_between_loose_text_parts_it() -> None:
    safe, text = cleaned("<div>Первая часть.<h5>Подзаголовок</h5>Вторая часть.</div>")
    assert safe == "<p>Первая часть.</p><h4>Подзаголовок</h4><p>Вторая часть.</p>"
    assert text.split("\n\n") == ["Первая часть.", "Подзаголовок", "Вторая часть."]


def test_a_heading_inside_a_heading_keeps_both_texts() -> None:
    safe, text = cleaned("<h1><div><h6>Внутри</h6></div> и снаружи</h1><p>Текст.</p>")
    assert "<h4>Внутри</h4>" in safe and "<h1" not in safe and "<h6" not in safe
    assert text.split("\n\n") == ["Внутри", "и снаружи", "Текст."]


@pytest.mark.parametrize("container", ["li", "blockquote"])
def test_a_heading_inside_a_block_is_one_too(container: str) -> None:
    outer = f"<ul><{container}>" if container == "li" else f"<{container}>"
    close = f"</{container}></ul>" if container == "li" else f"</{container}>"
    safe, text = cleaned(f"{BEFORE}{outer}<h5>Цитата дня</h5><p>Слова учёного.</p>{close}")
    assert "<h4>Цитата дня</h4>" in safe
    assert text.split("\n\n") == ["Лаборатория начала работу.", "Цитата дня", "Слова учёного."]


def test_a_heading_in_a_cell_keeps_its_cell() -> None:
    safe, text = cleaned("<table><tr><td><h5>Телескоп</h5></td><td>2,4 м</td></tr></table>" + AFTER)
    assert "<td><h4>Телескоп</h4></td><td>2,4 м</td>" in safe
    assert text.split("\n\n") == ["Телескоп", "2,4 м", "Наблюдения начнутся в октябре."]


# --- the cleanup's rules hold for them --------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["h1", "h5", "h6"])
def test_the_title_pasted_as_a_heading_goes(tag: str) -> None:
    safe, _ = cleaned(f"<{tag}>{TITLE}</{tag}>{BEFORE}{AFTER}", TITLE)
    assert safe == BEFORE + AFTER


@pytest.mark.parametrize("tag", ["h1", "h5", "h6"])
def test_an_empty_heading_goes_and_a_picture_alone_in_one_stays_a_picture(tag: str) -> None:
    html = f"{BEFORE}<{tag}> &nbsp; </{tag}><{tag}><img src='/a.webp' alt='Телескоп'></{tag}>{AFTER}"
    safe, text = cleaned(html)
    assert f"<{tag}" not in safe and "<h2" not in safe and "<h4" not in safe
    assert '<img src="https://caliber.az/a.webp" alt="Телескоп">' in safe
    assert text.split("\n\n") == ["Лаборатория начала работу.", "Наблюдения начнутся в октябре."]


@pytest.mark.parametrize(
    "furniture",
    [
        pytest.param("<h5>Подписывайтесь на наш Telegram-канал</h5>", id="prompt"),
        pytest.param("<h6>Caliber.Az</h6>", id="signature"),
        pytest.param("<h1>Все права защищены.</h1>", id="notice"),
        pytest.param(
            "<h5>Похожие новости</h5><ul><li><a href='/post/1'>Обсерватория получила новое зеркало</a></li>"
            "<li><a href='/post/2'>В Шамахы прошёл день открытых дверей</a></li></ul>",
            id="related-heading-and-its-list",
        ),
        pytest.param(
            "<div class='related'><h6>Oxşar xəbərlər</h6></div><div><a href='/post/1'>Rəsədxana yeni güzgü aldı</a>"
            "</div><div><a href='/post/2'>Şamaxıda açıq qapı günü keçirildi</a></div>",
            id="related-heading-ending-its-container",
        ),
        pytest.param(
            "<h6>Читайте также:</h6><h5><a href='/post/1'>Обсерватория получила новое зеркало</a></h5>"
            "<h5><a href='/post/2'>В Шамахы прошёл день открытых дверей</a></h5>",
            id="read-also-over-headings-of-links",
        ),
        pytest.param(
            "<h5>Похожие новости: <a href='/post/1'>Новое зеркало</a>, <a href='/post/2'>День открытых дверей</a></h5>",
            id="related-heading-and-links-in-one",
        ),
    ],
)
def test_furniture_typed_as_a_heading_goes(furniture: str) -> None:
    safe, text = cleaned(BEFORE + furniture + AFTER)
    assert safe.replace("\n", "") == BEFORE + AFTER  # (a line break stays where a <div> was)
    assert text == "Лаборатория начала работу.\n\nНаблюдения начнутся в октябре."


def test_a_subheading_after_a_read_also_heading_is_not_one_of_its_links() -> None:
    html = (
        "<h6>Читайте также:</h6><h5><a href='/post/1'>Обсерватория получила новое зеркало</a></h5>"
        f"<h5>Что покажет телескоп</h5>{AFTER}"
    )
    safe, _ = cleaned(BEFORE + html)
    assert safe == BEFORE + "<h4>Что покажет телескоп</h4>" + AFTER


def test_a_long_heading_is_never_taken_for_a_notice() -> None:
    # Boilerplate is matched on short blocks only: a heading is as long as any block.
    heading = "Все права защищены. " + "Лаборатория откроет двери для школьников и студентов. " * 5
    safe, _ = cleaned(BEFORE + f"<h5>{heading}</h5>")
    assert safe.startswith(BEFORE + "<h4>Все права защищены.")


# --- elsewhere --------------------------------------------------------------------------------------------------------


def test_sanitize_html_keeps_them_headings_too() -> None:
    safe = sanitize_html("<h1>Раздел</h1><h5>Часть</h5><h6 class='x'>Мелочь</h6>", base_url=URL)
    assert safe == "<h2>Раздел</h2><h4>Часть</h4><h4>Мелочь</h4>"


def test_loose_text_is_wrapped_around_a_heading_not_inside_it() -> None:
    # spiders.page_layout wraps a page's loose text before extraction: a heading's own text is its, not a paragraph.
    tree = LexborHTMLParser("<div>Первая часть.<br><br><h5>Подзаголовок<br>в две строки</h5>Вторая часть.</div>")
    assert tree.body is not None
    wrap_loose_text_of(tree.body)
    assert tree.body.inner_html == (
        "<div><p>Первая часть.</p><h5>Подзаголовок<br>в две строки</h5><p>Вторая часть.</p></div>"
    )
