"""What a usable record and a usable ``user_studies`` manifest entry are: anything else
was damaged (or edited by hand) and is set aside rather than allowed to break compaction,
the report or the site."""

from __future__ import annotations

import re
from typing import Any

#: columns the report computes with: a record whose value is text is damaged
NUMBERS = {"runs": ("seed", "epochs", "batch_size", "test_accuracy", "test_loss", "fraction",
                    "learning_rate", "train_seconds", "params", "n_train", "epochs_completed",
                    "test_fraction", "macro_f1"),
           "searches": ("seed", "n_trials", "budget", "fraction", "epochs", "best_accuracy",
                        "best_test_accuracy")}


def user_studies(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The study files a set ran (``user_studies`` in its manifest), leaving out entries a
    hand edit broke: a name that is not a study name (it becomes a page's file name) or
    that differs from the definition's, a definition that is not a mapping."""
    found = manifest.get("user_studies")
    if not isinstance(found, dict):
        return {}
    return {name: raw for name, raw in found.items()
            if isinstance(name, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name)
            and isinstance(raw, dict) and raw.get("name") == name}


def record_problem(kind: str, rec: Any) -> str | None:
    """Why ``rec`` is not a usable record of ``kind`` (None when it is)."""
    key, ident = ("run", "run_id") if kind == "runs" else ("search", "search_id")
    if not isinstance(rec, dict) or not isinstance(rec.get(key), dict):
        return f"not a {key} record"
    row = rec[key]
    if not isinstance(row.get(ident), str):
        return f"no {ident}"
    if not isinstance(row.get("study"), str):
        return "no study"
    for name in NUMBERS[kind]:
        value = row.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"{name} is not a number ({value!r})"
    if not isinstance(row.get("status", ""), str):
        return "status is not text"
    if row.get("factors") is not None and not isinstance(row["factors"], dict):
        return "factors is not a mapping"
    tables = ("epochs", "classes", "confusion", "predictions") if kind == "runs" else ("trials",)
    for t in tables:
        items = rec.get(t, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return f"{t} is not a list of rows"
    for item in rec.get("epochs", []) if kind == "runs" else []:
        if any(isinstance(item.get(c), bool | str) for c in ("epoch", "value")):
            return f"epochs row {item!r} holds text where numbers belong"
    return None
