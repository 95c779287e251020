"""Where the article is on a page the generic extractor has never seen, and what around it is not the article.

trafilatura finds a page's main text by the look of its blocks, and a CMS's furniture can look more like an article
than the article does. On a 1C-Bitrix page the article is loose text and ``<br>`` in a ``<div class="news-detail">``
while the "other news of the section" teasers and the readers' comments below it are tidy ``<p>``s and cells: the
body came out as two teasers and two comments, and not one line of the article. So before trafilatura sees a page:

* the readers' comments and the teaser blocks ("other news", "related", "most read") are taken out
  (``prune_furniture``): neither is the article, and both carry dates and names that the date search and the
  headline search must not find either; a comment section is known by its class, or by its heading
  ("Комментарии (5)", "Şərhlər") when its markup names nothing;
* text typed as text and ``<br>`` is made paragraphs (``wrap_loose_text``), as the cleanup pipeline does with a
  body, so that it is judged as the paragraphs it is;
* a ``<time>`` inside a sentence or a list item of the text is made plain text (``keep_times_in_text``):
  trafilatura drops every ``<time>`` element, and with it "15 января" out of "пройдет 15 января в Баку" and a live
  blog's "15:10" before each of its updates;

and afterwards trafilatura's text is checked against the page's own evidence (``main_container``): the element
holding the most paragraph-like text, the one that holds the page's lead (its description) when there is a choice.
When trafilatura's text leaves out most of that element's, the element is the body.

Everything here errs on the article's side: an element that holds the page's ``<h1>`` is never taken out, a block
named like a comment is taken out only when it shows a comment's traces (a time, a form), and a block named like a
teaser list only when it holds several links and a good part of its text is theirs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.html import INLINE_TAGS, collapse_whitespace, css, css_first, is_inside
from pipelines.cleanup import wrap_loose_text_of
from spiders.metadata import in_running_text

_COMMENT_NAME = re.compile(r"(?:^|[-_])(?:comments?|commentlist|reviews|disqus)(?:[-_]|$)")
"""A class or id word of a comment block: ``comments``, ``comment-list``, ``comments-area`` (WordPress),
``dle-comments-list`` (DLE), ``reviews-block-container``, ``bx-reviews`` (1C-Bitrix's forum comments),
``disqus_thread``, ``vk_comments``. Not a singular "review": a critic's review is an article."""
_COMMENT_IDS = frozenset({"comments", "respond", "disqus_thread"})
_COMMENT_TRACES = "form, textarea, time"
_CLOCK = re.compile(r"\d{1,2}:\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}")
"""A time of day or a numeric date: a comment shows when it was written ("04.12.2026 16:02", "Сегодня, 17:30")."""
_TEASER_NAME = re.compile(
    r"related|similar|other|popular|most-?read|top-?news|read-?also|also-?read|see-?also|more-?news|news-?list"
    r"|recommend|latest|yarpp"
)
"""A class or id of a teaser block: ``related-news``, ``jp-relatedposts``, ``news-detail-other`` (Bitrix's "other news
of the section"), ``bx-newslist popular``, ``most-read``, ``MostRead_box__r7`` (a Next.js CSS module)."""
TEASER_HEADINGS = frozenset(
    {
        # Russian
        "другие новости", "другие новости раздела", "другие новости по теме", "читайте также", "читайте еще",
        "читайте ещё", "смотрите также", "новости по теме", "по теме", "материалы по теме", "похожие новости",
        "похожие записи", "похожие статьи", "связанные новости", "популярное", "популярные новости",
        "самое читаемое", "самое популярное", "последние новости", "лента новостей", "еще новости", "ещё новости",
        # Azerbaijani
        "digər xəbərlər", "oxşar xəbərlər", "bu mövzuda", "mövzu ilə bağlı", "mövzuya aid", "ən çox oxunanlar",
        "ən çox oxunan", "ən çox oxunan xəbərlər", "son xəbərlər", "xəbər lenti", "həmçinin oxuyun",
        "bunu da oxuyun", "populyar",
        # English
        "related", "related news", "related articles", "related posts", "read also", "see also", "more news",
        "more stories", "most read", "most popular", "popular", "latest news", "you may also like",
    }
)  # fmt: skip
"""The headings of teaser lists whose markup names nothing ("<p><strong>Digər xəbərlər:</strong></p><ul>...")."""
_COMMENT_HEADING = re.compile(
    r"(?:\d+\s+)?(?:комментари[йияев]{0,2}|отзывы(?:\s+читателей)?|обсуждение|şərhlər|şərh|rəylər|oxucu\s+rəyləri"
    r"|comments?|responses?)(?:\W*\d+)?"
)
"""The heading of a comment section whose markup names nothing ("<section class="feedback"><h2>Комментарии (5)</h2>"),
as ``heading_key`` leaves it: the word, with the count the site prints before or after it."""
MIN_TEASER_LINKS = 2
TEASER_LINK_SHARE = 0.25
"""A teaser block is a list of links to other articles, each perhaps with a line of summary and a date: a quarter of
its text or more is link text. An article's own wrapper, whatever its class says, is mostly its text."""
LINK_LIST_SHARE = 0.5
"""What follows a teaser heading is its list when half of its text or more is link text."""
_PROTECTED = frozenset({"html", "head", "body", "main"})

MIN_UNIT = 30
"""Characters of text below which a block is a caption, a byline or a label, not a paragraph of the article."""
_NOT_UNITS = frozenset(
    {*INLINE_TAGS, "script", "style", "noscript", "template", "h1", "h2", "h3", "h4", "h5", "h6", "button", "select",
     "option", "textarea", "form", "nav", "head", "html", "title", "figcaption", "caption", "ul", "ol", "table",
     "tbody", "thead", "tr"}
)  # fmt: skip
_NO_WRAP = frozenset({*INLINE_TAGS, "p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "tbody", "thead",
                      "tr", "ul", "ol", "dl", "select", "head", "html", "script", "style"})  # fmt: skip
"""Elements whose loose text is not made paragraphs: a paragraph, a list item or a heading may hold line breaks of
its own, and an inline element is inside something else's run."""
_CHROME = frozenset({"header", "footer", "nav", "aside"})
_CHROME_ROLES = frozenset({"banner", "contentinfo", "navigation", "complementary"})
_WORD_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def squashed(text: str) -> str:
    """``text`` without whitespace, lower-cased: what two renderings of the same words have in common (trafilatura
    and the page part lines and paragraphs differently)."""
    return "".join(text.split()).lower()


def _words(node: LexborNode) -> list[str]:
    words = [*(node.attrs.get("class") or "").split(), node.attrs.get("id") or ""]
    return [w.lower() for w in words if w]


def _text_length(node: LexborNode) -> int:
    return len(collapse_whitespace(node.text(deep=True, separator=" ")))


def link_share(node: LexborNode, *, besides: int = 0) -> tuple[float, int]:
    """The share of ``node``'s text that is link text, and how many links it holds; ``besides``: characters of its
    text not to count (a heading inside it)."""
    links = css(node, "a")
    total = _text_length(node) - besides
    linked = sum(_text_length(a) for a in links)
    return (min(1.0, linked / total) if total > 0 else 1.0), len(links)


def _holds_headline(node: LexborNode) -> bool:
    return node.tag in _PROTECTED or css_first(node, "h1") is not None


def _in_headline(node: LexborNode) -> bool:
    current: LexborNode | None = node
    while current is not None:
        if current.tag == "h1":
            return True
        current = current.parent
    return False


def _comment_block(node: LexborNode) -> bool:
    words = _words(node)
    if not any(w in _COMMENT_IDS or _COMMENT_NAME.search(w) for w in words):
        return False
    if css_first(node, _COMMENT_TRACES) is not None:
        return True
    return _CLOCK.search(node.text(deep=True, separator=" ")) is not None


def _teaser_block(node: LexborNode) -> bool:
    if not any(_TEASER_NAME.search(w) for w in _words(node)):
        return False
    share, links = link_share(node)
    return links >= MIN_TEASER_LINKS and share >= TEASER_LINK_SHARE


def heading_key(text: str) -> str:
    """A heading's words as ``TEASER_HEADINGS`` spells them: lower-cased, without the colon or arrow around them."""
    return _WORD_EDGES.sub("", collapse_whitespace(text).lower())


def _next_element(node: LexborNode) -> LexborNode | None:
    sibling = node.next
    while sibling is not None and (sibling.tag in ("-text", "-comment")):
        if sibling.tag == "-text" and (sibling.text_content or "").strip():
            return None  # text between the heading and what follows: not a heading over a list
        sibling = sibling.next
    return sibling


def _first_element(node: LexborNode) -> LexborNode | None:
    """``node``'s first child element, if no text stands before it."""
    child = node.child
    while child is not None and child.tag in ("-text", "-comment"):
        if child.tag == "-text" and (child.text_content or "").strip():
            return None
        child = child.next
    return child


def _comment_section(heading: LexborNode) -> LexborNode | None:
    """The readers' comments a heading such as "Комментарии (5)" opens: the block it opens (the heading is its first
    element), else the element after it, if that shows a comment's traces (a form, a time, comments' clocks) and
    holds no headline. The heading alone says nothing: an article may have a part headed "Комментарии" (experts'
    comments), which has no form and no times."""
    # The block the heading opens first: the element after the heading may be only the first comment of several.
    parent = heading.parent
    candidates = []
    if parent is not None and parent.tag not in ("article", *_PROTECTED) and _same(_first_element(parent), heading):
        candidates.append(parent)
    if (following := _next_element(heading)) is not None:
        candidates.append(following)
    for block in candidates:
        if _holds_headline(block):
            continue
        if css_first(block, _COMMENT_TRACES) is not None or len(_CLOCK.findall(block.text(deep=True))) >= 2:
            return block
    return None


def _same(first: LexborNode | None, second: LexborNode) -> bool:
    return first is not None and first.mem_id == second.mem_id


def _teaser_headings(body: LexborNode) -> list[LexborNode]:
    """The teaser lists that a heading names (``TEASER_HEADINGS``), and their headings; and the comment sections a
    heading opens (``_COMMENT_HEADING``, ``_comment_section``), found in the same walk through the page's text."""
    found: list[LexborNode] = []
    for text in body.traverse(include_text=True):
        if text.tag != "-text":
            continue
        raw = text.text_content or ""
        if len(raw) > 60:
            continue
        if heading_key(raw) not in TEASER_HEADINGS:
            if _COMMENT_HEADING.fullmatch(heading_key(raw)):
                heading = _shown_alone(text, heading_key(raw))
                if heading is not None and (comments := _comment_section(heading)) is not None:
                    found += [heading, comments] if not is_inside(heading, comments) else [comments]
            continue
        heading = _shown_alone(text, heading_key(raw))
        if heading is None:
            continue  # a page titled "Последние новости" is a listing, and its title is its title
        following = _next_element(heading)
        if following is not None and not _holds_headline(following):
            share, links = link_share(following)
            if links >= MIN_TEASER_LINKS and share >= LINK_LIST_SHARE:
                found += [heading, following]
                continue
        parent = heading.parent
        if parent is not None and not _holds_headline(parent) and parent.tag != "article":
            share, links = link_share(parent, besides=_text_length(heading))
            if links >= MIN_TEASER_LINKS and share >= LINK_LIST_SHARE:
                found.append(parent)
    return found


def _shown_alone(text: LexborNode, key: str) -> LexborNode | None:
    """The element that shows a heading's text and nothing else: "<p><strong>Digər xəbərlər:</strong></p>" is the
    <p>. None for a text in a protected element (the page's ``<body>``) or in its headline."""
    heading = text.parent
    if heading is None or heading.tag in _PROTECTED or _in_headline(heading):
        return None
    while (
        heading.parent is not None
        and heading.parent.tag not in _PROTECTED
        and heading_key(heading.parent.text(deep=True, separator=" ")) == key
    ):
        heading = heading.parent
    return heading


def prune_furniture(tree: LexborHTMLParser) -> None:
    """Take the readers' comments and the teaser blocks out of ``tree`` (see the module's docstring)."""
    body = tree.body
    if body is None:
        return
    doomed = [
        node
        for node in css(body, "[class], [id]")
        if not _holds_headline(node) and (_comment_block(node) or _teaser_block(node))
    ]
    for node in doomed:
        node.remove()  # unlinks without freeing: a match inside one removed already is safe to touch
    for node in _teaser_headings(body):
        node.remove()


def wrap_loose_text(tree: LexborHTMLParser) -> None:
    """Make a ``<p>`` of each run of text that lies loose beside ``<br>``s in a block (a DLE or Bitrix article typed
    as "text<br><br>text"), by the cleanup pipeline's own cut of a body's loose text (``wrap_loose_text_of``): a run
    ends at a block and at two or more line breaks in a row; one line break stays inside its paragraph."""
    body = tree.body
    if body is None:
        return
    holders: dict[int, LexborNode] = {}
    for br in css(body, "br"):
        parent = br.parent
        if parent is not None and parent.tag not in _NO_WRAP:
            holders.setdefault(parent.mem_id, parent)
    for holder in holders.values():
        if len(_own_text(holder)[0]) >= MIN_UNIT:
            wrap_loose_text_of(holder)


def keep_times_in_text(tree: LexborHTMLParser) -> None:
    """Unwrap each ``<time>`` that is part of the text (``spiders.metadata.in_running_text``: its paragraph or list
    item holds a sentence besides it), leaving its words: trafilatura drops a ``<time>`` element whole, so "Встреча
    пройдет 15 января в Баку" came out as "Встреча пройдет в Баку", and a live blog's entries lost the time each
    begins with. A ``<time>`` of its own line (the article's date line, a byline's stamp) stays an element, and goes
    as before."""
    body = tree.body
    if body is None:
        return
    for node in css(body, "time"):
        if in_running_text(node):
            node.unwrap()


_CAPTION_NAME = re.compile(r"caption|credit")
"""A class word of a picture's caption or credit: WordPress's ``wp-caption-text``, ``photo-caption``, ``caption``,
``image-credit``."""
MAX_CAPTION = 300
"""Characters of a caption at most: more is a block of text that happens to sit by a picture."""
_IMAGE_FILE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|bmp)(?:$|[?#])", re.IGNORECASE)


def captions_as_figures(tree: LexborHTMLParser, scope: LexborNode | None, leads_away: Callable[[str], bool]) -> None:
    """Make each caption that a page prints beside a picture without a ``<figure>`` (``<div class="photo-caption">``
    after the ``<img>``, WordPress's ``<div class="wp-caption"><img><p class="wp-caption-text">``, a ``<span
    class="caption">`` under the picture) the ``<figcaption>`` of a ``<figure>`` holding the two: trafilatura drops
    such a line as it drops the picture's furniture, and a ``<figcaption>`` is kept with its picture
    (``GenericArticle._page_for_trafilatura``), so "Foto: Qəbələ Xəbər" was lost and a figcaption's twin was not.

    A caption is an element classed as one (``_CAPTION_NAME``) holding no picture, at most ``MAX_CAPTION``
    characters of text, whose sibling element next to it is a picture (an ``<img>``, or an element holding one
    image and no text: the link around it). Or a caption-classed element holding the picture and the words both,
    the words in no caption-classed element of their own (``<div class="img-caption"><img>Foto: APA</div>``,
    ``<p class="caption"><img><br>...``: ``_wrapped_caption``): the element becomes the ``<figure>``, its words
    the caption; they were a paragraph of the body before. Or a caption-classed cell of a table that shows one
    picture and the caption's words alone (Blogger's ``<table class="tr-caption-container">``, the picture in one
    row, ``<td class="tr-caption">`` in the next: ``_caption_table``): the ``<figure>`` takes the table's place,
    which was a table in the body. Only in ``scope`` (the article, as far as the page shows
    it) and out of the site's header, footer, navigation and sidebars; and never a teaser: a picture whose
    "caption" is mostly links to other pages of the site (``leads_away`` says whether an address is one), or whose
    picture links to one that is neither an image file nor the picture's own attachment page, is a teaser of
    another article, whatever its class says."""
    root = scope if scope is not None else tree.body
    if root is None:
        return
    found: list[tuple[LexborNode, LexborNode, bool]] = []
    wrapped: list[tuple[LexborNode, LexborNode, bool]] = []
    tables: list[tuple[LexborNode, LexborNode, LexborNode, bool]] = []
    for caption in css(root, "[class]"):
        if not any(_CAPTION_NAME.search(w) for w in _words(caption)):
            continue
        if css_first(caption, "img") is not None:
            if (pair := _wrapped_caption(caption, leads_away)) is not None:
                wrapped.append(pair)
            continue
        text = collapse_whitespace(caption.text(deep=True, separator=" "))
        if not text or len(text) > MAX_CAPTION or _in_chrome(caption) or _in_captioned_figure(caption):
            continue
        for follows in (True, False):
            image = _sibling_element(caption, after=not follows)
            if image is None or not _picture(image):
                continue
            if _leads_away(caption, image, leads_away):
                break
            found.append((caption, image, follows))
            break
        else:
            if caption.tag in _CELLS and (captioned := _caption_table(caption, text, leads_away)) is not None:
                tables.append(captioned)
    for caption, image, follows in found:
        _as_figure(image, _picture_html(image), caption.inner_html or "", follows)
        image.remove()  # unlinks without freeing: another pair's node inside it is safe to touch
        caption.remove()
    for table, image, caption, follows in tables:
        _as_figure(table, _picture_html(image), caption.inner_html or "", follows)
        table.remove()
    for holder, image, follows in wrapped:
        picture = _picture_html(image)
        image.remove()
        # what is left of the element is its caption; its paragraphs a line each, not run together
        for block in css(holder, "p, div"):
            if block.mem_id == holder.mem_id:
                continue
            if block.next is not None and (line_break := LexborHTMLParser("<br>").css_first("br")) is not None:
                block.insert_after(line_break)
            block.unwrap()
        _as_figure(holder, picture, _EDGE_BREAKS.sub("", holder.inner_html or ""), follows)
        holder.remove()


def _as_figure(place: LexborNode, picture: str, caption: str, follows: bool) -> None:
    """A ``<figure>`` of ``picture`` and ``caption`` (HTML), the caption after the picture when it ``follows`` it,
    inserted before ``place``."""
    parts = [picture, f"<figcaption>{caption}</figcaption>"]
    figure = LexborHTMLParser(f"<figure>{''.join(parts if follows else parts[::-1])}</figure>").css_first("figure")
    assert figure is not None  # the parser makes the element it is given
    place.insert_before(figure)


_ITEMS = frozenset({"dt", "dd"})
"""Elements a picture may sit in that a ``<figure>`` cannot hold: a definition list's parts."""
_EDGE_BREAKS = re.compile(r"^(?:\s|<br\s*/?>)+|(?:\s|<br\s*/?>)+$")
"""Line breaks and whitespace at either end of a caption: what parted it from its picture."""


def _wrapped_caption(
    holder: LexborNode, leads_away: Callable[[str], bool]
) -> tuple[LexborNode, LexborNode, bool] | None:
    """A caption-classed element holding a picture and its caption's words (``captions_as_figures``), as (the
    element, the picture in it, whether the words follow it); None for anything else: a ``<figure>``, an element
    holding more than one picture, no words or more than ``MAX_CAPTION`` characters of them, or a caption-classed
    element (or a ``<figcaption>``) of its own around them, which is the caption (the sibling rule's)."""
    if holder.tag == "figure" or _in_chrome(holder) or _in_captioned_figure(holder):
        return None
    images = _shown_images(holder)
    if len(images) != 1:
        return None
    text = collapse_whitespace(holder.text(deep=True, separator=" "))
    if not text or len(text) > MAX_CAPTION or css_first(holder, "figcaption") is not None:
        return None
    for inner in css(holder, "[class]"):  # the element itself among them
        if inner.mem_id == holder.mem_id or not any(_CAPTION_NAME.search(w) for w in _words(inner)):
            continue
        if collapse_whitespace(inner.text(deep=True)):
            return None
    # the picture: the image with what wraps it alone (its link, a <picture>), up to the element's child
    image = images[0]
    while image.parent is not None and image.parent.mem_id != holder.mem_id and _picture(image.parent):
        image = image.parent
    if _leads_away(holder, image, leads_away):
        return None
    follows = True
    for node in holder.traverse(include_text=True):
        if node.mem_id == image.mem_id:
            break
        if node.tag == "-text" and (node.text_content or "").strip():
            follows = False
            break
    return holder, image, follows


_CELLS = frozenset({"td", "th"})
_TABLE_PARTS = frozenset({*_CELLS, "tr", "tbody", "thead", "tfoot", "table"})


def _caption_table(
    cell: LexborNode, text: str, leads_away: Callable[[str], bool]
) -> tuple[LexborNode, LexborNode, LexborNode, bool] | None:
    """A table laid out as a captioned picture around a caption-classed ``cell`` of ``text`` (``captions_as_figures``):
    the table shows one picture and no words but the caption's. As (the table, the picture: its ``<img>`` with the
    link around it, the caption cell, whether the caption follows the picture); None for anything else, a table of
    data with a picture in a cell, and a teaser (the picture linking to another page: ``_leads_away``)."""
    table = cell.parent
    while table is not None and table.tag in ("tr", "tbody", "thead", "tfoot"):
        table = table.parent
    if table is None or table.tag != "table" or _in_captioned_figure(table):
        return None
    images = _shown_images(table)
    if len(images) != 1 or collapse_whitespace(table.text(deep=True, separator=" ")) != text:
        return None
    image = images[0]
    while image.parent is not None and image.parent.tag not in _TABLE_PARTS and _picture(image.parent):
        image = image.parent
    if _leads_away(cell, image, leads_away):
        return None
    follows = next(n.mem_id == image.mem_id for n in table.traverse() if n.mem_id in (image.mem_id, cell.mem_id))
    return table, image, cell, follows


def _sibling_element(node: LexborNode, *, after: bool) -> LexborNode | None:
    """The element next to ``node`` (after or before it), past whitespace, comments and line breaks (a caption
    under its picture: "<img><br><span class="caption">"); None past text."""
    sibling = node.next if after else node.prev
    while sibling is not None and sibling.tag in ("-text", "-comment", "br"):
        if sibling.tag == "-text" and (sibling.text_content or "").strip():
            return None
        sibling = sibling.next if after else sibling.prev
    return sibling


def _shown_images(node: LexborNode) -> list[LexborNode]:
    """The ``<img>``s in ``node`` outside ``<noscript>``: a lazy-loading plugin prints each picture twice, the
    second inside ``<noscript>`` for readers without scripts."""
    return [img for img in css(node, "img") if not _in_noscript(img, node)]


def _in_noscript(node: LexborNode, within: LexborNode) -> bool:
    current = node.parent
    while current is not None and current.mem_id != within.mem_id:
        if current.tag == "noscript":
            return True
        current = current.parent
    return False


def _picture(node: LexborNode) -> bool:
    """An ``<img>``, or an element showing one picture and no text (``<a href="big.jpg"><img></a>``, ``<picture>``;
    the lazy image's ``<noscript>`` twin not counted)."""
    if node.tag == "img":
        return True
    return len(_shown_images(node)) == 1 and not collapse_whitespace(node.text(deep=True, separator=" "))


def _picture_html(node: LexborNode) -> str:
    """The picture's HTML for its ``<figure>``: without the definition list's part it sits in (a WordPress
    gallery's ``<dl class="gallery-item"><dt class="gallery-icon"><a><img></a></dt><dd class="wp-caption-text
    gallery-caption">``), which a ``<figure>`` cannot hold: the gallery's pictures were lost with it."""
    return (node.inner_html if node.tag in _ITEMS else node.html) or ""


_ATTACHMENT_REL = re.compile(r"(?:^|\s)(?:attachment|wp-att-\d+)(?:\s|$)")
"""WordPress's ``rel`` on a picture's link to its attachment page (``rel="attachment wp-att-4415"``)."""
_ATTACHMENT_ID = re.compile(r"^attachment_\d+$")
"""The id WordPress's caption gives the element holding a picture and its caption (``id="attachment_4415"``)."""


def _leads_away(caption: LexborNode, image: LexborNode, leads_away: Callable[[str], bool]) -> bool:
    """Whether a picture and its "caption" are a teaser: the caption's text is mostly links to other pages, or the
    picture is a link to a page (not to a larger copy of itself, nor to its WordPress attachment page: a link
    ``rel="attachment"``, an ``?attachment_id=`` address, or inside the ``id="attachment_123"`` element that
    WordPress's caption wraps the two in)."""
    away = [a for a in css(caption, "a[href]") if leads_away(a.attrs.get("href") or "")]
    if away and sum(_text_length(a) for a in away) * 2 >= _text_length(caption):
        return True
    links = css(image, "a[href]")
    if image.tag == "a":
        links.append(image)
    holder = image.parent
    while holder is not None and holder.tag in INLINE_TAGS and holder.tag != "a":
        holder = holder.parent
    if holder is not None and holder.tag == "a":
        links.append(holder)
    if links and _attachment_holder(image):
        return False
    return any(
        not _IMAGE_FILE.search(href) and not _attachment_link(a, href) and leads_away(href)
        for a in links
        if (href := (a.attrs.get("href") or "").strip())
    )


def _attachment_link(link: LexborNode, href: str) -> bool:
    return bool(_ATTACHMENT_REL.search(link.attrs.get("rel") or "")) or "attachment_id=" in href


def _attachment_holder(node: LexborNode) -> bool:
    """Whether ``node`` is inside WordPress's captioned picture (``<div id="attachment_123" class="wp-caption">``)."""
    current = node.parent
    for _ in range(3):
        if current is None or current.tag in _PROTECTED:
            return False
        if _ATTACHMENT_ID.match(current.attrs.get("id") or ""):
            return True
        current = current.parent
    return False


def _in_captioned_figure(node: LexborNode) -> bool:
    current = node.parent
    while current is not None and current.tag not in _PROTECTED:
        if current.tag == "figure":
            return css_first(current, "figcaption") is not None
        current = current.parent
    return False


def _blank(node: LexborNode) -> bool:
    return node.tag == "-text" and not (node.text_content or "").strip()


def _own_text(node: LexborNode) -> tuple[str, int, bool]:
    """The text ``node`` shows outside any block inside it (its text nodes and inline elements), how much of that is
    link text, and whether it holds a block too."""
    pieces: list[str] = []
    linked = 0
    holds_block = False
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            pieces.append(child.text_content or "")
        elif tag == "br":
            pieces.append("\n")
        elif tag in INLINE_TAGS:
            text = child.text(deep=True, separator=" ")
            pieces.append(text)
            if tag == "a":
                linked += len(text.strip())
        elif tag != "-comment":
            holds_block = True
            pieces.append("\n")
    return " ".join("".join(pieces).split()), linked, holds_block


@dataclass
class Container:
    """The element that holds the page's article text, as the page's own blocks show it."""

    node: LexborNode
    texts: list[str]
    """The paragraphs (and runs of loose text) inside it that made it the container, in document order."""

    @property
    def length(self) -> int:
        return sum(len(t) for t in self.texts)


def main_container(tree: LexborHTMLParser, lead: str | None = None) -> Container | None:
    """The element holding the most paragraph-like text, readability's way: each paragraph (a block of text with
    no block inside, ``MIN_UNIT`` characters or more, mostly not links) counts for its parent in full and its
    grandparent by half; text loose among blocks counts for the block holding it. Among the leading elements, the
    first whose text holds the page's ``lead`` (its description, the start of its JSON-LD ``articleBody``) is
    taken: a comment thread or a teaser list the pruning missed may hold more text than a short article."""
    body = tree.body
    if body is None:
        return None
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    units: list[tuple[LexborNode, str]] = []

    def credit(node: LexborNode | None, amount: float) -> None:
        if node is None or node.tag in ("html", "body"):
            return
        scores[node.mem_id] = scores.get(node.mem_id, 0.0) + amount
        nodes[node.mem_id] = node

    for element in body.traverse():
        if element.tag in _NOT_UNITS:
            continue
        text, linked, holds_block = _own_text(element)
        if len(text) < MIN_UNIT or linked * 2 > len(text) or _in_chrome(element):
            continue
        units.append((element, text))
        holder = element if holds_block else element.parent
        if element.tag == "li" and holder is not None:
            holder = holder.parent  # a list item's list is part of the text around it
        credit(holder, len(text))
        credit(holder.parent if holder is not None else None, len(text) / 2)
    if not scores:
        return None
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    chosen = nodes[ranked[0]]
    if lead:
        for key in ranked[:8]:
            if scores[key] < scores[ranked[0]] / 4:
                break
            if lead in squashed(nodes[key].text(deep=True, separator=" ")):
                chosen = nodes[key]
                break
    return Container(chosen, [text for node, text in units if is_inside(node, chosen)])


def _in_chrome(node: LexborNode) -> bool:
    """Whether ``node`` is in the site's header, footer, navigation or a sidebar (outside any ``<article>``, which
    may have a header and a footer of its own): the copyright line is no article's container."""
    current: LexborNode | None = node
    while current is not None and current.tag not in ("body", "html"):
        if current.tag == "article":
            return False
        if current.tag in _CHROME or (current.attrs.get("role") or "") in _CHROME_ROLES:
            return True
        current = current.parent
    return False


def covered(texts: list[str], extracted: str) -> float:
    """The share of ``texts``' sentences (by characters) that ``extracted`` holds."""
    haystack = squashed(extracted)
    total = found = 0
    for text in texts:
        for sentence in re.split(r"(?<=[.!?…])\s+", text):
            size = len(squashed(sentence))
            total += size
            if size and squashed(sentence) in haystack:
                found += size
    return found / total if total else 1.0


def element_path(node: LexborNode) -> list[int]:
    """Where ``node`` is in its tree: the index of each element on the way down from the root among its parent's
    elements. The same path finds the same element in a clone of the tree (``node_at``)."""
    path: list[int] = []
    current = node
    while current.parent is not None and current.parent.tag != "-document":
        parent = current.parent
        path.append(next(i for i, child in enumerate(parent.iter()) if child.mem_id == current.mem_id))
        current = parent
    return path[::-1]


def node_at(tree: LexborHTMLParser, path: list[int]) -> LexborNode | None:
    current = tree.root
    for index in path:
        if current is None:
            return None
        current = next((child for i, child in enumerate(current.iter()) if i == index), None)
    return current


def common_ancestor(first: LexborNode, second: LexborNode) -> LexborNode | None:
    ancestors: set[int] = set()
    node: LexborNode | None = first
    while node is not None:
        ancestors.add(node.mem_id)
        node = node.parent
    node = second
    while node is not None and node.mem_id not in ancestors:
        node = node.parent
    return node
