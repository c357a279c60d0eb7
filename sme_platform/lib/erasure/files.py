"""The person erased from the files under data/: the kept copies of rejected files, and exports
kept there (the demo's). Each file that mentions them is rewritten in its own format (CSV, JSON
lines, Parquet, gzip of either; any other text as text), the person's records scrubbed as in the
warehouse, and renamed into place; a binary file erasure cannot rewrite is deleted if it is a
rejected-file copy (the platform's own), else the request fails naming it.

The DuckDB files are not here: the warehouse and the analyst database are written anew instead
(a file edited in place keeps old row versions in its free blocks).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from sme_platform.lib.erasure.person import ErasureError, Person

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
JSON_LINE_SUFFIXES = {".jsonl", ".ndjson"}
ENCODINGS = ("utf-8", "cp1252", "latin-1")  # tried in turn to read a text file
SEARCHED_ENCODINGS = ("utf-8", "cp1252", "utf-16-le")  # a value's bytes looked for in each
UNREWRITABLE = object()  # a file mentioning the person in a form erasure cannot rewrite
csv.field_size_limit(2**31 - 1)  # a rejected file's one huge field is still read


@dataclass
class FilesErased:
    """The files erasure changes: staged (their new versions written beside them) until
    `apply` renames them into place and deletes the rest, or `discard` drops the new versions."""

    rewritten: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> old, new sha
    deleted: list[str] = field(default_factory=list)
    staged: dict[str, Path] = field(default_factory=dict)  # path -> its new version, beside it

    def apply(self) -> None:
        for path, new_version in self.staged.items():
            os.replace(new_version, path)
        self.staged = {}
        for path in self.deleted:
            Path(path).unlink(missing_ok=True)

    def discard(self) -> None:
        for new_version in self.staged.values():
            new_version.unlink(missing_ok=True)
        self.staged = {}


def erase_files(
    data_dir: Path,
    person: Person,
    *,
    skip: set[Path],
    deletable: Path,
    generated: frozenset[Path] = frozenset(),
) -> FilesErased:
    """Stage the rewriting (or, under `deletable`, the deletion) of every file under data_dir
    that mentions the person, except `skip` (the DuckDB files, rewritten whole by the caller)
    and the folders of `generated` artifacts (models, reports: made from features and
    aggregates, they hold no one's data, and a model rewritten would fail its checksum;
    traces.py still looks in them).
    Every new file is written beside its original, for the caller to `apply` once its tables
    are committed: a file that refuses the request leaves every file as it was."""
    erased = FilesErased()
    try:
        for path in sorted(p for p in data_dir.rglob("*") if p.is_file() and p not in skip):
            if any(folder in path.parents for folder in generated):
                continue
            if path.suffix in {".wal", ".lock"} or path.name.endswith(".duckdb"):
                _refuse_database(path, person, skip)
                continue
            before = path.read_bytes()
            rewritten = _rewrite(path, before, person)
            if rewritten is None or rewritten == before:
                continue
            if rewritten is UNREWRITABLE:
                if deletable not in path.parents:
                    raise ErasureError(
                        f"{path} mentions the person and is not a format erasure can rewrite "
                        "(CSV, JSON lines, Parquet, text, gzip of them): nothing was changed; "
                        "remove it or rewrite it by hand, then ask again"
                    )
                erased.deleted.append(str(path))
                continue
            old, new = hashlib.sha256(before).hexdigest(), hashlib.sha256(rewritten).hexdigest()
            erased.staged[str(path)] = _stage(path, rewritten)
            erased.rewritten[str(path)] = (old, new)
    except BaseException:
        erased.discard()
        raise
    return erased


def _refuse_database(path: Path, person: Person, skip: set[Path]) -> None:
    """A database file beside the platform's own (a copy someone made): erasure cannot scrub it
    in place, and will not leave it holding the person."""
    if mentions_bytes(path.read_bytes(), person):
        raise ErasureError(
            f"{path}: a database file the platform does not manage holds the person (its own, "
            f"{', '.join(sorted(p.name for p in skip))}, are written anew): nothing was "
            "changed; delete it, then ask again"
        )


def _rewrite(path: Path, data: bytes, person: Person) -> bytes | object | None:
    """The file's new bytes; None if it does not mention the person; or UNREWRITABLE."""
    if path.suffix == ".gz":
        try:
            inner = gzip.decompress(data)
        except (OSError, EOFError):
            return UNREWRITABLE if mentions_bytes(data, person) else None
        rewritten = _rewrite(path.with_suffix(""), inner, person)
        return gzip.compress(rewritten) if isinstance(rewritten, bytes) else rewritten
    if path.suffix == ".parquet":
        return _rewrite_parquet(data, person)
    if not mentions_bytes(data, person):
        return None
    decoded = _decode(data)
    if decoded is None:
        return UNREWRITABLE
    text, encoding = decoded
    try:
        if path.suffix in JSON_LINE_SUFFIXES:
            new_text = "".join(_scrub_json_line(line, person) for line in text.splitlines(True))
        elif path.suffix in CSV_SUFFIXES:
            new_text = _scrub_csv(text, person)
        else:
            new_text = person.scrub_text(text)
    except csv.Error:  # an unclosed quote swallowing the rest of a rejected file, say
        return UNREWRITABLE
    return new_text.encode(encoding)  # utf-8-sig and utf-16 write their byte-order mark back


def mentions_bytes(data: bytes, person: Person, *, values_only: bool = False) -> bool:
    """A fast, loose test on the raw bytes, in the encodings exports use, and as JSON writes
    them escaped ("M\\u00fcller"); a value with other than ASCII letters also in the text
    lower-cased (bytes.lower() leaves "Ü" as it is)."""
    lowered = data.lower()
    searched = person.values if values_only else (person.customer_id, *person.values)
    needles = {json.dumps(value.lower())[1:-1].encode() for value in searched}
    for encoding in SEARCHED_ENCODINGS:
        for value in searched:
            try:
                needles.add(value.lower().encode(encoding))
            except UnicodeEncodeError:
                continue
    if any(needle in lowered for needle in needles):
        return True
    unusual = [value.lower() for value in searched if not value.isascii()]
    if not unusual:
        return False
    text = data.decode("utf-8", errors="ignore").lower()
    return any(value in text for value in unusual)


def _decode(data: bytes) -> tuple[str, str] | None:
    """The text and its encoding; None for a binary file (NUL bytes without a UTF-16 BOM)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    if data.startswith(codecs.BOM_UTF8):
        return data.decode("utf-8-sig"), "utf-8-sig"
    if b"\x00" in data:
        return None
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


def _scrub_json_line(line: str, person: Person) -> str:
    body = line.rstrip("\r\n")
    ending = line[len(body) :]
    if not person.mentioned_in(line) and not _mentioned_escaped(body, person):
        return line
    try:
        record = json.loads(body)
    except ValueError:
        return person.scrub_text(body) + ending
    if not isinstance(record, dict):
        return person.scrub_text(body) + ending
    return json.dumps(person.scrub_record(record), ensure_ascii=False) + ending


def _mentioned_escaped(body: str, person: Person) -> bool:
    """Mentioned once JSON's \\u escapes are read ("M\\u00fcller")."""
    if "\\u" not in body:
        return False
    try:
        return person.mentioned_in(json.dumps(json.loads(body), ensure_ascii=False))
    except ValueError:
        return False


def _scrub_csv(text: str, person: Person) -> str:
    # The delimiter the header uses most; quotes are double quotes (csv.Sniffer takes the
    # apostrophe of a name like O'Brien for a quote character).
    header_line = text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=header_line.count)
    terminator = "\r\n" if "\r\n" in text[:65536] else "\n"
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not rows:
        return person.scrub_text(text)
    header, out = rows[0], io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=terminator)
    writer.writerow([person.scrub_text(name) for name in header])
    as_records = len(set(header)) == len(header)  # a repeated name cannot key a record
    for row in rows[1:]:
        if not person.mentioned_in("\n".join(row)):
            writer.writerow(row)
        elif as_records and len(row) == len(header):
            record = person.scrub_record(dict(zip(header, row, strict=True)))
            writer.writerow(["" if record[name] is None else record[name] for name in header])
        else:  # a malformed row (why the file was rejected, perhaps): its cells as text
            writer.writerow([person.scrub_text(cell) for cell in row])
    return out.getvalue()


def _rewrite_parquet(data: bytes, person: Person) -> bytes | object | None:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception:  # any unreadable file: judged by its bytes
        return UNREWRITABLE if mentions_bytes(data, person) else None
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text_columns:
        return None
    pattern = person.any_pattern()
    mentioned = pl.any_horizontal(
        pl.col(name).fill_null("").str.contains(pattern) for name in text_columns
    )
    frame = frame.with_row_index("__row")
    hits = frame.filter(mentioned)
    if hits.is_empty():
        return None
    rows = [person.scrub_record(row) for row in hits.drop("__row").iter_rows(named=True)]
    scrubbed = pl.DataFrame(rows, schema=hits.drop("__row").schema).with_columns(hits["__row"])
    merged = frame.update(scrubbed, on="__row", include_nulls=True).drop("__row")
    out = io.BytesIO()
    merged.write_parquet(out)
    return out.getvalue()


def _stage(path: Path, data: bytes) -> Path:
    """The new version, written beside the file with its mode, to be renamed over it."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".erasing")
    staged = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(staged, path.stat().st_mode & 0o7777)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return staged
