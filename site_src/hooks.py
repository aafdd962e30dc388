"""MkDocs hook: plain `mkdocs build` generates the pages from data_cache/results first."""

from __future__ import annotations

import os
from pathlib import Path


def on_config(config, **kwargs):
    if os.environ.get("BENCH_SITE_GENERATED"):
        return config
    from bench.site.build import ROOT, default_result_dirs, generate, provenance_config, site_nav

    docs = ROOT / "build" / "site_docs"
    generate(default_result_dirs(), docs)
    config["docs_dir"] = str(Path(docs))
    config["nav"] = site_nav(docs)
    config.update(provenance_config())
    return config
