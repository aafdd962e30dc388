"""Collects generated pages and chart specs, and writes them into the docs folder."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import altair as alt
import pandas as pd

from bench.store import atomic_write_bytes


@dataclass
class SiteWriter:
    """Pages (markdown) and chart specs (JSON files beside their page)."""

    docs: Path
    pages: dict[str, str | bytes] = field(default_factory=dict)
    charts: dict[str, dict] = field(default_factory=dict)

    def chart(self, page: str, name: str, chart: alt.TopLevelMixin) -> str:
        """Register a chart for ``page``; return the HTML placeholder that renders it."""
        folder = PurePosixPath(page).parent
        rel = f"charts/{PurePosixPath(page).stem}-{safe_name(name)}.json"
        spec = chart.to_dict()
        spec.setdefault("$schema", "https://vega.github.io/schema/vega-lite/v5.json")
        if isinstance(spec.get("width"), int | float):  # fill the column, down to a phone's
            spec["width"] = "container"
            spec["autosize"] = {"type": "fit-x", "contains": "padding"}
        self.charts[str(folder / rel)] = spec
        return f'<div class="vega-chart" data-spec="{html.escape(rel)}"></div>\n'

    def page(self, path: str, text: str | bytes) -> None:
        self.pages[path] = text

    def write(self) -> None:
        for path, text in self.pages.items():
            atomic_write_bytes(self.docs / path, text if isinstance(text, bytes) else text.encode())
        for path, spec in self.charts.items():
            atomic_write_bytes(self.docs / path, json.dumps(spec, separators=(",", ":")).encode())


def safe_name(name: str) -> str:
    """A file name from text that may come from data (a level label): letters, digits,
    ``-``, ``_`` and ``.`` kept, the rest replaced; a short hash keeps two names apart."""
    import hashlib
    import re

    clean = re.sub(r"[^A-Za-z0-9_.-]", "-", name).strip(".-")[:80] or "chart"
    if clean == name:
        return name
    return f"{clean}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def esc(value: object) -> str:
    """Text from data, safe inside Markdown and HTML (no tags, no table breaks)."""
    return html.escape(str(value)).replace("|", "\\|").replace("`", "&#96;")


def front_matter(title: str, hide_toc: bool = False) -> str:
    """YAML front matter naming the page: MkDocs would take the ``<title>`` and the navigation
    entry from the H1, and the theme unescapes it there; this title stays escaped."""
    hide = "hide:\n  - toc\n" if hide_toc else ""
    return f"---\ntitle: {json.dumps(html.escape(' '.join(str(title).split())))}\n{hide}---\n"


def md_table(df: pd.DataFrame, floats: str = "{:.4f}", html_cols: tuple[str, ...] = ()) -> str:
    """A Markdown table (no extra dependency); every cell and header is escaped except the
    ``html_cols`` the site built itself."""
    if df.empty:
        return "_no rows_\n"
    cols = list(df.columns)

    def fmt(v: object) -> str:
        if isinstance(v, float):
            return "" if v != v else floats.format(v)
        return esc(v)

    lines = ["| " + " | ".join(esc(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    raw = [c in html_cols for c in cols]
    lines += ["| " + " | ".join(str(v) if r else fmt(v) for v, r in zip(row, raw, strict=True))
              + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"
