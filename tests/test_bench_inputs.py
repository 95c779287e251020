"""The benchmarks find what they measure: a spider's selectors once changed form and left ``bench/extract.py`` with
no page of a site, which only a full ``make bench`` (half an hour) showed."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from tests.conftest import ROOT


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py`` as a module of its own name (``bench_<name>``), without putting ``bench/`` on the path."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


EXTRACT = bench_module("extract")


@pytest.mark.parametrize("key", EXTRACT.SITES)
def test_the_extract_benchmark_finds_each_sites_sample_articles(key: str) -> None:
    site = EXTRACT.site_pages(key)
    assert len(site.pages) >= 5, key
    assert all(body for _, body, _ in site.pages)
