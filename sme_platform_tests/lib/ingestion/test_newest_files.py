"""`sme-platform check` reads each source's newest file: the one written last, whatever its
folder's name, and a file it cannot read is a line of the check, not a traceback."""

from __future__ import annotations

import os

from sme_platform.lib.ingestion import newest_files
from sme_platform.lib.ingestion.newest_files import newest_file_problems

MAPPING = (
    "version: 1\nroot: exports\nsources:\n  sales_lines:\n    path: '**/sales_*.csv'\n"
    "    columns:\n      order_id: receipt_no\n      line_number: line\n"
    "      ordered_at: day\n      sku: item\n      quantity: qty\n      unit_price: price\n"
    "      line_type: \"'sale'\"\n"
)
GOOD = "receipt_no,line,day,item,qty,price\nR0,1,2026-10-01,A,1,3.5\n"
RENAMED = "receipt_number,line,day,item,qty,price\nR1,1,2026-11-01,A,2,3.5\n"


def project(tmp_path, this_year: str, archive: str):
    """This year's export and an archived one; the archive folder sorts after `2026/`."""
    for folder, text, written in (("2026", this_year, 2_000_000_000), ("archive", archive, 1)):
        (tmp_path / "exports" / folder).mkdir(parents=True)
        path = tmp_path / "exports" / folder / "sales_01.csv"
        path.write_text(text)
        os.utime(path, (written, written))
    (tmp_path / "sources.yaml").write_text(MAPPING)
    return tmp_path


def test_the_file_written_last_is_read_not_the_last_by_name(tmp_path):
    # This year's export renamed a column; the archive, last by name, still has it.
    problems = newest_file_problems(project(tmp_path, RENAMED, GOOD))
    assert len(problems) == 1
    assert problems[0].startswith(
        f"sources.sales_lines: the newest file would be {tmp_path / 'exports/2026/sales_01.csv'}"
        ": rejected: missing column(s) ['receipt_no']"
    )
    # The other way round: the archive's old header is no problem of tonight's run.
    other = tmp_path / "other"
    assert newest_file_problems(project(other, GOOD, RENAMED)) == []


def test_a_file_that_cannot_be_read_is_a_line_of_the_check(tmp_path, monkeypatch):
    def vanished(path):
        raise FileNotFoundError(2, "No such file or directory", str(path))

    monkeypatch.setattr(newest_files, "fingerprint", vanished)
    problems = newest_file_problems(project(tmp_path, GOOD, GOOD))
    assert problems == [
        "sources.sales_lines: cannot read the newest file: [Errno 2] No such file or "
        f"directory: '{tmp_path / 'exports/2026/sales_01.csv'}'"
    ]
