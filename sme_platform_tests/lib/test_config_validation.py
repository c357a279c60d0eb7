"""Configuration mistakes as a data team makes them, and the one line per problem they get back:
the file, the key path, what is wrong and allowed, and a "did you mean" where it helps."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from sme_platform.lib.config.check import check_configuration
from sme_platform.lib.config.schema import (
    SCHEMA_PATH,
    schema_modeline,
    sources_schema_text,
    with_schema_modeline,
)
from sme_platform.lib.project import SQL_MODELS_DIR
from sme_platform.lib.sources import SourcesConfigError, parse_sources
from sme_platform_tests.conftest import REPO_ROOT, SALES_COLUMNS

SALES = {"path": "sales_*.csv", "columns": dict(SALES_COLUMNS)}
SALES_RULES = (
    "discount_in_range, foreign_key_customer_id, foreign_key_location_id, foreign_key_sku, "
    "line_type_allowed, ordered_at_not_future, ordered_at_plausible, quantity_plausible, "
    "sale_price_positive, sale_quantity_positive, unit_price_not_negative"
)
SOURCE_KEYS = "changed_files, columns, contract, description, format, options, owner, path, query"
CSV_OPTIONS = (
    "date_format, decimal_separator, delimiter, encoding, escape, header, max_line_size, "
    "null_markers, quote, skip_rows, timestamp_format"
)
EXAMPLES = ["online_retail", "itsm_tickets"]


def problem_lines(document, tmp_path: Path) -> list[str]:
    """The lines of the error, with the file's path shortened to `sources.yaml`."""
    with pytest.raises(SourcesConfigError) as error:
        parse_sources(document, config_path=tmp_path / "sources.yaml", project_dir=tmp_path)
    prefix = f"{tmp_path / 'sources.yaml'}: "
    assert all(line.startswith(prefix) for line in error.value.lines), error.value.lines
    return [line.replace(prefix, "sources.yaml: ", 1) for line in error.value.lines]


def sales(**changes) -> dict:
    return {"sources": {"sales_lines": {**SALES, **changes}}}


@pytest.mark.parametrize(
    ("document", "line"),
    [
        pytest.param(
            sales(surprise=1),
            "sources.yaml: sources.sales_lines.surprise: unknown key 'surprise'; "
            f"allowed keys: {SOURCE_KEYS}",
            id="unknown key",
        ),
        pytest.param(
            sales(contract={"quantity_plausible": {"severity": "warn"}}),
            "sources.yaml: sources.sales_lines.contract.quantity_plausible: not a key here; "
            "did you mean sources.sales_lines.contract.rules.quantity_plausible?",
            id="rule override directly under contract",
        ),
        pytest.param(
            sales(contract={"severity": "warn"}),
            "sources.yaml: sources.sales_lines.contract.severity: not a key here; "
            "did you mean sources.sales_lines.contract.rules.<name>.severity?",
            id="override key directly under contract",
        ),
        pytest.param(
            sales(delimiter=";"),
            "sources.yaml: sources.sales_lines.delimiter: not a key here; "
            "did you mean sources.sales_lines.options.delimiter?",
            id="reader option at the source's level",
        ),
        pytest.param(
            sales(options={"delimeter": ";"}),
            "sources.yaml: sources.sales_lines.options.delimeter: unknown key 'delimeter'; "
            f"allowed keys: {CSV_OPTIONS}; did you mean sources.sales_lines.options.delimiter?",
            id="misspelled key",
        ),
        pytest.param(
            sales(contract={"max_quarantine_share": "lots"}),
            "sources.yaml: sources.sales_lines.contract.max_quarantine_share: "
            "expected a number, got 'lots'",
            id="wrong type",
        ),
        pytest.param(
            sales(contract={"max_quarantine_share": 5}),
            "sources.yaml: sources.sales_lines.contract.max_quarantine_share: "
            "must be at most 1.0, got 5",
            id="share above 1",
        ),
        pytest.param(
            sales(changed_files="appnd"),
            "sources.yaml: sources.sales_lines.changed_files: 'appnd' is not allowed; "
            "allowed: replace, append; did you mean append?",
            id="bad Literal value",
        ),
        pytest.param(
            sales(contract={"rules": {"quantity_plausible": {"severity": "fatal"}}}),
            "sources.yaml: sources.sales_lines.contract.rules.quantity_plausible.severity: "
            "'fatal' is not allowed; allowed: error, warn",
            id="bad severity",
        ),
        pytest.param(
            {"version": 2, **sales()},
            "sources.yaml: version: 2 is not supported; this sme-platform reads sources.yaml "
            "version 1",
            id="bad version",
        ),
        pytest.param(
            {"sources": {"sales_line": SALES}},
            "sources.yaml: sources.sales_line: unknown canonical table 'sales_line'; known "
            "tables: locations, products, customers, sales_lines, inventory_snapshots, prices, "
            "tickets; did you mean sources.sales_lines?",
            id="unknown canonical table",
        ),
        pytest.param(
            sales(columns={**SALES_COLUMNS, "colour": "c"}),
            "sources.yaml: sources.sales_lines.columns.colour: unknown column 'colour'; columns "
            "of sales_lines: order_id, line_number, ordered_at, location_id, customer_id, sku, "
            "quantity, unit_price, discount_pct, promo_code, line_type",
            id="unknown canonical column",
        ),
        pytest.param(
            sales(contract={"rules": {"quantity_plausibel": {"severity": "warn"}}}),
            "sources.yaml: sources.sales_lines.contract.rules.quantity_plausibel: unknown rule "
            f"'quantity_plausibel'; rules of sales_lines: {SALES_RULES}; a rule of your own "
            "needs a condition (DuckDB SQL over the canonical columns, true for a good row); "
            "did you mean sources.sales_lines.contract.rules.quantity_plausible?",
            id="unknown rule name",
        ),
        pytest.param(
            sales(contract={"rules": {"quantity_plausible": {"condition": "true"}}}),
            "sources.yaml: sources.sales_lines.contract.rules.quantity_plausible.condition: a "
            "canonical rule's condition cannot be replaced; switch it off (enabled: false) and "
            "add a rule with another name",
            id="canonical rule's condition",
        ),
        pytest.param(
            sales(format="parquet", options={"delimiter": ";"}),
            "sources.yaml: sources.sales_lines: options ['delimiter'] are CSV reader options, "
            "not for format parquet; allowed for parquet: ['date_format', 'null_markers', "
            "'timestamp_format']",
            id="CSV option on a Parquet source",
        ),
        pytest.param(
            sales(owner="Jane Doe"),
            "sources.yaml: sources.sales_lines.owner: owner must be team:<name> or an email "
            "address, not 'Jane Doe'",
            id="owner Dagster cannot show",
        ),
        pytest.param(
            {"sources": {"sales_lines": None}},
            "sources.yaml: sources.sales_lines: expected a mapping, got nothing (an empty value)",
            id="empty source",
        ),
        pytest.param(
            {"sales_lines": SALES},
            "sources.yaml: sales_lines: not a key here; did you mean sources.sales_lines?",
            id="source outside sources:",
        ),
        pytest.param(
            sales(path="${NOT_SET_ANYWHERE}/sales.csv"),
            "sources.yaml: sources.sales_lines.path: environment variable NOT_SET_ANYWHERE is "
            "not set (write ${NOT_SET_ANYWHERE:-default} for a default)",
            id="unset environment variable",
        ),
    ],
)
def test_each_kind_of_mistake_is_one_line_naming_the_key_path(tmp_path, document, line):
    assert problem_lines(document, tmp_path) == [line]


def test_a_missing_required_column_is_a_line_per_column(tmp_path):
    columns = {k: v for k, v in SALES_COLUMNS.items() if k not in ("sku", "quantity")}
    assert problem_lines(sales(columns=columns), tmp_path) == [
        f"sources.yaml: sources.sales_lines.columns.{column}: required column of sales_lines has "
        "no mapping: give a source column or a DuckDB SQL expression"
        for column in ("sku", "quantity")
    ]


def test_several_problems_in_several_sources_are_all_reported_at_once(tmp_path):
    document = {
        "version": 1,
        "sources": {
            "sales_lines": {
                **SALES,
                "contract": {"quantity_plausible": {"severity": "warn"}},
                "colums": {},
            },
            "tickets": {
                "path": "t.csv",
                "columns": {"ticket_id": "id", "opened_at": "opened", "priority": "'low'"},
                "changed_files": "sometimes",
            },
        },
    }
    assert problem_lines(document, tmp_path) == [
        "sources.yaml: sources.sales_lines.contract.quantity_plausible: not a key here; "
        "did you mean sources.sales_lines.contract.rules.quantity_plausible?",
        "sources.yaml: sources.sales_lines.colums: unknown key 'colums'; "
        f"allowed keys: {SOURCE_KEYS}; did you mean sources.sales_lines.columns?",
        "sources.yaml: sources.tickets.changed_files: 'sometimes' is not allowed; "
        "allowed: replace, append",
    ]


def test_a_misspelled_header_key_is_not_also_reported_as_missing(tmp_path):
    path = tmp_path / "staging" / "orders.sql"
    path.parent.mkdir()
    path.write_text(
        "/*\ndescription: 'Grain: one row per order.'\nowners: team:data\n*/ select 1",
        encoding="utf-8",
    )
    result = check_configuration(REPO_ROOT, tmp_path)
    assert result.problems == (
        f"{path}: owners: unknown key 'owners'; allowed keys: description, incremental, "
        "materialization, owner, pii, tests; did you mean owner?",
    )


def test_check_collects_sources_yaml_and_every_sql_header_in_one_pass(tmp_path):
    (tmp_path / "sources.yaml").write_text(
        yaml.safe_dump(sales(contract={"quantity_plausible": {"severity": "warn"}})),
        encoding="utf-8",
    )
    models = tmp_path / "models"
    good = "/*\ndescription: 'Grain: one row per order.'\nowner: team:data\n*/\n"
    (models / "staging").mkdir(parents=True)
    (models / "marts").mkdir()
    (models / "staging" / "orders.sql").write_text(
        good.replace("team:data", "team:data\nmaterialisation: view") + "select 1 as id",
        encoding="utf-8",
    )
    (models / "staging" / "items.sql").write_text(good + "select 1 as id", encoding="utf-8")
    (models / "marts" / "daily.sql").write_text(
        good.replace(
            "*/", "tests:\n  - expression: {name: positive, sql: 'id > 0', severity: fatal}\n*/"
        )
        + "select * from staging.orders",  # a model that failed to load is no unknown table
        encoding="utf-8",
    )
    result = check_configuration(tmp_path, models)
    assert not result.ok
    assert result.problems == (
        f"{tmp_path / 'sources.yaml'}: sources.sales_lines.contract.quantity_plausible: not a "
        "key here; did you mean sources.sales_lines.contract.rules.quantity_plausible?",
        f"{models / 'marts' / 'daily.sql'}: tests[0].expression.severity: 'fatal' is not "
        "allowed; allowed: error, warn",
        f"{models / 'staging' / 'orders.sql'}: materialisation: unknown key 'materialisation'; "
        "allowed keys: description, incremental, materialization, owner, pii, tests; "
        "did you mean materialization?",
    )


def test_the_rule_overrides_and_rules_of_a_companys_own_still_reach_the_source(tmp_path):
    document = sales(
        contract={
            "max_quarantine_share": 0.02,
            "rules": {
                "quantity_plausible": {"severity": "warn"},
                "foreign_key_sku": {"enabled": False},
                "store_orders_only": {"condition": "order_id like 'SO-%'", "severity": "warn"},
            },
        },
        description="Order lines from the ERP",
        owner="team:sales",
        options={"null_markers": "?", "skip_rows": 2},
    )
    spec = parse_sources(document, config_path=tmp_path / "sources.yaml", project_dir=tmp_path).get(
        "sales_lines"
    )
    assert spec.quarantine_threshold() == 0.02
    assert {
        name: (o.severity, o.enabled, o.condition) for name, o in spec.rule_overrides.items()
    } == {
        "quantity_plausible": ("warn", True, None),
        "foreign_key_sku": (None, False, None),
        "store_orders_only": ("warn", True, "order_id like 'SO-%'"),
    }
    assert spec.rule_overrides["store_orders_only"].description == "order_id like 'SO-%'"
    assert (spec.description, spec.owner) == ("Order lines from the ERP", "team:sales")
    assert spec.options == {"null_markers": ["?"], "skip_rows": 2}


@pytest.mark.parametrize("folder", [".", *(f"examples/{name}" for name in EXAMPLES)])
def test_the_shipped_configuration_passes_the_check(folder):
    result = check_configuration(REPO_ROOT / folder, SQL_MODELS_DIR)
    assert result.problems == ()
    expected_sources = {".": 7, "examples/online_retail": 3, "examples/itsm_tickets": 1}[folder]
    noun = "source" if expected_sources == 1 else "sources"
    assert result.summary == f"configuration OK: {expected_sources} {noun}, 16 SQL models"


def test_the_published_json_schema_is_the_generated_one():
    """Regenerate with `sme-platform schema` (or `make schema`) after changing the models."""
    assert SCHEMA_PATH.read_text(encoding="utf-8") == sources_schema_text()


@pytest.mark.parametrize("folder", [".", *(f"examples/{name}" for name in EXAMPLES)])
def test_each_shipped_sources_yaml_points_editors_at_the_schema_and_conforms(folder):
    sources_file = REPO_ROOT / folder / "sources.yaml"
    text = sources_file.read_text(encoding="utf-8")
    assert text.splitlines()[0] == schema_modeline(sources_file)
    relative = text.splitlines()[0].split("$schema=", 1)[1]
    assert (sources_file.parent / relative).resolve() == SCHEMA_PATH
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(text))


def test_the_json_schema_refuses_what_the_models_refuse():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    document = sales(contract={"quantity_plausible": {"severity": "warn"}})
    assert [list(error.path) for error in validator.iter_errors(document)] == [
        ["sources", "sales_lines", "contract"]
    ]
    assert not list(validator.iter_errors(sales(contract={"rules": {"quantity_plausible": {}}})))


def test_a_copy_of_the_demo_mapping_points_at_the_schema_from_where_it_is(tmp_path):
    copy = tmp_path / "acme" / "sources.yaml"
    copy.parent.mkdir()
    text = with_schema_modeline((REPO_ROOT / "sources.yaml").read_text(encoding="utf-8"), copy)
    first, rest = text.split("\n", 1)
    relative = first.split("$schema=", 1)[1]
    assert (copy.parent / relative).resolve() == SCHEMA_PATH
    assert rest == (REPO_ROOT / "sources.yaml").read_text(encoding="utf-8").split("\n", 1)[1]
    assert with_schema_modeline("version: 1\n", copy) == f"{first}\nversion: 1\n"


def test_each_forecasting_yaml_problem_is_a_line_of_its_own_with_a_suggestion(tmp_path):
    (tmp_path / "sources.yaml").write_text(
        (REPO_ROOT / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "forecasting.yaml").write_text(
        "demand_forecast:\n  holiday_contry: DE\n  active_days: 0\n"
        "gate:\n  margin: 2\nbusiness:\n  lead_time_dayz: 2\n",
        encoding="utf-8",
    )
    result = check_configuration(tmp_path, SQL_MODELS_DIR)
    file = tmp_path / "forecasting.yaml"
    assert sorted(result.problems) == sorted(
        [
            f"{file}: demand_forecast.active_days: Input should be greater than or equal to 7",
            f"{file}: demand_forecast.holiday_contry: Extra inputs are not permitted; did you "
            "mean demand_forecast.holiday_country?",
            f"{file}: gate.margin: Input should be less than 1",
            f"{file}: business.lead_time_dayz: Extra inputs are not permitted; did you mean "
            "business.lead_time_days?",
        ]
    )
    # A key nothing is close to gets no suggestion.
    file.write_text("gate:\n  xyz: 1\n", encoding="utf-8")
    (problem,) = check_configuration(tmp_path, SQL_MODELS_DIR).problems
    assert problem == f"{file}: gate.xyz: Extra inputs are not permitted"
