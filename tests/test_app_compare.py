"""The Explore page's method-vs-null view and transplants (AppTest, demo generator, 2x2 layout, 3
steps, 4 baseline codes): the Geometric null toggle switches the cards, the mix and its metrics and
the URL records it; a transplant from a second cached seed changes the mix and is undone; the URL
round trip of both, and a link whose donor is not cached."""
from __future__ import annotations

from test_app import _fresh, demo_weights, full, metric, new_app, url, wait_for_result  # noqa: F401 (fixtures)

from regionprims.mix.transplant import TransplantRef, donor_hash

SMALL = {"layout": "2x2", "steps": "3", "codes": "4"}
WAIT = 400.0                    # seconds for one decomposition on a loaded 2-core machine


def cards(at) -> list[str]:
    """The component cards' headers, '#1 {0,2} · 23.4 % of strength', in page order."""
    return [m.value for m in at.markdown if m.value.startswith("**#")]


def decomposed(seed: int) -> str:
    """Decompose SMALL at `seed` through the explorer (into the test's cache); its key's hash."""
    at = wait_for_result(new_app({**SMALL, "seed": str(seed)}), WAIT)
    return donor_hash(at.session_state["current"].key)


def test_the_null_toggle_switches_cards_mix_and_metrics_and_the_url_records_it():
    at = wait_for_result(new_app({**SMALL, "seed": "3"}), WAIT)
    assert at.toggle(key="null_toggle").value is False
    assert any(m.label == "Strength beyond the grid" for m in at.metric)           # the beyond figures
    assert at.get("plotly_chart"), "the method-vs-null build-up chart"
    full(at).number_input(key="preset_k").set_value(2).run()
    full(at).button(key="preset_topk").click().run()
    method_cards, method_psnr = cards(full(at)), metric(at, "PSNR on players")
    at.toggle(key="null_toggle").set_value(True).run()
    assert at.session_state["null_mode"] is True and url(at)["null"] == "1"
    assert cards(at) != method_cards and metric(at, "PSNR on players") != method_psnr
    assert metric(at, "Components on") == "2 / 15"                              # the same controls and view
    assert any(m.label == "Strength beyond the grid" for m in at.metric)           # still in view
    top = at.session_state["current"].dec.ranking[0]
    at.slider(key=f"w_{top}").set_value(0.5).run()                                 # a control of the null's cards
    assert not at.exception and url(at)["null"] == "1"
    full(at).toggle(key="null_toggle").set_value(False).run()
    assert "null" not in url(at) and cards(at) == method_cards
    reopened = new_app({**SMALL, "seed": "3", "null": "1"}).run()                  # a link opens the null
    assert reopened.toggle(key="null_toggle").value is True and not reopened.warning


def test_a_transplant_from_a_second_cached_seed_changes_the_mix_is_undone_and_a_link_reopens_it():
    donor = decomposed(4)
    at = wait_for_result(new_app({**SMALL, "seed": "3"}), WAIT)
    before = metric(at, "PSNR on players")
    assert at.selectbox(key="tp_donor").options == ["face · seed 4"]
    row = at.session_state["tp_row"]
    at.button(key="tp_apply").click().run()
    assert at.session_state["transplant"] == TransplantRef(donor, row, 1.0)
    assert url(at)["tp"] == f"{donor}:{row}"
    with_it = metric(at, "PSNR on players")
    assert with_it != before
    assert any(m.label.startswith("Transplant change inside") for m in at.metric)
    full(at).slider(key="tp_weight").set_value(0.5).run()
    assert url(at)["tp"] == f"{donor}:{row}:0.5" and metric(at, "PSNR on players") not in (before, with_it)
    full(at).switch_page("pages/export.py").run()                                   # the export carries it
    assert not at.exception and any("Transplant: + 0.5 ×" in c.value for c in at.caption)
    at.switch_page("pages/explore.py").run()
    full(at).button(key="tp_remove").click().run()
    assert at.session_state["transplant"] is None and "tp" not in url(at)
    assert metric(at, "PSNR on players") == before
    # a link: its transplant opens when the donor is cached, else it is named and left out
    link = new_app({**SMALL, "seed": "3", "tp": f"{donor}:3:0.25"}).run()
    assert link.session_state["transplant"] == TransplantRef(donor, 3, 0.25)
    assert link.slider(key="tp_weight").value == 0.25 and link.selectbox(key="tp_row").value == 3
    assert any(m.label.startswith("Transplant change inside") for m in link.metric) and url(link)["tp"] == f"{donor}:3:0.25"
    missing = new_app({**SMALL, "seed": "3", "tp": f"{'f' * 32}:3"}).run()
    assert missing.session_state["transplant"] is None and "tp" not in url(missing)
    assert any("not in this explorer's cache" in i.value for i in missing.info)
