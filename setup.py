"""The egg that Scrapyd runs: ``scrapyd-deploy`` builds it with ``python setup.py bdist_egg`` (setuptools >= 77).

pip and ``make`` never run this file: they install the project with hatchling, from pyproject.toml, whose
``[project]`` table setuptools reads here too (name, version, dependencies, the ``scrapy`` settings entry point).
Without this file, scrapyd-deploy writes a setup.py of its own, whose egg holds the tests and lacks the Alembic
migrations (they are no Python package), so a deployed crawl cannot create or upgrade its archive.
"""

from setuptools import find_namespace_packages, setup

setup(
    # Namespace packages too: the migrations' versions/ and the pages' templates/ are folders without __init__.py.
    packages=find_namespace_packages(include=["aggregator", "aggregator.*", "spiders", "pipelines"]),
    package_data={"aggregator.store.migrations": ["script.py.mako"], "aggregator.api.templates": ["*.html"]},
    zip_safe=False,
)
