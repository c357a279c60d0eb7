"""Code versions of Python-defined assets: a hash of the modules that decide their output, so
Dagster (and the registry) can tell when the code behind an asset changed; and the digest of
the inputs an asset was computed from, by which it knows it is up to date."""

from __future__ import annotations

import hashlib
import inspect
import json
from types import ModuleType


def modules_hash(*modules: ModuleType) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:16]


def json_digest(payload) -> str:
    """16 hex digits of the sha256 of `payload` as JSON (keys sorted; dates and other values
    as their str): the same payload gives the same digest in every process and version."""
    encoded = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]
