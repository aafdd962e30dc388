"""One schema: docs/results.md documents exactly ``bench.schema``, compaction writes every
declared column with its declared type, and a record that does not fit stops compaction
with a one-line error, the previous tables kept."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench import schema
from bench.errors import BenchError
from bench.store import RUN_TABLES, SEARCH_TABLES, ResultStore

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "data_cache" / "results" / "quick-cpu-amd-epyc-2c" / "records"
ROW = re.compile(r"^\| `([^`]+)` \| ([a-z0-9]+) \| (always|optional) \| (.+) \|$")


def _documented() -> dict[str, list[tuple[str, str, str, str]]]:
    """docs/results.md's ``## Tables`` section: table -> (column, type, present, meaning)."""
    text = (ROOT / "docs" / "results.md").read_text()
    section = text.split("\n## Tables\n", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for line in section.splitlines():
        head = re.match(r"^### `(\w+)`$", line)
        if head:
            current = tables.setdefault(head.group(1), [])
        elif line.startswith("| `"):
            match = ROW.match(line)
            assert match and current is not None, f"unreadable row in docs/results.md: {line}"
            current.append(match.groups())
    return tables


def test_the_docs_document_exactly_the_schema() -> None:
    documented = _documented()
    assert set(documented) == set(schema.TABLES) == {*RUN_TABLES, *SEARCH_TABLES}
    for table, rows in documented.items():
        assert [r[0] for r in rows] == schema.columns(table), table  # same columns, same order
        for column, type_name, present, meaning in rows:
            field = schema.TABLES[table].field(column)
            assert type_name == schema.type_name(field.type), (table, column)
            assert (present == "always") == (column in schema.required(table)), (table, column)
            assert meaning == schema.doc(table, column), (table, column)


def test_every_declared_column_has_a_known_type_and_one_line_meaning() -> None:
    for table, declared in schema.TABLES.items():
        assert len(set(declared.names)) == len(declared.names), table
        for field in declared:
            assert field.type in schema.TYPE_NAMES, (table, field.name)
            meaning = schema.doc(table, field.name)
            assert meaning and "\n" not in meaning and "|" not in meaning, (table, field.name)
        assert set(schema.required(table)) <= set(declared.names)


def _first(folder: Path, want) -> dict:  # noqa: ANN001 - a predicate
    for path in sorted(folder.glob("*.json")):
        rec = json.loads(path.read_text())
        if want(rec):
            return rec
    pytest.skip(f"no such record in {folder}")


def _check_files(root: Path) -> None:
    """Every table of ``root`` has its declared types and required columns."""
    for table in schema.TABLES:
        path = root / f"{table}.parquet"
        if not path.exists():
            continue
        stored = pq.read_schema(path)
        assert set(schema.required(table)) <= set(stored.names), table
        for name in stored.names:
            if name in schema.TABLES[table].names:
                assert stored.field(name).type == schema.TABLES[table].field(name).type, \
                    (table, name, stored.field(name).type)


def test_a_compacted_set_of_real_records_matches_the_schema(tmp_path: Path) -> None:
    """Committed records (a trained run, a live search, tabular replays), no training."""
    run = _first(QUICK / "runs", lambda r: bool(r["classes"]))
    live = _first(QUICK / "searches", lambda r: "benchmark" not in r["search"])
    tabular = _first(QUICK / "searches", lambda r: r["search"].get("benchmark") == "tabular")
    failed = json.loads(json.dumps(run))
    failed["run"].update(run_id="f", status="failed", error="ValueError: x", traceback="tb")
    for key in ("test_accuracy", "test_loss", "params", "n_train", "macro_f1"):
        failed["run"].pop(key)
    store = ResultStore(tmp_path / "set")
    store.write_record("runs", run["run"]["run_id"], run)
    store.write_record("runs", "f", {"run": failed["run"]})
    for rec in (live, tabular):
        store.write_record("searches", rec["search"]["search_id"], rec)
    counts = store.compact()
    assert set(counts) == set(schema.TABLES)
    _check_files(tmp_path / "set")
    runs = store.table("runs")
    assert set(runs.columns) <= set(schema.columns("runs"))  # every engine column declared
    assert set(store.table("searches").columns) <= set(schema.columns("searches"))
    extra = set(store.table("trials").columns) - set(schema.columns("trials"))
    assert extra and all(c.startswith("param_") for c in extra)
    assert store.compact() == counts  # idempotent


def test_empty_run_tables_and_factor_columns(tmp_path: Path) -> None:
    """Every run failed: the run tables still have their typed columns; a study crossing
    two factors adds undeclared columns of its own."""
    store = ResultStore(tmp_path)
    store.write_record("runs", "a", {"run": {
        "run_id": "a", "study": "s", "status": "failed", "arch": {"kind": "mlp"},
        "factors": {"factor": "width+depth", "level": "8|2", "width": "8", "depth": 2}}})
    store.compact()
    _check_files(tmp_path)
    for table in RUN_TABLES[1:]:
        stored = pq.read_schema(tmp_path / f"{table}.parquet")
        assert stored.names == schema.columns(table) and store.table(table).empty
    runs = store.table("runs")
    assert runs.loc[0, "width"] == "8" and runs.loc[0, "depth"] == 2


@pytest.mark.parametrize(("kind", "change", "where"), [
    ("runs", {"n_val": "many"}, "table runs, column n_val"),
    ("runs", {"batch_size": 32.5}, "table runs, column batch_size"),
    ("runs", {"classes": [{"class_index": 0, "class_name": "0", "precision": 1.0,
                           "recall": 1.0, "f1": 1.0, "support": "all"}]},
     "table classes, column support"),
    ("searches", {"trial_seconds": "slow"}, "table trials, column trial_seconds"),
])
def test_a_value_of_the_wrong_type_stops_compaction(tmp_path: Path, kind: str, change: dict,
                                                    where: str) -> None:
    store = ResultStore(tmp_path)
    good = {"run_id": "a", "config_hash": "a", "study": "s", "status": "ok", "seed": 0,
            "n_val": 10, "batch_size": 32, "arch": {"kind": "mlp"}}
    search = {"search_id": "s1", "study": "hpo", "status": "ok", "n_trials": 1}
    trial = {"search_id": "s1", "trial_key": "s1-0", "trial": 0, "trial_seconds": 1.5}
    store.write_record("runs", "a", {"run": good, "classes": []})
    store.write_record("searches", "s1", {"search": search, "trials": [trial]})
    store.compact()
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.parquet")}
    if kind == "runs":
        bad = {"run": {**good, "run_id": "b", "config_hash": "b"}}
        if "classes" in change:
            bad.update(change)
        else:
            bad["run"].update(change)
        store.write_record("runs", "b", bad)
    else:
        store.write_record("searches", "s2", {
            "search": {**search, "search_id": "s2"},
            "trials": [{**trial, "search_id": "s2", "trial_key": "s2-0", **change}]})
    with pytest.raises(BenchError) as caught:
        store.compact()
    message = str(caught.value)
    assert "\n" not in message and message.startswith(where), message
    assert "previous tables are kept" in message
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.parquet")} == before
    assert len(list((tmp_path / "records" / kind).glob("*.json"))) == 2  # the record is kept


def test_to_arrow_casts_declared_columns_and_keeps_others() -> None:
    import pandas as pd

    df = pd.DataFrame({"run_id": ["a", "b"], "true": [1.0, 2.0], "pred": [1, None],
                       "count": [3, 4], "note": [1.5, None]})
    table = schema.to_arrow("confusion", df)
    assert table.schema.field("true").type == pa.int64()
    assert table.column("pred").to_pylist() == [1, None]
    assert table.schema.field("note").type == pa.float64()  # undeclared: as pandas gives it
    with pytest.raises(BenchError, match="table confusion, column true: .*row 1.*run_id b"):
        schema.to_arrow("confusion", df.assign(true=[1.0, 2.5]))


def test_the_schema_module_imports_nothing_of_bench_but_errors() -> None:
    source = (ROOT / "bench" / "schema.py").read_text()
    imports = re.findall(r"^\s*(?:from|import) (\S+)", source, re.M)
    assert {i for i in imports if i.startswith("bench")} == {"bench.errors"}
