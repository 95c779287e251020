"""The crawl's items in Scrapy's feed exports (`scrapy crawl caliber -O items.jsonl`, Scrapyd's items_dir): every kind
of item is written, its bytes fields as base64 that decodes to the bytes whole."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest
from scrapy.exporters import CsvItemExporter, JsonLinesItemExporter, XmlItemExporter

from aggregator.items import ArticleItem, ExtractionFailure, FetchFailure

RAW = "<html><body><h1>Заголовок</h1></body></html>".encode("windows-1251") + b"\x00\xff"
SKETCH = bytes(range(256))


def items() -> list[object]:
    fetched = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    article = ArticleItem(
        source="caliber", url="https://caliber.az/post/x", title="Заголовок", body_text="Текст.",
        fetched_at=fetched, raw_body=RAW, raw_encoding="windows-1251", cited_outlets=["Report"], minhash=SKETCH,
    )  # fmt: skip
    broken = ExtractionFailure(
        source="caliber", url="https://caliber.az/post/y", reason="extractor raised", raw_body=RAW
    )
    missing = FetchFailure(source="caliber", url="https://caliber.az/post/z", reason="HTTP 404", http_status=404)
    return [article, broken, missing]


def test_json_lines_feed_holds_every_item_with_its_bytes_in_base64() -> None:
    out = io.BytesIO()
    exporter = JsonLinesItemExporter(out)
    exporter.start_exporting()
    for item in items():
        exporter.export_item(item)
    exporter.finish_exporting()
    article, broken, missing = [json.loads(line) for line in out.getvalue().splitlines()]
    assert article["title"] == "Заголовок" and article["cited_outlets"] == ["Report"]
    assert base64.b64decode(article["raw_body"]) == RAW
    assert base64.b64decode(article["minhash"]) == SKETCH
    assert base64.b64decode(broken["raw_body"]) == RAW
    assert missing == {
        "source": "caliber", "url": "https://caliber.az/post/z", "reason": "HTTP 404", "http_status": 404,
        "referer": None, "linked_url": None, "entry": False,
    }  # fmt: skip


@pytest.mark.parametrize("exporter_class", [CsvItemExporter, XmlItemExporter])
def test_csv_and_xml_feeds_hold_the_bytes_as_base64(exporter_class: type) -> None:
    out = io.BytesIO()
    exporter = exporter_class(out)
    exporter.start_exporting()
    exporter.export_item(items()[0])
    exporter.finish_exporting()
    if exporter_class is CsvItemExporter:
        [row] = csv.DictReader(io.StringIO(out.getvalue().decode("utf-8")))
        raw, sketch = row["raw_body"], row["minhash"]
    else:
        element = ElementTree.fromstring(out.getvalue()).find("item")
        assert element is not None
        raw, sketch = element.findtext("raw_body"), element.findtext("minhash")
    assert base64.b64decode(raw or "") == RAW
    assert base64.b64decode(sketch or "") == SKETCH
