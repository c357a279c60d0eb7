"""The audit log's hash chain: how an entry is hashed, and how the chain is verified.

An entry's hash is the sha256 of its canonical content: every column but the hash itself, the
previous entry's hash included, as JSON with sorted keys (timestamps to the microsecond,
details as their JSON value). Editing an entry changes its hash; deleting or inserting one
breaks the link of the entry after it; rewriting the log from some entry on, hashes and all,
is caught by the heads recorded outside the DuckDB file (Dagster's event log), which name an
entry and the hash it had then.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of the first entry
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def canonical_json(value: Any) -> str:
    """The one serialization: sorted keys, compact, no NaN or infinity (JSON has none, and a
    hash must not depend on how a reader prints them)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


@dataclass(frozen=True)
class ChainEntry:
    event_id: int
    occurred_at: datetime
    event: str
    subject: str
    model_name: str | None
    model_version: str | None
    actor: str
    reason: str
    details: Any
    run_id: str | None
    previous_hash: str
    entry_hash: str | None = None  # as stored; None before it is

    def content_values(self) -> list:
        return [
            self.event_id,
            self.occurred_at,
            self.event,
            self.subject,
            self.model_name,
            self.model_version,
            self.actor,
            self.reason,
            self.details,
            self.run_id,
            self.previous_hash,
        ]


def entry_hash(entry: ChainEntry) -> str:
    content = {
        "event_id": entry.event_id,
        "occurred_at": entry.occurred_at.strftime(TIMESTAMP_FORMAT),
        "event": entry.event,
        "subject": entry.subject,
        "model_name": entry.model_name,
        "model_version": entry.model_version,
        "actor": entry.actor,
        "reason": entry.reason,
        "details": entry.details,
        "run_id": entry.run_id,
        "previous_hash": entry.previous_hash,
    }
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


@dataclass(frozen=True)
class RecordedHead:
    """The chain's head as written outside the DuckDB file: entry `event_id` had `entry_hash`
    when `recorded_by` (a run id) ended, at `recorded_at`."""

    event_id: int
    entry_hash: str
    recorded_by: str
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class Finding:
    event_id: int  # the first entry concerned
    kind: str  # edited | deleted | inserted | rewritten
    message: str


@dataclass
class Verification:
    entries: int
    head: tuple[int, str] | None
    heads_checked: int
    findings: list[Finding] = field(default_factory=list)
    unrecorded_entries: int = 0  # after the newest recorded head: vouched for by the chain alone

    @property
    def intact(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def summary(self) -> str:
        if self.intact:
            head = f"head {self.head[0]} {self.head[1][:12]}" if self.head else "no entries yet"
            return (
                f"audit chain intact: {self.entries} entries, {head}; {self.heads_checked} "
                f"head(s) recorded in Dagster's event log agree"
                + (
                    f"; the last {self.unrecorded_entries} entries are not yet recorded there "
                    "(the chain alone vouches for them)"
                    if self.unrecorded_entries
                    else ""
                )
            )
        return (
            f"audit chain BROKEN: {len(self.findings)} finding(s); the first: entry "
            f"{self.first.event_id} {self.first.kind}: {self.first.message}"
        )


def verify_chain(entries: list[ChainEntry], heads: list[RecordedHead]) -> Verification:
    """Walk `entries` (ordered by id) and check each against `heads`; every finding, the
    first entry concerned first."""
    findings: list[Finding] = []
    expected_id, previous = 1, GENESIS
    by_id = {}
    for entry in entries:
        by_id[entry.event_id] = entry
        if entry.event_id > expected_id:
            missing = (
                f"{expected_id}"
                if entry.event_id == expected_id + 1
                else (f"{expected_id} to {entry.event_id - 1}")
            )
            findings.append(
                Finding(
                    expected_id, "deleted", f"entry {missing} missing before entry {entry.event_id}"
                )
            )
        elif entry.previous_hash != previous:
            findings.append(
                Finding(
                    entry.event_id,
                    "inserted",
                    f"entry {entry.event_id} does not follow the entry before it (its previous "
                    f"hash {entry.previous_hash[:12]}, that entry's {previous[:12]}): an entry "
                    "was inserted here or the one before replaced",
                )
            )
        recomputed = entry_hash(entry)
        if recomputed != entry.entry_hash:
            findings.append(
                Finding(
                    entry.event_id,
                    "edited",
                    f"entry {entry.event_id} ({entry.event}, {entry.subject}) was edited: its "
                    f"content hashes to {recomputed[:12]}, the log says "
                    f"{str(entry.entry_hash)[:12]}",
                )
            )
        # Go on from the stored hash: one edit is one finding, not one per later entry.
        expected_id, previous = entry.event_id + 1, entry.entry_hash
    last_matching = 0
    for head in sorted(heads, key=lambda h: h.event_id):
        found = by_id.get(head.event_id)
        recorded = f"recorded by run {head.recorded_by[:8]}" + (
            f" at {head.recorded_at:%Y-%m-%d %H:%M}" if head.recorded_at else ""
        )
        if found is None:
            findings.append(
                Finding(
                    head.event_id,
                    "deleted",
                    f"entry {head.event_id}, the chain's head {recorded}, is not in the log "
                    "(entries deleted from its end)",
                )
            )
        elif found.entry_hash != head.entry_hash:
            findings.append(
                Finding(
                    last_matching + 1,
                    "rewritten",
                    f"entry {head.event_id} hashes to {str(found.entry_hash)[:12]}, not "
                    f"{head.entry_hash[:12]} as {recorded}: the log was rewritten, hashes and "
                    f"all, from an entry between {last_matching + 1} and {head.event_id}",
                )
            )
        else:
            last_matching = head.event_id
    findings.sort(key=lambda f: f.event_id)
    newest = max((h.event_id for h in heads), default=0)
    return Verification(
        entries=len(entries),
        head=(entries[-1].event_id, entries[-1].entry_hash) if entries else None,
        heads_checked=len(heads),
        findings=findings,
        unrecorded_entries=sum(1 for e in entries if e.event_id > newest),
    )
