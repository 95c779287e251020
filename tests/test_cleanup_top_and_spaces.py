"""Cleanup: what a re-published body showed twice at its top (the headline, the lead), and the runs of no-break
spaces an editor's copy and paste leaves in the text."""

from __future__ import annotations

import pytest

from aggregator.items import ArticleItem
from pipelines.cleanup import CleanupPipeline, clean_body, text_of_safe_html

URL = "https://caliber.az/post/x"
TITLE = "В Шамахы открылась новая астрофизическая лаборатория"


def cleaned(html: str, title: str | None = None) -> tuple[str, str]:
    safe, text = clean_body(html, base_url=URL, title=title)
    assert text == text_of_safe_html(safe)
    return safe, text


# --- no-break spaces ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "safe"),
    [
        pytest.param("<p>&nbsp; &nbsp; Текст.</p>", "<p>Текст.</p>", id="indent"),
        pytest.param("<p>Текст.&nbsp;&nbsp;</p>", "<p>Текст.</p>", id="at-the-end"),
        pytest.param("<p>Текст.&nbsp;</p>", "<p>Текст.</p>", id="a-lone-one-at-the-end"),
        pytest.param("<p>&nbsp;Текст.</p>", "<p>Текст.</p>", id="a-lone-one-at-the-start"),
        pytest.param("<p>Один&nbsp;&nbsp;&nbsp;два.</p>", "<p>Один два.</p>", id="a-gap"),
        pytest.param("<p>Один&nbsp; два.</p>", "<p>Один два.</p>", id="with-a-plain-space"),
        pytest.param("<p>Один.&nbsp;<br>&nbsp; Два.</p>", "<p>Один.<br>\nДва.</p>", id="around-a-line-break"),
        pytest.param(
            "<p><b>Один</b>&nbsp;&nbsp;<i>два</i></p>", "<p><b>Один</b> <i>два</i></p>", id="between-inline-elements"
        ),
        pytest.param(
            "<table><tr><td>&nbsp;1</td><td>&nbsp;</td></tr></table>",
            "<table><tbody><tr><td>1</td><td></td></tr></tbody></table>",
            id="cells",
        ),
        # one between two words is the editor's: a number kept with its unit, a name with its initial
        pytest.param(
            "<p>2,4&nbsp;млн манатов, И.&nbsp;Алиев.</p>", "<p>2,4&nbsp;млн манатов, И.&nbsp;Алиев.</p>", id="lone"
        ),
        pytest.param(
            '<p>Около&nbsp;<a href="https://report.az/">Report</a>.</p>',
            '<p>Около&nbsp;<a href="https://report.az/" rel="nofollow noopener">Report</a>.</p>',
            id="lone-before-a-link",
        ),
    ],
)
def test_runs_of_no_break_spaces_are_one_space_and_none_at_a_lines_edge(html: str, safe: str) -> None:
    # A browser collapses no run of no-break spaces: the copy showed an indent and gaps the source never meant.
    assert cleaned(html)[0] == safe


def test_no_break_spaces_inside_a_tag_are_left_alone() -> None:
    html = '<p><img src="https://caliber.az/a.webp" alt="Мост&nbsp;&nbsp;в Гяндже"> Мост&nbsp;&nbsp;открыт.</p>'
    safe, text = cleaned(html)
    assert 'alt="Мост&nbsp;&nbsp;в Гяндже"' in safe and "Мост открыт." in safe
    assert text == "Мост открыт."


# --- the headline and the lead, twice ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headline",
    [
        f"<p><strong>{TITLE}</strong></p>",
        f"<p>{TITLE}.</p>",
        f"<h2>{TITLE}</h2>",
        f"<h1>{TITLE}</h1>",
        f"<p><b>{TITLE.upper()}</b></p>",
        f"<p>&nbsp;<strong>{TITLE}</strong>&nbsp;</p>",
    ],
)
def test_the_title_pasted_above_the_text_goes(headline: str) -> None:
    safe, text = cleaned(f"{headline}<p>Лаборатория начала работу.</p><p>Наблюдения начнутся в октябре.</p>", TITLE)
    assert text == "Лаборатория начала работу.\n\nНаблюдения начнутся в октябре."
    assert TITLE.casefold() not in safe.casefold()


@pytest.mark.parametrize(
    ("html", "text"),
    [
        # the title's words opening a longer paragraph: the article's sentence
        (
            f"<p>{TITLE} при обсерватории имени Туси.</p><p>Наблюдения начнутся в октябре.</p>",
            f"{TITLE} при обсерватории имени Туси.\n\nНаблюдения начнутся в октябре.",
        ),
        # the title further down: a line of the article (a quote, a summary), not the headline pasted above it
        (
            f"<p>Наблюдения начнутся в октябре.</p><p>{TITLE}</p>",
            f"Наблюдения начнутся в октябре.\n\n{TITLE}",
        ),
        # a body that is its title alone is still a body
        (f"<p><strong>{TITLE}</strong></p>", TITLE),
        # the title as a picture's caption is the caption
        (
            (
                f'<figure><img src="https://caliber.az/a.webp" alt=""><figcaption>{TITLE}</figcaption></figure>'
                "<p>Наблюдения начнутся в октябре.</p>"
            ),
            f"{TITLE}\n\nНаблюдения начнутся в октябре.",
        ),
    ],
)
def test_a_paragraph_that_only_resembles_the_title_stays(html: str, text: str) -> None:
    assert cleaned(html, TITLE)[1] == text


def test_the_lead_printed_twice_is_printed_once() -> None:
    lead = "При обсерватории в Шамахы начала работу лаборатория спектрального анализа."
    html = f"<p><strong>{TITLE}</strong></p><p><strong>{lead}</strong></p><p>{lead}</p><p>Текст.</p>"
    safe, text = cleaned(html, TITLE)
    assert text == f"{lead}\n\nТекст."
    assert safe.count(lead) == 1 and f"<strong>{lead}</strong>" in safe
    # without the title above it as well
    assert cleaned(f"<p>{lead}</p><p>{lead}</p><p>Текст.</p>", TITLE)[1] == f"{lead}\n\nТекст."
    # the same paragraph twice further down is left as the page has it
    again = f"<p>Начало.</p><p>{lead}</p><p>{lead}</p>"
    assert cleaned(again, TITLE)[1] == f"Начало.\n\n{lead}\n\n{lead}"


def test_the_pipeline_compares_with_the_items_title() -> None:
    item = ArticleItem(
        source="caliber", language="ru", url=URL, title=f" {TITLE} ",
        body_html=f"<p><strong>{TITLE}</strong></p><p>Лаборатория начала работу.</p>",
    )  # fmt: skip
    out = CleanupPipeline().process_item(item)
    assert out.title == TITLE
    assert out.body_text == "Лаборатория начала работу."
