"""Scrubbing one person out of texts, records and files, each kind of file and of awkward
value: ids inside longer ids, names with regex characters, other people's mentions, malformed
rows, binary files."""

from __future__ import annotations

import gzip
import json

import polars as pl
import pytest

from sme_platform.lib.erasure.files import erase_files
from sme_platform.lib.erasure.person import ERASED, ErasureError, Person

FIELDS = frozenset({"name", "email", "phone", "subject", "body", "customer_name"})
PERSON = Person(
    "C-17",
    "ERASED-abc123",
    ("Ana O'Brien (Jr.)", "ana+shop@example.com", "+1 (555) 010-2030"),
    FIELDS,
)


def test_text_loses_the_id_but_not_longer_ids_and_every_value_in_any_case():
    text = "C-17,C-17;C-170 XC-17 ana+SHOP@example.com, ANA O'BRIEN (JR.) +1 (555) 010-2030."
    assert PERSON.scrub_text(text) == (
        f"ERASED-abc123,ERASED-abc123;C-170 XC-17 {ERASED}, {ERASED} {ERASED}."
    )
    assert not PERSON.mentioned_in("C-170 and Ana O'Briens")


def test_their_record_loses_every_personal_field_another_only_the_mention():
    theirs = {"customer_no": "C-17", "subject": "Refund", "body": "Thanks, Ana", "qty": 2}
    assert PERSON.scrub_record(theirs) == {
        "customer_no": "ERASED-abc123",
        "subject": None,
        "body": None,
        "qty": 2,
    }
    other = {"customer_no": "C-18", "body": "my friend ana+shop@example.com sent me", "qty": 1}
    assert PERSON.scrub_record(other) == {
        "customer_no": "C-18",
        "body": f"my friend {ERASED} sent me",
        "qty": 1,
    }


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    (root / "quarantine" / "files").mkdir(parents=True)
    (root / "exports").mkdir()
    return root


def erase(data, skip=()):
    erased = erase_files(data, PERSON, skip=set(skip), deletable=data / "quarantine" / "files")
    erased.apply()
    return erased


def test_a_csv_keeps_its_delimiter_and_other_rows_and_rewrites_malformed_rows_as_text(data):
    path = data / "exports" / "customers.csv"
    path.write_text(
        "customer_no;name;email;city\r\n"
        "C-16;Bo;bo@example.com;Oslo\r\n"
        "C-17;Ana O'Brien (Jr.);ana+shop@example.com;Bergen\r\n"
        "C-17;broken row with ana+shop@example.com\r\n",
        encoding="utf-8",
    )
    path.chmod(0o640)
    erased = erase(data)
    assert list(erased.rewritten) == [str(path)]
    assert path.read_bytes().decode("utf-8") == (
        "customer_no;name;email;city\r\n"
        "C-16;Bo;bo@example.com;Oslo\r\n"
        "ERASED-abc123;;;Bergen\r\n"
        f"ERASED-abc123;broken row with {ERASED}\r\n"
    )
    assert path.stat().st_mode & 0o777 == 0o640


def test_json_lines_untouched_lines_stay_byte_for_byte(data):
    path = data / "exports" / "tickets.jsonl"
    other = '{"customer_no":"C-16",  "body":"hi"}\n'
    path.write_text(
        other + json.dumps({"customer_no": "C-17", "body": "Ana here", "team": "A"}) + "\n",
        encoding="utf-8",
    )
    erase(data)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[0] == other
    assert json.loads(lines[1]) == {"customer_no": "ERASED-abc123", "body": None, "team": "A"}


def test_parquet_and_gzip_are_rewritten_in_their_format(data):
    parquet = data / "exports" / "sales.parquet"
    pl.DataFrame(
        {"order": ["O1", "O2"], "customer_no": ["C-17", "C-170"], "qty": [1.5, 2.0]}
    ).write_parquet(parquet)
    gz = data / "exports" / "sales.csv.gz"
    gz.write_bytes(gzip.compress(b"order,customer_no\nO3,C-17\n"))
    erased = erase(data)
    assert set(erased.rewritten) == {str(parquet), str(gz)}
    assert pl.read_parquet(parquet).to_dicts() == [
        {"order": "O1", "customer_no": "ERASED-abc123", "qty": 1.5},
        {"order": "O2", "customer_no": "C-170", "qty": 2.0},
    ]
    assert gzip.decompress(gz.read_bytes()) == b"order,customer_no\nO3,ERASED-abc123\n"


def test_an_unrewritable_rejected_copy_is_deleted_any_other_file_refuses_the_request(data):
    copy = data / "quarantine" / "files" / "abc-sales.xlsx"
    copy.write_bytes(b"PK\x00\x03 ana+shop@example.com \x00")
    untouched = data / "exports" / "notes.txt"
    untouched.write_text("nothing about anyone", encoding="utf-8")
    assert erase(data).deleted == [str(copy)]
    assert not copy.exists() and untouched.read_text(encoding="utf-8") == "nothing about anyone"
    elsewhere = data / "exports" / "dump.bin"
    elsewhere.write_bytes(b"\x00\x01C-17\x00")
    rewritable = data / "exports" / "a_sales.csv"  # before dump.bin in the order files are seen
    rewritable.write_text("order,customer\nO1,C-17\n", encoding="utf-8")
    with pytest.raises(ErasureError, match=r"dump\.bin mentions the person"):
        erase(data)
    # nothing changed: not the binary, nor the file that could be rewritten, and no leftovers
    assert elsewhere.read_bytes() == b"\x00\x01C-17\x00"
    assert rewritable.read_text(encoding="utf-8") == "order,customer\nO1,C-17\n"
    assert sorted(p.name for p in (data / "exports").iterdir()) == [
        "a_sales.csv",
        "dump.bin",
        "notes.txt",
    ]


def test_a_database_file_not_the_platforms_refuses_the_request(data):
    own = data / "warehouse.duckdb"
    own.write_bytes(b"C-17 in the platform's own file: rewritten whole by the caller")
    stray = data / "copy_of_warehouse.duckdb"
    stray.write_bytes(b"... ana+shop@example.com ...")
    with pytest.raises(ErasureError, match=r"copy_of_warehouse\.duckdb: a database file"):
        erase(data, skip=[own])
    stray.unlink()
    assert erase(data, skip=[own]).rewritten == {}


def test_a_numeric_id_is_theirs_only_as_a_whole_field_and_artifacts_are_left_alone(data):
    numeric = Person("17841", "ERASED-n", ("Ana Berg",), FIELDS)
    assert numeric.scrub_text('{"CustomerID":"17841.0","rows": 17841}') == (
        '{"CustomerID":"ERASED-n","rows": 17841}'
    )
    assert not numeric.mentioned_in("leaf_count=17841 2 178410,3 1.17841")
    sales = data / "exports" / "sales.csv"
    sales.write_text("Invoice,Quantity,CustomerID\n536365,17841,17841.0\n", encoding="utf-8")
    model = data / "models" / "demand_forecast" / "v1" / "model.txt"
    model.parent.mkdir(parents=True)
    model.write_text("leaf_count=3,17841,5\n", encoding="utf-8")
    erased = erase_files(
        data,
        numeric,
        skip=set(),
        deletable=data / "quarantine" / "files",
        generated=frozenset({data / "models"}),
    )
    erased.apply()
    assert list(erased.rewritten) == [str(sales)]
    assert (
        sales.read_text(encoding="utf-8") == "Invoice,Quantity,CustomerID\n536365,17841,ERASED-n\n"
    )
    assert model.read_text(encoding="utf-8") == "leaf_count=3,17841,5\n"


def test_awkward_exports_keep_their_encoding_and_a_huge_broken_field_is_read(data):
    person = Person("C-17", "ERASED-u", ("Jürgen Müller",), FIELDS)
    bom = data / "exports" / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfcustomer,amount,amount\nC-17,10,20\n")
    utf16 = data / "exports" / "utf16.csv"
    utf16.write_bytes("customer,name\nC-17,JÜRGEN MÜLLER\n".encode("utf-16"))
    escaped = data / "exports" / "tickets.jsonl"
    escaped.write_text('{"customer": "C-18", "body": "J\\u00fcrgen M\\u00fcller called"}\n')
    huge = data / "quarantine" / "files" / "abc-sales.csv"
    huge.write_text('customer,note\nC-17,"' + "x" * 200_000 + "\n", encoding="utf-8")
    erased = erase_files(data, person, skip=set(), deletable=data / "quarantine" / "files")
    erased.apply()
    assert sorted(erased.rewritten) == sorted(map(str, (bom, escaped, huge, utf16)))
    assert erased.deleted == [] and b"C-17" not in huge.read_bytes()
    # the byte-order mark kept, and two columns of one name rewritten as cells, not a record
    assert bom.read_bytes() == b"\xef\xbb\xbfcustomer,amount,amount\nERASED-u,10,20\n"
    assert utf16.read_bytes().decode("utf-16") == "customer,name\nERASED-u,\n"
    assert json.loads(escaped.read_text()) == {"customer": "C-18", "body": f"{ERASED} called"}
