"""The explorer's memory is bounded by bytes: the store the sessions share (prepared mixers and
previews) stays under REGIONPRIMS_EXPLORER_MB however many decompositions are opened, evicting
the least recently used; one session's own store stays under REGIONPRIMS_SESSION_MB; a prepared
mixer's memo of patterns, and the pictures kept of a decomposition, under
REGIONPRIMS_MIXER_MEMO_MB; a session keeps no decomposition alive between its runs; and a closed
session's store is emptied."""
from __future__ import annotations

import gc

import pytest
import torch

from regionprims import jobs
from regionprims.method.specs import OptimSettings

MB = 1 << 20


@pytest.fixture
def fresh(monkeypatch):
    """A fresh shared store and job registry; the budgets as each test sets them."""
    from regionprims.ui import resources
    resources.reset_shared()
    jobs.reset_registry()
    yield monkeypatch
    resources.reset_shared()
    jobs.reset_registry()


@pytest.fixture(scope="module")
def decs(tiny_gen):
    """Five small decompositions of the tiny generator (different seeds)."""
    from regionprims.pipeline import decompose, make_spec
    out = []
    for seed in range(5):
        spec = make_spec(tiny_gen, 1, seed, layout="2x2", settings=OptimSettings(steps=2, baseline_codes=4))
        out.append(decompose(tiny_gen, spec)[0])
    return out


def key_of(dec) -> str:
    from regionprims.pipeline import decomposition_key
    return decomposition_key(dec.spec)


def test_budgets_come_from_the_environment(monkeypatch):
    from regionprims.ui import memory
    monkeypatch.setenv("REGIONPRIMS_EXPLORER_MB", "96")
    monkeypatch.setenv("REGIONPRIMS_SESSION_MB", "0.5")
    monkeypatch.setenv("REGIONPRIMS_MIXER_MEMO_MB", "nonsense")
    assert memory.explorer_bytes() == 96 * MB
    assert memory.session_bytes() == MB // 2
    assert memory.mixer_memo_bytes() == memory.MIXER_MEMO_MB * MB
    monkeypatch.setenv("REGIONPRIMS_EXPLORER_MB", "-3")
    assert memory.explorer_bytes() == memory.EXPLORER_MB * MB


def test_sizes_are_the_payload_bytes():
    from regionprims.ui import memory
    t = torch.zeros(1000, dtype=torch.float64)
    assert memory.nbytes(t) == 8000
    assert memory.nbytes(b"x" * 300) == 300
    assert memory.nbytes({"a": t, "b": [t, b"yy"]}) == 8000 + 2 + 2       # the shared tensor once, keys too


def test_lru_by_size_evicts_the_least_recently_used_first():
    from regionprims.ui.memory import ByteLRU
    lru = ByteLRU(budget=1000)
    for name in "abc":
        lru.put(name, b"." * 300)
    assert lru.get("a") is not None                  # a is now the most recently used
    lru.put("d", b"." * 300)                         # 1200 > 1000: b (least recent) goes
    assert lru.keys() == ["c", "a", "d"] and lru.nbytes == 900
    lru.put("e", b"." * 700)                         # c and a go, in that order: d and e fit
    assert lru.keys() == ["d", "e"] and lru.nbytes == 1000
    lru.put("huge", b"." * 5000)                     # larger than the whole budget: kept alone
    assert lru.keys() == ["huge"]


def test_a_growing_value_is_charged_at_the_next_access():
    from regionprims.ui.memory import ByteLRU
    lru = ByteLRU(budget=1000)
    grows = {"data": b"." * 100}
    lru.put("grows", grows)
    lru.put("other", b"." * 400)
    grows["more"] = b"." * 800                        # 1300 now, unknown to the store until ...
    lru.get("other")                                  # ... the next access measures it
    assert lru.nbytes <= 1000 and "grows" not in lru


def test_the_shared_store_stays_under_its_budget(fresh, tiny_gen, decs):
    """Opening more decompositions than the budget holds keeps the accounted bytes under it,
    the most recent mixers kept."""
    from regionprims.ui import resources
    one = resources.mixer(key_of(decs[0]), tiny_gen, decs[0]).nbytes
    resources.reset_shared()
    fresh.setenv("REGIONPRIMS_EXPLORER_MB", str(2.5 * one / MB))
    for dec in decs:
        resources.mixer(key_of(dec), tiny_gen, dec)
        resources.preview(tiny_gen.identity, "tiny", 1, dec.spec.seed, None, "2x2", None, _gen=tiny_gen)
        assert resources.shared().nbytes <= 2.5 * one
    kept = [k for k in resources.shared().keys() if k[0] == "mixer"]
    assert kept == [("mixer", key_of(decs[3])), ("mixer", key_of(decs[4]))]


def test_a_mixers_memo_is_bounded_and_recomputed_when_dropped(fresh, tiny_gen, decs):
    from regionprims.ui import resources
    from regionprims.ui.mixer_pictures import card_png
    dec = decs[0]
    pattern = int(torch.tensor(dec.image.shape).prod()) * 4
    fresh.setenv("REGIONPRIMS_MIXER_MEMO_MB", str(3.5 * pattern / MB))   # three patterns, no more
    mx = resources.mixer(key_of(dec), tiny_gen, dec)
    first = mx.patterns([1, 2, 3, 4, 5, 6])
    assert mx._store.nbytes <= 3.5 * pattern
    assert torch.equal(mx.patterns([1, 2, 3, 4, 5, 6]), first)           # dropped rows come back the same
    before = mx.nbytes
    for row in range(1, 16):
        card_png(mx, key_of(dec), row)
    pictures = resources.shared().get(("pictures", key_of(dec)))
    assert pictures.nbytes <= 3.5 * pattern and pictures.evictions > 0
    assert mx._store.nbytes <= 3.5 * pattern and mx.nbytes <= before + 3.5 * pattern


def test_one_session_keeps_no_more_than_its_bound(fresh, tiny_gen, decs):
    """Every view a session renders is kept in its own store, bounded by REGIONPRIMS_SESSION_MB."""
    from regionprims.mix.state import ViewState
    from regionprims.ui import explore, resources
    fresh.setenv("REGIONPRIMS_SESSION_MB", "0.02")                          # 20 kB
    store = resources.session_store()
    monkey_store = lambda: store                                            # noqa: E731 - one session
    fresh.setattr(resources, "session_store", monkey_store)
    mx = resources.mixer(key_of(decs[0]), tiny_gen, decs[0])
    for i in range(60):
        explore._mix_pictures(mx, key_of(decs[0]), ViewState(weights={1: -1 + i / 30}))
        assert store.nbytes <= 0.02 * MB
    assert store.evictions > 0


def test_a_session_does_not_keep_a_decomposition_alive(fresh, tiny_gen, decs):
    """Between runs a session holds its selection, not the decomposition: once the shared
    stores drop it, it is gone, and a page finds it again by key (here from the registry)."""
    from regionprims.pipeline import decompose, make_spec
    from regionprims.ui import resources, state
    spec = make_spec(tiny_gen, 1, 42, layout="2x2", settings=OptimSettings(steps=2, baseline_codes=4))
    dec = decompose(tiny_gen, spec)[0]
    cur = state.Current(app=None, gen=tiny_gen, spec=spec, key=key_of(dec), dec=dec)
    kept = cur.light()
    assert kept.dec is dec
    jobs.registry().remember(kept.key, dec)
    del dec, cur
    gc.collect()
    assert kept.dec is not None                        # the registry still has it
    assert resources.mixer(kept.key, tiny_gen, kept.dec, spec) is not None
    resources.reset_shared()
    jobs.reset_registry()
    gc.collect()
    assert kept.dec is None                            # nothing but the session: gone


def test_a_closed_sessions_store_is_emptied(fresh):
    from regionprims.ui import resources
    store = resources.session_store()
    store.put("mix", b"." * 1000)
    resources._released(store)
    assert len(store) == 0 and store.nbytes == 0


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status")


def test_freed_heap_memory_is_handed_back():
    """The explorer tunes glibc to keep freed memory (regionprims/allocator.py, for the
    decompositions' sake); release_free_memory hands it back to the kernel."""
    from regionprims import allocator
    from regionprims.ui import memory
    if not allocator.tune():
        pytest.skip("not glibc, or the allocator is left at its defaults")
    t = torch.ones(256 * MB // 4)                   # 256 MB from the heap, every page touched
    held = rss_mb()
    del t
    gc.collect()
    assert rss_mb() > held - 64                     # freed, but kept by the heap
    assert memory.release_free_memory()
    assert rss_mb() < held - 192


def test_the_job_registrys_results_are_bounded_by_a_budget(monkeypatch):
    """The explorer's largest in-memory store, the finished decompositions, has a byte budget that
    the environment sets (the disk cache keeps everything)."""
    from regionprims.jobs import worker
    monkeypatch.setenv("REGIONPRIMS_JOB_RESULTS_MB", "3")
    assert worker.result_budget() == 3 << 20
    for bad in ("nan", "-1", "abc", ""):
        monkeypatch.setenv("REGIONPRIMS_JOB_RESULTS_MB", bad)
        assert worker.result_budget() == worker.RESULT_MB << 20
    monkeypatch.setenv("REGIONPRIMS_JOB_RESULTS_MB", "1")
    worker.reset_registry()
    try:
        assert worker.registry()._result_bytes == 1 << 20
    finally:
        worker.reset_registry()
