"""Files as small companies' systems really export them, each mixed into a batch with clean files.

A file's fault stays with that file: it is read through a fallback where one is safe (line
endings, byte-order marks), else rejected with a message naming it and the reason. Either way the
clean files of the same batch load, the load does not fail, and every row is accounted for:
rows read = rows loaded + rows quarantined.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest

from sme_platform_tests.conftest import SALES_COLUMNS, SALES_HEADER, TinyProject

CLEAN_BEFORE = "C1,1,2024-01-01 09:00:00,A,1,1.00,SALE"
CLEAN_AFTER = "D1,1,2024-01-03 09:00:00,A,1,1.00,SALE"
ROWS = [
    "O1,1,2024-01-02 10:00:00,A,2,1.50,SALE",
    "O1,2,2024-01-02 10:00:00,B,1,2.00,SALE",
    "O2,1,2024-01-02 11:00:00,Müller-7,3,2.50,SALE",
]


def lines(*rows: str, header: str = SALES_HEADER, newline: str = "\n") -> str:
    return newline.join([header, *rows]) + newline


def with_clean_neighbours(project: TinyProject, bad_name: str, content: bytes, **source) -> None:
    """The malformed file sorts between two clean files, so all three share one batch."""
    project.write("sales_0_clean.csv", lines(CLEAN_BEFORE))
    project.write(bad_name, content)
    project.write("sales_2_clean.csv", lines(CLEAN_AFTER))
    project.source("sales_lines", path="sales_*", columns=dict(SALES_COLUMNS), **source)


def statuses(result) -> dict[str, str]:
    return {Path(f.path).name: f.status for f in result.files}


def loaded_rows(project: TinyProject, file_name: str) -> list[tuple]:
    return project.query(
        "select _source_row, order_id, line_number, sku, quantity from raw.sales_lines "
        "where _source_file like ? order by _source_row",
        [f"%/{file_name}"],
    )


def assert_clean_files_loaded(project: TinyProject, result) -> None:
    assert statuses(result)["sales_0_clean.csv"] == "loaded"
    assert statuses(result)["sales_2_clean.csv"] == "loaded"
    assert loaded_rows(project, "sales_0_clean.csv") == [(1, "C1", 1, "A", 1)]
    assert loaded_rows(project, "sales_2_clean.csv") == [(1, "D1", 1, "A", 1)]
    assert result.rows_read == result.rows_loaded + result.rows_quarantined


EXPECTED_ROWS = [(1, "O1", 1, "A", 2), (2, "O1", 2, "B", 1), (3, "O2", 1, "Müller-7", 3)]


def test_two_exports_concatenated_with_crlf_and_lf_line_endings_load_every_row(project):
    windows_part = lines(*ROWS[:2], newline="\r\n")
    unix_part = ROWS[2] + "\n"
    with_clean_neighbours(project, "sales_1_mixed.csv", (windows_part + unix_part).encode())
    result = project.ingest()
    assert statuses(result)["sales_1_mixed.csv"] == "loaded"
    assert loaded_rows(project, "sales_1_mixed.csv") == EXPECTED_ROWS
    assert project.query(
        "select count(*) from raw.sales_lines where contains(line_type, '\r')"
    ) == [(0,)]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 5, 0)
    assert_clean_files_loaded(project, result)


def test_mixed_line_endings_keep_bad_lines_quarantined_with_their_line_numbers(project):
    content = lines(ROWS[0], "O9,1,not a time,A,1,1.0,SALE", newline="\r\n") + "O2,1,x\n"
    with_clean_neighbours(project, "sales_1_mixed.csv", content.encode())
    result = project.ingest()
    assert statuses(result)["sales_1_mixed.csv"] == "loaded"
    assert project.query(
        "select _source_row, rule from quarantine.sales_lines order by _source_row"
    ) == [(2, "type_ordered_at"), (3, "parse_error")]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 3, 2)
    assert_clean_files_loaded(project, result)


def test_old_mac_exports_with_cr_only_line_endings_load(project):
    with_clean_neighbours(project, "sales_1_mac.csv", lines(*ROWS, newline="\r").encode())
    result = project.ingest()
    assert loaded_rows(project, "sales_1_mac.csv") == EXPECTED_ROWS
    assert_clean_files_loaded(project, result)


def test_excel_unicode_text_utf16_le_with_tabs_loads(project):
    """Excel's "Save as Unicode text": UTF-16 LE with a byte-order mark, tab-delimited, CRLF."""
    text = lines(*ROWS, header=SALES_HEADER, newline="\r\n").replace(",", "\t")
    project.write("sales_1_excel.txt", b"\xff\xfe" + text.encode("utf-16-le"))
    project.source(
        "sales_lines",
        path="sales_1_excel.txt",
        format="csv",
        options={"delimiter": "\t"},
        columns=dict(SALES_COLUMNS),
    )
    result = project.ingest()
    assert statuses(result) == {"sales_1_excel.txt": "loaded"}
    assert loaded_rows(project, "sales_1_excel.txt") == EXPECTED_ROWS
    assert project.query("select distinct line_type from raw.sales_lines") == [("sale",)]


def test_utf16_big_endian_with_byte_order_mark_loads(project):
    with_clean_neighbours(project, "sales_1_be.csv", b"\xfe\xff" + lines(*ROWS).encode("utf-16-be"))
    result = project.ingest()
    assert loaded_rows(project, "sales_1_be.csv") == EXPECTED_ROWS
    assert_clean_files_loaded(project, result)


def test_a_delimiter_ending_every_line_loads_the_rows(project):
    """ERP exports often end each line with the delimiter: an unnamed, empty last column."""
    content = "".join(line + ",\n" for line in [SALES_HEADER, *ROWS])
    with_clean_neighbours(project, "sales_1_trailing.csv", content.encode())
    result = project.ingest()
    assert statuses(result)["sales_1_trailing.csv"] == "loaded"
    assert loaded_rows(project, "sales_1_trailing.csv") == EXPECTED_ROWS
    assert result.extra_source_columns == []
    assert_clean_files_loaded(project, result)


def test_a_value_in_the_unnamed_last_column_is_quarantined_not_dropped(project):
    content = "".join(
        line + "," + extra + "\n"
        for line, extra in [
            (SALES_HEADER, ""),
            (ROWS[0], ""),
            (ROWS[1], "gift wrap"),
            (ROWS[2], ""),
        ]
    )
    with_clean_neighbours(project, "sales_1_trailing.csv", content.encode())
    result = project.ingest()
    ((row, rule, original),) = project.query(
        "select _source_row, rule, original_values from quarantine.sales_lines"
    )
    assert (row, rule) == (2, "unnamed_column_empty")
    assert "gift wrap" in original
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 4, 1)
    assert_clean_files_loaded(project, result)


def test_a_gzip_file_cut_short_is_rejected_not_loaded_in_part(project):
    many = [f"G{i},1,2024-01-02 10:00:00,A,1,1.00,SALE" for i in range(5000)]
    compressed = gzip.compress(lines(*many).encode())
    with_clean_neighbours(project, "sales_1_cut.csv.gz", compressed[: len(compressed) // 2])
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert rejected.path.endswith("sales_1_cut.csv.gz")
    assert "rejected: gzip data cut short" in rejected.message
    assert project.query("select count(*) from raw.sales_lines where order_id like 'G%'") == [(0,)]
    assert_clean_files_loaded(project, result)


def test_a_corrupt_gzip_file_is_rejected_with_the_reason(project):
    with_clean_neighbours(project, "sales_1_corrupt.csv.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 200)
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert "sales_1_corrupt.csv.gz: rejected: corrupt gzip data" in rejected.message
    assert_clean_files_loaded(project, result)


def test_an_excel_workbook_saved_under_a_csv_name_is_rejected_with_advice(project):
    with_clean_neighbours(project, "sales_1_book.csv", b"PK\x03\x04\x14\x00" + bytes(4000))
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert rejected.message.endswith(
        "sales_1_book.csv: rejected: not a text export: it is a zip archive (an Excel .xlsx "
        "workbook?); export the sheet as CSV"
    )
    assert_clean_files_loaded(project, result)


def test_binary_garbage_is_rejected_naming_the_nul_bytes(project):
    with_clean_neighbours(project, "sales_1_binary.csv", bytes(range(256)) * 40)
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert "sales_1_binary.csv: rejected: line 1 (header) holds NUL bytes" in rejected.message
    assert_clean_files_loaded(project, result)


def test_a_compressed_file_without_the_gz_suffix_is_rejected_with_advice(project):
    with_clean_neighbours(project, "sales_1_packed.csv", gzip.compress(lines(*ROWS).encode()))
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert "gzip-compressed data; name the file *.gz" in rejected.message
    assert_clean_files_loaded(project, result)


def test_a_semicolon_export_with_decimal_commas_loads_its_numbers(project):
    header = SALES_HEADER.replace(",", ";")
    european = [
        "O1;1;2024-01-02 10:00:00;A;2;1,50;SALE",
        "O1;2;2024-01-02 10:00:00;B;1;1.234,50;SALE",
        "O1;3;2024-01-02 10:00:00;C;1;12,5x;SALE",
        "O1;4;2024-01-02 10:00:00;D;1;12.5;SALE",  # 12,5 or 125? neither is guessed
    ]
    project.write("sales_1_eu.csv", lines(*european, header=header))
    project.source(
        "sales_lines",
        path="sales_*.csv",
        options={"delimiter": ";", "decimal_separator": ","},
        columns=dict(SALES_COLUMNS),
    )
    result = project.ingest()
    assert project.query("select line_number, unit_price::double from raw.sales_lines") == [
        (1, 1.5),
        (2, 1234.5),
    ]
    assert project.query("select _source_row, rule from quarantine.sales_lines order by 1") == [
        (3, "type_unit_price"),
        (4, "type_unit_price"),
    ]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 2, 2)


def write_parquet(path: Path, select: str) -> None:
    duckdb.sql(f"copy ({select}) to '{path}' (format parquet)")


def test_a_parquet_file_with_other_column_types_loads_beside_the_others(project):
    """DuckDB reads a list of Parquet files with the first one's types and fails the whole read
    on a file whose column cannot be cast; the file is read on its own instead."""
    row = "'2024-01-02 10:00:00' as ts, 'A' as item, 1.5 as price, 'SALE' as doc"
    write_parquet(
        project.exports / "sales_0.parquet", f"select 'P0' order_no, 1 line_no, {row}, 2 qty"
    )
    write_parquet(
        project.exports / "sales_1.parquet",
        f"select 'P1' order_no, 1 line_no, {row}, 'x' qty union all select 'P1', 2, {row}, '3'",
    )
    write_parquet(
        project.exports / "sales_2.parquet", f"select 'P2' order_no, 1 line_no, {row}, 4 qty"
    )
    project.source("sales_lines", path="sales_*.parquet", columns=dict(SALES_COLUMNS))
    result = project.ingest()
    assert set(statuses(result).values()) == {"loaded"}
    assert project.query(
        "select order_id, _source_row, quantity from raw.sales_lines order by 1, 2"
    ) == [("P0", 1, 2), ("P1", 2, 3), ("P2", 1, 4)]
    assert project.query("select _source_row, rule from quarantine.sales_lines") == [
        (1, "type_quantity")
    ]


def test_a_parquet_file_of_another_table_is_rejected_naming_the_missing_columns(project):
    row = "'2024-01-02 10:00:00' as ts, 'A' as item, 1.5 as price, 'SALE' as doc"
    write_parquet(
        project.exports / "sales_0.parquet", f"select 'P0' order_no, 1 line_no, {row}, 2 qty"
    )
    write_parquet(project.exports / "sales_1.parquet", "select 'A' as sku, 'Widget' as name")
    project.source("sales_lines", path="sales_*.parquet", columns=dict(SALES_COLUMNS))
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert "sales_1.parquet: rejected: missing column(s) ['doc', 'item'" in rejected.message
    assert project.query("select order_id from raw.sales_lines") == [("P0",)]


def test_a_json_lines_export_with_a_byte_order_mark_crlf_and_one_broken_line(project):
    records = [
        '{"order_no": "J1", "line_no": 1, "ts": "2024-01-02 10:00:00", "item": "A", "qty": 1, '
        '"price": 1.0, "doc": "SALE"}',
        '{"order_no": "J1", "line_no": 2, "ts": "2024-01-02 10:00:00", "item": "B", "qty": 1,',
        '{"order_no": "J2", "line_no": 1, "ts": "2024-01-02 10:00:00", "item": "C", "qty": 2, '
        '"price": 1.0, "doc": "SALE"}',
    ]
    project.write("sales_1.jsonl", b"\xef\xbb\xbf" + "\r\n".join(records).encode() + b"\r\n")
    project.source("sales_lines", path="sales_*.jsonl", columns=dict(SALES_COLUMNS))
    result = project.ingest()
    assert project.query("select order_id, _source_row from raw.sales_lines order by 2") == [
        ("J1", 1),
        ("J2", 3),
    ]
    assert project.query("select _source_row, rule from quarantine.sales_lines") == [
        (2, "valid_json")
    ]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)


def test_a_utf16_json_lines_export_loads(project):
    record = (
        '{"order_no": "J1", "line_no": 1, "ts": "2024-01-02 10:00:00", "item": "Ä", "qty": 1, '
        '"price": 1.0, "doc": "SALE"}'
    )
    project.write("sales_1.jsonl", b"\xff\xfe" + (record + "\r\n").encode("utf-16-le"))
    project.source("sales_lines", path="sales_*.jsonl", columns=dict(SALES_COLUMNS))
    result = project.ingest()
    assert project.query("select order_id, sku from raw.sales_lines") == [("J1", "Ä")]
    assert result.rows_loaded == 1


@pytest.mark.parametrize("names_the_file", [True, False], ids=["named", "found-by-halving"])
def test_a_file_no_reader_can_parse_is_rejected_and_the_batch_loads(project, names_the_file):
    """Where no fallback helps, the reader's own reason is kept with the rejected file, and a
    copy of the file is kept for inspection. A reader that does not say which file it choked on
    is found by halving the batch."""
    from sme_platform.lib.ingestion import LoadSteps, ingest_table
    from sme_platform.lib.ingestion.batch import land_batch
    from sme_platform.lib.sources import load_sources
    from sme_platform.lib.warehouse import connect

    for day in range(3, 9):  # a longer batch, so halving takes several rounds
        project.write(
            f"sales_{day}_clean.csv", lines(f"E{day},1,2024-01-0{day} 09:00:00,A,1,1,SALE")
        )
    with_clean_neighbours(project, "sales_1_bad.csv", lines(*ROWS).encode())
    batch_sizes = []

    def reader_refuses_one_file(con, batch):
        batch_sizes.append(len(batch.files))
        names = [f.path.name for f in batch.files]
        if "sales_1_bad.csv" in names:
            where = f"\n\n  file = {batch.reader_paths[names.index('sales_1_bad.csv')]}"
            raise duckdb.InvalidInputException(
                "Invalid Input Error: CSV Error on Line: 2" + (where if names_the_file else "")
            )
        return land_batch(con, batch)

    kept = project.root / "kept"
    with connect(project.warehouse) as con:
        result = ingest_table(
            con,
            load_sources(project.root).get("sales_lines"),
            rejected_files_dir=kept,
            steps=LoadSteps(land=reader_refuses_one_file),
        )
    (rejected,) = result.rejected_files
    assert rejected.message.startswith(
        f"{project.exports}/sales_1_bad.csv: rejected: cannot be read: Invalid Input Error: "
        "CSV Error on Line: 2; a copy is kept at"
    )
    assert [p.name.split("-", 1)[1] for p in kept.iterdir()] == ["sales_1_bad.csv"]
    assert_clean_files_loaded(project, result)
    assert project.query("select status, count(*) from raw.file_loads group by 1 order by 1") == [
        ("loaded", 8),
        ("rejected", 1),
    ]
    # named: the whole batch, the file before it, it alone, its copy, the files after it;
    # not named: halves of halves down to the file (it alone, then its copy)
    assert batch_sizes == ([9, 1, 1, 1, 7] if names_the_file else [9, 4, 2, 1, 1, 1, 2, 5])


def test_a_header_longer_than_the_first_read_is_found_whole(project):
    extra = [f"note_{i:04d}" for i in range(1500)]  # a wide export: a 15 kB header line
    header = SALES_HEADER + "," + ",".join(extra)
    row = ROWS[0] + "," * len(extra)
    project.write("sales_1_wide.csv", lines(row, header=header, newline="\r\n"))
    project.sales_source()
    result = project.ingest()
    assert result.rows_loaded == 1
    assert len(result.extra_source_columns) == 1500


def test_a_utf16_file_that_does_not_decode_is_rejected_and_its_batch_loads(project):
    """UTF-16 files are read through copies from the start; a copy that cannot be made (a
    lone surrogate) rejects its file only."""

    def utf16(*rows: str) -> bytes:
        return b"\xff\xfe" + lines(*rows).encode("utf-16-le")

    project.write("sales_0.csv", utf16(CLEAN_BEFORE))
    project.write("sales_1.csv", utf16(ROWS[0]) + b"\x00\xd8\x41\x00")
    project.write("sales_2.csv", utf16(CLEAN_AFTER))
    project.sales_source(path="sales_*.csv")
    result = project.ingest()
    assert statuses(result) == {
        "sales_0.csv": "loaded",
        "sales_1.csv": "rejected",
        "sales_2.csv": "loaded",
    }
    (rejected,) = result.rejected_files
    assert "sales_1.csv: rejected: is not valid utf-16 text" in rejected.message
    assert project.query("select order_id from raw.sales_lines order by 1") == [("C1",), ("D1",)]


def test_a_file_that_changes_while_it_is_read_again_through_a_copy_is_rejected(project):
    from sme_platform.lib.ingestion import LoadSteps
    from sme_platform.lib.ingestion.batch import land_batch

    with_clean_neighbours(project, "sales_1_mixed.csv", lines(*ROWS).encode())
    bad = project.exports / "sales_1_mixed.csv"

    def refused_then_still_written(con, batch):
        names = [f.path.name for f in batch.files]
        if "sales_1_mixed.csv" in names and not batch.read_paths:
            raise duckdb.InvalidInputException(f"CSV Error\n  file = {bad}")
        if "sales_1_mixed.csv" in names:  # the copy: meanwhile the export grows
            with bad.open("a", encoding="utf-8") as handle:
                handle.write("O9,1,2024-01-02 12:00:00,A,1,1.00,SALE\n")
        return land_batch(con, batch)

    result = project.ingest(steps=LoadSteps(land=refused_then_still_written))
    (rejected,) = result.rejected_files
    assert "sales_1_mixed.csv changed while it was being read" in rejected.message
    assert_clean_files_loaded(project, result)
    assert project.query("select count(*) from raw.loads") == [(1,)]


def test_a_storage_error_that_names_no_file_fails_the_load_instead_of_rejecting_files(project):
    """DuckDB raises IOException for its own storage too (a full disk): that is not the fault
    of any file, and rejecting every file one by one would hide it."""
    from sme_platform.lib.ingestion import LoadSteps

    with_clean_neighbours(project, "sales_1.csv", lines(*ROWS).encode())

    def disk_full(con, batch):
        raise duckdb.IOException("IO Error: Could not write file: No space left on device")

    with pytest.raises(duckdb.IOException, match="No space left"):
        project.ingest(steps=LoadSteps(land=disk_full))
    assert project.query("select count(*) from raw.file_loads") == [(0,)]


def test_header_names_that_differ_only_in_case_reject_the_file(project):
    header = SALES_HEADER + ",QTY"
    with_clean_neighbours(project, "sales_1.csv", lines(ROWS[0] + ",2", header=header).encode())
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert "the header names column(s) ['QTY', 'qty'] more than once" in rejected.message
    assert_clean_files_loaded(project, result)


def test_a_trailing_delimiter_loads_whatever_the_null_markers(project):
    content = "".join(line + ",\n" for line in [SALES_HEADER, *ROWS])
    with_clean_neighbours(
        project, "sales_1_trailing.csv", content.encode(), options={"null_markers": ["NULL"]}
    )
    result = project.ingest()
    assert loaded_rows(project, "sales_1_trailing.csv") == EXPECTED_ROWS
    assert result.rows_quarantined == 0


QUERY_SOURCE = """
    select order_no, line_no, ts, item, qty, price, doc, _source_file, _source_row
    from source_rows
"""


def test_a_trailing_delimiter_in_a_source_defined_by_a_query_loads(project):
    content = "".join(line + ",\n" for line in [SALES_HEADER, *ROWS])
    with_clean_neighbours(project, "sales_1_trailing.csv", content.encode(), query=QUERY_SOURCE)
    result = project.ingest()
    assert loaded_rows(project, "sales_1_trailing.csv") == EXPECTED_ROWS
    assert_clean_files_loaded(project, result)


def test_a_value_in_the_unnamed_column_of_a_query_source_holds_back_its_file(project):
    """A query's rows are not the file's lines, so one line cannot be quarantined: the file is
    rejected, naming the line, and the others load."""
    content = "".join(
        line + "," + extra + "\n"
        for line, extra in [(SALES_HEADER, ""), (ROWS[0], ""), (ROWS[1], "gift wrap")]
    )
    with_clean_neighbours(project, "sales_1_trailing.csv", content.encode(), query=QUERY_SOURCE)
    result = project.ingest()
    (rejected,) = result.rejected_files
    assert rejected.message.startswith(
        f"{project.exports}/sales_1_trailing.csv: rejected: line 2 has a value in the unnamed "
        "last column"
    )
    assert_clean_files_loaded(project, result)
