"""Bad rows into quarantine.<table> (with the rules they broke, their file, row and original
values), warnings into quarantine.rule_warnings, and the batch's counts per file and rule."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sme_platform.lib.ingestion import contract
from sme_platform.lib.warehouse import quote_literal

if TYPE_CHECKING:
    from sme_platform.lib.ingestion.batch import Batch


@dataclass
class BatchTally:
    per_file: dict[str, list[int]] = field(default_factory=dict)  # path -> [read, loaded, quar.]
    file_rows: int = 0  # rows read from the files (differs from records read for a query)
    quarantine_by_rule: Counter = field(default_factory=Counter)
    warnings_by_rule: Counter = field(default_factory=Counter)


def write_quarantine(con, batch: Batch, *, with_warnings: bool) -> None:
    table = batch.spec.canonical
    load_id = quote_literal(batch.load_id)
    con.execute(
        f"""insert into quarantine.{table.name}
        select {load_id}, b._source_file, b.sha256, n._source_row, ?::timestamp,
               rules[1], rules,
               'breaks ' || array_to_string(rules, ', ') || coalesce('; ' || n.detail, ''),
               n._original_values
        from (
            select n.*,
                   coalesce(n._failed_rules, []::varchar[]) || coalesce(s.rules, []::varchar[])
                       as rules,
                   s.detail
            from _checked n
            left join (
                select rid, list(rule order by rule) as rules,
                       string_agg(detail, '; ' order by rule) as detail
                from _set_failures where severity = 'error' group by rid
            ) s on s.rid = n.rid
            where not n._ok
        ) n
        join _batch_files b on b.file_id = n._file_id""",
        [batch.loaded_at],
    )
    con.execute(
        f"""insert into quarantine.{table.name}
        select {load_id}, b._source_file, b.sha256, r._source_row, ?::timestamp,
               '{contract.PARSE_ERROR}', ['{contract.PARSE_ERROR}'],
               'line ' || r._source_row || ' could not be parsed: ' || r.message,
               r.original_line
        from _reject_rows r join _batch_files b on b.file_id = r._file_id""",
        [batch.loaded_at],
    )
    if not with_warnings:
        return
    con.execute(
        f"""insert into quarantine.rule_warnings
        select {quote_literal(table.name)}, {load_id}, b._source_file, n._source_row,
               w.rule, w.detail
        from (
            select rid, unnest(_warned_rules) as rule, null as detail from _checked
            where _ok and _warned_rules is not null
            union all
            select s.rid, s.rule, s.detail from _set_failures s
            where s.severity = 'warn'
        ) w
        join _checked n on n.rid = w.rid
        join _batch_files b on b.file_id = n._file_id
        where n._ok"""
    )


def tally_batch(con, batch: Batch) -> BatchTally:
    tally = BatchTally()
    paths = {file_id: str(f.path) for f, file_id in zip(batch.files, batch.file_ids, strict=True)}
    for file_id, read, quarantined in con.execute(
        """select _file_id, count(*), count(*) filter (where not _ok) from _checked group by 1
        union all
        select _file_id, count(*), count(*) from _reject_rows group by 1"""
    ).fetchall():
        counts = tally.per_file.setdefault(paths[file_id], [0, 0, 0])
        counts[0] += read
        counts[2] += quarantined
    for counts in tally.per_file.values():
        counts[1] = counts[0] - counts[2]
    tally.quarantine_by_rule.update(
        dict(
            con.execute(
                """select rule, count(*) from (
                    select unnest(_failed_rules) as rule from _checked
                    where _failed_rules is not null
                    union all select rule from _set_failures where severity = 'error'
                    union all select 'parse_error' from _reject_rows
                ) group by 1"""
            ).fetchall()
        )
    )
    tally.warnings_by_rule.update(
        dict(
            con.execute(
                """select rule, count(*) from (
                    select unnest(_warned_rules) as rule from _checked
                    where _ok and _warned_rules is not null
                    union all select s.rule from _set_failures s join _checked c
                        on c.rid = s.rid where s.severity = 'warn' and c._ok
                ) group by 1"""
            ).fetchall()
        )
    )
    return tally
