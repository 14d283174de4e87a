"""Settings for every pytest run in this repository (tests, plugins, integrations).

Hypothesis's per-example deadline is off: CI runs four suites at once on two cores, where one
example of a microsecond parser can take 300 ms, and speed is measured by `benchmarks/`, never
by a test.
"""

import sys
from collections.abc import Iterator

import pytest
from hypothesis import settings

settings.register_profile("distributor", deadline=None)
settings.load_profile("distributor")


@pytest.fixture(autouse=True)
def _structlog_left_as_found() -> Iterator[None]:
    """A test that configures structlog (``capture_logs`` does) leaves it unconfigured again if
    it found it so: the library's events go to structlog only when an application configured
    it, and later tests must see the library as an application that did not."""
    structlog = sys.modules.get("structlog")
    configured = structlog is not None and structlog.is_configured()
    yield
    structlog = sys.modules.get("structlog")
    if structlog is not None and not configured and structlog.is_configured():
        structlog.reset_defaults()
