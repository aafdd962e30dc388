"""Before the schema's cast (``bench.schema``): mixed object columns as strings, the runs
table's integer columns as nullable integers, and every column a reader expects present."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from bench import schema


def _missing(value: Any) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def uniform_objects(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding mixed types (e.g. levels 512 and "None") become strings."""
    for col in [c for c in df.columns if df[c].dtype == "object"]:
        kinds = {type(v) for v in df[col] if not _missing(v)}
        if len(kinds) > 1 or kinds & {list, dict}:
            df[col] = [None if _missing(v) else
                       (json.dumps(v) if isinstance(v, list | dict) else str(v)) for v in df[col]]
    return df


def add_required(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Add the declared columns ``table`` always has but no record held, null-filled (numbers
    first, then text and flags, then integers: the order compaction has always used)."""
    missing = [f for f in schema.TABLES[table]
               if f.name in schema.required(table) and f.name not in df]
    for field in sorted(missing, key=lambda f: (f.type == schema.INT) - (f.type == schema.FLOAT)):
        if field.type == schema.INT:
            df[field.name] = pd.array([None] * len(df), dtype="Int64")
        elif field.type == schema.FLOAT:
            df[field.name] = float("nan")
        else:
            df[field.name] = None
    return df


def tidy_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The runs table: integer columns a reader computes with as nullable integers, every
    column it expects present, sorted by study and run."""
    for col in ("batch_size", "diverged_epoch", "epochs_completed", "params", "n_train"):
        if col in df:
            try:
                values = pd.to_numeric(df[col])
            except (TypeError, ValueError):  # text: the schema's cast names the column
                continue
            whole = values.dropna()
            # integers stay integers; a non-integer value fails the schema's int64 check
            df[col] = pd.array(values, dtype="Int64") if (whole == whole.round()).all() \
                else values
    return add_required("runs", df).sort_values(["study", "run_id"]).reset_index(drop=True)
