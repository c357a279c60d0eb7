"""The new-files sensor: a run for the tables whose files changed, nothing when none did."""

from __future__ import annotations

import os

import dagster as dg

from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sensors import new_export_files
from sme_platform_tests.conftest import SALES_HEADER


def evaluate(project_root, cursor=None):
    # A context manager, as the daemon uses it: the resource has a teardown (a run's lock).
    with dg.build_sensor_context(
        cursor=cursor, resources={"project": ProjectResource(project_dir=str(project_root))}
    ) as context:
        result = new_export_files(context)
        return result, context.cursor


def test_new_and_changed_files_request_a_run_for_their_tables_only(project):
    project.write("sales_1.csv", SALES_HEADER + "\nO1,1,2024-01-01 10:00:00,A,2,1.50,SALE\n")
    project.write("customers.jsonl", '{"id": "C1"}\n')
    project.sales_source()
    project.source("customers", path="customers.jsonl", columns={"customer_id": "id"})

    first, cursor = evaluate(project.root)
    assert sorted(k.to_user_string() for k in first.asset_selection) == [
        "raw/customers",
        "raw/sales_lines",
    ]
    assert first.tags["tables"] == "customers,sales_lines"

    unchanged, cursor = evaluate(project.root, cursor)
    assert isinstance(unchanged, dg.SkipReason)

    new_day = project.write(
        "sales_2.csv", SALES_HEADER + "\nO2,1,2024-01-02 10:00:00,A,1,1.50,SALE\n"
    )
    os.utime(new_day, (1_700_000_000, 1_700_000_000))
    second, _ = evaluate(project.root, cursor)
    assert [k.to_user_string() for k in second.asset_selection] == ["raw/sales_lines"]
    assert second.run_key != first.run_key
