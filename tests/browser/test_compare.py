"""In Chromium: the Explore page's Geometric null toggle (the cards and the live metrics change,
the URL records it, toggling back restores them) and a transplant from a second cached seed (the
mix changes live, the URL records it, Remove transplant undoes it); screenshots of both
(test-results/explorer_null.png, explorer_transplant.png; copied to docs/img by hand)."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from test_explorer import SMALL, idle, image, metric, shot, wait_for_mixer

CARD = re.compile(r"^#\d+ \{")


def card_texts(page: Page) -> list[str]:
    """The cards' headers with their share of strength: '#1 {0} · 23.4 % of strength'."""
    strong = page.locator("strong").filter(has_text=CARD)
    return page.locator("[data-testid='stMarkdownContainer']").filter(has=strong).all_inner_texts()


def choose(page: Page, box, name: str) -> None:
    """Pick an option of a selectbox (opened again if a rerun closed it meanwhile)."""
    option = page.get_by_role("option", name=name, exact=True)
    for _ in range(3):
        box.click()
        try:
            option.wait_for(state="visible", timeout=10_000)
            break
        except PlaywrightTimeout:
            idle(page)
    option.click()


def top_k(page: Page, k: int) -> None:
    field = page.get_by_label("k", exact=True)
    field.fill(str(k))
    field.press("Enter")
    idle(page)
    page.get_by_role("button", name="Top k", exact=True).click()
    idle(page)


def test_the_null_toggle_switches_the_cards_and_the_metrics(page: Page, app_url: str):
    page.goto(f"{app_url}/?{SMALL}&seed=6")
    wait_for_mixer(page, 300_000)
    expect(page.get_by_test_id("stMetric").filter(has_text="Strength beyond the grid")).to_be_visible()
    expect(page.locator(".st-key-px_null [data-testid='stPlotlyChart']")).to_be_visible()   # method vs null
    top_k(page, 3)
    expect(page.get_by_test_id("stMetric").filter(has_text="Components on").first).to_contain_text("3 / 15")
    cards, strength = card_texts(page), metric(page, "Strength on")
    page.get_by_text("Geometric null", exact=True).click()
    idle(page)
    expect(page.get_by_text("tight geometric null's", exact=False).first).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Strength on").first).not_to_contain_text(strength)
    assert card_texts(page) != cards
    assert metric(page, "Components on") == "3 / 15"                            # same view, the null's cards
    assert "null=1" in page.url, page.url
    expect(page.get_by_test_id("stMetric").filter(has_text="Strength beyond the grid")).to_be_visible()
    shot(page, "null")
    page.get_by_text("Geometric null", exact=True).click()
    idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Strength on").first).to_contain_text(strength)
    assert card_texts(page) == cards and "null=1" not in page.url
    assert page.get_by_test_id("stException").count() == 0


def test_a_transplant_from_a_second_cached_seed_changes_the_mix_and_is_undone(page: Page, app_url: str):
    page.goto(f"{app_url}/?{SMALL}&seed=7")                  # the donor: decomposed into the cache
    wait_for_mixer(page, 300_000)
    page.goto(f"{app_url}/?{SMALL}&seed=6")
    wait_for_mixer(page, 300_000)
    psnr, before = metric(page, "PSNR on players"), image(page, "current mix").get_attribute("src")
    page.get_by_text("Transplant a component from another cached decomposition").click()
    donor = page.get_by_test_id("stSelectbox").filter(has_text="donor")
    expect(donor).to_be_visible()
    idle(page)
    choose(page, donor, "face · seed 7")
    idle(page)
    page.get_by_role("button", name=re.compile("^.?Transplant$")).click()
    idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Transplant change inside").first).to_be_visible()
    expect(image(page, "current mix")).not_to_have_attribute("src", before, timeout=30_000)
    assert metric(page, "PSNR on players") != psnr
    assert re.search(r"[?&]tp=[0-9a-f]{32}(%3A|:)\d+", page.url), page.url
    with_one = image(page, "current mix").get_attribute("src")
    weight = page.get_by_test_id("stSlider").filter(has_text="transplant weight")
    weight.get_by_role("slider").focus()
    page.keyboard.press("Home")                                # weight -1: the mix re-renders live
    idle(page)
    expect(image(page, "current mix")).not_to_have_attribute("src", with_one, timeout=30_000)
    assert re.search(r"tp=[0-9a-f]{32}(%3A|:)\d+(%3A|:)-1", page.url), page.url
    page.keyboard.press("End")                                 # weight 2, for the screenshot
    idle(page)
    shot(page, "transplant")
    page.get_by_role("button", name=re.compile("Remove transplant")).click()
    idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="PSNR on players").first).to_contain_text(psnr)
    assert "tp=" not in page.url and page.get_by_test_id("stMetric").filter(has_text="Transplant change").count() == 0
    assert page.get_by_test_id("stException").count() == 0
