"""The explorer's URL state (ui.urlstate): round trip, compact defaults, every malformed value
reported and defaulted, never raising."""
from __future__ import annotations

import random

import pytest

from regionprims.mix.state import W_MAX, W_MIN, ViewState
from regionprims.ui.urlstate import AppState, _decode_rows, _encode_rows, decode_state, encode_state

# ------------------------------------------------------------------------------ URL state

def test_url_round_trip():
    rng = random.Random(1)
    for _ in range(60):
        layout = rng.choice(["3x3", "2x2", "2x3", "paper"])
        players = None
        if rng.random() < 0.5:
            cells = 36 if layout == "paper" else int(layout[0]) * int(layout[2])
            players = tuple(sorted(rng.sample(range(cells), rng.randint(1, min(cells, 6)))))
        app = AppState(model="demo", class_id=rng.randrange(6), seed=rng.randrange(10 ** 6),
                       truncation=rng.choice([None, 0.5, 0.74]), split=rng.choice([None, "blocks.1"]),
                       layout=layout, players=players, steps=rng.choice([None, 7]), codes=rng.choice([None, 16]),
                       order=rng.choice([None, 2, 3]))
        n = app.n_players()
        rows = range(1, 2 ** n)
        view = ViewState(weights={r: rng.choice([0.0, -0.5, 1.5, 2.0]) for r in rng.sample(rows, min(3, len(rows)))},
                         off=frozenset(rng.sample(rows, rng.randint(0, len(rows)))),
                         solo=frozenset(rng.sample(rows, min(2, len(rows)))), residual=rng.choice([1.0, 0.0, 0.35]))
        app = AppState(**{**app.__dict__, "view": view})
        params = encode_state(app)
        back, errors = decode_state(params)
        assert errors == [], (params, errors)
        assert back == app, params


def test_url_defaults_are_empty_and_compact():
    assert encode_state(AppState()) == {}
    assert decode_state({}) == (AppState(), [])
    n = 9
    for off in (set(range(1, 512)), {r for r in range(1, 512) if r & 1}, {3}, set(range(2, 512))):
        text = _encode_rows(off, n)
        assert len(text) <= 90
        assert _decode_rows(text, n, "off", []) == frozenset(off)


@pytest.mark.parametrize("params, fragment", [
    ({"model": "nope"}, "model='nope' is unknown"),
    ({"cls": "zebra"}, "cls:"),
    ({"cls": "99"}, "cls:"),
    ({"seed": "-5"}, "seed='-5'"),
    ({"seed": str(2 ** 40)}, "outside"),
    ({"trunc": "abc"}, "not a number"),
    ({"trunc": "0"}, "trunc=0"),
    ({"trunc": "1.5"}, "outside"),
    ({"split": "blocks.9"}, "split='blocks.9'"),
    ({"layout": "9y9"}, "layout:"),
    ({"layout": "4x4"}, "layout:"),           # 16 players by default: more than 12
    ({"players": "0,99"}, "players:"),
    ({"players": "a,b"}, "players:"),
    ({"steps": "0"}, "steps=0"),
    ({"codes": "many"}, "codes='many'"),
    ({"w": "3:zz"}, "w: '3:zz'"),
    ({"w": "3:1e9"}, "outside"),
    ({"w": "900:0.5"}, "component row 900"),
    ({"w": "5:7"}, "outside"),
    ({"w": "oops"}, "not row:weight"),
    ({"off": "1,2,x"}, "off="),
    ({"off": "9999"}, "component row 9999"),
    ({"solo": "b!!"}, "solo="),
    ({"r": "nan"}, "outside"),
    ({"bogus": "1"}, "unknown parameter 'bogus'"),
])
def test_url_malformed_values_are_reported_and_defaulted(params, fragment):
    app, errors = decode_state(params)
    assert len(errors) == 1 and fragment in errors[0], errors
    assert app.view == ViewState() or all(W_MIN <= v <= W_MAX for v in app.view.weights.values())


def test_url_decoder_never_raises():
    rng = random.Random(2)
    alphabet = "0123456789,:.-+xbeE~_ abcAZ%"
    for _ in range(400):
        params = {k: "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
                  for k in rng.sample(["model", "cls", "seed", "trunc", "split", "layout", "players", "steps",
                                       "codes", "w", "off", "solo", "r", "zz"], 5)}
        app, errors = decode_state(params)
        assert isinstance(app, AppState) and all(isinstance(e, str) for e in errors)
        assert encode_state(app) is not None


def test_url_names_a_plugin_by_its_own_name(tmp_path, monkeypatch):
    """A REGIONPRIMS_MODELS plug-in goes into the URL under the name its factory gives it
    (wrap_module's name) and comes back as its spec; a name nothing listed gives is unknown."""
    import shutil
    from pathlib import Path

    from regionprims.models import registry
    src = tmp_path / "my_gen.py"
    shutil.copy(Path(__file__).with_name("plugin_generators.py"), src)
    src.write_text(src.read_text() + "\n\ndef make():\n    return make_unet()\n")
    spec = f"{src}:make"
    monkeypatch.setenv("REGIONPRIMS_MODELS", spec)
    registry.clear_loaded()
    try:
        app = AppState(model=spec, seed=3, layout="2x2", players=(0, 3))
        params = encode_state(app)
        assert params["model"] == "test-unet"
        assert decode_state(params) == (app, [])
        assert decode_state({"model": spec}) == (AppState(model=spec), [])        # an older link, by spec
        monkeypatch.delenv("REGIONPRIMS_MODELS")
        registry.clear_loaded()
        back, errors = decode_state(params)
        assert back.model == "demo" and "model='test-unet' is unknown" in errors[0]
    finally:
        registry.clear_loaded()
