"""A warehouse on tmp_path."""

from __future__ import annotations

import pytest

from sme_platform.lib.warehouse import connect


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as connection:
        yield connection
