"""The built site in real Chromium, offline: answers above the fold, the JavaScript budget
of pages without charts, charts rendering on every page that has them, text readable at
390 px, and no broken internal link."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from tests.helpers import PAPER, QUICK, bench, make_set, require_chromium, site_in_chromium

JS_BUDGET = 300_000  # bytes of JavaScript a page without charts may load


@pytest.mark.browser
def test_site_in_chromium(tmp_path: Path) -> None:
    require_chromium()
    paper = make_set(tmp_path / "paper-box", PAPER)
    quick = make_set(tmp_path / "quick-box", QUICK, profile="quick")
    env = {k: v for k, v in os.environ.items() if k != "BENCH_SITE_URL"}
    out = bench("site", "--results", str(paper), "--results", str(quick), "--out",
                str(tmp_path / "site"), env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    site = tmp_path / "site"
    errors: list[str] = []
    with site_in_chromium(site) as (browser, base):
        desk = browser.new_page(viewport={"width": 1280, "height": 800})
        desk.on("pageerror", lambda e: errors.append(str(e)))
        desk.goto(base + "index.html")
        # the whole recommendation table is on the first screen at 1280 px
        answers = desk.locator("table").first
        last = answers.locator("tr", has_text="HPO library").bounding_box()
        assert last is not None and last["y"] + last["height"] <= 800, last
        assert "he_normal" in answers.locator("tr", has_text="Weight initializer").inner_text()

        budget, links = _walk(browser, base, site, errors)
        assert budget["no_chart_pages"] >= 4, budget
        assert budget["chart_pages"] >= 3, budget

        phone = browser.new_page(viewport={"width": 390, "height": 844})
        for path in ("index.html", "studies/initializers.html"):
            phone.goto(base + path)
            phone.wait_for_selector(".vega-chart[data-rendered=done]", timeout=30_000)
            smallest = phone.evaluate(_SMALLEST_TEXT)
            assert smallest >= 10, (path, smallest)
            widths = phone.eval_on_selector_all(
                ".vega-embed svg", "els => els.map(e => e.getBoundingClientRect().width)")
            assert max(widths) <= 390, (path, widths)
    assert not errors, errors
    assert not links, links


#: the smallest chart text as drawn on screen (font size x the SVG's scaling), in px
_SMALLEST_TEXT = """() => {
  let least = 1e9;
  document.querySelectorAll('.vega-embed svg').forEach(svg => {
    const drawn = svg.getBoundingClientRect().width;
    const own = svg.width.baseVal.value || drawn;
    svg.querySelectorAll('text').forEach(t => {
      if (!t.textContent.trim()) return;
      least = Math.min(least, parseFloat(getComputedStyle(t).fontSize) * drawn / own);
    });
  });
  return least;
}"""


def _walk(browser, base: str, site: Path, errors: list[str]) -> tuple[dict, list[str]]:
    """Open every page: JS bytes under budget where there is no chart, charts drawn where
    there are; collect internal links that point nowhere."""
    counts = {"no_chart_pages": 0, "chart_pages": 0}
    broken: list[str] = []
    for html in sorted(site.rglob("*.html")):
        rel = html.relative_to(site).as_posix()
        if rel == "404.html":
            continue
        context = browser.new_context()
        page = context.new_page()
        scripts: dict[str, int] = {}

        def on_response(r, scripts=scripts) -> None:
            if r.request.resource_type == "script" or r.url.endswith(".js"):
                try:
                    scripts[r.url] = len(r.body())
                except Exception:  # a worker's body may be gone; count it by its file
                    scripts[r.url] = (site / urlparse(r.url).path.lstrip("/")).stat().st_size

        context.on("response", on_response)
        page.on("pageerror", lambda e, rel=rel: errors.append(f"{rel}: {e}"))
        page.goto(base + rel)
        page.wait_for_load_state("networkidle")
        if page.locator(".vega-chart").count():
            page.wait_for_function(
                "() => [...document.querySelectorAll('.vega-chart')].every("
                "e => ['done', 'error'].includes(e.getAttribute('data-rendered')))",
                timeout=60_000)
            assert page.locator(".vega-chart[data-rendered=error]").count() == 0, rel
            counts["chart_pages"] += 1
        else:
            total = sum(scripts.values())
            assert total < JS_BUDGET, (rel, total, scripts)
            assert not [u for u in scripts if "vega-bundle" in u], rel
            counts["no_chart_pages"] += 1
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url = urljoin(base + rel, href)
            if not url.startswith(base) or url.endswith("/"):
                continue
            target = site / urlparse(url).path[len(urlparse(base).path):]
            if not target.exists():
                broken.append(f"{rel} -> {href}")
        context.close()
    return counts, broken
