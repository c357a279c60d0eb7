"""The demo company's sources.yaml for a catalogue: the repo's mapping less what it lacks.

The long-tail company exports no inventory (long_tail.py): a mapping that kept
`inventory_snapshots` would expect files that never come, and its checks would say so on every
run. Its entry is taken out instead, which makes the table absent, as for any company without
that export. The text is edited rather than parsed and dumped, so that the comments stay.
"""

from __future__ import annotations

import re

from sme_platform.lib.demo_data.long_tail import ABSENT_SOURCES, CATALOG_NAME

_SOURCE_ENTRY = re.compile(r"^  (?P<name>[a-z_]+):\s*$")


def demo_mapping(catalog: str, repo_mapping: str) -> str:
    """The mapping for the demo company of `catalog`, from the text of the repo's sources.yaml."""
    if catalog != CATALOG_NAME:
        return repo_mapping
    return without_sources(repo_mapping, ABSENT_SOURCES, why="the long-tail company exports none")


def unexported_sources(catalog: str, mapping: str) -> list[str]:
    """The sources `mapping` configures that the demo company of `catalog` does not export."""
    if catalog != CATALOG_NAME:
        return []
    configured = {_entry_name(line) for line in mapping.splitlines()}
    return [name for name in ABSENT_SOURCES if name in configured]


def without_sources(mapping: str, names: tuple[str, ...], *, why: str) -> str:
    """`mapping` without the entries of `names` under `sources:`, each replaced by a comment
    saying `why`. Raises ValueError naming an entry that is not there."""
    lines = mapping.splitlines(keepends=True)
    for name in names:
        start = next((i for i, line in enumerate(lines) if _entry_name(line) == name), None)
        if start is None:
            raise ValueError(f"sources.yaml has no entry {name!r} under sources: to leave out")
        end = start + 1
        # The entry runs to the next line indented no deeper than its name (blank lines kept).
        while end < len(lines) and (not lines[end].strip() or lines[end].startswith("   ")):
            end += 1
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1  # the blank line before the next entry stays
        lines[start:end] = [f"  # {name}: left out, {why}\n"]
    return "".join(lines)


def _entry_name(line: str) -> str | None:
    match = _SOURCE_ENTRY.match(line)
    return match["name"] if match else None
