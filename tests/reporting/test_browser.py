"""The report in a real browser: Debian's Chromium, headless, driven by playwright (which downloads nothing)."""
from __future__ import annotations

import shutil

import pytest

pytestmark = pytest.mark.slow   # a real Chromium, and every stage on the tiny data

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_report_loads_offline_in_chromium_with_every_image_and_no_error(pipeline, tmp_path):
    if CHROMIUM is None:   # a failure, not a skip: CI installs it (.ci/run), and a skipped test proves nothing
        pytest.fail("no chromium on PATH: install Debian's `chromium` package (`.ci/run` does)")
    from playwright.sync_api import sync_playwright

    page_url = (pipeline["reports"] / "index.html").resolve().as_uri()
    requests, problems = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})   # a laptop screen
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in
                    ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
            page.goto(page_url, wait_until="load")
            images = page.evaluate("Array.from(document.images, i => [i.alt, i.complete, i.naturalWidth])")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert len(images) == 10
    assert [alt for alt, complete, width in images if not (complete and width > 0)] == []
    assert problems == []
    # the page itself is the one request; every image is inline (data: URLs make no request)
    assert requests == [page_url]
    assert overflow <= 0, "the page scrolls sideways on a laptop screen"
    assert (tmp_path / "report.png").stat().st_size > 10_000
