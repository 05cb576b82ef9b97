"""Browser tests: Playwright (sync API) drives Debian's Chromium (/usr/bin/chromium, or
$CHROMIUM) against `streamlit run app.py`, started headless on a free port for the session with
its own cache folder. They are marked `browser`. Without Chromium they fail with a message that
says how to install it (the README's test instructions install it first); they are never skipped."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]
VIEWPORT = {"width": 1440, "height": 1000}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _chromium_present():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium chromium-driver` "
                    "(see the README), or point $CHROMIUM at one")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """`streamlit run app.py` on a free port; yields its URL; prints its log if it fails."""
    from regionprims.models.demo import generator as demo
    port = _free_port()
    cache = tmp_path_factory.mktemp("explorer-cache")
    log_path = tmp_path_factory.mktemp("explorer-log") / "streamlit.log"
    env = {**os.environ, "REGIONPRIMS_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}
    flags = ["--server.headless=true", f"--server.port={port}", "--server.address=127.0.0.1",
             "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"]
    if demo.WEIGHTS_PATH.is_file():
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", *flags]
    else:   # before the demo weights are trained: an untrained net of the same architecture
        cmd = [sys.executable, str(Path(__file__).with_name("serve_untrained.py")),
               str(tmp_path_factory.mktemp("weights") / "untrained.safetensors"), *flags]
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                raise RuntimeError("streamlit exited:\n" + log_path.read_text())
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.25)
        else:
            raise RuntimeError("streamlit did not become healthy:\n" + log_path.read_text())
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        text = log_path.read_text()
        if "Traceback" in text:
            print("streamlit log:\n" + text)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    RESULTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()
