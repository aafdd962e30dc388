"""Generate the site's pages, charts, vendored JS and data; then build it with MkDocs."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.site.compare import result_sets_page
from bench.site.hpo_page import hpo_page
from bench.site.notebook import execute_notebook
from bench.site.pages import (
    ROOT_DOCS,
    claims_page,
    home,
    load_result_set,
    set_for,
    sets_with,
    speed_page,
    study_page,
)
from bench.site.provenance import cite, data_page, provenance, references_page, schema_page
from bench.site.publish import check_inputs, check_out, install
from bench.site.sets import ResultSet
from bench.site.user_pages import user_study_pages
from bench.site.writer import SiteWriter
from bench.store import atomic_write_bytes
from bench.studies import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "site_src"
CONFIG = ROOT / "mkdocs.yml"


def default_result_dirs() -> list[Path]:
    from bench import paths

    root = paths.results_root()
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*") if (p / "manifest.json").exists())


def vega_bundle() -> bytes:
    """Vega, Vega-Lite and vega-embed in one script, from the installed vl-convert (no CDN)."""
    import vl_convert

    return vl_convert.javascript_bundle().encode()


def generate(result_dirs: list[Path], docs: Path) -> dict[str, int]:
    """Write every page, chart spec, the JS bundle and downloadable tables into ``docs``."""
    if docs.exists():
        shutil.rmtree(docs)
    shutil.copytree(STATIC, docs, ignore=shutil.ignore_patterns("hooks.py", "__pycache__"))
    sets = []
    for d in result_dirs:
        if not Path(d).is_dir():
            raise BenchError(f"result set {d} does not exist")
        sets.append(load_result_set(Path(d).resolve()))
    unique_names(sets)
    writer = SiteWriter(docs)
    publish_all(writer, sets)
    writer.write()
    atomic_write_bytes(docs / "javascripts" / "vendor" / "vega-bundle.js", vega_bundle())
    execute_notebook(docs / "notebook.ipynb")
    return {"pages": sum(p.endswith(".md") for p in writer.pages), "charts": len(writer.charts)}


def unique_names(sets: list[Any]) -> None:
    """Sets are published under their folder's name; two folders of one name (``a/base``,
    ``b/base``) get their parent's name in front (then a number), so that neither one's
    files or pages replace the other's."""
    names = [rs.name for rs in sets]
    taken: set[str] = set()
    for rs in sets:
        if names.count(rs.name) > 1:
            rs.name = f"{rs.root.resolve().parent.name}-{rs.name}"
        name, i = rs.name, 2
        while rs.name in taken:
            rs.name, i = f"{name}-{i}", i + 1
        taken.add(rs.name)


#: top-level pages in a reader's order (MkDocs would sort them by file name)
NAV_FIRST = ("index.md", "claims.md")
NAV_LAST = ("hpo.md", "speed.md", "result-sets.md", "references.md", "data.md", "schema.md",
            "notebook.ipynb")


def site_nav(docs: Path) -> list[Any]:
    """The navigation: home and claims, the studies in catalogue order (then the user's), HPO,
    speed, result sets, comparisons, references, data. Pages not named here come last."""
    from bench.studies import REGISTRY

    pages = {p.relative_to(docs).as_posix() for p in docs.rglob("*")
             if p.suffix in (".md", ".ipynb") and "data/" not in p.relative_to(docs).as_posix()}
    order = {f"studies/{name}.md": i for i, name in enumerate(REGISTRY.names())}
    studies = sorted((p for p in pages if p.startswith("studies/")),
                     key=lambda p: (order.get(p, len(order)), p))
    compare = sorted(p for p in pages if p.startswith("compare/"))
    nav: list[Any] = [p for p in NAV_FIRST if p in pages]
    if studies:
        nav.append({"Studies": studies})
    nav += [p for p in NAV_LAST[:3] if p in pages]
    if compare:
        nav.append({"Comparisons": compare})
    nav += [p for p in NAV_LAST[3:] if p in pages]
    listed = {p for p in nav if isinstance(p, str)} | set(studies) | set(compare)
    return nav + sorted(pages - listed)


def build_site(result_dirs: list[Path] | None, out: Path, strict: bool = True) -> dict[str, int]:
    """Generate into a private temporary folder, run ``mkdocs build`` into a fresh folder
    beside ``out``, then move it in (``bench.site.publish``: nothing of the user's is lost)."""
    import tempfile

    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    out = Path(out).resolve()
    check_out(out)
    if not CONFIG.exists() or not STATIC.is_dir():
        raise BenchError(f"bench site needs the project's mkdocs.yml and site_src/ (looked in "
                         f"{ROOT}); install from a clone with `pip install -e .`")
    result_dirs = result_dirs if result_dirs is not None else default_result_dirs()
    check_inputs(out, result_dirs)
    out.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:  # one per build
            docs = Path(tmp) / "docs"
            counts = generate(result_dirs, docs)
            os.environ["BENCH_SITE_GENERATED"] = "1"  # tell the MkDocs hook not to generate again
            try:
                config = load_config(str(CONFIG), docs_dir=str(docs), site_dir=str(built),
                                     strict=strict, nav=site_nav(docs), **provenance_config())
                build(config)
            finally:
                os.environ.pop("BENCH_SITE_GENERATED", None)
        install(built, out, result_dirs)
    finally:
        shutil.rmtree(built, ignore_errors=True)
    return counts


def provenance_config() -> dict[str, Any]:
    """The footer of every page: when and from which commit of the code the site was built,
    and (``BENCH_REPO_URL``, set by the site workflow) a link to the repository."""
    import datetime
    import html

    from bench.manifest import git_commit

    commit = git_commit() or "an unknown commit"
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    repo = os.environ.get("BENCH_REPO_URL", "").strip()
    shown = html.escape(commit[:12])
    if repo.startswith(("https://", "http://")):
        url = html.escape(repo.rstrip("/"), quote=True)
        shown = f'<a href="{url}/commit/{html.escape(commit, quote=True)}">{shown}</a>'
        extra = {"repo_url": repo}
    else:
        extra = {}
    footer = (f"Built {when} by dlhp-bench from commit {shown}. Each result set's own commits "
              "and sessions: its provenance box.")
    return {"copyright": footer, **extra}


def expand(patterns: list[str]) -> list[Path]:
    out: list[Path] = []
    for pat in patterns:
        hits = sorted(glob.glob(pat)) or [pat]
        out += [Path(h) for h in hits]
    return out


def _set_for_table(sets: list[ResultSet]) -> ResultSet | None:
    """The set with the most complete tabular benchmark (replays first, then table size)."""
    with_table = [s for s in sets if not s.get("derived/hpo_table").empty]
    return max(with_table, key=lambda s: (len(s.get("derived/hpo_tabular_ranks")),
                                          len(s.get("derived/hpo_table"))), default=None)


def publish_all(w: SiteWriter, sets: list[ResultSet]) -> None:
    primary = max(sets, key=lambda s: s.rank()) if sets else None
    home(w, sets, primary)
    for study in REGISTRY:
        if study.kind == "train":
            study_page(w, set_for(sets, study.name) or primary, study,
                       sets_with(sets, study.name)[1:])
    used = hpo_page(w, sets, _set_for_table(sets)) or ([primary] if primary else [])
    if used and "hpo.md" in w.pages:  # where its numbers come from
        w.pages["hpo.md"] += ("\n## Sources and provenance\n\nPapers: "
                              f"{cite('mnist_cnn_hpo_libs')}; {cite('mnist_cnn_optuna_hyperopt')}"
                              ".\n\n" + "".join(f"{rs.context()}.\n\n{provenance(rs)}"
                                                 for rs in used))
    user_study_pages(w, sets)
    claims_page(w, sets)
    speed_page(w, sets)
    result_sets_page(w, sets)
    data_page(w, sets)
    references_page(w)
    schema_page(w, ROOT_DOCS / "results.md")
