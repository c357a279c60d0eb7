"""The audit log's hash chain: each way of tampering found and named, the first first; a log
from before the chain migrated; no row values in the log."""

from __future__ import annotations

import itertools

import duckdb
import pytest

from sme_platform.lib.audit.chain import GENESIS, RecordedHead, entry_hash, verify_chain
from sme_platform.lib.audit.log import (
    AuditError,
    chain_head,
    migrate_audit_log,
    read_chain,
    read_events,
    record_event,
    redact_values,
)


def fill(con, n: int = 5) -> None:
    for i in range(n):
        record_event(
            con,
            event="files_loaded",
            subject="source:sales_lines",
            actor="run:r1",
            reason=f"load {i + 1}",
            details={"files": i + 1, "rows": 10 * (i + 1)},
            run_id="r1",
        )


def verify(con, heads=()):
    return verify_chain(read_chain(con), list(heads))


def test_an_untouched_chain_is_intact_and_links_every_entry(con):
    fill(con)
    entries = read_chain(con)
    assert [e.event_id for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].previous_hash == GENESIS
    for before, after in itertools.pairwise(entries):
        assert after.previous_hash == before.entry_hash
    assert all(entry_hash(e) == e.entry_hash for e in entries)
    head = chain_head(con)
    assert head == (5, entries[-1].entry_hash)
    result = verify(con, [RecordedHead(3, entries[2].entry_hash, "run-a")])
    assert result.intact and result.entries == 5 and result.unrecorded_entries == 2
    assert result.summary().startswith("audit chain intact: 5 entries, head 5 ")


def test_an_edited_entry_is_named(con):
    fill(con)
    con.execute("update governance.audit_log set reason = 'nothing to see' where event_id = 3")
    result = verify(con)
    assert not result.intact
    assert [(f.event_id, f.kind) for f in result.findings] == [(3, "edited")]
    assert "entry 3 (files_loaded, source:sales_lines) was edited" in result.summary()


def test_edited_details_are_found_even_with_the_same_keys(con):
    fill(con)
    con.execute(
        """update governance.audit_log set details = '{"files":2,"rows":999}'
           where event_id = 2"""
    )
    assert [(f.event_id, f.kind) for f in verify(con).findings] == [(2, "edited")]


def test_a_deleted_entry_is_named(con):
    fill(con)
    con.execute("delete from governance.audit_log where event_id = 2")
    (first,) = verify(con).findings
    assert (first.event_id, first.kind) == (2, "deleted")
    assert "entry 2 missing before entry 3" in first.message


def test_an_inserted_entry_is_named(con):
    fill(con, 3)
    # Renumbered to make room, with a hash of its own that is right for its content.
    con.execute("update governance.audit_log set event_id = event_id + 10 where event_id >= 2")
    con.execute("update governance.audit_log set event_id = event_id - 9 where event_id >= 12")
    entries = read_chain(con)
    forged = entries[0].__class__(
        2,
        entries[0].occurred_at,
        "approved",
        "model:m",
        "m",
        "v9",
        "Mallory",
        "ok",
        {},
        None,
        entries[0].entry_hash,
    )
    con.execute(
        "insert into governance.audit_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [*forged.content_values()[:8], "{}", None, forged.previous_hash, entry_hash(forged)],
    )
    findings = verify(con).findings
    # entry 3 (was 2) no longer follows entry 2, and renumbering changed its hashed content
    assert [(f.event_id, f.kind) for f in findings][:1] == [(3, "inserted")]
    assert ("edited" in {f.kind for f in findings}) is True


def test_a_log_rewritten_hashes_and_all_disagrees_with_the_recorded_heads(con):
    fill(con, 4)
    heads = [RecordedHead(e.event_id, e.entry_hash, "run-x") for e in read_chain(con)[1::2]]
    # Edit entry 3 and recompute every hash from it on: the chain alone is consistent again.
    con.execute("update governance.audit_log set reason = 'rewritten' where event_id = 3")
    previous = read_chain(con)[1].entry_hash
    for entry in read_chain(con)[2:]:
        fixed = entry.__class__(*entry.content_values()[:10], previous)
        previous = entry_hash(fixed)
        con.execute(
            "update governance.audit_log set previous_hash = ?, entry_hash = ? where event_id = ?",
            [fixed.previous_hash, previous, entry.event_id],
        )
    assert verify(con).intact  # without the heads, nothing to see
    result = verify(con, heads)
    assert [(f.event_id, f.kind) for f in result.findings] == [(3, "rewritten")]
    assert "from an entry between 3 and 4" in result.findings[0].message


def test_entries_deleted_from_the_end_are_found_by_the_recorded_head(con):
    fill(con, 4)
    head = RecordedHead(4, read_chain(con)[3].entry_hash, "run-y")
    con.execute("delete from governance.audit_log where event_id >= 3")
    (finding,) = verify(con, [head]).findings
    assert (finding.event_id, finding.kind) == (4, "deleted")
    assert "is not in the log" in finding.message


def test_a_log_from_before_the_chain_is_migrated_once_keeping_every_entry(tmp_path):
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("create schema governance")
    con.execute(
        """create table governance.audit_log (event_id bigint not null primary key,
           occurred_at timestamp not null, event varchar not null, model_name varchar not null,
           model_version varchar, actor varchar not null, reason varchar not null,
           details json not null, run_id varchar)"""
    )
    con.execute(
        """insert into governance.audit_log values
           (1, '2026-01-02 03:04:05.123456', 'trained', 'demand_forecast', 'v1', 'run:a',
            'trained', '{"a":1}', 'a'),
           (2, '2026-01-03 00:00:00', 'approved', 'demand_forecast', 'v1', 'Ana', 'ok', '{}',
            null)"""
    )
    assert (
        read_chain(con) == []
        and [e.subject for e in read_events(con)] == ["model:demand_forecast"] * 2
    )
    with pytest.raises(AuditError, match="layout from before the hash chain"):
        record_event(con, event="approved", model_name="m", actor="x", reason="")
    assert migrate_audit_log(con) == 2
    assert migrate_audit_log(con) is None
    events = read_events(con)
    assert [(e.event_id, e.event, e.subject) for e in events] == [
        (1, "trained", "model:demand_forecast"),
        (2, "approved", "model:demand_forecast"),
        (3, "chain_started", "governance:audit_log"),
    ]
    assert events[0].details == {"a": 1} and events[2].details == {"entries_hashed": 2}
    assert verify(con).intact


def test_values_quoted_in_a_message_stay_out_of_the_log():
    message = "x.csv: rejected: Could not convert string 'ana@example.com' to INT64 \"Ana\""
    assert redact_values(message) == "x.csv: rejected: Could not convert string '…' to INT64 '…'"


def test_a_subject_is_needed(con):
    with pytest.raises(AuditError, match="no subject"):
        record_event(con, event="published", actor="run:r", reason="")
    assert read_chain(con) == []
