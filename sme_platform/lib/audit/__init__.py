"""The audit trail: the hash-chained governance.audit_log (log.py, chain.py)."""
