"""End to end in Chromium: decompose the demo image, move a slider and see the image change,
open a shared URL and find the exact view, download exports, and save a screenshot of every
page to test-results/ (the good ones are copied to docs/img/explorer_*.png by hand)."""
from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

RESULTS = Path(__file__).resolve().parents[2] / "test-results"

SMALL = "layout=2x2&steps=3&codes=4"


def idle(page: Page, timeout: float = 90_000) -> None:
    """Wait until the app is connected and no script or fragment run is in progress."""
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=timeout)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout)
    page.wait_for_timeout(300)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout)


def image(page: Page, caption: str):
    return page.locator("[data-testid='stImage']").filter(has_text=caption).locator("img").first


def metric(page: Page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return box.locator("[data-testid='stMetricValue']").inner_text()


def wait_for_mixer(page: Page, timeout: float = 120_000) -> None:
    expect(image(page, "current mix")).to_be_visible(timeout=timeout)
    idle(page)


def shot(page: Page, name: str) -> None:
    """Screenshot of the whole page: the main area scrolls inside the window, so the window is
    made as tall as the content (at most 4000 px) for the shot."""
    size = page.viewport_size
    height = page.evaluate("""() => { const m = document.querySelector("[data-testid='stMain']");
                                      return m ? m.scrollHeight : document.body.scrollHeight; }""")
    page.set_viewport_size({"width": size["width"], "height": int(min(4000, max(size["height"], height + 20)))})
    page.wait_for_timeout(1200)
    idle(page)
    page.screenshot(path=str(RESULTS / f"explorer_{name}.png"))
    page.set_viewport_size(size)


def set_number(page: Page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    idle(page)


def test_decompose_with_the_button_then_move_a_slider(page: Page, app_url: str):
    page.goto(app_url)
    idle(page)
    expect(page.get_by_role("heading", name=re.compile("seed"))).to_be_visible()
    shot(page, "start")
    # small settings through the UI: 2x2 layout, 3 steps, 4 baseline codes
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(has_text="Layout").click()
    page.get_by_role("option", name="2x2", exact=True).click()
    idle(page)
    page.get_by_text("Optimisation settings").click()
    set_number(page, "Steps per subset", 3)
    set_number(page, "Baseline codes M", 4)
    page.get_by_role("button", name=re.compile(r"Decompose \(16 subsets\)")).click()
    wait_for_mixer(page)
    assert metric(page, "Components on") == "15 / 15"
    before = image(page, "current mix").get_attribute("src")
    # the first component card's weight slider: to the left end
    slider = page.get_by_test_id("stMain").get_by_test_id("stSlider").filter(has_not_text="residual") \
        .filter(has_not_text="transplant").first
    slider.get_by_role("slider").focus()
    page.keyboard.press("Home")
    idle(page)
    expect(image(page, "current mix")).not_to_have_attribute("src", before, timeout=30_000)
    assert metric(page, "Additivity error") != "0.000"
    assert re.search(r"[?&]w=\d+(%3A|:)-1", page.url), page.url        # the URL carries the weight


def test_shared_url_restores_the_view(page: Page, app_url: str):
    page.goto(f"{app_url}/?{SMALL}&seed=2")                # a shared link starts its decomposition
    wait_for_mixer(page)
    rows = page.locator("[data-testid='stMarkdownContainer'] strong").filter(has_text=re.compile(r"^#\d+ \{"))
    first = re.search(r"#1 \{([\d,]+)\}", rows.first.inner_text()).group(1)
    # patches -> subset row (2x2: every patch is a player, bit = patch index)
    row = sum(1 << int(p) for p in first.split(","))
    url = f"{app_url}/?{SMALL}&seed=2&w={row}:0.5&off=1&r=0.25"
    page.goto(url)
    wait_for_mixer(page, 60_000)
    residual = page.locator("[data-testid='stSlider']").filter(has_text="residual")
    expect(residual.get_by_test_id("stSliderThumbValue")).to_have_text("0.25")
    expect(page.get_by_role("checkbox", name="on", exact=True)).to_have_count(12)
    assert metric(page, "Components on") == "14 / 15"
    weights = [s.inner_text() for s in page.get_by_test_id("stSliderThumbValue").all()]
    assert "0.50" in weights, weights
    for key in (f"w={row}%3A0.5", "off=1", "r=0.25", "seed=2", "layout=2x2"):
        assert key in page.url or key.replace("%3A", ":") in page.url, page.url
    # malformed values: one warning, defaults used, no traceback
    page.goto(f"{app_url}/?seed=-3&trunc=zz&w=oops")
    idle(page)
    warning = page.get_by_test_id("stAlert").filter(has_text="could not be used")
    expect(warning).to_be_visible()
    assert "seed='-3'" in warning.inner_text() and "trunc='zz'" in warning.inner_text()
    assert page.get_by_test_id("stException").count() == 0


def test_every_page_on_the_default_image(page: Page, app_url: str):
    """The default view (demo, face, seed 0, 3x3, default settings), decomposed with the button:
    every page, with a screenshot of each for the docs."""
    page.goto(app_url)
    idle(page)
    button = page.get_by_role("button", name=re.compile(r"Decompose \(512 subsets\)"))
    if button.count():            # (an earlier test's link may have started this job already)
        button.click()
    wait_for_mixer(page, 300_000)
    expect(page.get_by_role("checkbox", name="on", exact=True)).to_have_count(12)
    assert metric(page, "Components on") == "511 / 511"
    shot(page, "explore")
    page.get_by_role("tab", name="Build-up").click()
    expect(page.locator("[data-testid='stPlotlyChart']:visible").first).to_be_visible()
    idle(page)
    shot(page, "buildup")
    page.get_by_role("link", name="Components").click()
    expect(page.get_by_role("button", name="Solo in mixer").first).to_be_visible()
    expect(page.locator("[data-testid='stPlotlyChart']:visible").first).to_be_visible()
    idle(page)
    assert "/components" in page.url
    shot(page, "components")
    page.get_by_role("link", name="Faithfulness").click()
    expect(page.get_by_test_id("stPlotlyChart").nth(3)).to_be_visible(timeout=120_000)   # the page renders its charts last
    idle(page)
    assert page.get_by_test_id("stMetric").filter(has_text="Sparsity, top 20").count() == 1
    shot(page, "faithfulness")
    page.get_by_role("link", name="Export").click()
    expect(page.get_by_test_id("stDownloadButton").first).to_be_visible(timeout=120_000)
    idle(page)
    shot(page, "export")


def test_progress_time_left_and_cancel(page: Page, app_url: str):
    page.goto(f"{app_url}/?layout=3x3&steps=400&codes=4&seed=11")      # a slow job: the link waits for a click
    expect(page.get_by_text("costs more than the default one")).to_be_visible(timeout=60_000)
    idle(page)
    page.get_by_role("button", name=re.compile(r"Decompose \(512 subsets\)")).click()
    bar, start = page.get_by_test_id("stProgress"), page.get_by_role("button", name="Start")
    expect(bar.or_(start)).to_be_visible(timeout=60_000)
    idle(page)
    if start.count():                                                     # expected to be long: confirm
        start.click()
    expect(bar).to_be_visible(timeout=60_000)
    expect(bar).to_contain_text("left", timeout=60_000)                    # the estimate of time left
    expect(page.get_by_role("heading", name="face · seed 11")).to_be_visible()   # the page stays usable
    page.get_by_role("link", name="Faithfulness").click()
    expect(page.get_by_text("Decomposing in the background")).to_be_visible()
    expect(bar).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("The decomposition was cancelled.")).to_be_visible(timeout=60_000)
    assert "seed=11" in page.url and "/faithfulness" in page.url


def test_export_downloads(page: Page, app_url: str):
    page.goto(f"{app_url}/export?{SMALL}&seed=2&w=1:0")
    button = page.get_by_test_id("stDownloadButton").filter(has_text="Panel (PNG)")
    expect(button).to_be_visible(timeout=120_000)
    idle(page)
    checks = {"Panel (PNG)": (".png", b"\x89PNG"), "Panel (SVG)": (".svg", b"<?xml"),
              "Panel (PDF)": (".pdf", b"%PDF"), "Slide (PowerPoint)": (".pptx", b"PK"),
              "Decomposition file": (".safetensors", None), "Build-up (GIF)": (".gif", b"GIF8")}
    for label, (ext, magic) in checks.items():
        with page.expect_download(timeout=120_000) as info:
            page.get_by_test_id("stDownloadButton").filter(has_text=label).locator("button").click()
        dl = info.value
        assert dl.suggested_filename.endswith(ext), dl.suggested_filename
        data = open(dl.path(), "rb").read()
        if magic is not None:
            assert data.startswith(magic), (label, data[:16])
        else:
            header = int.from_bytes(data[:8], "little")
            assert b"regionprims" in data[8:8 + header]
