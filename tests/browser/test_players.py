"""Players on the image, in Chromium: a click anywhere in a grid patch of the Explore page's image
makes it a player or not, the same state as the patch buttons (their colour, the URL's players=);
a screenshot of the picker goes to test-results/explorer_players.png."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from test_explorer import RESULTS, idle

PICKER = ".st-key-px_preview [data-testid='stPlotlyChart']"


def players(page: Page, n: int) -> list[int]:
    """The patches whose button is primary (the players), read off the buttons."""
    kinds = [page.locator(f".st-key-patch_{p} button").first.get_attribute("kind") for p in range(n)]
    return [p for p, kind in enumerate(kinds) if kind == "primary"]


def open_picker(page: Page):
    """The image's plot area (its box, for clicking), opening the Players expander when it is closed."""
    chart = page.locator(PICKER)
    if not chart.is_visible():
        page.get_by_text("Players: click patches").click()
        idle(page)
    expect(chart).to_be_visible(timeout=60_000)
    area = chart.locator(".nsewdrag").first
    expect(area).to_be_visible()
    return area.bounding_box()


def click_at(page: Page, fx: float, fy: float) -> None:
    """Click the picker's image at a fraction of its width and height (hover first, as a user does)."""
    box = open_picker(page)
    x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
    page.mouse.move(x, y)
    page.wait_for_timeout(200)
    page.mouse.click(x, y)
    page.wait_for_timeout(500)
    idle(page)


def test_click_a_patch_on_the_image_toggles_it(page: Page, app_url: str):
    page.goto(app_url)                                   # the default image: 3x3, every patch a player
    idle(page)
    open_picker(page)
    assert players(page, 9) == list(range(9))
    click_at(page, 0.5, 0.5)                             # the middle of patch 4
    expect(page.locator(".st-key-patch_4 button").first).to_have_attribute("kind", "secondary", timeout=30_000)
    assert players(page, 9) == [0, 1, 2, 3, 5, 6, 7, 8]
    assert re.search(r"players=0(%2C|,)1(%2C|,)2(%2C|,)3(%2C|,)5(%2C|,)6", page.url), page.url
    click_at(page, 0.97, 0.05)                           # near a corner of patch 2: the whole patch is clickable
    expect(page.locator(".st-key-patch_2 button").first).to_have_attribute("kind", "secondary", timeout=30_000)
    assert players(page, 9) == [0, 1, 3, 5, 6, 7, 8]
    page.get_by_text("Players —").first.scroll_into_view_if_needed()
    box = open_picker(page)
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.45 * box["height"])   # hover: what a click does
    expect(page.locator(".hoverlayer .hovertext")).to_contain_text("patch 4: click to make it a player")
    page.wait_for_timeout(300)
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "explorer_players.png"))                      # the window: sidebar and picker
    click_at(page, 0.4, 0.6)                             # patch 4 again: a player again; the buttons agree
    expect(page.locator(".st-key-patch_4 button").first).to_have_attribute("kind", "primary", timeout=30_000)
    page.locator(".st-key-patch_2 button").first.click()  # the keyboard's path feeds the same state
    idle(page)
    assert players(page, 9) == list(range(9))
    assert page.get_by_test_id("stException").count() == 0
