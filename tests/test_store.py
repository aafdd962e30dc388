"""Result store: atomic records, idempotent compaction, schema version, claims."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench import SCHEMA_VERSION
from bench.errors import BenchError
from bench.store import ResultStore
from tests.helpers import store_record


def test_compaction_is_idempotent(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r")
    store.write_record("runs", "a", store_record("a"))
    store.write_record("runs", "b", store_record("b", status="failed"))
    first = store.compact()
    runs = pd.read_parquet(tmp_path / "r" / "runs.parquet")
    second = store.compact()
    assert first == second and first["runs"] == 2
    assert pd.read_parquet(tmp_path / "r" / "runs.parquet").equals(runs)
    assert {"factor", "level", "profile"} <= set(runs.columns)
    assert store.completed() == {"a"}


def test_rewriting_a_record_keeps_one_row(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.write_record("runs", "a", store_record("a", status="failed"))
    store.write_record("runs", "a", store_record("a", status="ok"))
    store.compact()
    runs = store.table("runs")
    assert runs["run_id"].tolist() == ["a"] and runs["status"].tolist() == ["ok"]


def test_no_temporary_files_left(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.write_record("runs", "a", store_record("a"))
    store.compact()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_incompatible_schema_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(BenchError, match="schema version"):
        ResultStore(tmp_path)


def test_manifest_sessions_are_merged(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.update_manifest(session={"id": "x", "started": 1}, machine={"cpu": "c"})
    store.update_manifest(session={"id": "x", "started": 1, "ended": 2})
    store.update_manifest(session={"id": "y", "started": 3})
    manifest = store.manifest()
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert [s["id"] for s in manifest["sessions"]] == ["x", "y"]
    assert manifest["sessions"][0]["ended"] == 2 and manifest["machine"] == {"cpu": "c"}


def test_claim_is_exclusive_until_released(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    first = store.try_claim("a")
    assert first is not None
    assert ResultStore(tmp_path).try_claim("a") is None
    first.release()
    again = ResultStore(tmp_path).try_claim("a")
    assert again is not None
    again.release()


@pytest.mark.parametrize("damage", ["{not json", "[]", '{"run": []}', '{"run": {"x": 1}}'])
def test_a_damaged_record_is_quarantined_and_its_rows_kept(tmp_path: Path, damage: str) -> None:
    store = ResultStore(tmp_path)
    store.write_record("runs", "a", store_record("a"))
    store.write_record("runs", "b", store_record("b"))
    store.compact()
    (tmp_path / "records" / "runs" / "a.json").write_text(damage)
    with pytest.warns(UserWarning, match="damaged record a.json"):
        store.compact()  # any later command compacts too: it must neither crash nor drop "a"
    assert sorted(store.table("runs")["run_id"]) == ["a", "b"]
    assert len(store.table("epochs")) == 2
    assert (tmp_path / "quarantine" / "runs" / "a.json").read_text() == damage  # kept
    assert store.completed() == {"b"}  # "a" will be trained again
    store.write_record("runs", "a", store_record("a"))  # ... and its new record replaces the row
    store.compact()
    assert sorted(store.table("runs")["run_id"]) == ["a", "b"]


def test_a_parquet_only_set_keeps_its_rows_when_a_study_is_added(tmp_path: Path) -> None:
    source = ResultStore(tmp_path / "src")
    source.write_record("runs", "a", store_record("a", study="one"))
    source.compact()
    copy = ResultStore(tmp_path / "copy")
    for name in ("runs", "epochs"):
        copy.write_table(name, source.table(name))  # copied as Parquet only, no records/
    copy.write_record("runs", "b", store_record("b", study="two"))
    copy.compact()
    assert sorted(copy.table("runs")["study"]) == ["one", "two"]
    assert sorted(copy.table("epochs")["run_id"]) == ["a", "b"]


def test_a_non_integer_batch_size_stops_compaction_with_one_line(tmp_path: Path) -> None:
    """A hand edit the schema's int64 cannot hold: a one-line error, nothing rewritten (the
    table used to switch the column to floats; see tests/test_schema.py)."""
    store = ResultStore(tmp_path)
    store.write_record("runs", "b", store_record("b"))
    store.compact()
    rec = store_record("a")
    rec["run"]["batch_size"] = 32.5
    store.write_record("runs", "a", rec)
    with pytest.raises(BenchError, match="table runs, column batch_size: .*32.5"):
        store.compact()
    assert list(store.table("runs")["run_id"]) == ["b"]


def test_mixed_level_types_become_strings(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    a, b = store_record("a"), store_record("b")
    b["run"]["factors"]["level"] = 512
    store.write_record("runs", "a", a)
    store.write_record("runs", "b", b)
    store.compact()
    assert sorted(store.table("runs")["level"]) == ["512", "None"]


@pytest.mark.parametrize("damage", [
    {"run": {"run_id": "a", "study": "s", "factors": []}},
    {"run": {"run_id": "a", "factors": {}}},
    {"run": {"run_id": "a", "study": "s"}, "epochs": [1, 2]},
])
def test_odd_records_are_quarantined_not_fatal(tmp_path: Path, damage: dict) -> None:
    store = ResultStore(tmp_path)
    store.write_record("runs", "b", store_record("b"))
    store.write_record("runs", "a", damage)
    with pytest.warns(UserWarning, match="damaged record"):
        store.compact()
    assert list(store.table("runs")["run_id"]) == ["b"]


def test_a_set_with_searches_only_compacts(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.write_record("searches", "s1", {"search": {"search_id": "s1", "study": "hpo",
                                                     "status": "ok"}, "trials": []})
    assert store.compact() == {"searches": 1}
    assert not store.has_table("runs")
