"""The code style and typing checks of `make lint`, so that CI holds them too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "--quiet", "."], ["ruff", "format", "--check", "--quiet", "."], ["mypy"]],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_lint(command: list[str]) -> None:
    tool = BIN / command[0]
    if not tool.exists():
        pytest.skip(f"{command[0]} is not installed (pip install -e '.[test]')")
    done = subprocess.run([str(tool), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]


def test_no_spider_callback_returns_a_value_from_a_generator() -> None:
    """What Scrapy's WARN_ON_GENERATOR_RETURN_VALUE checks per response (switched off in settings: it re-parsed the
    callback's source for nearly every page), checked once here: a generator callback's `return value` is lost."""
    import inspect

    from scrapy.utils.misc import is_generator_with_return_value
    from scrapy.utils.project import get_project_settings
    from scrapy.utils.spider import iter_spider_classes

    from aggregator.spiderloader import RegistrySpiderLoader

    loader = RegistrySpiderLoader.from_settings(get_project_settings())
    classes = {loader.load(name) for name in loader.list()}
    for module in {inspect.getmodule(cls) for cls in classes}:
        classes.update(iter_spider_classes(module))
    checked, offenders = 0, []
    for cls in classes:
        for name, member in inspect.getmembers(cls, inspect.isgeneratorfunction):
            checked += 1
            if is_generator_with_return_value(member):
                offenders.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    assert checked > 10
    assert offenders == []
