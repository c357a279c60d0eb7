"""Loading a company's files into `raw` under a data contract, with quarantine and lineage."""

from sme_platform.lib.ingestion.engine import (
    FileOutcome,
    IngestResult,
    ingest_table,
    table_data_version,
)

__all__ = ["FileOutcome", "IngestResult", "ingest_table", "table_data_version"]
