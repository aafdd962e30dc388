"""``bench site``: build from a result set, then check it in real Chromium, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.store import ResultStore
from tests.helpers import bench, require_chromium, result_set, site_in_chromium


def test_site_builds_and_pages_stay_small(tmp_path: Path) -> None:
    import hashlib

    results = result_set(tmp_path / "set-a")

    def files() -> dict[str, str]:
        return {p.relative_to(results).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(results.rglob("*")) if p.is_file()}

    before = files()
    out = bench("site", "--results", str(results), "--out", str(tmp_path / "site"),
                env={"BENCH_SITE_URL": "https://example.org/bench/",
                     "BENCH_REPO_URL": "https://github.com/example/dlhp-bench"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert files() == before  # the site reads a result set; it never writes into one
    site = tmp_path / "site"
    assert (site / "index.html").exists() and (site / "studies" / "initializers.html").exists()
    # the published address (the site workflow's BENCH_SITE_URL) makes the canonical links
    assert '<link rel="canonical" href="https://example.org/bench/index.html">' in \
        (site / "index.html").read_text()
    assert "https://example.org/bench/claims.html" in (site / "sitemap.xml").read_text()
    from bench.manifest import git_commit

    for page in (site / "index.html", site / "studies" / "initializers.html"):  # the footer
        text = page.read_text()
        assert "Built 20" in text and "UTC by dlhp-bench from commit" in text
        assert f'https://github.com/example/dlhp-bench/commit/{git_commit()}' in text
    assert (site / "javascripts" / "vendor" / "vega-bundle.js").exists()
    assert "No data yet" in (site / "studies" / "keras_models.html").read_text()
    page = (site / "studies" / "initializers.html").read_text()
    assert "each level against it (paired by seed)" in page
    assert "prediction interval" in page and "verdict-" in page
    levels_chart = (site / "studies" / "charts" / "initializers-levels.json").read_text()
    assert '"seed"' in levels_chart  # one dot per seed beside each mean
    for page in site.rglob("*.html"):
        charts = page.parent / "charts"
        size = page.stat().st_size + sum(
            c.stat().st_size for c in charts.glob(f"{page.stem}-*.json")) if charts.exists() else 0
        assert size < 1_000_000, page
    for html in site.rglob("*.html"):
        text = html.read_text()
        assert "cdn.jsdelivr" not in text and "vega@" not in text
        # chart specs are JSON files fetched by init.js, never inline JSON scripts
        assert text.count('type="application/json"') == text.count('id="__config"')


def test_site_with_no_result_sets_builds(tmp_path: Path) -> None:
    out = bench("site", "--results", str(tmp_path / "empty-set"), "--out", str(tmp_path / "s"))
    assert out.returncode == 2 and "does not exist" in out.stderr
    (tmp_path / "empty-set").mkdir()
    ResultStore(tmp_path / "empty-set")
    out = bench("site", "--results", str(tmp_path / "empty-set"), "--out", str(tmp_path / "s"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "No data yet" in (tmp_path / "s" / "studies" / "optimizers.html").read_text()


@pytest.mark.browser
def test_charts_render_offline_in_chromium(tmp_path: Path) -> None:
    require_chromium()
    results = result_set(tmp_path / "set-a")
    out = bench("site", "--results", str(results), "--out", str(tmp_path / "site"))
    assert out.returncode == 0, out.stderr[-3000:]
    errors, outside = [], []
    flags = ("--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run")
    with site_in_chromium(tmp_path / "site", *flags) as (browser, base):
        page = browser.new_page()

        def route(r):
            if r.request.url.startswith(base):
                return r.continue_()
            outside.append(r.request.url)
            return r.abort()

        page.route("**/*", route)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for path in ("studies/initializers.html", "speed.html"):
            page.goto(base + path)
            page.wait_for_selector(".vega-embed svg .mark-symbol, .vega-embed svg .mark-rect,"
                                   " .vega-embed svg .mark-line", timeout=20_000)
            assert page.locator("[data-rendered=error]").count() == 0
        # instant navigation: click a link to another chart page, charts render again
        page.goto(base + "studies/initializers.html")
        page.wait_for_selector(".vega-embed svg")
        page.click("a[href$='speed.html']")
        page.wait_for_url("**/speed.html")
        page.wait_for_selector(".vega-embed svg .mark-rect", timeout=20_000)
        assert page.evaluate("typeof window.document$") != "undefined"  # instant nav on
        page.screenshot(path=str(tmp_path / "shot.png"))
        # a page without charts does not download the Vega bundle
        fresh = browser.new_page()
        scripts: list[str] = []
        fresh.on("request", lambda r: scripts.append(r.url))
        fresh.goto(base + "claims.html")
        fresh.wait_for_load_state("networkidle")
        assert not [u for u in scripts if "vega-bundle" in u], scripts
        # on a 390 px phone the charts fit the screen
        phone = browser.new_page(viewport={"width": 390, "height": 800})
        phone.goto(base + "studies/initializers.html")
        phone.wait_for_selector(".vega-embed svg .mark-symbol", timeout=20_000)
        widths = phone.eval_on_selector_all(
            ".vega-embed svg", "els => els.map(e => e.getBoundingClientRect().width)")
        assert widths and max(widths) <= 390, widths
    assert not errors, errors
    assert not outside, outside


def test_two_result_sets_side_by_side(tmp_path: Path) -> None:
    import json

    a, b = result_set(tmp_path / "cpu-box"), result_set(tmp_path / "gpu-box")
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["machine"] = {"cpu": "host cpu", "cpu_count": 16, "gpus": ["NVIDIA H100"]}
    (b / "manifest.json").write_text(json.dumps(manifest))
    out = bench("site", "--results", str(a), "--results", str(b), "--out", str(tmp_path / "s"))
    assert out.returncode == 0, out.stderr[-2000:]
    page = (tmp_path / "s" / "result-sets.html").read_text()
    assert "cpu-box" in page and "gpu-box" in page and "NVIDIA H100" in page
    assert "cpu-box--vs--gpu-box.html" in page
    compare = (tmp_path / "s" / "compare" / "cpu-box--vs--gpu-box.html").read_text()
    assert "NVIDIA H100" in compare and "test cpu" in compare
    speed = json.loads((tmp_path / "s" / "charts" / "speed-throughput.json").read_text())
    sets = {row["result_set"] for rows in speed["datasets"].values() for row in rows}
    assert sets == {"cpu-box", "gpu-box"}


def test_out_that_is_not_a_site_is_never_emptied(tmp_path: Path) -> None:
    results = result_set(tmp_path / "set-a")
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    out = bench("site", "--results", str(results), "--out", str(precious))
    assert out.returncode == 2 and "non-empty folder" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert (precious / "thesis.tex").read_text() == "years of work"
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    out = bench("site", "--results", str(results), "--out", str(a_file))
    assert out.returncode == 2 and "is a file" in out.stderr
    assert a_file.read_text() == "x"
    site = tmp_path / "site"  # a folder bench site built may be rebuilt
    for _ in range(2):
        assert bench("site", "--results", str(results), "--out", str(site)).returncode == 0


def test_text_from_data_is_escaped(tmp_path: Path) -> None:
    evil = "<img src=x onerror=alert(1)>"
    results = result_set(tmp_path / "set-<script>x</script>")
    store = ResultStore(results)
    store.update_manifest(machine={"cpu": evil, "cpu_count": 2, "gpus": []})
    out = bench("site", "--results", str(results), "--out", str(tmp_path / "site"))
    assert out.returncode == 0, out.stderr[-3000:]
    for page in (tmp_path / "site").rglob("*.html"):
        text = page.read_text()
        assert evil not in text and "<script>x</script>" not in text, page


def test_two_site_builds_at_once_publish_their_own_results(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.helpers import ROOT

    a, b = result_set(tmp_path / "set-alpha"), result_set(tmp_path / "set-beta")
    procs = [subprocess.Popen([sys.executable, "-m", "bench", "site", "--results", str(s),
                               "--out", str(tmp_path / f"out-{s.name}")], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for s in (a, b)]
    for p in procs:
        assert p.wait(timeout=600) == 0, p.stderr.read()[-2000:]
    for mine, other in (("set-alpha", "set-beta"), ("set-beta", "set-alpha")):
        home = (tmp_path / f"out-{mine}" / "index.html").read_text()
        assert mine in home and other not in home
