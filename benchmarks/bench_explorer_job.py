"""The explorer's background decomposition against the CLI's, side by side in one run: the
explorer's "computed in" (the sum of the decomposition's stage timings, as the sidebar shows it)
for a shared link that starts its job by itself, and the same sum from `regionprims decompose
--json --no-cache` of the same image. Both count the same stages; the difference is what the
server costs the job (its threads' malloc arenas, its progress polls; docs/benchmarks.md, "The
allocator").

Needs Chromium (`apt-get install -y chromium`) and Playwright.

usage: python benchmarks/bench_explorer_job.py [--model omniart-eyes] [--class blue] [--seed 3]
       [--repeats 1] [--chromium /usr/bin/chromium]
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def explorer_seconds(model: str, class_: str, seed: int, chromium: str) -> float:
    """Start a fresh server with an empty cache, open the link, return the sidebar's seconds."""
    from playwright.sync_api import sync_playwright
    port = free_port()
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, REGIONPRIMS_CACHE=cache, PYTHONPATH=str(ROOT))
        server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=ARGS)
                page = browser.new_page()
                url = f"http://127.0.0.1:{port}/?" + urlencode({"model": model, "cls": class_, "seed": seed})
                for _ in range(60):                       # the server takes a few seconds to listen
                    try:
                        page.goto(url, timeout=10_000)
                        break
                    except Exception:                     # noqa: BLE001 - not listening yet
                        time.sleep(1)
                done = page.get_by_text(re.compile(r"computed in"))
                done.wait_for(timeout=600_000)
                text = done.inner_text()
                browser.close()
        finally:
            server.terminate()
            server.wait()
    m = re.search(r"computed in ([\d.]+) (s|min)", text)
    if m is None:
        raise SystemExit(f"unexpected sidebar text: {text!r}")
    return float(m.group(1)) * (60 if m.group(2) == "min" else 1)


def cli_seconds(model: str, class_: str, seed: int) -> float:
    """The sum of the stage timings of the same decomposition run by the CLI (no cache)."""
    from regionprims.store.fileformat import load_decomposition
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.safetensors"
        subprocess.run([sys.executable, "-m", "regionprims", "decompose", "--model", model, "--class", class_,
                        "--seed", str(seed), "--json", "--no-cache", "--out", str(path)], cwd=ROOT,
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
        return float(sum(load_decomposition(path).info["timings"].values()))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="omniart-eyes")
    p.add_argument("--class", dest="class_", default="blue")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--chromium", default="/usr/bin/chromium")
    a = p.parse_args()
    print(f"{a.model} class {a.class_} seed {a.seed}, 3x3, default settings; load average {os.getloadavg()[0]:.1f}")
    for i in range(a.repeats):
        shown = explorer_seconds(a.model, a.class_, a.seed, a.chromium)
        cli = cli_seconds(a.model, a.class_, a.seed)
        print(f"run {i + 1}: explorer 'computed in' {shown:.0f} s (whole seconds), CLI stages {cli:.1f} s, "
              f"ratio {shown / cli:.2f}", flush=True)


if __name__ == "__main__":
    main()
