"""What changed in the export folders since last time: a cheap signature per source.

Name, size and modification time of every matching file, hashed: no file is read, so a sensor
can look every few minutes without loading the disk. A changed signature means a file arrived,
changed or vanished; the ingestion itself decides by content hash what is really new.
"""

from __future__ import annotations

import hashlib

from sme_platform.lib.sources import SourcesConfig


def source_signatures(sources: SourcesConfig) -> dict[str, str]:
    signatures = {}
    for table, spec in sources.sources.items():
        digest = hashlib.sha256()
        for path in spec.matching_files():
            stat = path.stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        signatures[table] = digest.hexdigest()
    return signatures


def changed_tables(previous: dict[str, str], current: dict[str, str]) -> list[str]:
    return sorted(table for table, signature in current.items() if previous.get(table) != signature)
