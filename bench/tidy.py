"""Column types of the compacted tables: mixed object columns as strings, the runs table's
numeric columns as numbers, and every column a reader expects present."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd


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


def tidy_runs(df: pd.DataFrame) -> pd.DataFrame:
    for col in ("batch_size", "diverged_epoch", "epochs_completed", "params", "n_train"):
        if col in df:
            values = pd.to_numeric(df[col], errors="coerce")
            whole = values.dropna()
            # integers stay integers; a non-integer value (a hand-edited record) keeps floats
            df[col] = pd.array(values, dtype="Int64") if (whole == whole.round()).all() \
                else values
    for col in ("test_accuracy", "test_loss", "train_seconds", "learning_rate", "macro_f1",
                "score_accuracy", "fit_seconds", "wall_seconds", "test_fraction", "fraction"):
        if col not in df:
            df[col] = float("nan")
    for col in ("error", "traceback", "dataset", "model", "optimizer", "activation",
                "initializer", "validation", "factor", "level", "profile"):
        if col not in df:
            df[col] = None
    for col in ("params", "n_train", "epochs", "diverged_epoch"):
        if col not in df:
            df[col] = pd.array([None] * len(df), dtype="Int64")
    for col in ("run_id", "study", "status"):
        if col not in df:
            df[col] = pd.Series(dtype=object)
    return df.sort_values(["study", "run_id"]).reset_index(drop=True)
