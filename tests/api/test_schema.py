"""Property-based requests from /openapi.json (schemathesis): no request, however odd, makes a server error, and
every response matches its documented status, content type and schema.

Two checks are left out. That every schema-valid request is accepted: a cursor is opaque (only those the API gave out
are valid) and a source must be in the registry, so such requests are rightly 422. And that every schema-violating
one is refused: FastAPI is lenient where that is harmless (``since=1700000000`` is read as a Unix time).

The app is made at import (schemathesis reads its schema then); its database file is filled with the crawled sample
before the first request. A bounded number of examples per operation keeps this well under half a minute.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from aggregator.api import create_app

FOLDER = Path(tempfile.mkdtemp(prefix="aggregator-schema-"))
APP = create_app(f"sqlite:///{FOLDER / 'archive.db'}")
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def archive(sample_template: Path) -> Iterator[None]:
    shutil.copy(sample_template, FOLDER / "archive.db")
    yield
    APP.state.store.close()
    shutil.rmtree(FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error(case) -> None:
    case.call_and_validate(excluded_checks=[positive_data_acceptance, negative_data_rejection])
