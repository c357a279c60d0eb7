"""The audit chain's head in Dagster's event log, and the nightly verification of the chain.

Each run that appended to governance.audit_log records the chain's head (the last entry's id
and hash) as an observation of governance/audit_log when it ends (the project resource's
teardown, so a failed run records it too). Those records live in the Dagster instance, not in
the DuckDB file: a log rewritten inside the file, hashes and all, no longer matches them.
"""

import dagster as dg

from sme_platform.lib.audit.chain import RecordedHead, Verification, verify_chain
from sme_platform.lib.audit.log import chain_head, read_chain

AUDIT_LOG_KEY = dg.AssetKey(["governance", "audit_log"])
HEAD_ID = "chain_head_event_id"
HEAD_HASH = "chain_head_hash"
PAGE = 1000


def record_head(
    instance: dg.DagsterInstance, con, run_id: str, head_at_start: tuple[int, str] | None
) -> None:
    """Record the chain's head in the instance's event log if it moved during the run."""
    head = chain_head(con)
    if head is not None and head != head_at_start:
        instance.report_runless_asset_event(
            dg.AssetObservation(
                asset_key=AUDIT_LOG_KEY,
                description=f"audit chain head after run {run_id}",
                metadata={HEAD_ID: head[0], HEAD_HASH: head[1], "run_id": run_id},
            )
        )


def recorded_heads(instance: dg.DagsterInstance) -> list[RecordedHead]:
    """Every head recorded in the instance: by the runs' ends (observations) and by the nightly
    verification (materializations)."""
    heads = []
    for fetch in (instance.fetch_observations, instance.fetch_materializations):
        cursor = None
        while True:
            page = fetch(AUDIT_LOG_KEY, limit=PAGE, cursor=cursor)
            for record in page.records:
                event = record.asset_observation or record.asset_materialization
                metadata = event.metadata if event else {}
                if HEAD_ID in metadata and HEAD_HASH in metadata:
                    run = metadata.get("run_id")
                    heads.append(
                        RecordedHead(
                            int(metadata[HEAD_ID].value),
                            str(metadata[HEAD_HASH].value),
                            str(run.value) if run else record.run_id or "unknown",
                            _recorded_at(record.timestamp),
                        )
                    )
            if not page.has_more:
                break
            cursor = page.cursor
    return heads


def verify_audit_log(instance: dg.DagsterInstance, con) -> Verification:
    return verify_chain(read_chain(con), recorded_heads(instance))


def _recorded_at(timestamp: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)
