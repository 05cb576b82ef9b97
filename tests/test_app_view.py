"""The explorer's backend without Streamlit: the mixer state and its presets, the live composite
and metrics, the URL encoding, and the background job registry."""
from __future__ import annotations

import random
import threading
import time

import pytest
import torch

from regionprims import jobs, pipeline
from regionprims.method import metrics as M
from regionprims.errors import UserError
from regionprims.progress import Cancelled
from regionprims.method.specs import OptimSettings
from regionprims.view import (AppState, Mixer, ViewState, _decode_rows, _encode_rows, composite, decode_state,
                              encode_state, preset)

SMALL = OptimSettings(steps=3, baseline_codes=4)


@pytest.fixture(scope="module")
def tiny_dec():
    from tiny_generator import TinyGenerator
    gen = TinyGenerator(seed=0)
    spec = pipeline.make_spec(gen, 1, 5, layout="2x2", settings=SMALL)
    dec, _ = pipeline.decompose(gen, spec)
    ctx = pipeline.image_and_feature(gen, spec)[3]
    return gen, dec, ctx


# ------------------------------------------------------------------------------ state + presets

def test_effective_weights_mute_and_solo():
    v = ViewState().with_weight(3, 0.5).mute(5)
    w = v.effective(8)
    assert w.tolist() == [0, 1, 1, 0.5, 1, 0, 1, 1]
    s = v.with_solo(3, True).with_solo(5, True)
    assert s.effective(8).tolist() == [0, 0, 0, 0.5, 0, 0, 0, 0]     # muted beats solo
    assert s.with_solo(3, False).with_solo(5, False).effective(8).tolist() == w.tolist()
    assert ViewState().with_weight(2, 7).weight(2) == 2.0              # clamped to the slider range
    assert ViewState().with_weight(2, 1.0).is_default()


def test_presets(tiny_dec):
    _, dec, _ = tiny_dec
    n, rows = dec.n, dec.components.shape[0]
    base = ViewState(residual=0.3).with_weight(1, 2.0)
    assert preset(base, "all", n).effective(rows)[1:].eq(1).all()
    assert preset(base, "all", n).residual == 0.3
    assert preset(base, "none", n).effective(rows).eq(0).all()
    top = preset(base, "top-k", n, dec.ranking, k=3).effective(rows)
    assert sorted(torch.nonzero(top).squeeze(1).tolist()) == sorted(dec.ranking[:3])
    only = preset(base, "only-region", n, region=2).effective(rows)
    but = preset(base, "but-region", n, region=2).effective(rows)
    assert all(bool(only[r]) == bool(r >> 2 & 1) for r in range(1, rows))
    assert torch.equal(only + but, torch.ones(rows).index_fill(0, torch.tensor([0]), 0))
    with pytest.raises(UserError):
        preset(base, "only-region", n, region=n)
    with pytest.raises(UserError):
        preset(base, "sideways", n)


def test_composite_identities(tiny_dec):
    _, dec, _ = tiny_dec
    assert torch.allclose(composite(dec, ViewState()), dec.feature, atol=1e-5)          # completeness
    none = preset(ViewState(residual=0.0), "none", dec.n)
    assert torch.allclose(composite(dec, none), dec.baseline, atol=1e-6)
    for i in range(dec.n):   # only region i rebuilds u({i}) exactly
        only = preset(ViewState(residual=0.0), "only-region", dec.n, region=i)
        assert torch.allclose(composite(dec, only), dec.minimal[1 << i], atol=1e-5)


# ------------------------------------------------------------------------------ live metrics

def test_live_additivity_matches_metric(tiny_dec):
    gen, dec, ctx = tiny_dec
    mx = Mixer(gen, dec, ctx)
    rows = dec.components.shape[0]
    rng = random.Random(0)
    for _ in range(10):
        keep = [r for r in range(1, rows) if rng.random() < 0.5]
        w = torch.zeros(rows)
        w[keep] = 1.0
        assert mx.additivity(w) == pytest.approx(M.additivity_error(dec.components, dec.minimal, keep)[0],
                                                 rel=1e-4, abs=1e-6)
    # arbitrary weights against the definition, computed directly
    w = torch.tensor([0.0] + [rng.uniform(-1, 2) for _ in range(rows - 1)])
    errs = []
    for t in range(1, rows):
        est = dec.baseline + sum(w[s] * dec.components[s] for s in range(1, rows) if s & t)
        errs.append(float((est - dec.minimal[t]).norm() / (dec.minimal[t] - dec.baseline).norm()))
    assert mx.additivity(w) == pytest.approx(sum(errs) / len(errs), rel=1e-4)
    top = torch.zeros(rows)
    top[dec.ranking[:M.TOP]] = 1
    expected = M.additivity_error(dec.components, dec.minimal, dec.ranking[:M.TOP])[0]
    assert mx.additivity(top) == pytest.approx(expected, abs=1e-5)


def test_frame_metrics(tiny_dec):
    gen, dec, ctx = tiny_dec
    mx = Mixer(gen, dec, ctx)
    full = mx.frame(ViewState())
    assert full.metrics["player_psnr"] > 60 and full.metrics["strength_on"] == pytest.approx(1.0)
    assert full.metrics["additivity_error"] == pytest.approx(0.0, abs=1e-6)
    assert full.metrics["components_on"] == dec.components.shape[0] - 1
    none = mx.frame(preset(ViewState(residual=0.0), "none", dec.n))
    assert none.metrics["components_on"] == 0 and none.metrics["strength_on"] == 0
    assert torch.allclose(none.image, mx.baseline_image, atol=1e-6)
    assert none.rgb.shape == (12, 12, 3) and none.diff.shape == (12, 12)
    mix, diff = mx.frame_pngs(none)
    assert mix[:8] == b"\x89PNG\r\n\x1a\n" and diff[:8] == b"\x89PNG\r\n\x1a\n"
    assert mx.card(dec.ranking[0])[:4] == b"\x89PNG" and mx.still("original")[:4] == b"\x89PNG"
    curve = mx.additivity_curve([1, 2, len(dec.ranking)])
    assert curve[-1] == pytest.approx(0.0, abs=1e-6)
    leak = mx.leakage(dec.ranking[:3])
    assert ((leak >= -1e-6) & (leak <= 1 + 1e-6)).all()
    shares = mx.patch_energy(dec.ranking[:3])
    assert shares.shape == (3, 4) and abs(shares.sum(1) - 1).max() < 1e-5
    b = mx.buildup(5)
    assert b.ks == list(range(6))


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
                       layout=layout, players=players, steps=rng.choice([None, 7]), codes=rng.choice([None, 16]))
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
    assert app.view == ViewState() or "w" not in params


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


# ------------------------------------------------------------------------------ jobs

def test_same_request_is_one_job_and_lands_in_cache(tiny_gen):
    reg = jobs.JobRegistry()
    spec = pipeline.make_spec(tiny_gen, 0, 3, layout="2x2", settings=SMALL)
    a = jobs.submit_decomposition(tiny_gen, spec, "tab-a", reg)
    b = jobs.submit_decomposition(tiny_gen, spec, "tab-b", reg)
    assert a is b and a.owners == {"tab-a", "tab-b"}
    job = reg.wait(a.key, 60)
    assert job.state == jobs.DONE and job.result is not None and reg.runs == 1
    assert jobs.submit_decomposition(tiny_gen, spec, "tab-c", reg) is job      # finished: no new run
    fresh = jobs.JobRegistry()
    dec, key = jobs.lookup(spec, fresh)                                        # from the disk cache
    assert key == a.key and dec is not None and torch.equal(dec.components, job.result.components)
    reg.shutdown()


def test_cancel_needs_every_owner_and_reports(tiny_gen):
    reg = jobs.JobRegistry()
    started, release = threading.Event(), threading.Event()

    def slow(progress, cancel):
        started.set()
        for i in range(200):
            progress(i, 200, "working")
            release.wait(0.01)
            if cancel.is_set():
                raise Cancelled("cancelled")
        raise AssertionError("not cancelled")

    job = reg.submit("k", slow, "a")
    reg.submit("k", slow, "b")
    assert started.wait(10)
    assert reg.cancel("k", "a") is False and not job.cancel.is_set()         # b still waits for it
    assert reg.cancel("k", "b") is True
    assert reg.wait("k", 10).state == jobs.CANCELLED
    again = reg.submit("k", lambda p, c: (None, False), "a")                   # a cancelled job is replaced
    assert again is not job
    reg.wait("k", 10)
    reg.shutdown()


def test_errors_are_one_line_and_progress_gives_eta():
    reg = jobs.JobRegistry()

    def bad(progress, cancel):
        raise UserError("class 'zebra' is unknown")

    def crash(progress, cancel):
        raise RuntimeError("boom\nwith a second line")

    reg.submit("bad", bad, "a")
    reg.submit("crash", crash, "a")
    assert reg.wait("bad").error == "class 'zebra' is unknown"
    err = reg.wait("crash").error
    assert err.startswith("internal error (RuntimeError)")
    j = jobs.Job(key="x", label="x", fn=None)
    j.state, j.started = jobs.RUNNING, time.monotonic() - 10
    j._progress(0, 100, "a")
    j.stage_started = time.monotonic() - 10
    j._progress(25, 100, "a")
    assert j.eta_seconds() == pytest.approx(30, rel=0.05)
    reg.shutdown()
