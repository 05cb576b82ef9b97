"""Resident memory of the explorer's server under many browser sessions.

Starts `streamlit run app.py` headless on a free port with a fresh cache folder, opens N browser
contexts (each its own Streamlit session) on the Explore page with a different seed in the URL
(the link starts its decomposition: demo generator, 3x3 layout = 512 subsets, few optimisation
steps so the ten jobs finish in about a minute on 2 cores; the tensors are as large as with the
default settings), moves a weight slider and opens the Build-up tab in each, keeps them open,
closes them, waits, and prints the server's RSS (VmRSS of /proc/<pid>/status; the peak is the
kernel's VmHWM) at each point.

    python benchmarks/bench_explorer_memory.py                     # 10 sessions, held 75 s, 20 s after
    python benchmarks/bench_explorer_memory.py --sessions 4 --hold 30 --after 10
    REGIONPRIMS_EXPLORER_MB=128 python benchmarks/bench_explorer_memory.py
    MALLOC_ARENA_MAX=1 python benchmarks/bench_explorer_memory.py      # the server gets the variable too

Needs Chromium (/usr/bin/chromium or $CHROMIUM) and Playwright.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]
SETTINGS = "layout=3x3&steps=3&codes=8"


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory field of /proc/<pid>/status in MB (VmRSS now, VmHWM the peak so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


class Sampler(threading.Thread):
    """Samples the server's RSS every `every` seconds; `peak` is the largest sample."""

    def __init__(self, pid: int, every: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self._halt = pid, every, 0.0, threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, RuntimeError):
                return
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(cache: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "REGIONPRIMS_CACHE": cache, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true", f"--server.port={port}",
           "--server.address=127.0.0.1", "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        if proc.poll() is not None:
            raise RuntimeError("streamlit exited:\n" + log_path.read_text())
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError("streamlit did not become healthy:\n" + log_path.read_text())


def idle(page, timeout: float = 180_000) -> None:
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=timeout)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout)
    page.wait_for_timeout(300)


def all_mixers_shown(pages: list, timeout: float) -> None:
    """Wait until every page shows its mixer. A link whose job found the queue full (at most 4
    jobs queued or running) shows the Decompose button instead: press it until it is accepted."""
    end = time.monotonic() + timeout
    waiting = list(pages)
    while waiting:
        if time.monotonic() > end:
            raise TimeoutError(f"{len(waiting)} sessions never showed the mixer")
        for page in list(waiting):
            mix = page.locator("[data-testid='stImage']").filter(has_text="current mix")
            button = page.get_by_role("button", name=re.compile(r"^Decompose \("))
            if mix.count():
                waiting.remove(page)
            elif button.count() and button.first.is_enabled():
                button.first.click()
        time.sleep(1.0)
    for page in pages:
        idle(page)


def interact(page) -> None:
    """Move the first component's weight slider to its left end, then open the Build-up tab."""
    slider = page.get_by_test_id("stMain").get_by_test_id("stSlider").filter(has_not_text="residual").first
    slider.get_by_role("slider").focus()
    page.keyboard.press("Home")
    idle(page)
    page.get_by_role("tab", name="Build-up").click()
    page.get_by_test_id("stPlotlyChart").first.wait_for(state="visible", timeout=120_000)
    idle(page)


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--hold", type=float, default=75.0, help="seconds all sessions stay open (from the first open)")
    ap.add_argument("--after", type=float, default=20.0, help="seconds to wait after closing them")
    ap.add_argument("--settings", default=SETTINGS, help="query string added to every session's URL")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-explorer-memory-"))
    proc, url = start_server(str(work / "cache"), work / "streamlit.log")
    sampler = Sampler(proc.pid)
    rows: list[tuple[str, float]] = []

    def note(label: str, mb: float) -> None:
        rows.append((label, mb))
        print(f"  {label}: {mb:.0f} MB", file=sys.stderr, flush=True)
    try:
        time.sleep(2.0)
        note("start (server up, no session)", rss_mb(proc.pid))
        sampler.start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            t0 = time.monotonic()
            contexts, pages = [], []
            for i in range(args.sessions):
                ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
                page = ctx.new_page()
                page.set_default_timeout(180_000)
                page.goto(f"{url}/?{args.settings}&seed={100 + i}")
                contexts.append(ctx)
                pages.append(page)
            all_mixers_shown(pages, 600)
            t_ready = time.monotonic() - t0
            for page in pages:
                interact(page)
            t_used = time.monotonic() - t0
            note(f"{args.sessions} sessions decomposed and used ({t_used:.0f} s)", rss_mb(proc.pid))
            time.sleep(max(10.0, args.hold - (time.monotonic() - t0)))
            note(f"all {args.sessions} open ({time.monotonic() - t0:.0f} s after the first)", rss_mb(proc.pid))
            for ctx in contexts:
                ctx.close()
            browser.close()
        time.sleep(args.after)
        note(f"{args.after:.0f} s after closing them", rss_mb(proc.pid))
        sampler.stop()
        hwm = rss_mb(proc.pid, "VmHWM")
        rows.insert(1, ("peak (sampled every 0.25 s / kernel VmHWM)", max(sampler.peak, hwm)))
    finally:
        proc.terminate()
        sampler.stop()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log = (work / "streamlit.log").read_text()
        shutil.rmtree(work, ignore_errors=True)
    budget = os.environ.get("REGIONPRIMS_EXPLORER_MB", "default")
    print(f"# explorer RSS, {args.sessions} sessions, {args.settings}, REGIONPRIMS_EXPLORER_MB={budget}")
    print(f"# {machine()}; all sessions showed the mixer after {t_ready:.0f} s")
    print("| moment | server RSS (MB) |\n| --- | ---: |")
    for label, mb in rows:
        print(f"| {label} | {mb:.0f} |")
    if "Traceback" in log:
        print("streamlit log had a traceback:\n" + log[-4000:], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
