"""The right to erasure as a Dagster asset with config (the `erase_customer` job, launched from
the UI or by `sme-platform erase customer ID --by NAME --reason TEXT`), not part of the nightly
graph. One request: the person erased from the warehouse's tables and the files under data/
(lib/erasure), the analyst database published afresh, then the warehouse written anew, so no
file keeps an erased value in its free blocks. Its check looks for any trace left."""

import time

import dagster as dg
from pydantic import Field

from sme_platform.defs.governance.checks import report_checks
from sme_platform.defs.jobs import ERASURES_KEY
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import MODEL_GRAPH
from sme_platform.lib.analyst_database import publish_analyst_database
from sme_platform.lib.asset_code_versions import erasure_code_version
from sme_platform.lib.erasure import register, traces
from sme_platform.lib.erasure.person import ErasureError
from sme_platform.lib.erasure.serve import Places, erase_customer
from sme_platform.lib.governance import DEFAULT_OWNER


class ErasureConfig(dg.Config):
    customer_id: str = Field(description="The customer id, as the company's exports carry it.")
    requested_by: str = Field(description="Who serves the request (your full name).")
    reason: str = Field(
        description="Why: e.g. the request's ticket number. Not the person's name, email or "
        "phone: the audit log keeps it for ever."
    )


@dg.asset(
    key=ERASURES_KEY,
    group_name="governance",
    owners=[DEFAULT_OWNER],
    code_version=erasure_code_version(),
    description=(
        "governance.erasures: the erasure requests served. Each removes one customer's personal "
        "data everywhere the platform keeps it (raw, quarantine with original values, staging, "
        "marts, features, the analyst database, kept copies of rejected files, exports under "
        "data/), keeps their sales and tickets under a pseudonym, and is audited (erased). On "
        "demand (sme-platform erase customer). Grain: one row per request served."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            "no_trace_left",
            asset=ERASURES_KEY,
            description="No file under data/ and no table of the warehouse or the analyst "
            "database still holds the erased person's id, name, email or phone.",
        )
    ],
    kinds={"duckdb"},
    tags={"stage": "governance"},
)
def erasures(context: dg.AssetExecutionContext, config: ErasureConfig, project: ProjectResource):
    paths = project.paths
    places = Places.of(paths)
    run_id = context.run.run_id
    seconds = {}
    started = time.perf_counter()
    with project.warehouse() as con:
        try:
            erasure = erase_customer(
                con,
                customer_id=config.customer_id,
                requested_by=config.requested_by,
                reason=config.reason,
                places=places,
                sources=project.sources(),
                run_id=run_id,
            )
        except ErasureError as error:
            raise dg.Failure(description=f"erasure refused: {error}") from None
        context.log.info(erasure.summary())
        started = _lap(seconds, "tables_and_files", started)
        published = publish_analyst_database(
            con, MODEL_GRAPH, paths.analyst_database, run_id, fresh=True
        )
        if published.published:
            register.mark_done(con, "analyst_published")
        started = _lap(seconds, "analyst_database", started)
    size = project.rewrite_warehouse()
    started = _lap(seconds, "warehouse_rewrite", started)
    with project.warehouse() as con:
        register.mark_done(con, "warehouse_rewritten")
        found = traces.find_traces(
            erasure.person, places.data_dir, paths.analyst_database, con, places.generated
        )
        outcome = traces.outcome(found)
        results = report_checks(con, ERASURES_KEY, [outcome], run_id)
    _lap(seconds, "trace_check", started)
    yield dg.MaterializeResult(
        metadata={
            "pseudonym": erasure.person.pseudonym,
            "summary": erasure.summary(),
            "tables_pseudonymized": erasure.rows.pseudonymized,
            "mentions_scrubbed": erasure.rows.scrubbed,
            "files_rewritten": sorted(erasure.files.rewritten),
            "files_deleted": erasure.files.deleted,
            "analyst_database_published": published.published,
            "warehouse_rewritten_mib": round(size / 2**20, 1),
            "seconds": seconds,
        }
    )
    yield from results
    if not published.published:
        raise dg.Failure(
            description=f"erased from the warehouse and the files, but the analyst database "
            f"was not published afresh: {published.refusal}. The next run publishes it afresh "
            "(governance.erasures.analyst_published stays false until then)."
        )


def _lap(seconds: dict[str, float], phase: str, started: float) -> float:
    now = time.perf_counter()
    seconds[phase] = round(now - started, 2)
    return now
