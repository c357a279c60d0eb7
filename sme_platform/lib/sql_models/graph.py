"""The SQL model graph: every `.sql` file under `dbt_like_sql/` is one model.

A model's schema is its folder (`staging`, `marts`, `reports`), its table its file name. What it
depends on is read from the SQL itself with sqlglot: every schema-qualified table it references,
`raw.<table>` for the canonical tables the ingestion stage loads, `<folder>.<name>` for other
models. A reference to anything else, an unqualified table that is no CTE, or a cycle, is an
error at load time naming the file and the table, so a broken graph never reaches a run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import sqlglot
from sqlglot import exp

from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.sql_models.errors import ModelGraphError
from sme_platform.lib.sql_models.expectations import suite_path_for, suite_test
from sme_platform.lib.sql_models.header import ModelHeader, parse_header
from sme_platform.lib.sql_models.incremental import check_incremental_header, render_full
from sme_platform.lib.sql_models.suite_overlap import repeated_header_tests
from sme_platform.lib.warehouse import relation_name

LAYERS = ("staging", "marts", "reports")


@dataclass(frozen=True)
class SqlModel:
    schema: str  # the folder: staging | marts | reports
    name: str  # the file name without .sql
    path: Path
    sql: str  # the query, header removed
    header: ModelHeader
    references: tuple[str, ...]  # "schema.table" of every table the query or its tests read
    query_references: tuple[str, ...]  # those the query itself reads
    # The query as written: an incremental model's holds {{ start_date }} and {{ end_date }},
    # which `sql` has filled with the widest range (a full build).
    template: str = ""

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def relation(self) -> str:
        """The quoted schema.table the model builds."""
        return relation_name(self.schema, self.name)

    @property
    def code_version(self) -> str:
        """Changes when the SQL, its header or its expectation suite changes, and only then."""
        digest = hashlib.sha256(self.path.read_bytes())
        suite = suite_path_for(self.path)
        if suite.exists():
            digest.update(suite.read_bytes())
        return digest.hexdigest()[:16]

    @property
    def model_references(self) -> tuple[str, ...]:
        return tuple(r for r in self.references if not r.startswith("raw."))

    @property
    def raw_references(self) -> tuple[str, ...]:
        return tuple(r.removeprefix("raw.") for r in self.references if r.startswith("raw."))


@dataclass(frozen=True)
class ModelGraph:
    models: dict[str, SqlModel]  # by qualified name
    order: tuple[str, ...]  # qualified names, each after everything it reads

    def downstream_of(self, qualified_name: str) -> set[str]:
        found: set[str] = set()
        frontier = {qualified_name}
        while frontier:
            frontier = {
                m.qualified_name
                for m in self.models.values()
                if set(m.model_references) & frontier and m.qualified_name not in found
            }
            found |= frontier
        return found


def load_model_graph(folder: Path) -> ModelGraph:
    """Every model under `folder`; ModelGraphError with the problems of all files at once."""
    models: dict[str, SqlModel] = {}
    problems: list[str] = []
    unloadable: set[str] = set()  # reported already; a model reading one is not wrong too
    for path in sorted(folder.glob("*/*.sql")):
        try:
            model = _load_model(folder, path)
        except ModelGraphError as error:
            problems.extend(error.lines)
            unloadable.add(f"{path.parent.name}.{path.stem}")
            continue
        models[model.qualified_name] = model
    problems.extend(
        f"{stray}: SQL models live one folder deep, in one of {list(LAYERS)}"
        for stray in sorted(p for p in folder.rglob("*.sql") if p.parent.parent != folder)
    )
    known = set(models) | unloadable | {f"raw.{t}" for t in CANONICAL_TABLES}
    for model in models.values():
        problems.extend(
            f"{model.path}: references unknown table {reference}; known are the "
            f"canonical raw.* tables and the models under {folder}"
            for reference in model.references
            if reference not in known
        )
    if problems:
        raise ModelGraphError(problems)
    sorter = TopologicalSorter({name: m.model_references for name, m in models.items()})
    try:
        order = tuple(sorter.static_order())
    except CycleError as error:
        cycle = error.args[1]
        files = " -> ".join(str(models[name].path) for name in cycle)
        message = f"the SQL models form a cycle: {' -> '.join(cycle)} ({files})"
        raise ModelGraphError(message) from None
    return ModelGraph(models=models, order=order)


def _load_model(folder: Path, path: Path) -> SqlModel:
    layer = path.parent.name
    if layer not in LAYERS:
        raise ModelGraphError(f"{path}: folder {layer!r} is not a layer; use one of {list(LAYERS)}")
    text = path.read_text(encoding="utf-8")
    header, template = parse_header(path, text)
    sql = render_full(template)
    suite = suite_path_for(path)
    if suite.exists():
        suite_check = suite_test(suite)  # refuses an unreadable suite file first
        repeated = repeated_header_tests(suite, header.tests)
        if repeated:
            raise ModelGraphError("\n".join(repeated))
        header = replace(header, tests=(*header.tests, suite_check))
    # Tables a test reads are dependencies too: a relationship to staging.products can only be
    # tested once staging.products is built.
    this = f"{layer}.{path.stem}"
    read_by_tests: set[str] = set()
    for test in header.tests:
        if test.kind == "relationships":
            read_by_tests.add(str(test.options["to"]))
        elif test.kind == "sql":
            query = test.options["query"].replace("{{ this }}", this).replace("{{this}}", this)
            read_by_tests.update(table_references(path, query))
    read_by_query = table_references(path, sql)
    check_incremental_header(path, header, template, read_by_query)
    references = set(read_by_query) | (read_by_tests - {this})
    return SqlModel(
        schema=layer,
        name=path.stem,
        path=path,
        sql=sql,
        header=header,
        references=tuple(sorted(references)),
        query_references=read_by_query,
        template=template,
    )


def table_references(path: Path, sql: str) -> tuple[str, ...]:
    """The schema-qualified tables a query reads (CTEs and table functions excluded)."""
    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.ParseError as error:
        raise ModelGraphError(f"{path}: the SQL does not parse: {error}") from error
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ModelGraphError(f"{path}: a model is exactly one SELECT query")
    tree = statements[0]
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    references: set[str] = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function such as range() or read_csv()
        if not table.db:
            if table.name in ctes:
                continue
            raise ModelGraphError(
                f"{path}: table {table.name} is neither a CTE nor schema-qualified "
                "(write raw.<table>, staging.<model>, ...)"
            )
        references.add(f"{table.db}.{table.name}")
    return tuple(sorted(references))
