"""The site's reader-facing pages, built from two small synthetic result sets: the home
page's recommendations, the comparison page, the Data page's checksums, canonical links."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from tests.helpers import PAPER, QUICK, bench, make_set


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("site")
    paper = make_set(tmp / "paper-box", PAPER)
    quick = make_set(tmp / "quick-box", QUICK, profile="quick", cpu="other cpu")
    saved = os.environ.pop("BENCH_SITE_URL", None)  # a local build: no published address
    try:
        out = bench("site", "--results", str(paper), "--results", str(quick), "--out",
                    str(tmp / "site"))
    finally:
        if saved is not None:
            os.environ["BENCH_SITE_URL"] = saved
    assert out.returncode == 0, out.stderr[-3000:]
    return paper, quick, tmp / "site"


def _row(page: str, first_cell: str) -> str:
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    hits = [r for r in rows if re.search(rf"<td[^>]*>\s*{re.escape(first_cell)}", r)]
    assert hits, first_cell
    return hits[0]


def test_the_answer_is_computed_by_the_report_from_paired_comparisons(tmp_path: Path) -> None:
    import pandas as pd

    root = make_set(tmp_path / "set", PAPER)
    answers = pd.read_parquet(root / "derived" / "answers.parquet")
    row = answers.set_index("study").loc["initializers"]
    assert row["choice"] == "he_normal" and row["n"] == 4
    assert row["chosen_on"] == "validation" and row["epoch"] == 5
    gaps = pd.read_parquet(root / "derived" / "answer_gaps.parquet").set_index("level")
    assert gaps.loc["zeros", "decision"] == "better"  # the choice beats it
    assert gaps.loc["glorot_uniform", "decision"] == "better"
    assert gaps.loc["random_uniform", "decision"] != "better"  # within noise
    assert gaps.loc["zeros", "gap"] == pytest.approx(0.80425)  # choice − level, per seed
    assert row["verdict"] in ("tied", "undecided")  # not a clear winner
    assert "activations" not in set(answers["study"])


def test_home_answers_each_question_from_the_papers_protocol(two_sets) -> None:
    paper, quick, site = two_sets
    page = (site / "index.html").read_text()
    row = _row(page, "Weight initializer")
    assert "he_normal" in row and "random_uniform" in row  # best and its runner-up
    assert "zeros" not in row and "glorot_uniform" not in row  # worse: not listed
    assert "verdict-" in row and ">4<" in row.replace(" ", "")  # badge, 4 seeds
    assert "paper-box" in page and "the papers' protocol" in page  # its context
    assert re.search(r"No results yet: [^<]*Activation", page)  # one line, not a row each
    gaps = json.loads((site / "charts" / "index-gaps.json").read_text())
    levels = {r["level"] for rows in gaps["datasets"].values() for r in rows}
    assert levels == {"random_uniform", "glorot_uniform", "zeros"}


def test_comparison_page_lists_differences_and_verdicts(two_sets) -> None:
    _, _, site = two_sets
    assert "paper-box--vs--quick-box.html" in (site / "result-sets.html").read_text()
    page = (site / "compare" / "paper-box--vs--quick-box.html").read_text()
    assert "quick-box" in page and "reduced protocol" in page and "other cpu" in page
    row = _row(page, "initializers")  # per-study summary comes first
    assert "4" in row
    level_rows = [r for r in re.findall(r"<tr>(.*?)</tr>", page, re.S) if "random_uniform" in r]
    # initializers are scored after 5 epochs (2 under quick), where the synthetic curves are
    # 0.0075 and 0.009 below the final accuracy: 0.8965 (paper) vs 0.6960: B − A = −0.2005
    assert any("0.8965" in r and "0.6960" in r and "-0.2005" in r for r in level_rows)
    assert "Do the claim verdicts agree?" in page and "verdicts agree" in page
    # the study page shows both sets side by side
    study = (site / "studies" / "initializers.html").read_text()
    assert "In each result set" in study and "quick-box" in study
    chart = json.loads((site / "studies" / "charts" / "initializers-sets.json").read_text())
    sets = {r["result_set"] for rows in chart["datasets"].values() for r in rows}
    assert sets == {"paper-box", "quick-box"}


def test_data_page_checksums_match_the_files(two_sets) -> None:
    paper, quick, site = two_sets
    page = (site / "data.html").read_text()
    links = re.findall(r'<a href="(data/[^"]+)" download>.*?</a></td>\s*<td>([^<]+)</td>\s*'
                       r"<td><code>([0-9a-f]{64})</code>", page, re.S)
    offered = {href for href, _, _ in links}
    for name in ("runs.parquet", "epochs.parquet", "derived/levels.parquet",
                 "derived/claims.parquet", "manifest.json"):
        assert f"data/paper-box/{name}" in offered and f"data/quick-box/{name}" in offered
    for href, _size, digest in links:
        body = (site / href).read_bytes()
        assert hashlib.sha256(body).hexdigest() == digest, href
        source = (paper if "/paper-box/" in href else quick) / href.split("/", 2)[2]
        assert source.read_bytes() == body, href
    assert 'href="schema.html"' in page and (site / "schema.html").exists()
    assert "0123abc" in page  # the provenance box: the set's git commit


def test_no_canonical_link_points_to_localhost(two_sets) -> None:
    _, _, site = two_sets
    for html in site.rglob("*.html"):
        text = html.read_text()
        assert "127.0.0.1" not in text and "localhost" not in text, html
        assert 'rel="canonical"' not in text, html
    assert "127.0.0.1" not in (site / "sitemap.xml").read_text()


def test_references_and_citations(two_sets) -> None:
    _, _, site = two_sets
    refs = (site / "references.html").read_text()
    for key in ("fmnist_dnn_hparams", "mnist_cnn_hpo_libs", "mnist_cnn_optuna_hyperopt",
                "fmnist_mlp_optimizers", "mnist_keras_models"):
        assert f'id="{key}"' in refs, key
    assert "https://doi.org/10.25559/SITITO.020.202403.656-665" in refs
    study = (site / "studies" / "initializers.html").read_text()
    assert 'href="../references.html#fmnist_dnn_hparams"' in study
    assert "Provenance: paper-box" in study
    notebook = (site / "notebook.html").read_text()
    assert 'href="notebook.ipynb"' in notebook and (site / "notebook.ipynb").exists()
    for href in re.findall(r'href="([a-z_\-/]+\.html)"', notebook):
        assert (site / href).exists(), href
    executed = json.loads((site / "notebook.ipynb").read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code) and any(c["outputs"] for c in code)
    assert "<svg" in notebook  # the chart, rendered at build time


def _kernels_left() -> list[str]:
    """Command lines of this process's children that run an IPython kernel (Linux /proc)."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and "ipykernel" in cmd:
            left.append(cmd)
    return left


def test_notebook_runs_in_its_folder_and_a_failing_cell_is_one_line(tmp_path: Path) -> None:
    import nbformat

    from bench.errors import BenchError
    from bench.site.notebook import execute_notebook

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "table.txt").write_text("42")
    path = folder / "nb.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "print(open('table.txt').read())")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    execute_notebook(path)
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.outputs[0]["text"].strip() == "42"
    assert not _kernels_left(), "the kernel outlived the build"

    nb.cells.append(nbformat.v4.new_code_cell("1 / 0"))
    nbformat.write(nb, path)
    before = path.read_text()
    with pytest.raises(BenchError, match="notebook failed: ZeroDivisionError") as err:
        execute_notebook(path)
    assert "\n" not in str(err.value) and path.read_text() == before

    for source, message, timeout in (("import time; time.sleep(60)", "ran past 2 s", 2),
                                     ("import os; os._exit(1)", "killed its kernel", 60)):
        nb.cells[-1] = nbformat.v4.new_code_cell(source)
        nbformat.write(nb, path)
        before = path.read_text()
        with pytest.raises(BenchError, match=message):
            execute_notebook(path, timeout_s=timeout)
        assert path.read_text() == before
    assert not _kernels_left(), "a kernel outlived a failed build"


def test_diverged_runs_leave_the_loss_line_and_become_markers() -> None:
    import numpy as np
    import pandas as pd

    from bench.site.study_sections import DIVERGED_LOSS, split_diverged

    rows = []
    for seed, blow_up in ((0, None), (1, None), (2, 3)):
        for epoch in range(1, 5):
            loss = 0.5 if blow_up is None or epoch < blow_up else 830.0
            rows += [{"run_id": f"r{seed}", "level": "sgd", "seed": seed, "split": "val",
                      "epoch": epoch, "metric": "loss", "value": loss},
                     {"run_id": f"r{seed}", "level": "sgd", "seed": seed, "split": "val",
                      "epoch": epoch, "metric": "accuracy", "value": 0.8}]
    rows.append({"run_id": "r3", "level": "adam", "seed": 0, "split": "val", "epoch": 1,
                 "metric": "loss", "value": np.nan})
    means, markers = split_diverged(pd.DataFrame(rows))
    loss = means[means["metric"] == "loss"]
    assert loss["mean"].max() < DIVERGED_LOSS  # 830 never reaches the line
    assert set(loss.loc[loss["level"] == "sgd", "n"]) == {2}  # the diverged seed is left out
    acc = means[means["metric"] == "accuracy"]
    assert set(acc["n"]) == {3}  # its accuracy still counts
    assert sorted(zip(markers["level"], markers["epoch"], markers["seed"], strict=True)) == [
        ("adam", 1, 0), ("sgd", 3, 2)]


def test_navigation_follows_a_readers_order_not_file_names(tmp_path: Path) -> None:
    from bench.site.build import site_nav

    docs = tmp_path / "docs"
    for page in ("index.md", "claims.md", "hpo.md", "speed.md", "references.md", "data.md",
                 "result-sets.md", "extra.md", "studies/optimizers.md", "studies/architecture.md",
                 "studies/my_study.md", "compare/a--vs--b.md", "data/set/runs.md"):
        (docs / page).parent.mkdir(parents=True, exist_ok=True)
        (docs / page).write_text("# x\n")
    assert site_nav(docs) == [
        "index.md", "claims.md",
        {"Studies": ["studies/architecture.md", "studies/optimizers.md", "studies/my_study.md"]},
        "hpo.md", "speed.md", "result-sets.md", {"Comparisons": ["compare/a--vs--b.md"]},
        "references.md", "data.md", "extra.md"]


def test_a_claim_measured_at_the_papers_protocol_wins_over_a_reduced_confirmation() -> None:
    import pandas as pd

    from bench.site.pages import best_claims

    class Set:
        def __init__(self, name: str, rank: int, claims: pd.DataFrame) -> None:
            self.name, self._rank, self._claims = name, rank, claims

        def rank(self) -> int:
            return self._rank

        def get(self, table: str) -> pd.DataFrame:
            return self._claims

    paper = Set("paper", 2, pd.DataFrame({"claim_id": ["twig", "more_data"], "n": [5, None],
                                          "verdict": ["undecidable", "inconclusive"]}))
    quick = Set("quick", 1, pd.DataFrame({"claim_id": ["twig", "more_data"], "n": [3, 1],
                                          "verdict": ["confirmed", "not confirmed"]}))
    chosen = best_claims([quick, paper]).set_index("claim_id")["result_set"]
    # measured at the papers' protocol (n=5) but undecided: still the paper set's verdict;
    # never measured there (no n, inconclusive): the reduced set's
    assert chosen.to_dict() == {"twig": "paper", "more_data": "quick"}


def test_live_best_so_far_over_time_never_falls() -> None:
    """A search that has not finished its first trial yet has no best-so-far; a mean over
    only the searches that have one would fall when a slow, poor search joins."""
    import pandas as pd

    from bench.site.hpo_page import _band, _on_time_grid

    trials = pd.DataFrame({
        "method": ["m"] * 4, "search_id": ["fast", "fast", "slow", "slow"],
        "elapsed_seconds": [1.0, 2.0, 5.0, 6.0], "best_so_far": [0.9, 0.95, 0.1, 0.2]})
    band = _band(_on_time_grid(trials, points=13), "wall_seconds").sort_values("wall_seconds")
    assert band["wall_seconds"].min() >= 5.0  # starts once both searches have a value
    assert band["mean"].is_monotonic_increasing
    assert band["mean"].iloc[-1] == pytest.approx((0.95 + 0.2) / 2)


def test_set_context_states_the_range_of_seeds_its_studies_hold() -> None:
    """After a top-up one study has 10 seeds and another 5: "10 seeds" would overstate."""
    import pandas as pd

    from bench.site.sets import ResultSet

    rows = [{"study": s, "level": lv, "seed": k, "status": "ok", "profile": "paper"}
            for s, seeds in (("a", 10), ("b", 5)) for lv in ("x", "y") for k in range(seeds)]
    topped = ResultSet("set", Path("."), {}, {"runs": pd.DataFrame(rows)})
    assert "5–10 seeds per study" in topped.context()
    assert "10 seeds;" in topped.context("a") and "5 seeds;" in topped.context("b")
    even = ResultSet("set", Path("."), {}, {"runs": pd.DataFrame(rows[:20])})
    assert "10 seeds;" in even.context() and "per study" not in even.context()


def _hpo_set(name: str, full: bool, seeds: int, partial_seed: bool = False,
             study: str = "my_hpo", methods: tuple = ("a:tpe", "b:tpe"),
             fractions: tuple = (0.5, 1.0), claims=None):
    """A stand-in result set with live searches of ``study`` (methods x fractions per seed)
    and an optional ``derived/claims`` table."""
    import pandas as pd

    cells = [(m, f, s) for s in range(seeds) for m in methods for f in fractions]
    if partial_seed:
        cells.append(("a:tpe", 0.5, seeds))  # one cell of the next seed finished
    searches = pd.DataFrame([{"search_id": f"{name}-{m}-{f}-{s}", "study": study, "method": m,
                              "fraction": f, "seed": s, "status": "ok", "n_trials": 10,
                              "budget": 10, "sampler_seed": s} for m, f, s in cells])
    trials = searches.loc[searches.index.repeat(10)].assign(
        trial=lambda d: d.groupby("search_id").cumcount())

    class Set:
        def __init__(self) -> None:
            self.name, self.full_protocol = name, full
            self.profile = "paper" if full else "quick"

        def get(self, table: str) -> pd.DataFrame:
            return {"searches": searches, "trials": trials,
                    "derived/claims": claims}.get(table, pd.DataFrame())

        def rank(self) -> tuple[bool, int]:
            return self.full_protocol, 0

    return Set()


def test_live_searches_at_the_papers_protocol_replace_reduced_ones_once_complete() -> None:
    """A paper-protocol sweep still running (2 complete seeds) does not push aside a reduced
    set's 5-seed comparison; with 5 complete seeds it does, and the page names both."""
    from bench.site.hpo_page import _source_line, complete_seeds, live_set_for

    quick = _hpo_set("quick", full=False, seeds=5)
    running = _hpo_set("paper", full=True, seeds=2, partial_seed=True)
    done = _hpo_set("paper", full=True, seeds=5)
    assert complete_seeds(running.get("trials")) == 2  # the half-run seed 2 does not count
    assert live_set_for([quick, running], "my_hpo") is quick
    assert live_set_for([quick, done], "my_hpo") is done
    assert live_set_for([quick, done], "hpo") is None
    catalogued = _hpo_set("paper", full=True, seeds=5, study="hpo")
    assert complete_seeds(catalogued.get("trials")) == 0  # design: 3 methods x 4 fractions
    line = _source_line(done, "my_hpo", [quick, done])
    assert "`paper` (profile paper, 5 complete seeds" in line and "`quick` (5 complete seeds)" \
        in line


def test_an_hpo_claim_comes_from_the_set_the_hpo_page_shows() -> None:
    """A paper-protocol sweep with 2 of 5 seeds does not replace a reduced set's decided HPO
    claim on the claims page; once the sweep has 5 complete seeds its verdict does. A claim of
    a training study still takes the paper protocol's verdict."""
    import pandas as pd

    from bench.site.pages import best_claims

    def claims(verdict: str, n: int) -> pd.DataFrame:
        return pd.DataFrame({"claim_id": ["hpo_more_data_helps", "dnn_batch_128"],
                             "claim": ["more data", "batch 128"], "study": ["hpo", "batch_size"],
                             "verdict": [verdict, verdict], "n": [n, n]})

    design = dict(study="hpo", methods=("optuna:tpe", "hyperopt:tpe", "skopt:gp"),
                  fractions=(0.25, 0.5, 0.75, 1.0))
    quick = _hpo_set("quick", False, 5, claims=claims("confirmed", 5), **design)
    for seeds, source in ((2, "quick"), (5, "paper")):
        paper = _hpo_set("paper", True, seeds, claims=claims("undecidable", seeds), **design)
        best = best_claims([quick, paper]).set_index("claim_id")["result_set"]
        assert best["hpo_more_data_helps"] == source and best["dnn_batch_128"] == "paper"


def test_a_study_read_off_one_long_run_has_learning_curves() -> None:
    """The epochs study's runs have no level (each seed is one 50-epoch run): its curves
    must still have rows, named by the run's length."""
    import pandas as pd

    from bench.site.pages import _curves
    from bench.site.sets import ResultSet

    runs = pd.DataFrame({"run_id": ["r0", "r1"], "study": "epochs", "status": "ok",
                         "level": [None, None], "seed": [0, 1], "epochs": [50, 50]})
    epochs = pd.DataFrame({"run_id": ["r0", "r1"], "epoch": 1, "split": "val",
                           "metric": "accuracy", "value": [0.8, 0.81]})
    curves = _curves(ResultSet("s", Path("."), {}, {"runs": runs, "epochs": epochs}), "epochs")
    assert len(curves) == 2 and set(curves["level"]) == {"50 epochs"}
