"""haqqin.az: Russian only; the RSS feed (``/rss_ru.xml``) names the articles, ``/newsarchive/<id>`` pages hold them."""

from __future__ import annotations

import re

from spiders.extractor import SelectorArticle
from spiders.feed_source import FeedSourceSpider


class HaqqinArticle(SelectorArticle):
    """One haqqin.az article page (``article.article``)."""

    SOURCE = "haqqin"
    ROOT = "article.article"
    TITLE = ".article-headline__name"
    DATE = ".article__date"
    BODY = ".article__content"
    BODY_PARAGRAPHS = ".block-text p"  # the content also holds banners and share buttons between text blocks
    BODY_TEXT = ".block-text"  # some articles' text is in its blocks without a <p>
    COVER = ".article__image img"
    CATEGORY = ".article-headline__category"
    DEFAULT_LANGUAGE = "ru"


class HaqqinSpider(FeedSourceSpider):
    """Follows the RSS feed's items to their article pages."""

    name = "haqqin"
    extractor = HaqqinArticle

    ARTICLE_PATH = re.compile(r"^/newsarchive/\d+$")
