"""Loading a company's files into `raw` under a data contract, with quarantine and lineage."""

from sme_platform.lib.ingestion.batch_loader import LoadSteps
from sme_platform.lib.ingestion.engine import ingest_table
from sme_platform.lib.ingestion.file_versions import table_data_version
from sme_platform.lib.ingestion.results import FileOutcome, FileStatus, IngestResult, LoadStatus

__all__ = [
    "FileOutcome",
    "FileStatus",
    "IngestResult",
    "LoadStatus",
    "LoadSteps",
    "ingest_table",
    "table_data_version",
]
