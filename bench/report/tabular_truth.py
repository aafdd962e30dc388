"""The tabular benchmark's truth and its noise: regret against the table as it stands now,
ranks with a stated noise tolerance, and how the ranks move with the table seed that
defines the truth.

The top of the table is flatter than its seed noise, so: every replay's regret is recomputed
against the table's current seed means (the top region has more seeds than the rest,
``bench.hpo.table_top``); a *noise-tolerant* rank counts every regret below ``TOLERANCE`` as
zero (a tie); and the ranks are recomputed with the truth defined by one table seed alone
(every point's value under that seed), to show which conclusions depend on that choice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bench.hpo.compute_cost import fit_costs

#: regrets below this count as zero in the noise-tolerant ranks (the benchmark's accuracy
#: margin, about the seed-to-seed SD at the top of the table)
TOLERANCE = 0.005
#: what never models: the searches "model-based" is compared against
NON_MODEL = ("optuna:random", "optuna:qmc", "hyperopt:rand", "scikit-optimize:random")


def table_runs(runs: pd.DataFrame, table: str, profile: str) -> pd.DataFrame:
    """The table's runs as (label, seed, value, train_seconds, started_at); failed: NaN."""
    part = runs[(runs["study"] == table) & (runs["profile"] == profile)]
    value = part["final_val_accuracy"].astype(float).where(part["status"] == "ok")
    return pd.DataFrame({"label": part["level"], "seed": part["seed"], "value": value,
                         "train_seconds": part["train_seconds"].astype(float),
                         "started_at": part.get("started_at", np.nan)})


def with_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials with their ``table`` filled in from their study (older records lack it)."""
    from bench.studies import REGISTRY

    names = set(REGISTRY.names())
    table = trials["study"].map(lambda s: REGISTRY.get(s).hpo.get("table") if s in names
                                else None)
    return trials.assign(table=trials.get("table", table).fillna(table))


def rescore(trials: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Replay trials with regret against the table's current seed means and simulated time
    from the compute-cost model (plus the measured suggest time), whatever the record held."""
    out = []
    trials = with_table(trials)
    for (table, profile), part in trials.groupby(["table", "profile"]):
        t = table_runs(runs, table, profile)
        if t.empty:
            out.append(part)
            continue
        means = t.groupby("label")["value"].mean()
        costs = pd.Series(fit_costs(t))
        part = part.sort_values(["search_id", "trial"])
        inc = part["incumbent"].map(means)
        cost = part["config"].map(costs).fillna(part.get("train_seconds"))
        clock = (cost + part["suggest_seconds"]).groupby(part["search_id"]).cumsum()
        out.append(part.assign(regret=means.max() - inc, incumbent_val_mean=inc,
                               cost_seconds=cost, simulated_seconds=clock))
    return pd.concat(out, ignore_index=True) if out else trials


def tolerant(trials: pd.DataFrame, tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Trials with every regret below ``tolerance`` set to zero."""
    return trials.assign(regret=trials["regret"].where(trials["regret"] >= tolerance, 0.0))


def truth_by_seed(trials: pd.DataFrame, runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{"seed s": trials}`` with regret against table seed ``s`` alone, for every seed
    that every point of the table has."""
    out = {}
    for (table, profile), part in with_table(trials).groupby(["table", "profile"]):
        t = table_runs(runs, table, profile)
        labels = t["label"].nunique()
        for seed, g in t.groupby("seed"):
            if g["label"].nunique() < labels:
                continue
            value = g.groupby("label")["value"].mean()
            regret = value.max() - part["incumbent"].map(value)
            key = f"seed {int(seed)}"
            out[key] = pd.concat([out.get(key, pd.DataFrame()), part.assign(regret=regret)])
    return out


def stability(trials: pd.DataFrame, runs: pd.DataFrame, budgets: list[int | None],
              tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Mean ranks per method and budget under each truth (the seed mean, each table seed),
    plain and noise-tolerant, with the leader and Spearman's rho of each truth's ranks against
    the seed-mean truth's."""
    from bench.report.ranks import final_ranks

    truths = {"seed mean": trials, **truth_by_seed(trials, runs)}
    rows = []
    for budget in budgets:
        for tol in (0.0, tolerance):
            ranks = {name: final_ranks(None, budget, tolerant(t, tol) if tol else t)
                     for name, t in truths.items()}
            ref = ranks["seed mean"].set_index("method")["mean_rank"]
            for name, r in ranks.items():
                if r.empty:
                    continue
                r = r.set_index("method")["mean_rank"]
                rho = stats.spearmanr(r, ref.reindex(r.index)).statistic if len(r) > 2 \
                    else np.nan
                for method, rank in r.items():
                    rows.append({"truth": name, "tolerance": tol, "method": method,
                                 "trials": int(ranks["seed mean"]["trials"].iloc[0]),
                                 "mean_rank": rank, "leader": r.idxmin(),
                                 "spearman_vs_mean": rho})
    return pd.DataFrame(rows)


def conclusion(tolerant_ranks: pd.DataFrame, stable: pd.DataFrame) -> str:
    """One sentence: what survives the noise tolerance and the choice of table seed."""
    if tolerant_ranks.empty:
        return ""
    last = tolerant_ranks[tolerant_ranks["trials"] == tolerant_ranks["trials"].max()]
    cd = float(last["critical_difference"].iloc[0])
    best = float(last["mean_rank"].min())
    group = last[last["mean_rank"] <= best + cd]["method"].tolist()
    beaten = [m for m in NON_MODEL if m in set(last["method"]) and m not in group]
    trials = int(last["trials"].iloc[0])
    tol = stable[(stable["tolerance"] > 0) & (stable["trials"] == trials)]
    leaders = sorted(set(tol["leader"])) if not tol.empty else []
    model = [m for m in group if m not in NON_MODEL]
    beats = len(beaten) == len([m for m in NON_MODEL if m in set(last["method"])])
    parts = [f"At {trials} trials with regrets below {TOLERANCE} counted as zero, "
             f"{len(model)} model-based method(s) ({', '.join(model)}) are not told apart "
             f"from the best (critical difference {cd:.2f})"]
    inside = [m for m in NON_MODEL if m in group]
    parts.append("and every search without a model ranks below that group, so "
                 "'model-based beats random' survives" if beats else
                 f"and {', '.join(inside)} (no model) is among them, so not even "
                 "'model-based beats random' survives")
    parts.append(f"the leader changes with the table seed that defines the truth "
                 f"({', '.join(leaders)}), so no single best library survives"
                 if len(leaders) > 1 else f"the leader is {leaders[0]} under every truth"
                 if leaders else "")
    return "; ".join(p for p in parts if p) + "."
