"""The bad-input corpus: each kind of broken file gets an exact, explained outcome and nothing is
lost (rows read = rows loaded + rows quarantined; a file that cannot be read at all is rejected
with a message naming it, and the other files still load)."""

from __future__ import annotations

import json

import pytest

from sme_platform.lib.sources import SourcesConfigError
from sme_platform_tests.conftest import SALES_COLUMNS, SALES_HEADER, TinyProject

GOOD_1 = "O1,1,2024-01-01 10:00:00,A,2,1.50,SALE"
GOOD_2 = "O1,2,2024-01-01 10:00:00,B,1,2.00,SALE"


def sales_file(*lines: str, header: str = SALES_HEADER, newline: str = "\n") -> str:
    return newline.join([header, *lines]) + newline


def quarantined(project: TinyProject) -> list[tuple]:
    return project.query(
        "select _source_row, rule, failed_rules, message, original_values "
        "from quarantine.sales_lines order by _source_row"
    )


def assert_conserved(result) -> None:
    assert result.rows_read == result.rows_loaded + result.rows_quarantined


def test_empty_file_is_rejected_and_other_files_still_load(project):
    project.write("sales_1.csv", "")
    project.write("sales_2.csv", sales_file(GOOD_1))
    project.sales_source()
    result = project.ingest()
    statuses = {f.path.rsplit("/", 1)[-1]: f.status for f in result.files}
    assert statuses == {"sales_1.csv": "rejected", "sales_2.csv": "loaded"}
    (rejected,) = result.rejected_files
    assert "sales_1.csv" in rejected.message and "empty file" in rejected.message
    assert result.rows_loaded == 1
    logged = project.query("select status, message from raw.file_loads where status = 'rejected'")
    assert logged[0][1] == rejected.message


def test_a_rejected_file_is_copied_to_the_quarantine_folder(project):
    from sme_platform.lib.ingestion import ingest_table
    from sme_platform.lib.sources import load_sources
    from sme_platform.lib.warehouse import connect

    content = sales_file(GOOD_1).replace(",", ";")
    project.write("sales_1.csv", content)
    project.sales_source()
    kept = project.root / "data" / "quarantine" / "files"
    with connect(project.warehouse) as con:
        result = ingest_table(
            con, load_sources(project.root).get("sales_lines"), rejected_files_dir=kept
        )
    (rejected,) = result.rejected_files
    (copy,) = kept.iterdir()
    assert copy.read_text(encoding="utf-8") == content
    assert copy.name.endswith("-sales_1.csv") and str(copy) in rejected.message
    logged = project.query("select message from raw.file_loads where status = 'rejected'")
    assert logged == [(rejected.message,)]


def test_header_only_file_loads_zero_rows(project):
    project.write("sales_1.csv", SALES_HEADER + "\n")
    project.sales_source()
    result = project.ingest()
    assert [f.status for f in result.files] == ["loaded"]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (0, 0, 0)


def test_byte_order_mark_is_not_part_of_the_first_column(project):
    project.write("sales_1.csv", b"\xef\xbb\xbf" + sales_file(GOOD_1, GOOD_2).encode())
    project.sales_source()
    result = project.ingest()
    assert (result.rows_loaded, result.rows_quarantined) == (2, 0)
    assert project.query("select order_id from raw.sales_lines order by 1") == [("O1",), ("O1",)]


def test_crlf_line_endings_leave_no_carriage_returns(project):
    project.write("sales_1.csv", sales_file(GOOD_1, GOOD_2, newline="\r\n"))
    project.sales_source()
    result = project.ingest()
    assert (result.rows_loaded, result.rows_quarantined) == (2, 0)
    assert project.query("select distinct line_type from raw.sales_lines") == [("sale",)]


def test_wrong_delimiter_rejects_the_file_and_says_why(project):
    project.write("sales_1.csv", sales_file(GOOD_1).replace(",", ";"))
    project.sales_source()
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert "sales_1.csv" in rejected.message
    assert "missing column(s)" in rejected.message and "wrong delimiter?" in rejected.message
    assert result.rows_read == 0


def test_latin1_bytes_in_a_line_quarantine_that_line_only(project):
    broken = b"O1,2,2024-01-01 10:00:00,B,1,2.00,SALE-CAF\xe9"
    content = (
        (SALES_HEADER + "\n" + GOOD_1 + "\n").encode()
        + broken
        + b"\n"
        + b"O2,1,2024-01-02 10:00:00,A,1,1.00,SALE\n"
    )
    project.write("sales_1.csv", content)
    project.sales_source()
    result = project.ingest()
    assert_conserved(result)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    ((row, rule, _, message, original),) = quarantined(project)
    assert (row, rule) == (2, "parse_error")
    assert "line 2" in message and "INVALID ENCODING" in message
    assert original.startswith("O1,2,2024-01-01")
    # The good rows keep their own row numbers around the rejected one.
    assert project.query("select _source_row from raw.sales_lines order by 1") == [(1,), (3,)]


def test_latin1_file_loads_when_the_source_says_so(project):
    content = sales_file("O1,1,2024-01-01 10:00:00,CAFÉ,2,1.50,SALE").encode("latin-1")
    project.write("sales_1.csv", content)
    project.sales_source(options={"encoding": "latin-1"})
    result = project.ingest()
    assert (result.rows_loaded, result.rows_quarantined) == (1, 0)
    assert project.query("select sku from raw.sales_lines") == [("CAFÉ",)]


def test_missing_required_column_rejects_the_file_naming_the_column(project):
    header = SALES_HEADER.replace(",qty", "")
    project.write("sales_1.csv", sales_file("O1,1,2024-01-01 10:00:00,A,1.50,SALE", header=header))
    project.sales_source()
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert "missing column(s) ['qty']" in rejected.message
    assert "sales_1.csv" in rejected.message


def test_extra_columns_load_and_are_reported(project):
    header = SALES_HEADER + ",note"
    project.write("sales_1.csv", sales_file(GOOD_1 + ",hello", header=header))
    project.sales_source()
    result = project.ingest()
    assert (result.rows_loaded, result.rows_quarantined) == (1, 0)
    assert result.extra_source_columns == ["note"]


def test_wrong_types_are_quarantined_with_the_type_rule(project):
    project.write(
        "sales_1.csv",
        sales_file(
            GOOD_1, "O2,1,yesterday,A,2,1.50,SALE", "O3,1,2024-01-01 10:00:00,A,two,1.50,SALE"
        ),
    )
    project.sales_source()
    result = project.ingest()
    assert_conserved(result)
    rows = quarantined(project)
    assert [(r[0], r[1]) for r in rows] == [(2, "type_ordered_at"), (3, "type_quantity")]
    assert json.loads(rows[1][4])["qty"] == "two"
    assert result.quarantine_by_rule["type_quantity"] == 1


def test_null_keys_are_quarantined(project):
    project.write("sales_1.csv", sales_file(GOOD_1, "O2,1,2024-01-01 10:00:00,,2,1.50,SALE"))
    project.sales_source()
    project.ingest()
    assert [(r[0], r[1]) for r in quarantined(project)] == [(2, "required_sku")]


def test_duplicate_keys_keep_the_first_and_quarantine_the_rest(project):
    project.write("sales_1.csv", sales_file(GOOD_1, GOOD_1.replace(",2,1.50", ",5,1.50"), GOOD_2))
    project.sales_source()
    result = project.ingest()
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    ((row, rule, _, message, _),) = quarantined(project)
    assert (row, rule) == (2, "primary_key_unique")
    assert "first seen at" in message and "sales_1.csv row 1" in message
    assert project.query("select quantity from raw.sales_lines where line_number = 1") == [(2.0,)]


def test_a_key_loaded_by_an_earlier_file_is_a_duplicate_too(project):
    project.write("sales_1.csv", sales_file(GOOD_1))
    project.sales_source()
    project.ingest()
    project.write("sales_2.csv", sales_file(GOOD_1.replace(",2,1.50", ",9,1.50")))
    result = project.ingest()
    assert (result.rows_loaded, result.rows_quarantined) == (0, 1)
    ((_, rule, _, message, _),) = quarantined(project)
    assert rule == "primary_key_unique" and "already loaded from" in message


def test_negative_and_absurd_quantities_are_quarantined(project):
    project.write(
        "sales_1.csv",
        sales_file(
            GOOD_1,
            "O2,1,2024-01-01 10:00:00,A,-3,1.50,SALE",
            "O3,1,2024-01-01 10:00:00,A,-3,1.50,RETURN",
            "O4,1,2024-01-01 10:00:00,A,250000,1.50,SALE",
        ),
    )
    project.sales_source()
    result = project.ingest()
    assert [(r[0], r[1]) for r in quarantined(project)] == [
        (2, "sale_quantity_positive"),
        (4, "quantity_plausible"),
    ]
    assert result.rows_loaded == 2  # the return with -3 units is fine


def test_future_dates_are_quarantined(project):
    project.write("sales_1.csv", sales_file(GOOD_1, "O2,1,2999-01-01 10:00:00,A,1,1.50,SALE"))
    project.sales_source()
    project.ingest()
    assert [(r[0], r[1]) for r in quarantined(project)] == [(2, "ordered_at_not_future")]


def test_quotes_newlines_and_sql_text_inside_fields_load_verbatim(project):
    hostile_sku = "A'); drop table raw.sales_lines; --"
    multi_line = 'say ""hi""\nsecond line'
    project.write(
        "sales_1.csv",
        sales_file(
            f'"O1",1,2024-01-01 10:00:00,"{hostile_sku}",2,1.50,SALE',
            f'O2,1,2024-01-01 10:00:00,"{multi_line}",1,1.00,SALE',
            'O3,1,2024-01-01 10:00:00,"comma, inside",1,1.00,SALE',
        ),
    )
    project.sales_source()
    result = project.ingest()
    assert (result.rows_loaded, result.rows_quarantined) == (3, 0)
    skus = [s for (s,) in project.query("select sku from raw.sales_lines order by _source_row")]
    assert skus == [hostile_sku, 'say "hi"\nsecond line', "comma, inside"]
    assert project.query("select _source_row from raw.sales_lines order by 1") == [(1,), (2,), (3,)]


def test_a_huge_field_quarantines_its_line_only(project):
    huge = "x" * 3_000_000
    project.write(
        "sales_1.csv", sales_file(GOOD_1, f"O2,1,2024-01-01 10:00:00,{huge},1,1.00,SALE", GOOD_2)
    )
    project.sales_source()
    result = project.ingest()
    assert_conserved(result)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    ((row, rule, _, _message, _),) = quarantined(project)
    assert (row, rule) == (2, "parse_error")


def test_a_truncated_last_line_is_quarantined(project):
    content = sales_file(GOOD_1, GOOD_2) + "O3,1,2024-01-0"
    project.write("sales_1.csv", content)
    project.sales_source()
    result = project.ingest()
    assert_conserved(result)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    ((row, rule, _, message, original),) = quarantined(project)
    assert (row, rule) == (3, "parse_error")
    assert "MISSING COLUMNS" in message and original == "O3,1,2024-01-0"


def test_an_unterminated_quote_is_quarantined_not_fatal(project):
    project.write("sales_1.csv", sales_file(GOOD_1, 'O2,1,2024-01-01 10:00:00,"A,1,1.00,SALE'))
    project.sales_source()
    result = project.ingest()
    assert_conserved(result)
    assert result.rows_loaded == 1 and result.rows_quarantined >= 1
    assert {r[1] for r in quarantined(project)} == {"parse_error"}


def test_the_same_file_is_not_loaded_twice(project):
    project.write("sales_1.csv", sales_file(GOOD_1, GOOD_2))
    project.sales_source()
    first = project.ingest()
    second = project.ingest()
    assert first.rows_loaded == 2
    assert second.status == "no_new_files" and second.rows_read == 0
    assert [f.status for f in second.files] == ["already_loaded"]
    assert project.query("select count(*) from raw.sales_lines") == [(2,)]


def test_a_broken_json_line_is_quarantined(project):
    project.write(
        "customers.jsonl",
        '{"id": "C1", "email": "a@b.org"}\n'
        '{"id": "C2", "email": \n'
        '{"id": "C3", "email": "c@d.org"}\n',
    )
    project.source(
        "customers", path="customers.jsonl", columns={"customer_id": "id", "email": "email"}
    )
    result = project.ingest("customers")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    ((row, rule, original),) = project.query(
        "select _source_row, rule, original_values from quarantine.customers"
    )
    assert (row, rule, original) == (2, "valid_json", '{"id": "C2", "email": ')


def test_a_corrupt_parquet_file_is_rejected(project):
    project.write("inventory_1.parquet", b"PAR1 this is not really parquet")
    project.source(
        "inventory_snapshots",
        path="inventory_*.parquet",
        columns={"snapshot_date": "d", "location_id": "l", "sku": "s", "on_hand_units": "n"},
    )
    result = project.ingest("inventory_snapshots")
    (rejected,) = result.rejected_files
    assert "inventory_1.parquet" in rejected.message and "Parquet" in rejected.message


def test_a_malformed_email_is_loaded_with_a_warning(project):
    project.write(
        "customers.jsonl",
        '{"id": "C1", "email": "a@b.org"}\n{"id": "C2", "email": "jane.doe.example.com"}\n',
    )
    project.source(
        "customers", path="customers.jsonl", columns={"customer_id": "id", "email": "email"}
    )
    result = project.ingest("customers")
    assert (result.rows_loaded, result.rows_quarantined, result.rows_warned) == (2, 0, 1)
    assert project.query("select _source_row, rule from quarantine.rule_warnings") == [
        (2, "email_format")
    ]


@pytest.mark.parametrize("marker", ["?", "NULL"])
def test_null_markers_from_the_source_become_null(project, marker):
    project.write(
        "sales_1.csv", sales_file("O1,1,2024-01-01 10:00:00,A,2,1.50,SALE".replace("A", marker))
    )
    project.sales_source(options={"null_markers": ["", marker]})
    project.ingest()
    assert [(r[0], r[1]) for r in quarantined(project)] == [(1, "required_sku")]


def test_a_query_source_may_use_its_own_with_clause_and_row_numbers(project):
    events = "ticket,state,updated\nT1,new,1\nT1,closed,2\nT2,new,1\nT2,?,2\n"
    project.write("events.csv", events)
    project.source(
        "tickets",
        path="events.csv",
        options={"null_markers": ["", "?"]},
        query=(
            "with ranked as (select *, row_number() over (partition by ticket "
            "order by updated::int desc) as rank from source_rows) "
            "select ticket, state, _source_file, _source_row from ranked where rank = 1"
        ),
        columns={
            "ticket_id": "ticket",
            "opened_at": "'2024-01-01'",
            "priority": "'low'",
            "status": "state",
        },
    )
    result = project.ingest("tickets")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 2, 0)
    assert result.file_rows_read == 4
    rows = project.query("select ticket_id, status, _source_row from raw.tickets order by 1")
    assert rows == [("T1", "closed", 2), ("T2", None, 4)]


def test_a_mapping_may_read_the_row_number(project):
    header = "order_no,ts,item,qty,price"
    project.write(
        "sales_1.csv",
        sales_file(
            "O1,2024-01-01 10:00:00,A,1,1.0", "O1,2024-01-01 10:00:00,B,1,1.0", header=header
        ),
    )
    project.source(
        "sales_lines",
        path="sales_*.csv",
        columns={
            "order_id": "order_no",
            "line_number": "_source_row",
            "ordered_at": "ts",
            "sku": "item",
            "quantity": "qty",
            "unit_price": "price",
            "line_type": "'sale'",
        },
    )
    result = project.ingest()
    assert (result.rows_loaded, result.rows_quarantined) == (2, 0)
    assert project.query("select line_number, sku from raw.sales_lines order by 1") == [
        (1, "A"),
        (2, "B"),
    ]


def test_a_rule_of_the_sources_own_quarantines_or_warns(project):
    project.write(
        "sales_1.csv",
        sales_file(
            GOOD_1, "X9,1,2024-01-01 10:00:00,A,1,1.00,SALE", GOOD_2.replace("O1,2", "O1,3")
        ),
    )
    project.sales_source(
        contract={
            "rules": {
                "known_order_prefix": {
                    "condition": "order_id like 'O%'",
                    "description": "order numbers start with O",
                },
                "small_orders": {"condition": "quantity < 2", "severity": "warn"},
            }
        }
    )
    result = project.ingest()
    assert [(r[0], r[1]) for r in quarantined(project)] == [(2, "known_order_prefix")]
    assert result.warnings_by_rule == {"small_orders": 1}


def with_products(project: TinyProject, *skus: str) -> None:
    project.write("products.csv", "sku\n" + "\n".join(skus) + "\n")
    project.source("products", path="products.csv", columns={"sku": "sku"})
    project.ingest("products")


def test_an_unknown_foreign_key_is_quarantined_with_the_value_named(project):
    with_products(project, "A", "B")
    project.write(
        "sales_1.csv",
        sales_file(GOOD_1, "O1,2,2024-01-01 10:00:00,Z'; drop table x;--,1,2.00,SALE", GOOD_2),
    )
    # a row breaking a row rule too lists both rules
    project.write("sales_2.csv", sales_file("O2,1,2024-01-01 10:00:00,Q,-5,2.00,SALE"))
    project.sales_source()
    result = project.ingest()
    assert_conserved(result)
    assert result.rows_loaded == 2
    rows = project.query(
        "select _source_row, failed_rules, message, original_values "
        "from quarantine.sales_lines order by _source_file"
    )
    assert [(r[0], r[1]) for r in rows] == [
        (2, ["foreign_key_sku"]),
        (1, ["sale_quantity_positive", "foreign_key_sku"]),
    ]
    assert rows[0][2] == ("breaks foreign_key_sku; sku Z'; drop table x;-- is not in raw.products")
    assert json.loads(rows[0][3])["sku"] == "Z'; drop table x;--"
    assert result.quarantine_by_rule == {"foreign_key_sku": 2, "sale_quantity_positive": 1}


def test_a_foreign_key_set_to_warn_loads_the_row_with_a_warning(project):
    with_products(project, "A", "B")
    project.write("sales_1.csv", sales_file(GOOD_1, GOOD_2.replace(",B,", ",Z,")))
    project.sales_source(contract={"rules": {"foreign_key_sku": {"severity": "warn"}}})
    result = project.ingest()
    assert result.rows_loaded == 2 and result.rows_quarantined == 0
    assert result.warnings_by_rule == {"foreign_key_sku": 1}
    assert project.query("select _source_row, rule, message from quarantine.rule_warnings") == [
        (2, "foreign_key_sku", "sku Z is not in raw.products")
    ]


def many_chunk_sales_files(project: TinyProject, files: int) -> int:
    """Files of two full chunks (2,048 rows each) and 30 rows more: the files whose last rows
    DuckDB moved when the pass had a join. line_number is the line's number in its file."""
    lines_per_file = 2 * 2048 + 30
    for file_number in range(files):
        lines = [
            f"O{file_number}-{line},{line},2024-01-01 10:00:00,S{line % 12},1,1.50,SALE"
            for line in range(1, lines_per_file + 1)
        ]
        project.write(f"sales_{file_number:02}.csv", sales_file(*lines))
    return files * lines_per_file


SUBQUERY_RULE = {
    "rules": {
        "sku_in_catalogue": {
            "condition": "sku in (select sku from raw.products where sku <> 'S3')",
            "severity": "warn",
        }
    }
}


def test_a_rule_with_a_subquery_still_numbers_rows_by_their_file_lines(project):
    """A subquery is a join, and DuckDB does not keep the read order through one: such a batch
    numbers its rows from a plain read first."""
    with_products(project, *(f"S{i}" for i in range(10)))
    rows = many_chunk_sales_files(project, 12)
    project.sales_source(contract=SUBQUERY_RULE)
    result = project.ingest()
    assert result.rows_read == rows
    assert project.query(
        "select count(*) filter (where _source_row <> line_number) from raw.sales_lines"
    ) == [(0,)]
    # S10 and S11 are unknown: the foreign key quarantines them, numbered right too
    assert result.quarantine_by_rule == {"foreign_key_sku": result.rows_quarantined}
    assert project.query(
        "select count(*) filter (where _source_row <> "
        "cast(json_extract_string(original_values, '$.line_number') as bigint)) "
        "from quarantine.sales_lines"
    ) == [(0,)]
    # the rule's warnings name the rows of S3, by their lines
    warned = project.query(
        """select count(*), count(*) filter (where r.sku <> 'S3') from quarantine.rule_warnings w
        join raw.sales_lines r using (_source_file, _source_row)"""
    )
    assert result.warnings_by_rule == {"sku_in_catalogue": warned[0][0]}
    s3_lines_per_file = sum(1 for line in range(1, rows // 12 + 1) if line % 12 == 3)
    assert warned == [(12 * s3_lines_per_file, 0)]


def test_a_batch_whose_rows_come_back_out_of_order_fails_and_loads_nothing(project):
    """The last guard: were the planning check wrong, the rows of files interleaved would be
    caught before anything is written."""
    from functools import partial

    from sme_platform.lib.ingestion import LoadSteps
    from sme_platform.lib.ingestion.batch import land_batch

    with_products(project, *(f"S{i}" for i in range(12)))
    many_chunk_sales_files(project, 12)
    project.sales_source(contract=SUBQUERY_RULE)
    trusting = LoadSteps(land=partial(land_batch, keeps_read_order=lambda *args: True))
    with pytest.raises(RuntimeError, match=r"did not keep the read order of \d+ file"):
        project.ingest(steps=trusting)
    assert project.query("select count(*) from raw.sales_lines") == [(0,)]
    assert project.query("select count(*) from raw_store.sales_lines") == [(0,)]
    assert project.query("select count(*) from quarantine.sales_lines") == [(0,)]
    assert project.query(
        "select count(*) from raw.file_loads where table_name = 'sales_lines'"
    ) == [(0,)]


def test_empty_json_values_are_missing_like_empty_csv_fields(project):
    project.write(
        "customers.jsonl",
        '{"id": "C1", "email": "a@b.org"}\n'
        '{"id": "", "email": "x@y.org"}\n'
        '{"id": "?", "email": ""}\n',
    )
    project.source(
        "customers",
        path="customers.jsonl",
        options={"null_markers": ["", "?"]},
        columns={"customer_id": "id", "email": "email"},
    )
    result = project.ingest("customers")
    assert (result.rows_loaded, result.rows_quarantined) == (1, 2)
    assert [r[0] for r in project.query("select rule from quarantine.customers")] == [
        "required_customer_id",
        "required_customer_id",
    ]


def test_a_re_exported_file_replaces_its_earlier_version(project):
    project.write("sales_2024-01.csv", sales_file(GOOD_1, "O2,1,2024-01-01 10:00:00,A,-1,1.0,SALE"))
    project.sales_source()
    project.ingest()
    # The month-to-date export is written again with one more line (and the bad line fixed).
    project.write(
        "sales_2024-01.csv",
        sales_file(
            GOOD_1, "O2,1,2024-01-01 10:00:00,A,1,1.0,SALE", "O3,1,2024-01-02 09:00:00,B,1,2.0,SALE"
        ),
    )
    result = project.ingest()
    assert (result.files_replaced, result.rows_replaced) == (1, 1)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 3, 0)
    assert project.query("select order_id from raw.sales_lines order by 1") == [
        ("O1",),
        ("O2",),
        ("O3",),
    ]
    assert project.query("select count(*) from quarantine.sales_lines") == [(0,)]
    statuses = project.query("select status from raw.file_loads order by loaded_at, status")
    assert statuses == [("superseded",), ("loaded",)]


def test_a_file_overwritten_with_new_rows_only_appends_when_configured(project):
    project.write("latest.csv", sales_file(GOOD_1))
    project.sales_source(path="latest.csv", changed_files="append")
    project.ingest()
    project.write("latest.csv", sales_file("O9,1,2024-01-02 10:00:00,A,2,1.50,SALE"))
    result = project.ingest()
    assert (result.files_replaced, result.rows_loaded) == (0, 1)
    assert project.query("select order_id from raw.sales_lines order by 1") == [("O1",), ("O9",)]


def test_a_mapping_that_names_a_column_the_files_lack_is_a_clear_config_error(project):
    project.write("sales_1.csv", sales_file(GOOD_1))
    columns = {**SALES_COLUMNS, "sku": "upper(itme)"}  # a typo inside an expression
    project.source("sales_lines", path="sales_*.csv", columns=columns)
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert "missing column(s) ['itme']" in rejected.message


def test_a_query_source_whose_mapping_misses_the_query_output_fails_the_load_clearly(project):
    project.write("events.csv", "ticket,state\nT1,new\n")
    project.source(
        "tickets",
        path="events.csv",
        query="select ticket, _source_file, _source_row from source_rows",
        columns={"ticket_id": "ticket", "opened_at": "opened", "priority": "'low'"},
    )
    with pytest.raises(ValueError, match="the mapping of tickets does not fit"):
        project.ingest("tickets")
    # nothing half-written: the failed load left no rows and no load record behind
    assert project.query("select count(*) from raw.tickets") == [(0,)]
    assert project.query("select count(*) from raw.loads") == [(0,)]


def test_hostile_column_names_are_quoted_not_executed(project):
    hostile = 'qty"; drop table raw.file_loads; --'
    header = SALES_HEADER.replace("qty", '"' + hostile.replace('"', '""') + '"')
    project.write("sales_1.csv", sales_file(GOOD_1, header=header))
    columns = {**SALES_COLUMNS, "quantity": hostile}  # mapped by its (hostile) name
    project.source("sales_lines", path="sales_*.csv", columns=columns)
    result = project.ingest()
    assert (result.rows_loaded, result.rows_quarantined) == (1, 0)
    assert project.query("select quantity from raw.sales_lines") == [(2.0,)]
    assert project.query("select count(*) from raw.file_loads") == [(1,)]


def test_a_mapping_that_is_neither_a_column_nor_sql_rejects_the_file_clearly(project):
    project.write("sales_1.csv", sales_file(GOOD_1))
    columns = {**SALES_COLUMNS, "quantity": 'qty"; drop'}  # not in the header, not valid SQL
    project.source("sales_lines", path="sales_*.csv", columns=columns)
    with pytest.raises(SourcesConfigError, match="is neither a source column nor a valid DuckDB"):
        project.ingest()


@pytest.mark.parametrize("column", ["file_index", "File_Index"])
def test_a_source_column_named_like_the_readers_file_index_keeps_rows_in_their_files(
    project, column
):
    """DuckDB's reader numbers the files it reads in a column `file_index`; a source column of
    that name would hide it, and rows would get another file's lineage, or none."""
    header = SALES_HEADER + f",{column}"
    project.write("sales_1.csv", sales_file(GOOD_1 + ",7", GOOD_2 + ",x", header=header))
    other_day = "O2,1,2024-01-02 10:00:00,A,4,1.50,SALE,0"
    project.write("sales_2.csv", sales_file(other_day, header=header))
    project.sales_source()
    result = project.ingest()
    assert (result.rows_read, result.rows_loaded) == (3, 3)
    assert result.extra_source_columns == [column]
    rows = project.query(
        "select order_id, line_number, regexp_extract(_source_file, 'sales_\\d'), _source_row "
        "from raw.sales_lines order by all"
    )
    assert rows == [("O1", 1, "sales_1", 1), ("O1", 2, "sales_1", 2), ("O2", 1, "sales_2", 1)]


def test_a_parquet_column_named_file_index_keeps_rows_in_their_files(project):
    import duckdb

    for number, (order, index) in enumerate([("O1", 5), ("O2", 0)], start=1):
        path = project.exports / f"sales_{number}.parquet"
        duckdb.sql(
            f"""copy (select '{order}' as order_no, '1' as line_no,
                      '2024-01-01 10:00:00' as ts, 'A' as item, '2' as qty, '1.50' as price,
                      'SALE' as doc, {index} as file_index)
            to '{path}' (format parquet)"""
        )
    project.sales_source(path="sales_*.parquet")
    result = project.ingest()
    assert (result.rows_read, result.rows_loaded) == (2, 2)
    assert project.query(
        "select order_id, regexp_extract(_source_file, 'sales_\\d'), _source_row "
        "from raw.sales_lines order by all"
    ) == [("O1", "sales_1", 1), ("O2", "sales_2", 1)]


def test_a_file_name_with_a_wildcard_is_rejected_not_expanded(project):
    """DuckDB's reader takes `sales_[12].csv` for a pattern and would read sales_1.csv and
    sales_2.csv in its place."""
    project.write("sales_1.csv", sales_file(GOOD_1))
    project.write("sales_[12].csv", sales_file(GOOD_2))
    project.sales_source(path="sales_*.csv")
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert rejected.path.endswith("sales_[12].csv")
    assert "wildcard character" in rejected.message
    assert (result.rows_read, result.rows_loaded) == (1, 1)
    assert project.query("select order_id, line_number from raw.sales_lines") == [("O1", 1)]
