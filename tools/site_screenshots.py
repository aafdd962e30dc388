"""Screenshots of a built site for the README: the first screen of a few pages at 1280 and
390 px, in Chromium, saved as small palette PNGs under docs/img/.

    python -m bench site --out /tmp/site && python tools/site_screenshots.py /tmp/site
"""

from __future__ import annotations

import functools
import http.server
import sys
import threading
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
WIDTHS = {1280: 800, 390: 844}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def shoot(site: Path, pages: dict[str, str]) -> list[Path]:
    """``pages``: output stem -> page path in the site. Returns the files written."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    written = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu"])
            for stem, path in pages.items():
                for width, height in WIDTHS.items():
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.goto(base + path)
                    if page.locator(".vega-chart").count():
                        page.wait_for_selector(".vega-chart[data-rendered=done]",
                                               timeout=60_000)
                    page.wait_for_timeout(500)
                    raw = OUT / f"{stem}-{width}.raw.png"
                    page.screenshot(path=str(raw))
                    image = Image.open(raw).convert("RGB").quantize(colors=256)
                    target = OUT / f"{stem}-{width}.png"
                    image.save(target, optimize=True)
                    raw.unlink()
                    written.append(target)
                    page.close()
            browser.close()
    finally:
        server.shutdown()
    return written


if __name__ == "__main__":
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    compare = sorted((site / "compare").glob("*.html"))
    pages = {"home": "index.html", "study": "studies/optimizers_lr.html"}
    if compare:
        pages["compare"] = compare[0].relative_to(site).as_posix()
    for f in shoot(site, pages):
        print(f, f"{f.stat().st_size / 1024:.0f} KB")
