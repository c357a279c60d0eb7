"""The feature store: versioned, point-in-time correct feature sets (no Dagster here)."""
