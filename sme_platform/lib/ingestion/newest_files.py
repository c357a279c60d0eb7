"""`sme-platform check` on the data, not only the mapping: the pre-check (lib/ingestion/precheck)
run on the newest file of each source, before any run.

A mapping that names a column the export does not have (`order_id: receipt_number` for a
`receipt_no` header) passes every check of the YAML, then rejects every file of the next run,
each kept in quarantine, and the run fails further on at a row count that points away from the
cause. Only `check` reads the files: a bad newest file must not stop a nightly run, whose other
files load (a file's fault stays with the file)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from sme_platform.lib.ingestion.files import fingerprint
from sme_platform.lib.ingestion.precheck import precheck
from sme_platform.lib.ingestion.results import IngestResult, LoadStatus
from sme_platform.lib.sources import SourcesConfigError, load_sources


def newest_file_problems(project_dir: Path) -> list[str]:
    """One line per source whose newest file (the one written last) the pre-check would reject,
    or that cannot be read: the source, the file and why. None when sources.yaml itself does
    not load (check reports that first)."""
    try:
        specs = load_sources(project_dir).sources
    except SourcesConfigError:
        return []
    lines = []
    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        for spec in specs.values():
            paths = spec.matching_files()
            if not paths:
                continue
            result = IngestResult(table=spec.table, load_id="check", status=LoadStatus.LOADED)
            try:
                # Written last, not last by name: an archive folder can sort after this year's.
                newest = max(paths, key=lambda path: (path.stat().st_mtime, path.name))
                precheck(con, spec, [fingerprint(newest)], result)
            except SourcesConfigError as error:
                lines.extend(f"sources.{spec.table}: {line}" for line in error.lines)
                continue
            except OSError as error:  # removed or unreadable since the pattern matched it
                lines.append(f"sources.{spec.table}: cannot read the newest file: {error}")
                continue
            lines.extend(
                f"sources.{spec.table}: the newest file would be {outcome.message}"
                for outcome in result.rejected_files
            )
    return lines
