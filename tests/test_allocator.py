"""regionprims.allocator: freed tensor memory is reused, not faulted in again (glibc)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# allocate, fill and free a 64 MiB tensor 12 times after a warm-up, in the main thread or in a
# thread started after the setting (as the explorer's job thread is); print the minor page faults
FAULTS = """
import json, resource, sys, threading, torch
from regionprims import allocator
tuned = allocator.tune() if sys.argv[1] == "tune" else False
out = {}
def work():
    for _ in range(10):     # warm-up: the heap settles after a few cycles (measured: 7)
        x = torch.empty(16 << 20); x.fill_(1.0); del x
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(12):
        x = torch.empty(16 << 20); x.fill_(1.0); del x
    out["faults"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
if sys.argv[2] == "thread":
    t = threading.Thread(target=work); t.start(); t.join()
else:
    work()
print(json.dumps({"tuned": tuned, **out}))
"""


def _run(code: str, *args: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tuned_process_reuses_freed_buffers_instead_of_faulting_them_in():
    plain = _run(FAULTS, "plain", "main")
    tuned = _run(FAULTS, "tune", "main")
    assert tuned["tuned"] is True
    # 12 x 64 MiB = 196 608 pages of 4 KiB faulted in again without tuning; a handful with it
    assert plain["faults"] > 100_000
    assert tuned["faults"] < plain["faults"] / 20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_thread_started_after_tuning_reuses_freed_buffers_too():
    """The explorer decomposes in a background thread; a thread's own malloc arena would mmap
    every large block again (measured: 28.4 s against 17.7 s for omniart-eyes)."""
    plain, tuned = _run(FAULTS, "plain", "thread"), _run(FAULTS, "tune", "thread")
    assert plain["faults"] > 100_000
    assert tuned["faults"] < plain["faults"] / 20


def test_opt_out_and_once_per_process():
    code = ("import json; from regionprims import allocator; "
            "print(json.dumps({'first': allocator.tune(), 'second': allocator.tune()}))")
    assert _run(code, env={"REGIONPRIMS_MALLOC": "default"}) == {"first": False, "second": False}
    on = _run(code)
    assert on["first"] == on["second"]


def test_the_command_line_tunes_the_allocator():
    code = ("import io, json, contextlib; from regionprims.cli import main; from regionprims import allocator\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['models', '--json'])\n"
            "print(json.dumps({'tuned': allocator._tuned}))")
    assert _run(code)["tuned"] is True
