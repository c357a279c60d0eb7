"""ml.model_registry: one row per model version, its artifact on disk and its status.

A version is "v1", "v2", ... per model name, in the order they were registered; the same string
names the artifact folder (data/models/<model_name>/<version>/), the registry row, audit events
and the command line. Its artifact is the model in LightGBM's text format (model.txt) with a
metadata.json beside it; the registry keeps model.txt's sha256 and every load checks it, so a
model is always loaded by the version its row names and never from a file changed since.

Status: candidate (just trained) -> challenger (passed the gate) -> champion (serves forecasts)
-> archived (replaced), or rolled_back (taken out of service as worse); the status machine,
which writes every change with its audit event in one transaction, is in status.py.

`metrics` of a version are its holdout figures, overall: at least `wape`, `bias` and
`business_cost` (what `sme-platform models` lists), plus anything else the trainer measured.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict

from sme_platform.lib.audit.log import (
    canonical_json,
    ensure_audit_log,
    record_event,
    run_actor,
)
from sme_platform.lib.warehouse import table_exists, transaction

REGISTRY_TABLE = "ml.model_registry"
MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
STATUSES = ("candidate", "challenger", "champion", "archived", "rolled_back")
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_VERSION = re.compile(r"[vV]?([1-9][0-9]*)")


class RegistryError(ValueError):
    """A registry operation refused: the message names the model, version and rule."""


class UnknownModelVersionError(RegistryError):
    pass


class ArtifactIntegrityError(RegistryError):
    """The artifact on disk is not the one registered (changed, replaced or missing)."""

    def __init__(self, path: Path, expected_sha256: str, actual_sha256: str | None):
        found = f"its sha256 is {actual_sha256}" if actual_sha256 else "the file is missing"
        super().__init__(
            f"{path}: refused to load: the registry recorded sha256 {expected_sha256}, but "
            f"{found}. The artifact was changed after registration; retrain, or restore the file"
        )
        self.path, self.expected_sha256, self.actual_sha256 = path, expected_sha256, actual_sha256


class VersionMetadata(BaseModel):
    """What a trainer records with a version (the registry columns of the same names)."""

    model_config = ConfigDict(extra="forbid")

    feature_set_version: str
    training_data_versions: dict[str, Any] | list[Any] = {}
    code_version: str
    parameters: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    backtest: dict[str, Any] | list[Any] = {}
    business: dict[str, Any] = {}


@dataclass(frozen=True)
class ModelVersion:
    model_name: str
    version: str
    status: str
    created_at: datetime
    run_id: str | None
    feature_set_version: str
    training_data_versions: Any
    code_version: str
    parameters: dict[str, Any]
    metrics: dict[str, Any]
    backtest: Any
    business: dict[str, Any]
    artifact_path: str  # relative to the models folder: <model_name>/<version>/model.txt
    artifact_sha256: str
    high_impact: bool
    canary_share: float | None
    approved_by: str | None
    approved_at: datetime | None
    approval_note: str | None
    status_changed_at: datetime
    previous_champion_version: str | None

    @property
    def number(self) -> int:
        return version_number(self.version)


_COLUMNS = [
    ("model_name", "varchar not null"),
    ("version", "varchar not null"),
    ("status", "varchar not null"),
    ("created_at", "timestamp not null"),
    ("run_id", "varchar"),
    ("feature_set_version", "varchar not null"),
    ("training_data_versions", "json"),
    ("code_version", "varchar not null"),
    ("parameters", "json"),
    ("metrics", "json"),
    ("backtest", "json"),
    ("business", "json"),
    ("artifact_path", "varchar not null"),
    ("artifact_sha256", "varchar not null"),
    ("high_impact", "boolean not null"),
    ("canary_share", "double"),
    ("approved_by", "varchar"),
    ("approved_at", "timestamp"),
    ("approval_note", "varchar"),
    ("status_changed_at", "timestamp not null"),
    ("previous_champion_version", "varchar"),
]
_COLUMN_NAMES = [name for name, _ in _COLUMNS]
_JSON_COLUMNS = {"training_data_versions", "parameters", "metrics", "backtest", "business"}


def ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists ml")
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in _COLUMNS)
    con.execute(
        f"create table if not exists {REGISTRY_TABLE} "
        f"({columns}, primary key (model_name, version))"
    )
    ensure_audit_log(con)


def version_label(number: int) -> str:
    return f"v{number}"


def version_number(version: str | int) -> int:
    """3, "3", "v3" and "V3" all name version v3."""
    match = _VERSION.fullmatch(str(version).strip())
    if not match:
        raise RegistryError(f"{version!r} is not a model version (expected v1, v2, ...)")
    return int(match.group(1))


def normalize_version(version: str | int) -> str:
    return version_label(version_number(version))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def register_version(
    con: duckdb.DuckDBPyConnection,
    models_dir: Path,
    model_name: str,
    model_text: str,
    metadata: VersionMetadata | dict[str, Any],
    *,
    run_id: str,
    high_impact: bool = False,
) -> ModelVersion:
    """Store a trained model as the next version of `model_name`, status candidate: its text
    (LightGBM's model_to_string) in models_dir/<name>/<version>/model.txt, metadata.json beside
    it, the registry row with the file's sha256, and a `trained` audit event."""
    if not _MODEL_NAME.fullmatch(model_name):
        raise RegistryError(
            f"model name {model_name!r}: use letters, digits, '_', '.' or '-' (it names a folder)"
        )
    if not model_text.strip():
        raise RegistryError(f"{model_name}: the model text is empty; nothing to register")
    fields = metadata if isinstance(metadata, VersionMetadata) else VersionMetadata(**metadata)
    ensure_registry(con)
    with transaction(con):
        (highest,) = con.execute(
            f"select max(cast(substr(version, 2) as integer)) from {REGISTRY_TABLE} "
            "where model_name = ?",
            [model_name],
        ).fetchone()
        version = version_label((highest or 0) + 1)
        now = utc_now()
        folder = Path(models_dir) / model_name / version
        # A folder of this version without a registry row is what a registration that failed
        # after writing left behind (the row is the record): it is overwritten.
        folder.mkdir(parents=True, exist_ok=True)
        artifact = folder / MODEL_FILE
        artifact.write_text(model_text, encoding="utf-8")
        sha256 = sha256_of(artifact)
        document = {
            "model_name": model_name,
            "version": version,
            "created_at": now.isoformat(),
            "run_id": run_id,
            "artifact_sha256": sha256,
            "high_impact": high_impact,
            **fields.model_dump(),
        }
        (folder / METADATA_FILE).write_text(
            json.dumps(json.loads(canonical_json(document)), indent=2, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        values = {
            "model_name": model_name,
            "version": version,
            "status": "candidate",
            "created_at": now,
            "run_id": run_id,
            "artifact_path": f"{model_name}/{version}/{MODEL_FILE}",
            "artifact_sha256": sha256,
            "high_impact": high_impact,
            "canary_share": None,
            "approved_by": None,
            "approved_at": None,
            "approval_note": None,
            "status_changed_at": now,
            "previous_champion_version": None,
            **{
                name: canonical_json(value) if name in _JSON_COLUMNS else value
                for name, value in fields.model_dump().items()
            },
        }
        placeholders = ", ".join("?" for _ in _COLUMN_NAMES)
        con.execute(
            f"insert into {REGISTRY_TABLE} ({', '.join(_COLUMN_NAMES)}) values ({placeholders})",
            [values[name] for name in _COLUMN_NAMES],
        )
        record_event(
            con,
            event="trained",
            model_name=model_name,
            model_version=version,
            actor=run_actor(run_id),
            reason=f"trained and registered as {version} (candidate)",
            details={"artifact_sha256": sha256, "feature_set_version": fields.feature_set_version},
            run_id=run_id,
        )
    return get_version(con, model_name, version)


def artifact_file(models_dir: Path, row: ModelVersion) -> Path:
    return Path(models_dir) / row.artifact_path


def load_model_text(
    con: duckdb.DuckDBPyConnection, models_dir: Path, model_name: str, version: str | int
) -> str:
    """The model text of that version, after checking the file's sha256 against the registry's
    (ArtifactIntegrityError, naming the path and both hashes, if they differ)."""
    row = get_version(con, model_name, version)
    path = artifact_file(models_dir, row)
    if not path.exists():
        raise ArtifactIntegrityError(path, row.artifact_sha256, None)
    content = path.read_bytes()
    actual = hashlib.sha256(content).hexdigest()
    if actual != row.artifact_sha256:
        raise ArtifactIntegrityError(path, row.artifact_sha256, actual)
    return content.decode("utf-8")


def get_version(
    con: duckdb.DuckDBPyConnection, model_name: str, version: str | int
) -> ModelVersion:
    label = normalize_version(version)
    rows = _select(con, "where model_name = ? and version = ?", [model_name, label])
    if not rows:
        known = [row.version for row in list_versions(con, model_name)]
        listed = ", ".join(known) if known else f"none; {registered_models_text(con)}"
        raise UnknownModelVersionError(
            f"{model_name} {label}: no such version in {REGISTRY_TABLE} "
            f"(registered versions of {model_name}: {listed})"
        )
    return rows[0]


def registered_models_text(con: duckdb.DuckDBPyConnection) -> str:
    """ "models in the registry: a, b" (or "the registry is empty"): for a misspelt model name."""
    names = sorted({v.model_name for v in list_versions(con)})
    return f"models in the registry: {', '.join(names)}" if names else "the registry is empty"


def list_versions(
    con: duckdb.DuckDBPyConnection, model_name: str | None = None
) -> list[ModelVersion]:
    """Every version (of one model), by model name then version number; read-only safe."""
    if model_name is None:
        return _select(con, "", [])
    return _select(con, "where model_name = ?", [model_name])


def champion(con: duckdb.DuckDBPyConnection, model_name: str) -> ModelVersion | None:
    rows = _select(con, "where model_name = ? and status = 'champion'", [model_name])
    return rows[0] if rows else None


def _select(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[ModelVersion]:
    if not table_exists(con, "ml", "model_registry"):
        return []
    rows = con.execute(
        f"select {', '.join(_COLUMN_NAMES)} from {REGISTRY_TABLE} {where} "
        "order by model_name, cast(substr(version, 2) as integer)",
        params,
    ).fetchall()
    return [_version_from_row(row) for row in rows]


def _version_from_row(row: tuple) -> ModelVersion:
    values = dict(zip(_COLUMN_NAMES, row, strict=True))
    for name in _JSON_COLUMNS:
        values[name] = json.loads(values[name]) if values[name] is not None else None
    return ModelVersion(**values)
