"""Code versions of Python-defined assets: a hash of the modules that decide their output, so
Dagster (and the registry) can tell when the code behind an asset changed."""

from __future__ import annotations

import hashlib
import inspect
from types import ModuleType


def modules_hash(*modules: ModuleType) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:16]
