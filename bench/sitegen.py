"""A synthetic caliber.az mirror tree for the benchmarks: N article pages plus the listing pages that link them.

The markup copies the bundled sample (``data/mirror/caliber.az/post/153813.html``): ``.post`` with
``.post_categoty``, ``.post_title``, ``.post_time`` (``23 Марта 2024 18:14``), ``.post_cover`` with a
``background-image``, ``.post_body`` of 4-6 paragraphs of Russian text with a banner block and a lazy image,
``.post_signature`` and ``.post_hits``; around it the header, a related block and a "latest news" column of
``.float_block`` cards, a footer and some inline scripts, so that a page weighs 20-40 KB like a real one.

The listings are written at the paths the registry's entry URLs resolve to on the mirror server
(``aggregator.sources`` ``entry_urls``: ``https://caliber.az/`` -> ``caliber.az/index.html``,
``https://caliber.az/en`` -> ``caliber.az/en.html``, ...), and the articles are spread across them, so one
listing page links a few hundred articles (two links per card, absolute and site-relative hrefs mixed).

Deterministic for a given seed. Usage from the repo root:

    python bench/sitegen.py OUT_DIR [N]
"""

from __future__ import annotations

import hashlib
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

HOST = "caliber.az"

MONTHS_GENITIVE = (
    "Января", "Февраля", "Марта", "Апреля", "Мая", "Июня",
    "Июля", "Августа", "Сентября", "Октября", "Ноября", "Декабря",
)  # fmt: skip
CATEGORIES = ("Политика", "Мир", "Экономика", "Регион", "Общество", "Аналитика", "Спорт", "Культура")

WORDS = """
президент правительство министр парламент делегация переговоры соглашение договор встреча визит саммит
экономика бюджет инвестиции энергетика нефть газ трубопровод экспорт импорт тариф рынок банк ставка
инфляция валюта рост снижение прогноз доклад заявление сообщение источник эксперт аналитик представитель
регион район город село столица граница территория коридор маршрут транзит порт аэропорт терминал железная
дорога мост тоннель строительство реконструкция восстановление школа больница стадион музей театр фестиваль
конференция форум выставка программа проект инициатива реформа закон поправка решение резолюция санкции
безопасность оборона армия учения миротворцы разминирование мины возвращение переселенцы семьи жители
граждане молодежь студенты университет наука технологии цифровой интернет связь спутник космос климат
экология вода засуха урожай сельское хозяйство фермеры зерно хлопок виноград туризм гости отели сезон
международный региональный национальный государственный частный новый важный ключевой значительный
стратегический долгосрочный двусторонний многосторонний открытый совместный экономический политический
социальный культурный исторический современный крупный небольшой первый последний следующий текущий
подписали обсудили заявили отметили подчеркнули сообщили провели открыли завершили начали продолжили
увеличили сократили утвердили одобрили рассмотрели предложили поддержали выразили призвали планируют
ожидается состоится продолжается завершится составит превысит достигнет увеличится сократится
в на по с о для при после перед между из за под над около вокруг среди также уже еще однако кроме того
при этом вместе с тем по словам по данным в частности в том числе в рамках в ходе в течение
Баку Гянджа Шуша Лачин Кяльбаджар Агдам Нахчыван Ханкенди Анкара Тбилиси Брюссель Вашингтон Москва Пекин
Астана Ереван Берлин Париж Лондон Рим Стамбул Каспий Европа Азия ООН ОБСЕ ЕС НАТО МВФ ВТО СНГ
""".split()  # noqa: SIM905 - a word list reads better as text

_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i j k l m n o p r s t u f h c ch sh shch  y  e yu ya".split(" "),  # noqa: SIM905
        strict=True,
    )
)


def slugify(text: str) -> str:
    out = "".join(_TRANSLIT.get(ch, ch if ch.isascii() and ch.isalnum() else "-") for ch in text.lower())
    return "-".join(part for part in out.split("-") if part)[:80]


@dataclass(frozen=True, slots=True)
class Article:
    path: str
    """URL path on the site, e.g. ``/post/231045`` (the mirror file is ``caliber.az/post/231045.html``)."""
    title: str
    category: str
    date: str
    """As the page prints it: ``23 Марта 2024 18:14``."""
    image: str

    @property
    def url(self) -> str:
        return f"https://{HOST}{self.path}"


def _sentence(rng: random.Random, lo: int = 8, hi: int = 22) -> str:
    words = rng.choices(WORDS, k=rng.randint(lo, hi))
    if rng.random() < 0.3:
        words.insert(rng.randint(1, len(words) - 1), f"{rng.randint(2, 980)},{rng.randint(0, 9)}%")
    if rng.random() < 0.3:
        words.insert(rng.randint(1, len(words) - 1), f"«{' '.join(rng.choices(WORDS, k=rng.randint(2, 4)))}»")
    text = " ".join(words)
    if rng.random() < 0.4:
        cut = text.find(" ", len(text) // 2)
        if cut > 0:
            text = text[:cut] + "," + text[cut:]
    return text[:1].upper() + text[1:] + rng.choice(".....!?")


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 7)))


def _image(rng: random.Random, size: str = "original") -> str:
    return f"https://{HOST}/media/photos/{size}/{rng.getrandbits(128):032x}.webp"


def _date(rng: random.Random) -> str:
    month = rng.randint(1, 12)
    day, year, hour, minute = rng.randint(1, 28), rng.randint(2023, 2025), rng.randint(0, 23), rng.randint(0, 59)
    return f"{day:02d} {MONTHS_GENITIVE[month - 1]} {year} {hour:02d}:{minute:02d}"


def make_articles(n: int, rng: random.Random) -> list[Article]:
    articles = []
    for i in range(n):
        title = _sentence(rng, 6, 12).rstrip(".!?")
        number = 200000 + i
        path = f"/post/{number}" if i % 2 else f"/post/{slugify(title)[:60].rstrip('-')}-{number}"
        articles.append(Article(path, title, rng.choice(CATEGORIES), _date(rng), _image(rng)))
    return articles


# -- markup --------------------------------------------------------------------------------------------


def _head(title: str, canonical: str, image: str | None, rng: random.Random) -> str:
    og_image = f'<meta property="og:image" content="{image}">\n' if image else ""
    tracking = "".join(
        f"  window.dataLayer.push({{'event':'view','section':'{rng.choice(CATEGORIES)}','slot':{k},"
        f"'key':'{rng.getrandbits(64):016x}'}});\n"
        for k in range(12)
    )
    return f"""<!DOCTYPE html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | Caliber.az</title>
<link rel="canonical" href="{canonical}">
<meta name="description" content="{title}. Последние новости Азербайджана и мира на Caliber.az">
<meta property="og:title" content="{title}">
<meta property="og:type" content="article">
<meta property="og:url" content="{canonical}">
{og_image}<meta name="twitter:card" content="summary_large_image">
<link rel="stylesheet" href="/static/css/main.css?v=3.4.1">
<link rel="stylesheet" href="/static/css/post.css?v=3.4.1">
<link rel="icon" href="/static/img/favicon.png">
<link rel="alternate" hreflang="en" href="https://{HOST}/en">
<link rel="alternate" hreflang="az" href="https://{HOST}/az">
<script type="application/ld+json">{{"@context":"https://schema.org","@type":"NewsArticle","headline":"{title}",
"image":["{image or ""}"],"publisher":{{"@type":"Organization","name":"Caliber.az",
"logo":{{"@type":"ImageObject","url":"https://{HOST}/static/img/logo.png"}}}}}}</script>
<script>
  window.dataLayer = window.dataLayer || [];
{tracking}  (function(w,d,s,l,i){{w[l]=w[l]||[];w[l].push({{'gtm.start':new Date().getTime(),event:'gtm.js'}});
  var f=d.getElementsByTagName(s)[0],j=d.createElement(s);j.async=true;j.src='/static/js/gtm.js?id='+i;
  f.parentNode.insertBefore(j,f);}})(window,document,'script','dataLayer','GTM-XXXX');
</script>
<style>.post_body p{{margin:0 0 1em}}.float_block{{display:inline-block;width:31%}}.banner_block{{margin:1em 0}}</style>
</head>
"""


def _header(rng: random.Random) -> str:
    menu = "\n".join(
        f'    <a href="/category/{slugify(c)}" class="menu_link">{c}</a>' for c in (*CATEGORIES, *CATEGORIES[:4])
    )
    eur, rub = rng.uniform(1.8, 2.0), rng.uniform(0.018, 0.022)
    popular = " ".join(f'<a href="/search/{w}">{w}</a>' for w in rng.sample(WORDS, 10))
    return f"""<body>
<header class="header">
  <div class="header_social">
    <a href="https://www.facebook.com/caliber.az" class="social_link">Facebook</a>
    <a href="https://t.me/caliberaz" class="social_link">Telegram</a>
    <a href="https://x.com/caliberaz" class="social_link">X</a>
    <a href="https://www.youtube.com/@caliberaz" class="social_link">YouTube</a>
    <a href="https://www.instagram.com/caliber.az" class="social_link">Instagram</a>
  </div>
  <div class="night_theme">night_theme</div>
  <div class="lang_switch"><a href="https://{HOST}/">Ру</a> <a href="https://{HOST}/en">En</a> <a href="https://{HOST}/az">Az</a></div>
  <div class="currency"><span>USD 1.7000</span> <span>EUR {eur:.4f}</span> <span>RUB {rub:.4f}</span></div>
  <div class="search_box">
    <p class="search_title">ЧТО ВЫ ИЩЕТЕ ?</p>
    <form action="/search"><input type="text" name="q"><button type="submit">Найти</button></form>
    <p class="search_popular">ПОПУЛЯРНЫЕ ПОИСКОВЫЕ ЗАПРОСЫ</p>
    {popular}
  </div>
  <nav class="menu">
{menu}
  </nav>
</header>
<main class="main">
  <div class="copyright_block">
    <p>Любое использование материалов допускается только при наличии гиперссылки на Caliber.az</p>
    <p>Caliber.az © 2024. Все права защищены..</p>
  </div>
"""


def _card(article: Article, rng: random.Random, *, relative: bool = False) -> str:
    href = article.path if relative else article.url
    day = article.date.rsplit(" ", 1)[0]
    return f"""  <div class="float_block">
    <a href="{href}" class="float_block_link">
      <div class="float_block_image" style="background-image:url({_image(rng, "normal")})"></div>
    </a>
    <div class="float_block_bottom">
      <a href="{href}"><h2 class="float_block_title">{article.title}</h2></a>
      <div class="float_block_category">{article.category}</div>
      <div class="float_block_time">{day}</div>
    </div>
  </div>
"""


def _footer(rng: random.Random) -> str:
    links = "\n".join(f'    <li><a href="/{slugify(w)}">{w.capitalize()}</a></li>' for w in rng.sample(WORDS, 24))
    return f"""</main>
<footer class="footer">
  <div class="footer_menu"><ul>
{links}
  </ul></div>
  <p>Caliber.az © 2024</p><a href="/about">О нас</a> <a href="/contact">Контакты</a> <a href="/rss">RSS</a>
  <p class="footer_note">Мнение авторов может не совпадать с позицией редакции. Материалы с пометкой «Реклама»
  публикуются на правах рекламы.</p>
</footer>
<script src="/static/js/jquery.min.js"></script>
<script src="/static/js/lazyload.min.js"></script>
<script src="/static/js/main.js?v=3.4.1"></script>
</body>
</html>
"""


def article_page(article: Article, others: list[Article], rng: random.Random) -> str:
    paragraphs = [_paragraph(rng) for _ in range(rng.randint(4, 6))]
    body = [f"      <p>{p}</p>" for p in paragraphs]
    banner = rng.randint(1, len(body) - 1)
    body.insert(
        banner,
        f'      <div class="banner_block"><span class="banner_label">Реклама</span>'
        f'<a href="https://ads.example.com/click?id={rng.randint(1, 99)}">'
        f'<img src="https://{HOST}/media/banners/b{rng.randint(1, 40)}.webp" alt="Реклама"></a></div>',
    )
    lazy = rng.randint(1, len(body))
    body.insert(
        lazy,
        f'      <p><img class="lazy" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" '
        f'data-src="{_image(rng)}" alt="{article.title[:40]}"></p>',
    )
    if rng.random() < 0.5:
        quote = _sentence(rng)
        body.insert(rng.randint(1, len(body)), f"      <blockquote><p>{quote}</p></blockquote>")
    related = "".join(_card(a, rng, relative=rng.random() < 0.5) for a in rng.sample(others, 6))
    latest = "".join(_card(a, rng) for a in rng.sample(others, rng.randint(6, 22)))
    body_html = "\n".join(body)
    return (
        _head(article.title, article.url, article.image, rng)
        + _header(rng)
        + f"""  <div class="post">
    <div class="post_categoty">{article.category.upper()}</div>
    <div class="post_font"><button class="font_plus">A+</button><button class="font_minus">A-</button></div>
    <h1 class="post_title">{article.title}</h1>
    <div class="post_time">{article.date}</div>
    <div class="post_cover" style="background-image:url({article.image})"></div>
    <div class="post_body">
{body_html}
    </div>
    <div class="post_signature">Caliber.Az</div>
    <div class="post_hits">Просмотров: {rng.randint(100, 90000)}</div>
    <div class="post_share"><a href="https://www.facebook.com/sharer/sharer.php?u={article.url}">Facebook</a>
      <a href="https://t.me/share/url?url={article.url}">Telegram</a></div>
  </div>
  <div class="related">
  <h3 class="related_title">Читайте также</h3>
{related}  </div>
  <aside class="latest_news">
  <h3 class="latest_title">Последние новости</h3>
{latest}  </aside>
"""
        + _footer(rng)
    )


def listing_page(url: str, articles: list[Article], rng: random.Random) -> str:
    cards = "".join(_card(a, rng, relative=i % 3 == 1) for i, a in enumerate(articles))
    return (
        _head("Caliber.az — Новости Азербайджана и мира", url, None, rng)
        + _header(rng)
        + f"""  <h1 class="page_title">Последние новости</h1>
  <div class="news_list">
{cards}  </div>
"""
        + _footer(rng)
    )


def mirror_file(root: Path, url: str) -> Path:
    """Where the mirror server looks for ``url`` first as a file: ``<root>/<host><path>.html`` (``index.html``)."""
    parts = urlsplit(url)
    rel = parts.path.strip("/")
    return root / parts.netloc / (f"{rel}.html" if rel else "index.html")


@dataclass(frozen=True, slots=True)
class Site:
    root: Path
    articles: list[Article]
    listings: dict[str, int]
    """Entry URL -> number of cards on it."""
    article_bytes: int
    listing_bytes: int


def generate(root: Path, n_articles: int = 2000, *, seed: int = 20240323) -> Site:
    """Write the tree under ``root`` (created if missing)."""
    from aggregator.sources import get_source

    rng = random.Random(seed)
    articles = make_articles(n_articles, rng)
    article_bytes = 0
    for article in articles:
        data = article_page(article, articles, rng).encode()
        article_bytes += len(data)
        path = mirror_file(root, article.url)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    entry_urls = get_source("caliber").entry_urls
    listings: dict[str, int] = {}
    listing_bytes = 0
    for k, url in enumerate(entry_urls):
        chunk = articles[k :: len(entry_urls)]
        data = listing_page(url, chunk, rng).encode()
        listing_bytes += len(data)
        path = mirror_file(root, url)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        listings[url] = len(chunk)
    return Site(root, articles, listings, article_bytes, listing_bytes)


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    import argparse

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(description="Write a synthetic caliber.az mirror tree for the benchmarks.")
    parser.add_argument("out", type=Path, help="the folder to write the tree into (created if missing)")
    parser.add_argument("articles", type=int, nargs="?", default=2000, help="article pages (default 2000)")
    args = parser.parse_args()
    site = generate(args.out, args.articles)
    n = len(site.articles)
    print(f"{n} articles, {site.article_bytes / n / 1024:.1f} KiB each on average; listings: {site.listings}")
