"""apa.az: Azerbaijani at ``/``, Russian at ``/ru/``; RSS feeds per edition, article slugs ending in ``-<id>``."""

from __future__ import annotations

import re
from typing import ClassVar

from spiders.extractor import SelectorArticle
from spiders.feed_source import FeedSourceSpider


class ApaArticle(SelectorArticle):
    """One apa.az article page: dates like ``14 noyabr 2025 16:23 (UTC +04:00)`` carry their own offset."""

    SOURCE = "apa"
    ROOT = ".news_main"
    TITLE = "h2.title_news"
    DATE = "span.date"
    BODY = ".texts.mb-site"
    BODY_PARAGRAPHS = "p"
    COVER = ".main_img img"
    CATEGORY = ".news_category"
    EDITIONS: ClassVar[dict[str, str]] = {"ru": "ru"}
    DEFAULT_LANGUAGE = "az"


class ApaSpider(FeedSourceSpider):
    """Follows both editions' RSS items to their article pages."""

    name = "apa"
    extractor = ApaArticle

    ARTICLE_PATH = re.compile(r"^/(?:ru/)?[a-z0-9-]+/[a-z0-9-]+-\d+$")
