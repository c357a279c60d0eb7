"""Rollback: take the champion out of service and reinstate the one before it (or a named
former champion). A canary running against the champion rolled back ends too (archived): a
rollback returns every series to a version that served before. The forecasts must then be
re-scored with the reinstated version; the Dagster wiring requests that run
(defs/release/jobs.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from sme_platform.lib.audit.log import read_events
from sme_platform.lib.release.flow import canary_challenger
from sme_platform.lib.release.registry import (
    ArtifactIntegrityError,
    RegistryError,
    champion,
    ensure_registry,
    get_version,
    list_versions,
    load_model_text,
    normalize_version,
    registered_models_text,
)
from sme_platform.lib.release.status import change_status
from sme_platform.lib.warehouse import transaction


class RollbackError(RegistryError):
    pass


@dataclass(frozen=True)
class RollbackResult:
    model_name: str
    rolled_back: str  # the version taken out of service
    reinstated: str  # the version serving forecasts now
    ended_canary: str | None = None  # the challenger whose canary the rollback ended


def rollback(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    *,
    to_version: str | int | None = None,
    by: str,
    reason: str,
    run_id: str | None = None,
    models_dir: Path | None = None,
) -> RollbackResult:
    """The current champion becomes rolled_back and `to_version` (default: the champion it
    replaced) champion again, both audited, in one transaction.

    With `models_dir`, the reinstated version's artifact is checked against its recorded sha256
    first: a rollback to a model that cannot be loaded would leave the registry naming a
    champion whose forecasts the re-scoring then refuses, while the rolled-back version's keep
    being served. Refused with nothing changed instead."""
    by, reason = (by or "").strip(), (reason or "").strip()
    if not by:
        raise RollbackError(
            f"rollback of {model_name}: name the person rolling back "
            "(--by NAME; `by` in the rollback job's config)"
        )
    if not reason:
        raise RollbackError(
            f"rollback of {model_name}: say why (--reason TEXT; `reason` in the job's config)"
        )
    ensure_registry(con)
    current = champion(con, model_name)
    if current is None:
        known = list_versions(con, model_name)
        status = (
            ", ".join(f"{v.version} {v.status}" for v in known)
            if known
            else f"no versions; {registered_models_text(con)}"
        )
        raise RollbackError(f"rollback of {model_name}: there is no champion ({status})")
    to_version = None if to_version is None or not str(to_version).strip() else to_version
    if to_version is None:
        if current.previous_champion_version is None:
            served = [
                v
                for v in list_versions(con, model_name)
                if v.version != current.version and _was_champion(con, model_name, v.version)
            ]
            former = [v.version for v in served if v.status == "archived"]
            rolled_back = [v.version for v in served if v.status == "rolled_back"]
            if former:
                hint = (
                    f"name one of the former champions {', '.join(former)} "
                    "(--to VERSION; `to_version` in the job's config)"
                )
            elif rolled_back:
                hint = (
                    f"the others that served ({', '.join(rolled_back)}) were rolled back, so "
                    "there is none to reinstate"
                )
            else:
                hint = "no other version ever served, so there is none to reinstate"
            raise RollbackError(
                f"rollback of {model_name}: nothing to roll back to; champion "
                f"{current.version} replaced no earlier champion; {hint}"
            )
        target = get_version(con, model_name, current.previous_champion_version)
    else:
        target = get_version(con, model_name, normalize_version(to_version))
    if target.version == current.version:
        raise RollbackError(f"rollback of {model_name}: {target.version} is the champion already")
    if target.status != "archived" or not _was_champion(con, model_name, target.version):
        was = (
            "an archived version that never served"
            if target.status == "archived"
            else (target.status)
        )
        raise RollbackError(
            f"rollback of {model_name} to {target.version}: only an archived former champion "
            f"can be reinstated; {target.version} is {was}"
        )
    if models_dir is not None:
        try:
            load_model_text(con, models_dir, model_name, target.version)
        except ArtifactIntegrityError as error:
            raise RollbackError(
                f"rollback of {model_name} to {target.version}: refused, nothing was changed "
                f"({current.version} stays champion): {error}"
            ) from None  # the message holds the path and both hashes: shown as it is
    canary = canary_challenger(con, model_name)
    with transaction(con):
        if canary is not None:
            change_status(
                con,
                model_name,
                canary.version,
                "archived",
                actor=by,
                reason=f"its canary ended with the rollback of {current.version}: {reason}",
                run_id=run_id,
            )
        change_status(
            con,
            model_name,
            current.version,
            "rolled_back",
            actor=by,
            reason=reason,
            run_id=run_id,
            event="rolled_back",
            details={"reinstated": target.version},
        )
        change_status(
            con,
            model_name,
            target.version,
            "champion",
            actor=by,
            reason=f"reinstated by the rollback of {current.version}: {reason}",
            run_id=run_id,
            event="promoted",
            details={"rolled_back": current.version},
            reinstate=True,
        )
    return RollbackResult(
        model_name, current.version, target.version, canary.version if canary else None
    )


def _was_champion(con: duckdb.DuckDBPyConnection, model_name: str, version: str) -> bool:
    """From the audit log: a refused candidate is archived too, but never served forecasts."""
    return any(
        event.model_version == version and event.details.get("to") == "champion"
        for event in read_events(con, model_name)
    )
