"""The background job registry (jobs): one job per request, cancellation by every owner,
one-line errors and the progress ETA."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from regionprims import jobs, pipeline
from regionprims.errors import UserError
from regionprims.method.specs import OptimSettings
from regionprims.progress import Cancelled

SMALL = OptimSettings(steps=3, baseline_codes=4)


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
