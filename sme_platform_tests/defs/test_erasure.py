"""The right to erasure on a real run: `sme-platform erase customer` removes one person's name,
email, phone and messages from every file under data/ (the warehouse and the analyst database
written anew, exports and kept rejected files rewritten), keeps their sales and tickets under a
pseudonym, audits it, and the next night neither brings them back nor loads twice."""

from __future__ import annotations

import re

import dagster as dg
import duckdb
import pytest

from sme_platform.defs.governance.erasure import erasures
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.audit.chain import verify_chain
from sme_platform.lib.audit.log import read_chain
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.warehouse import connect
from sme_platform_tests.defs.test_audit_trail import run
from sme_platform_tests.test_cli import run_cli
from sme_platform_tests.test_end_to_end import make_project

PERSON_SQL = """
    select c.customer_id, c.customer_name, c.email, c.phone
    from raw_store.customers c
    where c.customer_id in (select customer_id from raw_store.tickets)
      and c.customer_id in (select customer_id from raw_store.sales_lines)
      and c.email is not null and c.phone is not null
    order by c.customer_id limit 1"""


def query(root, sql: str, params=None, database="warehouse.duckdb") -> list[tuple]:
    with duckdb.connect(str(root / "data" / database), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def facts(root, customer_id: str) -> tuple:
    """The person's business facts: sales lines, units, tickets, tickets' categories."""
    return query(
        root,
        """select (select count(*) from raw_store.sales_lines where customer_id = $id),
                  (select sum(quantity) from staging.sales_lines where customer_id = $id),
                  (select count(*) from marts.tickets where customer_id = $id),
                  (select list(category order by ticket_id) from marts.tickets
                   where customer_id = $id)""",
        {"id": customer_id},
    )[0]


def traces_in_files(root, values: list[str]) -> list[str]:
    """Every file under data/ holding one of the values, as bytes, in any case."""
    needles = [v.lower().encode() for v in values]
    return [
        str(path)
        for path in (root / "data").rglob("*")
        if path.is_file() and any(n in path.read_bytes().lower() for n in needles)
    ]


@pytest.fixture(scope="module")
def erased(tmp_path_factory):
    root = tmp_path_factory.mktemp("erasing_company")
    make_project(root, days=30)
    home = ProjectPaths.at(root).ensure_dagster_home()
    instance = dg.DagsterInstance.from_config(str(home))
    assert run(root, instance).success
    customer_id, name, email, phone = query(root, PERSON_SQL)[0]
    # A second night brings a file no mapping can read, with the person's email and name in
    # it: rejected, and a copy kept under data/quarantine/files.
    exports = root / "data" / "demo" / "exports"
    broken = exports / "erp" / "sales" / "sales_2099-01-01.csv"
    broken.write_text(f"customer_email;who;total\n{email};{name};5\n", encoding="utf-8")
    assert run(root, instance).success
    before = {
        "customers_export": (exports / "crm" / "customers.jsonl").read_bytes(),
        "facts": facts(root, customer_id),
        "files": traces_in_files(root, [name, email, phone]),
        "sales_lines": query(root, "select count(*) from raw_store.sales_lines")[0][0],
        "audit": len(query(root, "select * from governance.audit_log")),
    }
    cli = run_cli(
        "erase", "customer", customer_id, "--by", "Dana Officer", "--reason", "request DSR-42",
        "--project-dir", str(root),
    )  # fmt: skip
    return root, instance, (customer_id, name, email, phone), before, cli


def test_no_trace_of_the_person_is_left_in_any_file_under_data(erased):
    root, _, (customer_id, name, email, phone), before, cli = erased
    assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-3000:]
    assert "no trace of the person" in cli.stdout
    # before: the warehouse, the export of customers, the kept copy of the rejected file
    assert len(before["files"]) >= 3
    assert any("quarantine/files" in path for path in before["files"])
    assert traces_in_files(root, [name, email, phone]) == []
    id_pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(customer_id)}(?![A-Za-z0-9_])")
    assert [
        p
        for p in (root / "data").rglob("*")
        if p.is_file() and id_pattern.search(p.read_text("latin-1"))
    ] == []


def test_the_sales_and_tickets_stay_under_a_pseudonym(erased):
    root, _, (customer_id, *_), before, _ = erased
    ((pseudonym, rows, files),) = query(
        root, "select pseudonym, rows_pseudonymized, files_rewritten from governance.erasures"
    )
    assert pseudonym.startswith("ERASED-") and rows > 0 and files > 0
    assert facts(root, pseudonym) == before["facts"] and before["facts"][0] > 0
    assert facts(root, customer_id)[0] == 0
    assert query(root, "select count(*) from raw_store.sales_lines")[0][0] == before["sales_lines"]
    (customer,) = query(
        root,
        "select customer_name, email, phone, segment, orders from marts.customers "
        "where customer_id = ?",
        [pseudonym],
    )
    assert customer[:3] == (None, None, None) and customer[3] and customer[4] > 0
    subjects = query(
        root, "select subject, body from marts.tickets where customer_id = ?", [pseudonym]
    )
    assert subjects and set(subjects) == {(None, None)}
    # analysts see the same: the pseudonym's sales, no row under the old id
    sql = """select count(*) filter (where customer_id = $p),
                    count(*) filter (where customer_id = $id) from staging.sales_lines"""
    ids = {"p": pseudonym, "id": customer_id}
    (warehouse,) = query(root, sql, ids)
    assert warehouse[0] > 0 and warehouse[1] == 0
    assert query(root, sql, ids, database="analytics.duckdb") == [warehouse]


def test_the_erasure_is_audited_without_the_person(erased):
    root, instance, (customer_id, name, email, phone), _, _ = erased
    with connect(root / "data" / "warehouse.duckdb", read_only=True) as con:
        entries = read_chain(con)
    assert verify_chain(entries, []).intact
    erased_entries = [e for e in entries if e.event == "erased"]
    (entry,) = erased_entries
    assert entry.actor == "Dana Officer" and entry.reason == "request DSR-42"
    assert entry.subject.startswith("customer:ERASED-")
    details = entry.details
    assert details["files_deleted"] == [] and details["audit_log_entries_mentioning"] == 0
    assert "raw_store.customers" in details["rows_pseudonymized"]
    text = " ".join(str(v) for e in entries for v in e.content_values())
    assert not [v for v in (customer_id, name, email, phone) if v in text]
    runs = instance.get_runs(dg.RunsFilter(job_name="erase_customer"))
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS]


def test_a_second_request_and_a_reason_naming_the_person_are_refused(erased):
    root, _, (customer_id, *_), _, _ = erased
    again = run_cli(
        "erase", "customer", customer_id, "--by", "Dana Officer", "--reason", "again",
        "--project-dir", str(root),
    )  # fmt: skip
    assert again.returncode == 1
    assert "already erased" in again.stdout + again.stderr
    (other,) = query(
        root,
        "select customer_id, customer_name from raw_store.customers "
        "where customer_name is not null and customer_id <> ? order by customer_id limit 1",
        [customer_id],
    )
    resources = {"project": ProjectResource(project_dir=str(root))}
    config = {"customer_id": other[0], "requested_by": "Dana", "reason": f"asked by {other[1]}"}
    result = dg.materialize(
        [erasures],
        resources=resources,
        run_config={"ops": {"governance__erasures": {"config": config}}},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "mentions the person" in str(failure.step_failure_data.error)
    assert (
        query(root, "select count(*) from raw_store.customers where customer_id = ?", [other[0]])[
            0
        ][0]
        == 1
    )
    unknown = dict(config, customer_id="NO-SUCH-CUSTOMER", reason="DSR-43")
    result = dg.materialize(
        [erasures],
        resources=resources,
        run_config={"ops": {"governance__erasures": {"config": unknown}}},
        raise_on_error=False,
    )
    assert not result.success


def test_the_next_night_loads_nothing_again_and_the_person_stays_erased(erased):
    root, instance, (customer_id, *_), before, _ = erased
    done = "select analyst_published, warehouse_rewritten from governance.erasures"
    assert query(root, done) == [(True, True)]
    # As if the erasure's own publication had failed: the next night publishes from scratch.
    with connect(root / "data" / "warehouse.duckdb") as con:
        con.execute("update governance.erasures set analyst_published = false")
    loads_before = query(root, "select count(*) from raw.file_loads where status = 'loaded'")
    night = run(root, instance)
    assert night.success
    assert (
        query(root, "select count(*) from raw.file_loads where status = 'loaded'") == loads_before
    )
    assert facts(root, customer_id)[0] == 0
    assert query(root, "select count(*) from raw_store.sales_lines")[0][0] == before["sales_lines"]
    assert query(root, done) == [(True, True)]
    ((copied,),) = query(
        root,
        "select details->'copied' from governance.audit_log "
        "where event = 'published' and run_id = ?",
        [night.run_id],
    )
    assert "marts.sales_daily" in copied  # unchanged since, yet copied: a fresh file


def test_the_compliance_report_lists_the_erasure_served(erased):
    root, *_ = erased
    today = query(root, "select current_date::varchar")[0][0]
    cli = run_cli(
        "report", "compliance", "--from", today, "--to", today, "--project-dir", str(root)
    )
    assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-3000:]
    ((subject, actor, reason),) = query(
        root, "select subject, actor, reason from reports.compliance_erasures"
    )
    assert subject.startswith("customer:ERASED-") and (actor, reason) == (
        "Dana Officer",
        "request DSR-42",
    )


def test_an_export_bringing_them_back_is_erased_again_by_the_load(erased):
    """The source system still had them: its next export of customers (replacing the one the
    erasure rewrote) carries their id, name and email again; the load erases them again, under
    the same pseudonym, audited as the run's doing, before any model reads them."""
    root, instance, (customer_id, name, email, phone), before, _ = erased
    export = root / "data" / "demo" / "exports" / "crm" / "customers.jsonl"
    export.write_bytes(before["customers_export"])
    result = run(root, instance)
    assert result.success
    pseudonyms = query(
        root,
        "select pseudonym, requested_by, analyst_published and warehouse_rewritten "
        "from governance.erasures order by erased_at",
    )
    assert len(pseudonyms) == 2 and pseudonyms[0][0] == pseudonyms[1][0]
    assert pseudonyms[1][1:] == (f"run:{result.run_id}", True)
    assert traces_in_files(root, [name, email, phone]) == []
    assert facts(root, customer_id)[0] == 0
    assert query(
        root, "select count(*), count(email) from marts.customers where customer_id = ?",
        [pseudonyms[0][0]],
    ) == [(1, 0)]  # fmt: skip
    (entry,) = query(
        root,
        "select actor, reason from governance.audit_log where event = 'erased' and run_id = ?",
        [result.run_id],
    )
    assert entry[0] == f"run:{result.run_id}" and "back in a new export of customers" in entry[1]
