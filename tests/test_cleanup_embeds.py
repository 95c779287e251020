"""Social networks' posts quoted in an article, and contact links: what the cleanup step makes of them.

The sites quote a post on Instagram, X, Facebook or TikTok in the article ("Посол написал в X: <embed>"), pasting the
network's embed code (a quote with a script after it) or the frame the script renders it into. The bodies in
``tests/fixtures/embeds/`` are made-up articles holding each in the shape the networks' embed codes take. A frame was
dropped without a trace, Instagram's card kept its own furniture ("Посмотреть эту публикацию в Instagram"), TikTok's
quote named no video, Facebook's bare ``fb-post`` left nothing; and a ``mailto:`` or ``tel:`` link lost its address.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from aggregator.items import ArticleItem
from pipelines.base import Rejected
from pipelines.cleanup import (
    CleanupPipeline,
    clean_body,
    embed_target,
    facebook_post,
    instagram_post,
    text_of_safe_html,
    tiktok_post,
    x_post,
)

FIXTURES = Path(__file__).parent / "fixtures" / "embeds"
BASE = "https://report.az/ru/obshchestvo/x/"


def cleaned(fixture: str, source: str = "report", url: str = BASE) -> ArticleItem:
    """The fixture's body as the cleanup step leaves it, in an item of ``source`` fetched from ``url``."""
    body = (FIXTURES / fixture).read_text(encoding="utf-8")
    item = ArticleItem(source=source, url=url, title="Заголовок", body_html=body, body_text="")
    result = CleanupPipeline().process_item(item)
    assert isinstance(result, ArticleItem)
    assert result.body_text == text_of_safe_html(result.body_html or "")
    return result


def flat(html: str | None) -> str:
    """Safe HTML without the line breaks and blank runs the source's markup left between elements."""
    return re.sub(r">\s+<", "><", (html or "").replace("\n", ""))


def link(url: str) -> str:
    shown = url.replace("&", "&amp;")
    return f'<a href="{shown}" rel="nofollow noopener">{shown}</a>'


def links(html: str | None) -> list[dict[str, str | None]]:
    return [dict(node.attrs) for node in LexborHTMLParser(html or "").css("a")]


# --- the embed codes --------------------------------------------------------------------------------------------------


def test_an_instagram_card_becomes_a_link_to_the_post_without_its_furniture() -> None:
    # Instagram's current card carries no word of the post: "View this post on Instagram" and "A post shared by ..."
    # (here in the Russian an editor's Instagram speaks) were kept as if the article said them.
    item = cleaned("instagram_card.html")
    post = "https://www.instagram.com/p/DA7kQx2sLmN/"
    assert flat(item.body_html) == (
        "<p>Певица Айгюн поделилась в Instagram кадрами с репетиции перед концертом в Баку.</p>"
        f"<p>{link(post)}</p>"
        "<p>Концерт пройдет 14 декабря во Дворце Гейдара Алиева.</p>"
    )
    assert item.body_text == (
        "Певица Айгюн поделилась в Instagram кадрами с репетиции перед концертом в Баку.\n\n"
        f"{post}\n\nКонцерт пройдет 14 декабря во Дворце Гейдара Алиева."
    )


def test_an_old_captioned_instagram_embed_keeps_the_caption_as_a_quote() -> None:
    # The old form carried the post's words: its paragraphs before the "shared by ... <time>" line.
    item = cleaned("instagram_captioned.html", source="apa", url="https://apa.az/sosial/x-813500")
    post = "https://www.instagram.com/p/BcQ2wErTyUi/"
    assert flat(item.body_html) == (
        "<p>Nazirlik yeni məktəbin açılışı ilə bağlı paylaşım edib.</p>"
        "<blockquote><p> Laçında 960 şagird yerlik məktəb istifadəyə verildi.<br>#Laçın #təhsil</p></blockquote>"
        f"<p>{link(post)}</p>"
        "<p>Məktəbdə 32 sinif otağı və idman zalı var.</p>"
    )
    assert item.body_text == (
        "Nazirlik yeni məktəbin açılışı ilə bağlı paylaşım edib.\n\n"
        "Laçında 960 şagird yerlik məktəb istifadəyə verildi. #Laçın #təhsil\n\n"
        f"{post}\n\nMəktəbdə 32 sinif otağı və idman zalı var."
    )
    assert "Публикация от" not in item.body_text and "2017" not in item.body_text


def test_a_tweet_stays_a_quote_and_links_the_post_without_the_tracking_query() -> None:
    item = cleaned("x_quote.html")
    post = "https://twitter.com/AmbassadeTest/status/1861234567890123456"
    assert flat(item.body_html) == (
        "<p>Посол Франции в Азербайджане написал в социальной сети X:</p>"
        "<blockquote><p>Сегодня в Баку подписан меморандум о сотрудничестве в области возобновляемой энергетики. "
        'Важный шаг для наших стран! <a href="https://t.co/Xy12AbCdEf" rel="nofollow noopener">'
        "pic.twitter.com/Xy12AbCdEf</a></p>— Посол Франции (@AmbassadeTest) "
        f'<a href="{post}" rel="nofollow noopener">25 ноября 2026 г.</a></blockquote>'
        "<p>Меморандум предусматривает совместные проекты в области солнечной энергетики.</p>"
    )
    assert "ref_src" not in (item.body_html or "")


def test_a_tiktok_quote_keeps_its_caption_loses_its_sound_and_links_the_video() -> None:
    # The quote named the video only in its cite (which the sanitiser drops): no link led to it.
    item = cleaned("tiktok_quote.html")
    video = "https://www.tiktok.com/@baku_evening_test/video/7301234567890123456"
    assert item.body_text == (
        "Видео вечернего бульвара набрало миллион просмотров в TikTok.\n\n"
        "@baku_evening_test Вечерний бульвар после дождя #баку\n\n"
        f"{video}\n\nАвтор ролика снимает город каждый вечер."
    )
    assert f"</blockquote><p>{link(video)}</p>" in flat(item.body_html)
    assert "♬" not in (item.body_html or "") and "/music/" not in (item.body_html or "")


def test_a_facebook_post_keeps_its_quote_and_its_link() -> None:
    item = cleaned("facebook_post.html")
    post = "https://www.facebook.com/mfa.test/posts/pfbid0aBcDeF123"
    assert item.body_text == (
        "Министерство сообщило о встрече на своей странице в Facebook:\n\n"
        "Сегодня министр провел встречу с делегацией Европейского союза.\n\n"
        "Опубликовано МИД Азербайджана Среда, 25 ноября 2026 г.\n\n"
        "Стороны обсудили энергетическое сотрудничество."
    )
    assert f'<a href="{post}" rel="nofollow noopener">Среда, 25 ноября 2026 г.</a></blockquote>' in flat(item.body_html)
    assert (item.body_html or "").count(f'href="{post}"') == 1  # linked once, by its date: no second link


def test_a_bare_facebook_post_becomes_a_link_to_the_post() -> None:
    # The script fills an empty <div class="fb-post">: without it the post left nothing.
    item = cleaned("facebook_post_bare.html")
    post = "https://www.facebook.com/permalink.php?story_fbid=pfbid0aBcDeF123&id=100064123456789"
    assert flat(item.body_html) == (
        "<p>Министерство сообщило о встрече на своей странице в Facebook:</p>"
        f"<p>{link(post)}</p><p>Стороны обсудили энергетическое сотрудничество.</p>"
    )
    assert item.body_text.split("\n\n")[1] == post


@pytest.mark.parametrize(
    ("embed", "kept"),
    [
        pytest.param(
            '<blockquote class="twitter-tweet"><a href="https://twitter.com/mfa_test/status/186?ref_src=x"></a>'
            "</blockquote>",
            f"<p>{link('https://twitter.com/mfa_test/status/186')}</p>",
            id="tweet-with-no-words",
        ),
        pytest.param(
            '<blockquote class="tiktok-embed" data-video-id="7301234567890123456"><section></section></blockquote>',
            f"<p>{link('https://www.tiktok.com/@_/video/7301234567890123456')}</p>",
            id="tiktok-video-number-only",
        ),
        pytest.param(
            '<blockquote class="instagram-media"><a href="https://www.instagram.com/reel/C9xYz12AbCd/?igsh=1">'
            "View this post on Instagram</a></blockquote>",
            f"<p>{link('https://www.instagram.com/reel/C9xYz12AbCd/')}</p>",
            id="instagram-reel-named-by-its-link",
        ),
        pytest.param(
            '<div class="fb-video" data-href="https://www.facebook.com/mfa.test/videos/1234567890/"></div>',
            f"<p>{link('https://www.facebook.com/mfa.test/videos/1234567890/')}</p>",
            id="facebook-video",
        ),
        # Naming no post of the network: the words stay (no link is made up), an empty one goes.
        pytest.param(
            '<blockquote class="twitter-tweet"><p>Текст без ссылки.</p></blockquote>',
            "<blockquote><p>Текст без ссылки.</p></blockquote>",
            id="tweet-without-its-link",
        ),
        pytest.param(
            '<blockquote class="instagram-media" data-instgrm-permalink="javascript:alert(1)"><div>'
            '<a href="https://www.instagram.com/aygun_singer_test/">View this post on Instagram</a></div></blockquote>',
            "",
            id="instagram-naming-no-post",
        ),
        pytest.param('<div class="fb-post" data-href="javascript:alert(1)"></div>', "", id="facebook-script"),
        pytest.param(
            '<div class="fb-post" data-href="https://evil.example/posts/1"></div>', "", id="facebook-elsewhere"
        ),
        pytest.param('<div class="fb-post" data-href="https://www.facebook.com/"></div>', "", id="facebook-home"),
        pytest.param(
            '<blockquote class="tiktok-embed" cite="https://www.tiktok.com/@a/video/x1"><section>Подпись</section>'
            "</blockquote>",
            "<blockquote>Подпись</blockquote>",
            id="tiktok-malformed-number",
        ),
        # X's script leaves a <div class="twitter-tweet"> around the frame it renders: no embed code of its own.
        pytest.param('<div class="twitter-tweet"><p>Текст.</p></div>', "<p>Текст.</p>", id="rendered-tweet-div"),
    ],
)
def test_each_embed_code_is_its_words_and_a_link_to_its_post(embed: str, kept: str) -> None:
    safe, text = clean_body(f"<p>До.</p>{embed}<p>После.</p>", base_url=BASE)
    assert flat(safe) == f"<p>До.</p>{kept}<p>После.</p>"
    assert text == text_of_safe_html(safe)


def test_an_embed_inside_a_block_leaves_its_link_alone_in_the_block() -> None:
    # A paragraph (or a list item) cannot hold another paragraph: the link stands in the embed's place.
    html = '<ul><li>Пост: <blockquote class="twitter-tweet"><a href="https://x.com/a_test/status/1"></a></blockquote></li></ul>'
    safe, text = clean_body(f"<p>Один.</p>{html}", base_url=BASE)
    assert safe == f"<p>Один.</p><ul><li>Пост:  {link('https://x.com/a_test/status/1')} </li></ul>"
    assert text == "Один.\n\nПост: https://x.com/a_test/status/1" == text_of_safe_html(safe)


def test_a_body_that_is_only_an_embedded_post_is_refused() -> None:
    # As a player alone is: a link to another site's post is no article.
    for fixture in ("instagram_card.html", "facebook_post_bare.html"):
        body = (FIXTURES / fixture).read_text(encoding="utf-8")
        only = re.sub(r"<p>[^<]*</p>", "", body)  # the article's own paragraphs gone
        assert clean_body(only, base_url=BASE) == ("", "")
        with pytest.raises(Rejected, match="no body"):
            CleanupPipeline().process_item(ArticleItem(source="report", url=BASE, title="T", body_html=only))


# --- the frames -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "post"),
    [
        ("https://www.instagram.com/p/DA7kQx2sLmN/embed/", "https://www.instagram.com/p/DA7kQx2sLmN/"),
        (
            "https://www.instagram.com/p/DA7kQx2sLmN/embed/captioned/?cr=1&amp;v=14&amp;wp=540",
            "https://www.instagram.com/p/DA7kQx2sLmN/",
        ),
        ("//www.instagram.com/reel/C9xYz12AbCd/embed", "https://www.instagram.com/reel/C9xYz12AbCd/"),
        (
            (
                "https://platform.twitter.com/embed/Tweet.html?dnt=false&amp;embedId=twitter-widget-0&amp;frame=false"
                "&amp;hideCard=false&amp;id=1861234567890123456&amp;lang=ru&amp;theme=light&amp;width=550px"
            ),
            "https://x.com/i/status/1861234567890123456",
        ),
        (
            (
                "https://www.facebook.com/plugins/post.php?href=https%3A%2F%2Fwww.facebook.com%2Fmfa.test%2Fposts%2F"
                "pfbid0aBcDeF123&amp;show_text=true&amp;width=500"
            ),
            "https://www.facebook.com/mfa.test/posts/pfbid0aBcDeF123",
        ),
        (
            # the frame's own address was linked before: a bare player page, not the video's
            (
                "https://www.facebook.com/plugins/video.php?height=314&amp;href=https%3A%2F%2Fwww.facebook.com%2F"
                "mfa.test%2Fvideos%2F1234567890%2F&amp;show_text=false&amp;width=560&amp;t=0"
            ),
            "https://www.facebook.com/mfa.test/videos/1234567890/",
        ),
        (
            "https://www.tiktok.com/embed/v2/7301234567890123456?lang=ru-RU",
            "https://www.tiktok.com/@_/video/7301234567890123456",
        ),
        ("https://www.tiktok.com/player/v1/7301234567890123456", "https://www.tiktok.com/@_/video/7301234567890123456"),
    ],
)
def test_a_social_networks_frame_becomes_a_link_to_the_post(src: str, post: str) -> None:
    frame = f'<iframe src="{src}" width="500" height="600" frameborder="0" scrolling="no"></iframe>'
    for html in (f"<p>Один.</p>{frame}<p>Два.</p>", f'<p>Один.</p><div class="embed">{frame}</div><p>Два.</p>'):
        safe, text = clean_body(html, base_url=BASE)
        assert flat(safe) == f"<p>Один.</p><p>{link(post)}</p><p>Два.</p>"
        assert text == f"Один.\n\n{post}\n\nДва." == text_of_safe_html(safe)
    lazy = f'<iframe class="lazy" data-src="{src}" src="about:blank"></iframe>'
    assert clean_body(f"<p>Один.</p>{lazy}", base_url=BASE)[1] == f"Один.\n\n{post}"


@pytest.mark.parametrize(
    "src",
    [
        "https://www.instagram.com/aygun_singer_test/embed/",  # a profile's widget
        "https://www.instagram.com/p/ab/embed/",  # no post's code
        "https://platform.twitter.com/embed/Tweet.html?id=abc",
        "https://platform.twitter.com/embed/Tweet.html",
        "https://platform.twitter.com/widgets/follow_button.html?screen_name=mfa_test",
        "https://www.facebook.com/plugins/page.php?href=https%3A%2F%2Fwww.facebook.com%2Fmfa.test",
        "https://www.facebook.com/plugins/like.php?href=https%3A%2F%2Freport.az%2F",
        "https://www.facebook.com/plugins/post.php?href=https%3A%2F%2Fevil.example%2Fposts%2F1",
        "https://www.facebook.com/plugins/post.php?href=javascript%3Aalert(1)",
        "https://www.facebook.com/plugins/video.php?width=560",
        "https://www.tiktok.com/embed/v2/abc",
        "https://www.tiktok.com/embed/@baku_evening_test",
        "javascript:alert('instagram.com/p/DA7kQx2sLmN/embed/')",
    ],
)
def test_a_networks_frame_showing_no_post_is_dropped_as_before(src: str) -> None:
    assert embed_target(src.replace("&amp;", "&"), BASE) is None
    safe, text = clean_body(f'<p>Один.</p><iframe src="{src}"></iframe><p>Два.</p>', base_url=BASE)
    assert safe == "<p>Один.</p><p>Два.</p>" and text == "Один.\n\nДва."


def test_a_post_address_from_a_frame_stays_inside_its_attribute() -> None:
    # Facebook's frame carries the post's address encoded: decoded, it is only ever an attribute's value.
    src = "https://www.facebook.com/plugins/post.php?href=https%3A%2F%2Fwww.facebook.com%2Fx%22%3E%3Cscript%3Ealert(1)"
    safe, _ = clean_body(f'<p>Один.</p><iframe src="{src}"></iframe>', base_url=BASE)
    assert [node.tag for node in LexborHTMLParser(safe).body.traverse()] == ["body", "p", "p", "a"]
    assert links(safe) == [{"href": 'https://www.facebook.com/x"><script>alert(1)', "rel": "nofollow noopener"}]


@pytest.mark.parametrize(
    ("read", "href", "post"),
    [
        (instagram_post, "https://instagram.com/p/DA7kQx2sLmN", "https://www.instagram.com/p/DA7kQx2sLmN/"),
        (instagram_post, "https://www.instagram.com/aygun_test/p/DA7kQx2sLmN/", "https://www.instagram.com/p/DA7kQx2sLmN/"),
        (instagram_post, "https://www.instagram.com/tv/DA7kQx2sLmN/?hl=ru", "https://www.instagram.com/tv/DA7kQx2sLmN/"),
        (instagram_post, "https://www.instagram.com/explore/tags/baku/", None),
        (instagram_post, "https://www.instagram.com.evil.example/p/DA7kQx2sLmN/", None),
        (x_post, "https://mobile.twitter.com/mfa_test/status/186/photo/1", "https://twitter.com/mfa_test/status/186"),
        (x_post, "https://x.com/mfa_test/status/186?s=20", "https://x.com/mfa_test/status/186"),
        (x_post, "https://twitter.com/i/web/status/186", "https://twitter.com/i/web/status/186"),
        (x_post, "https://twitter.com/mfa_test", None),
        (x_post, "https://t.co/Xy12AbCdEf", None),
        (tiktok_post, "https://m.tiktok.com/@baku.test/video/730?is_from_webapp=1", "https://www.tiktok.com/@baku.test/video/730"),
        (tiktok_post, "https://www.tiktok.com/@baku_test", None),
        (facebook_post, "http://m.facebook.com/story.php?story_fbid=1&id=2#x", "http://m.facebook.com/story.php?story_fbid=1&id=2"),
        (facebook_post, "https://facebook.com.evil.example/mfa/posts/1", None),
        (facebook_post, "ftp://www.facebook.com/mfa/posts/1", None),
        (facebook_post, "https://[broken/posts/1", None),
    ],
)  # fmt: skip
def test_a_posts_address_as_a_reader_opens_it(read, href: str, post: str | None) -> None:
    assert read(href, BASE) == post


# --- contact links ----------------------------------------------------------------------------------------------------


def test_mail_and_telephone_links_keep_their_address() -> None:
    # "написать на <a href=mailto:...>электронный адрес</a>": the link was the only place the address was written,
    # and the sanitiser stripped it (http(s) only), leaving words that promise an address and give none.
    item = cleaned("contacts.html")
    assert [each.get("href") for each in links(item.body_html)] == [
        "tel:+994125551234",
        "mailto:help@mchs.test.az?subject=%D0%9F%D0%BE%D0%BC%D0%BE%D1%89%D1%8C",
        "MAILTO:info@report.az",
        None,  # javascript: still stripped
        None,  # data: too
    ]
    assert all(each.get("rel") == "nofollow noopener" for each in links(item.body_html))
    assert item.body_text.startswith("Жители пострадавших районов могут обратиться на горячую линию министерства")
    assert "Ссылка-ловушка и еще одна остаются текстом." in item.body_text


def test_an_image_or_a_cover_is_still_never_a_mail_or_telephone_address() -> None:
    safe, _ = clean_body('<p>Фото.<img src="mailto:a@b.az"><img src="tel:+994" data-src="tel:+995"></p>', base_url=BASE)
    assert safe == "<p>Фото.</p>"
    item = CleanupPipeline().process_item(
        ArticleItem(source="report", url=BASE, title="T", body_html="<p>Текст.</p>", cover_image_url="tel:+994")
    )
    assert item.cover_image_url is None


# --- the text is the safe HTML's, wherever the embeds are ----------------------------------------------------------

_EMBEDS = tuple(
    (FIXTURES / name).read_text(encoding="utf-8") for name in sorted(p.name for p in FIXTURES.glob("*.html"))
)
_PARTS = (
    *_EMBEDS,
    "Текст",
    "<br>",
    "Читайте также:",
    '<iframe src="https://www.instagram.com/p/DA7kQx2sLmN/embed/"></iframe>',
    '<blockquote class="twitter-tweet"><a href="https://x.com/a_test/status/1"></a></blockquote>',
    '<div class="fb-post" data-href="https://www.facebook.com/a/posts/1"></div>',
    (
        '<blockquote class="instagram-media" data-instgrm-permalink="https://www.instagram.com/p/DA7kQx2sLmN/">'
        "<p>A post shared by X</p></blockquote>"
    ),
)
_CONTAINERS = ("p", "div", "li", "ul", "blockquote", "td", "table", "span", "section", "figure", "h2")


@st.composite
def bodies(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        if depth < 2 and draw(st.booleans()):
            tag = draw(st.sampled_from(_CONTAINERS))
            parts.append(f"<{tag}>{draw(bodies(depth + 1))}</{tag}>")
        else:
            parts.append(draw(st.sampled_from(_PARTS)))
    return "".join(parts)


@settings(max_examples=150, deadline=None)
@given(bodies())
def test_the_text_is_the_safe_htmls_around_any_embed(html: str) -> None:
    safe, text = clean_body(html, base_url=BASE)
    assert text == text_of_safe_html(safe), html
    for attributes in links(safe):
        assert set(attributes) <= {"href", "rel"}, html
        href = attributes.get("href") or ""
        assert not href or href.startswith(("https://", "http://", "tel:", "mailto:", "MAILTO:")), html
