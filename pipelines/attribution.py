"""Attribution: the re-publisher's line naming the source, and the outlets the source itself cites.

The line comes from per-language templates in settings (``AGGREGATOR_ATTRIBUTION_TEMPLATES``), the site's name
from ``AGGREGATOR_SITE_NAME`` and the source's name from the registry: never from page text, so a misspelt
"Calibe.az" cannot reach a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Self

from scrapy.crawler import Crawler

from aggregator.environment import attribution_template_problem
from aggregator.items import ArticleItem
from aggregator.sources import Source, get_source
from aggregator.text import name_key
from pipelines.base import Pipeline
from pipelines.citations import body_language, find_citations

DEFAULT_TEMPLATES: Mapping[str, str] = {
    "ru": "{site}, ссылаясь на сайт {source}, отмечает.",
    "az": "{source} portalından əldə olunan məlumata əsasən, {site} xəbər verir.",
    "en": "{site} reports, citing {source}.",
}


class AttributionTemplateError(ValueError):
    pass


def attribution_line(*, site: str, source: str, language: str, templates: Mapping[str, str] = DEFAULT_TEMPLATES) -> str:
    """The line a re-published article opens with, in its language ("Icma.az, ссылаясь на сайт Caliber.az, ...")."""
    template = templates.get(language)
    if template is None:
        known = ", ".join(sorted(templates))
        raise AttributionTemplateError(f"no attribution template for language {language!r} (have: {known})")
    return template.format(site=site, source=source)


def check_templates(templates: Mapping[str, str]) -> None:
    """Refuse templates that would not name both the site and the source (said at start-up, not per item)."""
    for language, template in templates.items():
        problem = attribution_template_problem(template)
        if problem:
            raise AttributionTemplateError(f"attribution template for {language!r}: {problem}")


class AttributionPipeline(Pipeline):
    stage = "attribution"

    def __init__(self, site: str = "Icma.az", templates: Mapping[str, str] = DEFAULT_TEMPLATES, stats: Any = None):
        super().__init__(stats)
        check_templates(templates)
        self.site = site
        self.templates = dict(templates)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        templates = {**DEFAULT_TEMPLATES, **settings.getdict("AGGREGATOR_ATTRIBUTION_TEMPLATES")}
        return cls(settings.get("AGGREGATOR_SITE_NAME", "Icma.az"), templates, crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        source = get_source(item.source)
        language = item.language if item.language in self.templates else source.languages[0]
        item.attribution_line = attribution_line(
            site=self.site, source=source.name, language=language, templates=self.templates
        )
        # An agency names itself in its own copy ("..., передает Report", "..., передает АПА"): that is no citation
        # of another outlet. Nor is the re-publisher's own name (a body that carries its line, "Icma.az, ссылаясь на
        # сайт Caliber.az, отмечает.", or names it), which its page would print as a source of its own article.
        own = _own_names(source, self.site)
        # The phrases of the language the body is written in, which its page's edition may not be (a Russian body
        # under /en/): read with the edition's phrases, its citations were all missed.
        body = item.body_text or ""
        written = body_language(body) or item.language
        item.cited_outlets = [o for o in find_citations(body, written) if _name_stem(o) not in own]
        if item.cited_outlets:
            self.count("articles_citing")
        return item


def _name_stem(name: str) -> str:
    """An outlet's name without its domain ending, for comparison: "Report.az", "report", "REPORT" -> "report"."""
    key = name_key(name)
    return key.rsplit(".", 1)[0] if "." in key else key


@lru_cache(maxsize=64)
def _own_names(source: Source, site: str) -> frozenset[str]:
    """What the source's copy may call the source itself: its name, its domains and the names the registry gives it
    in another script. Apa.az's Russian copy says "передает АПА", and "П" is no look-alike of a Latin letter; a
    transliteration would not do instead, as the names are not written by any one scheme ("Азертадж" for Azertac,
    "Хаггин" would be Haqqin): the registry says which names a source really goes by. And the re-publisher's name
    (``site``), which is no source its own page would name."""
    names = (source.name, *source.domains, *source.other_names, site)
    return frozenset(_name_stem(n) for n in names)
