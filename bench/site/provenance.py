"""Where numbers come from: the five papers (citations and a References page), a provenance
box per result set (commit, versions, profile parameters) and the Data page (every file of
every set with its size and SHA-256)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from bench.site.sets import ResultSet
from bench.site.writer import SiteWriter, esc, md_table


@dataclass(frozen=True)
class Paper:
    """One source study as we can cite it from the copy we hold (unknown fields say so)."""

    key: str
    label: str  # how pages name it in a sentence
    short: str  # how tables name it
    authors: str
    year: str
    title: str
    venue: str
    link: str


PAPERS = {p.key: p for p in (
    Paper("fmnist_dnn_hparams", "DNN hyper-parameters on Fashion-MNIST (conference paper; "
          "authors not in our copy)", "DNN hyper-parameters paper",
          "authors not named in our copy", "year not in our copy",
          "Hyper-parameter analysis of a DNN on Fashion-MNIST (conference paper; title "
          "paraphrased, our copy starts at the abstract)", "conference proceedings", ""),
    Paper("mnist_cnn_hpo_libs", "Optuna, HyperOpt and scikit-optimize on an MNIST CNN "
          "(Turkish article; authors not in our copy)", "HPO libraries paper (TR)",
          "authors not named in our copy", "year not in our copy",
          "Evrişimli Sinir Ağı Kullanarak El yazısı Rakamların Tanımasında Hiper Parametre "
          "Analizi (hyper-parameter analysis for handwritten digit recognition with a CNN)",
          "journal article in Turkish with an English abstract", ""),
    Paper("mnist_cnn_optuna_hyperopt", "Samoilova (2024), Optuna vs Hyperopt for CNNs",
          "Samoilova 2024", "T. A. Samoilova", "2024",
          "Comparative Analysis of Hyperparameter Optimization Using Optuna and Hyperopt for "
          "Convolutional Neural Networks",
          "Modern Information Technologies and IT-Education 20(3), 656-665 (in Russian)",
          "https://doi.org/10.25559/SITITO.020.202403.656-665"),
    Paper("fmnist_mlp_optimizers", "Shahabi (2021), four Keras optimizers on a Fashion-MNIST "
          "MLP", "Shahabi 2021", "N. Shahabi", "2021",
          "Report 8: a comparison of meta-heuristic methods for optimising the weights of a "
          "neural network (title translated; in Persian)",
          "Amirkabir University of Technology, course report",
          "https://github.com/nikashahabi/deep_learning_with_keras_optimizers"),
    Paper("mnist_keras_models", "onlinEngineer (GitHub), three small Keras MLPs on MNIST",
          "onlinEngineer (GitHub)", "onlinEngineer (GitHub user)", "year not stated",
          "Handwritten Image Detection with Keras using MNIST data", "GitHub repository",
          "https://github.com/onlinEngineer/Handwritten-Image-Detection-with-Keras-using-"
          "MNIST-data"),
)}


def cite(source: str, from_page: str = "") -> str:
    """A short citation linking to its entry on the References page (Markdown)."""
    paper = PAPERS.get(source)
    up = "../" * from_page.count("/")
    if paper is None:
        return f"`{esc(source)}`"
    return f"[{esc(paper.label)}]({up}references.md#{paper.key})"


def references_page(w: SiteWriter) -> None:
    text = ["# References\n", "The five studies this benchmark re-runs. Where our copy of a "
            "paper does not name its authors or year, the entry says so rather than guess. "
            "The id in brackets is how the project's code and tables name each source.\n"]
    for p in PAPERS.values():
        link = f" <{p.link}>" if p.link else ""
        text.append(f"## {esc(p.label)} {{#{p.key}}}\n\n{esc(p.authors)}, {esc(p.year)}. "
                    f"*{esc(p.title)}*. {esc(p.venue)}.{link} (`{p.key}`)\n")
    w.page("references.md", "\n".join(text))


def _profile_params(name: str | None) -> str:
    from bench.studies import PROFILES

    p = PROFILES.get(name or "")
    if p is None:
        return f"profile `{esc(name or '?')}` (not a built-in profile)"
    return (f"profile `{p.name}`: data x{p.data_scale:g}, epochs x{p.epoch_scale:g}"
            + (f" (at most {p.max_epochs})" if p.max_epochs else "")
            + f", {p.seeds} seeds, test fraction {p.test_fraction:g}, HPO "
            f"{p.hpo_trials or 'the paper’s'} trials x {p.hpo_seeds} seed(s) — "
            f"{esc(p.description)}")


def provenance(rs: ResultSet, page: str = "") -> str:
    """A collapsible box: machine, commit, library versions, profile, sessions, download."""
    m = rs.manifest
    machine = m.get("machine", {})
    libs = ", ".join(f"{esc(k)} {esc(v)}" for k, v in sorted(m.get("libraries", {}).items()))
    commit = m.get("git_commit")
    sessions = m.get("sessions", [])
    runs = "; ".join(f"`{esc(s.get('command', '?'))}` profile {esc(s.get('profile', '?'))}, "
                     f"{esc(s.get('seeds', '?'))} seeds, {esc(len(s.get('studies') or []))} "
                     "studies" for s in sessions[-3:])
    up = "../" * page.count("/")
    lines = [
        f"result set `{esc(rs.name)}`, {rs.n_runs} runs",
        f"machine: {esc(machine.get('cpu', '?'))}, {esc(machine.get('cpu_count', '?'))} "
        f"cores, {esc(machine.get('memory_gib', '?'))} GiB, GPUs: "
        f"{esc(', '.join(machine.get('gpus') or []) or 'none')}; Python "
        f"{esc(machine.get('python', '?'))}",
        f"git commit: `{esc(commit)}`" if commit else "git commit: not recorded",
        f"Keras backend {esc(m.get('keras_backend', '?'))}; "
        + (libs or "library versions not recorded"),
        _profile_params(rs.profile),
        f"sessions ({len(sessions)}, last {min(3, len(sessions))}): {runs or 'none recorded'}",
        f"every table and the manifest: [Data]({up}data.md#{_anchor(rs.name)})",
    ]
    return (f'??? info "Provenance: {esc(rs.name)}"\n'
            + "".join(f"    - {line}\n" for line in lines) + "\n")


def _anchor(name: str) -> str:
    return "set-" + "".join(c if c.isalnum() else "-" for c in name.lower())


def set_files(rs: ResultSet) -> list[Path]:
    """Every file of ``rs`` a reader may download: tables, derived tables, manifest."""
    root = rs.root
    files = sorted(root.glob("*.parquet")) + sorted((root / "derived").glob("*.parquet"))
    manifest = root / "manifest.json"
    return files + ([manifest] if manifest.exists() else [])


def data_page(w: SiteWriter, sets: list[ResultSet]) -> None:
    """Publish every file of every set under ``data/<set>/`` and list it with its SHA-256."""
    text = ["# Data\n", "Every table of each result set (Parquet: `pandas.read_parquet`), the "
            "derived statistics and the manifest, exactly as the site was built from them. "
            "Check a download with `sha256sum FILE`. Columns are described on "
            "[Table schema](schema.md).\n"]
    if not sets:
        text.append("_No result set yet._\n")
    for rs in sets:
        text.append(f"\n## {esc(rs.name)} {{#{_anchor(rs.name)}}}\n\n{rs.context()}.\n")
        rows = []
        for path in set_files(rs):
            rel = path.relative_to(rs.root).as_posix()
            body = path.read_bytes()
            w.page(f"data/{rs.name}/{rel}", body)
            href = f"data/{quote(rs.name)}/{quote(rel)}"
            rows.append({"file": f'<a href="{esc(href)}" download>{esc(rel)}</a>',
                         "size": _size(len(body)),
                         "SHA-256": f"<code>{hashlib.sha256(body).hexdigest()}</code>"})
        text.append(md_table(pd.DataFrame(rows), html_cols=("file", "SHA-256")) if rows
                    else "_no files_\n")
        text.append(provenance(rs, "data.md"))
    text.append("\n## Example\n\nThe answers the site shows, as the report computed them "
                "(chosen on validation at the epoch named; numbers on the test set):\n\n"
                "```python\nimport pandas as pd\nanswers = pd.read_parquet(\"derived/answers."
                "parquet\")\nanswers[[\"question\", \"epoch\", \"choice\", \"verdict\", "
                "\"effect\", \"ci_low\", \"ci_high\", \"n\"]]\n```\n\nEach run's numbers at "
                "the epoch a study reports (`runs.parquet` holds the last epoch's, which for "
                "studies trained past the paper's epoch is another question):\n\n```python\n"
                "scores = pd.read_parquet(\"derived/scores.parquet\")\nscores.groupby([\"study\", "
                "\"epochs_trained\", \"level\"])[\"accuracy\"].agg([\"mean\", \"std\", "
                "\"count\"])\n```\n\nA notebook "
                "that reads these files with pandas and Altair only: [Notebook](notebook.ipynb)"
                ".\n")
    w.page("data.md", "\n".join(text))


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def schema_page(w: SiteWriter, source: Path) -> None:
    """The project's docs/results.md (the table schema) as a page of the site."""
    if source.exists():
        w.page("schema.md", source.read_text(encoding="utf-8").replace(
            "# Result sets", "# Table schema", 1))
