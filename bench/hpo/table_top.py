"""The table's top region, trained with more seeds than the rest.

The top of the table is flatter than its seed noise, so with two seeds the optimum (and every
regret against it) is decided by noise. A table study's ``hpo["top"]`` best points (by the
mean of its base seeds, so the region does not move as seeds are added) are trained up to
``hpo["top_seeds"]`` seeds once every point has its base seeds. A table study with
``hpo["sample_of"]`` trains, at its own fidelity, every other point of that table's top
region (``hpo["sample"]`` points): the check of the region's ranking at another protocol.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.studies.registry import Profile, Study


def top_region(runs: pd.DataFrame, study: str, profile: str, base_seeds: int,
               top: int) -> list[str]:
    """Labels of the ``top`` best points by the seed-mean validation accuracy of the base
    seeds (``seed < base_seeds``); empty until every point has all its base seeds."""
    if runs.empty or "study" not in runs:
        return []
    part = runs[(runs["study"] == study) & (runs["profile"] == profile)
                & (runs["seed"] < base_seeds) & runs["status"].isin(("ok", "diverged"))]
    counts = part.groupby("level")["seed"].nunique()
    if counts.empty or (counts < base_seeds).any():
        return []
    val = part["final_val_accuracy"].astype(float).fillna(0.0)
    means = val.groupby(part["level"]).mean()
    return means.sort_values(ascending=False, kind="stable").index[:top].tolist()


def top_region_specs(store: Any, study: Study, profile: Profile,
                     seeds: list[int]) -> list[Any]:
    """The extra seeds' specs of the top region of a complete table (none otherwise)."""
    top, top_seeds = study.hpo.get("top"), study.hpo.get("top_seeds")
    if not top or not top_seeds or len(seeds) >= top_seeds or not store.has_table("runs"):
        return []
    runs = store.table("runs")
    scaled = study.scaled(profile).name
    labels = set(top_region(runs, study.name, scaled, len(seeds), int(top)))
    cells = [(lab, ch) for lab, ch in study.grid() if next(iter(lab.values())) in labels]
    return [study.spec(profile, seed, changes, cell)
            for cell, changes in cells for seed in range(len(seeds), int(top_seeds))]


def table_specs(store: Any, study: Study, profile: Profile, seeds: list[int],
                specs: list[Any]) -> list[Any]:
    """What a table study trains: its grid plus the top region's extra seeds, or for a
    sample of another table only the sampled points."""
    source = study.hpo.get("sample_of")
    if not source:
        return specs + top_region_specs(store, study, profile, seeds)
    from bench.studies import REGISTRY

    table = REGISTRY.get(source)
    if not store.has_table("runs"):
        return []
    region = top_region(store.table("runs"), source, table.scaled(profile).name,
                        table.seeds(profile), int(study.hpo["top"]))
    step = max(1, len(region) // int(study.hpo["sample"]))
    chosen = set(region[::step][:int(study.hpo["sample"])])
    return [s for s in specs if s.factors.get("level") in chosen]
