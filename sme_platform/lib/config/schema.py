"""The JSON Schema of sources.yaml, generated from its pydantic models.

Published as schemas/sources.schema.json (a test fails when it is stale; regenerate with
`sme-platform schema`), and referenced from each sources.yaml by a yaml-language-server modeline
so that editors (VS Code's YAML extension, JetBrains, Neovim) complete and check the file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from sme_platform.lib.config.sources_file import SourcesFile
from sme_platform.lib.project import REPO_ROOT

SCHEMA_PATH = REPO_ROOT / "schemas" / "sources.schema.json"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=.*$", flags=re.MULTILINE)


def sources_schema_text() -> str:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **SourcesFile.model_json_schema(),
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_sources_schema(path: Path = SCHEMA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sources_schema_text(), encoding="utf-8")
    return path


def schema_modeline(sources_file: Path, schema: Path = SCHEMA_PATH) -> str:
    """The modeline for a sources.yaml at `sources_file`: the schema's path relative to it."""
    relative = os.path.relpath(schema.resolve(), sources_file.resolve().parent)
    return f"# yaml-language-server: $schema={Path(relative).as_posix()}"


def with_schema_modeline(text: str, sources_file: Path) -> str:
    """The file's text with its modeline pointing at the schema from where the file is (a copy
    of the demo's sources.yaml in another folder would otherwise point nowhere)."""
    modeline = schema_modeline(sources_file)
    if MODELINE.search(text):
        return MODELINE.sub(lambda _: modeline, text, count=1)
    return f"{modeline}\n{text}"
