"""``bench site``: build from a result set, then check it in real Chromium, offline."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from bench.store import ResultStore
from tests.helpers import bench
from tests.test_report import _tables

CHROMIUM = Path("/usr/bin/chromium")


def _result_set(root: Path) -> Path:
    """A small but real-shaped result set written through the store."""
    import json

    runs, epochs = _tables({"he_normal": [0.80, 0.82, 0.81], "zeros": [0.1, 0.1, 0.1],
                            "selu": [0.78, 0.79, 0.8]})
    store = ResultStore(root)
    store.update_manifest(machine={"cpu": "test cpu", "cpu_count": 2, "gpus": []},
                          keras_backend="tensorflow")
    for run in runs.to_dict("records"):
        rid = run["run_id"]
        run.update(dataset="fashion_mnist", model="mlp_512_128_32", n_train=100,
                   test_fraction=1.0, arch={"kind": "mlp"},
                   factors={"factor": run.pop("factor"), "level": run.pop("level"),
                            "profile": run.pop("profile")})
        store.write_record("runs", rid, {
            "run": run, "epochs": epochs[epochs["run_id"] == rid].drop(columns="run_id")
            .to_dict("records"), "classes": [], "confusion": [], "predictions": []})
    json.dumps(store.compact())
    from bench.report import build_report

    build_report(store)  # what `bench run` and `bench compact` do: the site only reads
    return root


def test_site_builds_and_pages_stay_small(tmp_path: Path) -> None:
    import hashlib

    results = _result_set(tmp_path / "set-a")

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


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.browser
def test_charts_render_offline_in_chromium(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    results = _result_set(tmp_path / "set-a")
    out = bench("site", "--results", str(results), "--out", str(tmp_path / "site"))
    assert out.returncode == 0, out.stderr[-3000:]
    handler = functools.partial(_Quiet, directory=str(tmp_path / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    errors, outside = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"])
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
            browser.close()
    finally:
        server.shutdown()
    assert not errors, errors
    assert not outside, outside


def test_two_result_sets_side_by_side(tmp_path: Path) -> None:
    import json

    a, b = _result_set(tmp_path / "cpu-box"), _result_set(tmp_path / "gpu-box")
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
    results = _result_set(tmp_path / "set-a")
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
    results = _result_set(tmp_path / "set-<script>x</script>")
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

    a, b = _result_set(tmp_path / "set-alpha"), _result_set(tmp_path / "set-beta")
    procs = [subprocess.Popen([sys.executable, "-m", "bench", "site", "--results", str(s),
                               "--out", str(tmp_path / f"out-{s.name}")], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for s in (a, b)]
    for p in procs:
        assert p.wait(timeout=600) == 0, p.stderr.read()[-2000:]
    for mine, other in (("set-alpha", "set-beta"), ("set-beta", "set-alpha")):
        home = (tmp_path / f"out-{mine}" / "index.html").read_text()
        assert mine in home and other not in home
