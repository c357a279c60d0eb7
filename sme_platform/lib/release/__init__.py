"""Releasing models: the registry of versions and their artifacts, the promotion gate, approvals,
the canary and rollback, each decision recorded in the append-only audit log. Plain Python and
DuckDB; the Dagster wiring is in sme_platform/defs/release/."""
