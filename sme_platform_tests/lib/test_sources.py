"""sources.yaml parsing: what a data team writes, and the errors they get when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from sme_platform.lib.sources import SourcesConfigError, load_sources, parse_sources
from sme_platform_tests.conftest import CANONICAL_TABLES, REPO_ROOT, SALES_COLUMNS

MINIMAL_SALES = {"path": "sales_*.csv", "columns": {**SALES_COLUMNS, "line_type": "'sale'"}}


def parse(document: dict, tmp_path: Path):
    return parse_sources(document, config_path=tmp_path / "sources.yaml", project_dir=tmp_path)


def test_a_minimal_source_parses_with_defaults(tmp_path):
    config = parse({"sources": {"sales_lines": MINIMAL_SALES}}, tmp_path)
    spec = config.get("sales_lines")
    assert spec.format == "csv"
    assert spec.path_pattern == str(tmp_path / "sales_*.csv")
    assert spec.options["null_markers"] == [""]
    assert spec.quarantine_threshold() == 0.05
    assert config.get("tickets") is None  # absent source


def test_environment_variables_expand_with_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPORTS", "/srv/erp")
    document = {"root": "${EXPORTS}", "sources": {"sales_lines": MINIMAL_SALES}}
    assert parse(document, tmp_path).get("sales_lines").path_pattern == "/srv/erp/sales_*.csv"
    document = {"root": "${NOT_SET_ANYWHERE:-fallback}", "sources": {"sales_lines": MINIMAL_SALES}}
    pattern = parse(document, tmp_path).get("sales_lines").path_pattern
    assert pattern == str(tmp_path / "fallback" / "sales_*.csv")


def test_unset_environment_variable_without_default_is_an_error(tmp_path):
    with pytest.raises(SourcesConfigError, match="NOT_SET_ANYWHERE is not set"):
        parse({"root": "${NOT_SET_ANYWHERE}", "sources": {"sales_lines": MINIMAL_SALES}}, tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"table": "orders"}, "unknown canonical table"),
        ({"columns": {"order_id": "x"}}, "required column of sales_lines has no mapping"),
        ({"columns": {**MINIMAL_SALES["columns"], "colour": "c"}}, "unknown column 'colour'"),
        ({"format": "xlsx"}, "'xlsx' is not allowed; allowed: csv, parquet"),
        ({"options": {"delimeter": ";"}}, "did you mean sources.sales_lines.options.delimiter"),
        ({"contract": {"rules": {"no_such_rule": {"severity": "warn"}}}}, "unknown rule"),
        (
            {"contract": {"rules": {"quantity_plausible": {"severity": "fatal"}}}},
            "allowed: error, warn",
        ),
        ({"contract": {"max_quarantine_share": "lots"}}, "expected a number"),
        ({"surprise": 1}, "unknown key 'surprise'"),
    ],
)
def test_mistakes_are_errors_naming_the_file_and_key(tmp_path, change, message):
    body = {**MINIMAL_SALES, **{k: v for k, v in change.items() if k != "table"}}
    table = change.get("table", "sales_lines")
    with pytest.raises(SourcesConfigError, match=message) as error:
        parse({"sources": {table: body}}, tmp_path)
    assert "sources.yaml" in str(error.value)
    assert f"sources.{table}" in str(error.value)


def test_missing_or_broken_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourcesConfigError, match="no sources file"):
        load_sources(tmp_path)
    (tmp_path / "sources.yaml").write_text("sources: [unclosed", encoding="utf-8")
    with pytest.raises(SourcesConfigError, match="not valid YAML"):
        load_sources(tmp_path)


def test_format_is_taken_from_each_files_extension_when_left_out(tmp_path):
    spec = parse({"sources": {"sales_lines": {**MINIMAL_SALES, "path": "s/*.*"}}}, tmp_path).get(
        "sales_lines"
    )
    assert spec.format == "auto"
    assert spec.file_format(Path("a.parquet")) == "parquet"
    assert spec.file_format(Path("a.csv.gz")) == "csv"
    assert spec.file_format(Path("a.jsonl")) == "jsonl"


def test_rule_overrides_change_severity_and_switch_rules_off(tmp_path):
    from sme_platform.lib.ingestion.contract import row_rules

    body = {
        **MINIMAL_SALES,
        "contract": {
            "rules": {
                "quantity_plausible": {"severity": "warn"},
                "ordered_at_plausible": {"enabled": False},
            }
        },
    }
    spec = parse({"sources": {"sales_lines": body}}, tmp_path).get("sales_lines")
    rules = {rule.name: rule.severity for rule in row_rules(spec, has_format_check=False)}
    assert rules["quantity_plausible"] == "warn"
    assert "ordered_at_plausible" not in rules
    assert rules["type_quantity"] == "error" and rules["required_sku"] == "error"
    # unmapped optional columns get no type rule
    assert "type_discount_pct" not in rules


def test_the_shipped_demo_mapping_is_valid():
    config = load_sources(REPO_ROOT)
    assert sorted(config.sources) == CANONICAL_TABLES


def test_a_source_may_add_rules_of_its_own(tmp_path):
    from sme_platform.lib.ingestion.contract import row_rules

    body = {
        **MINIMAL_SALES,
        "contract": {
            "rules": {
                "store_orders_only": {
                    "condition": "order_id like 'SO-%'",
                    "severity": "warn",
                    "description": "orders come from the shop system",
                }
            }
        },
    }
    spec = parse({"sources": {"sales_lines": body}}, tmp_path).get("sales_lines")
    custom = [r for r in row_rules(spec, has_format_check=False) if r.name == "store_orders_only"]
    assert [(r.condition, r.severity) for r in custom] == [("(order_id like 'SO-%')", "warn")]
    body["contract"]["rules"] = {"quantity_plausible": {"condition": "true"}}
    with pytest.raises(SourcesConfigError, match="cannot be replaced"):
        parse({"sources": {"sales_lines": body}}, tmp_path)
