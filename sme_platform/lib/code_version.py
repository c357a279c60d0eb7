"""Code versions of Python-defined assets: a hash of the modules that decide their output, so
Dagster (and the registry) can tell when the code behind an asset changed; and the digest of
the inputs an asset was computed from, by which it knows it is up to date."""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import json
from pathlib import Path
from types import ModuleType


def modules_hash(*modules: ModuleType) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(_source(module).encode())
    return digest.hexdigest()[:16]


def closure_hash(*roots: ModuleType, within: str | tuple[str, ...]) -> str:
    """The hash of `roots` and of every module of `within` they import (`imported_modules`)."""
    return modules_hash(*imported_modules(*roots, within=within))


def imported_modules(*roots: ModuleType, within: str | tuple[str, ...]) -> list[ModuleType]:
    """`roots` and every module of the package(s) `within` that they import, directly or
    through each other, sorted by name: the code that decides what the roots compute. A module
    left out of a hash by hand (a helper split out of another) is a change no version notices."""
    packages = (within,) if isinstance(within, str) else within
    found = {root.__name__: root for root in roots}
    pending = list(roots)
    while pending:
        module = pending.pop()
        for name in _imports_of(module, packages):
            if name not in found:
                found[name] = importlib.import_module(name)
                pending.append(found[name])
    return [found[name] for name in sorted(found)]


def _imports_of(module: ModuleType, packages: tuple[str, ...]) -> set[str]:
    """The modules of `packages` that `module` imports at its top level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(_source(module))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from package import module` names modules too.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    prefixes = tuple(package + "." for package in packages)
    inside = {name for name in names if name.startswith(prefixes)}
    return {name for name in inside if _is_module(name)}


def _source(module: ModuleType) -> str:
    try:
        return inspect.getsource(module)
    except OSError:
        # An empty file (a package's bare __init__) has no source to show; any other module
        # without source (an install of .pyc only) must not hash as empty without a word.
        path = Path(getattr(module, "__file__", None) or "")
        if path.suffix == ".py" and path.is_file() and not path.read_text().strip():
            return ""
        raise


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # `from module import function`: the parent is no package
        return False


def json_digest(payload) -> str:
    """16 hex digits of the sha256 of `payload` as JSON (keys sorted; dates and other values
    as their str): the same payload gives the same digest in every process and version."""
    encoded = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]
