"""Pages of user studies (``bench run --config FILE``): each gets the built-in studies' page.

A result set's manifest keeps every study file it ran (``user_studies``), so the site knows
their factors and claims without the file; the claims are judged in ``derived/claims``.
"""

from __future__ import annotations

import pandas as pd

from bench.site.writer import SiteWriter, esc, md_table
from bench.store import user_studies as stored_user_studies
from bench.studies import REGISTRY, Study


def user_studies(sets: list) -> dict[str, tuple[Study, object]]:
    """name -> (study, the result set with the most of its runs), for every study file run."""
    from bench.studies.config_file import study_from_definition

    found: dict[str, tuple[Study, object, int]] = {}
    for rs in sets:
        runs = rs.get("runs")
        for name, raw in stored_user_studies(rs.manifest).items():
            if name in REGISTRY.names() or runs.empty:
                continue
            count = int((runs["study"] == name).sum())
            if not count or (name in found and found[name][2] >= count):
                continue
            try:
                study = study_from_definition(raw)
            except ValueError:
                continue  # a manifest edited by hand
            found[name] = (study, rs, count)
    return {name: (study, rs) for name, (study, rs, _) in sorted(found.items())}


def _definition(study: Study) -> str:
    """The study file, as run (YAML), so that the page says exactly what varied."""
    import yaml

    text = yaml.safe_dump(study.definition, sort_keys=False, default_flow_style=None)
    return "\n## Study file\n\n```yaml\n" + text + "```\n"


def _trained(runs: pd.DataFrame) -> str:
    """What each level trained: the network as built, its size and the training settings."""
    cols = [c for c in ("level", "model", "params", "layers", "optimizer", "optimizer_args",
                        "learning_rate", "lr_schedule", "label_smoothing") if c in runs]
    first = runs.sort_values("seed").drop_duplicates("level")[cols]
    first = first.dropna(axis=1, how="all")
    return "\n## What each level trained\n\n" + md_table(first, floats="{:g}")


def user_study_pages(w: SiteWriter, sets: list) -> None:
    """One page per user study (charts, statistics, claims) and an index of them."""
    from bench.site.pages import study_page

    studies = user_studies(sets)
    if not studies:
        return
    rows = []
    for name, (study, rs) in studies.items():
        study_page(w, rs, study)
        path = f"studies/{name}.md"
        runs = rs.get("runs")
        mine = runs[runs["study"] == name]
        w.pages[path] = str(w.pages[path]) + _trained(mine) + _definition(study)
        rows.append({"study": f"[{esc(study.title)}]({name}.md)",
                     "factors": " × ".join(f.name for f in study.factors),
                     "runs": len(mine), "result set": rs.name})
    text = ["# Your studies\n", "Studies run from a study file (`bench run --config FILE`), "
            "with the same statistics and claim rules as the papers' studies.\n",
            md_table(pd.DataFrame(rows), html_cols=("study",))]
    w.page("studies/user-studies.md", "\n".join(text))
