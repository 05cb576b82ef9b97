"""Weights on first use, without network: a tiny random BigGAN-deep served by a local fake of the
Hugging Face Hub (tests/fake_hub.py) to the real `huggingface_hub` client. The resolution order
(package cache, Hub cache, Hub, package URLs), the sha256 check (a mismatch keeps nothing), an
interrupted download (the client resumes it), and a cancelled one (nothing kept; the next one completes)."""
from __future__ import annotations

import hashlib
import threading

import pytest

from fake_hub import FakeHub
from regionprims.errors import UserError
from regionprims.models.biggan import hub, weights
from regionprims.progress import Cancelled

NAME = "biggan-deep-128"
REPO, REV = "test-owner/BigGAN-deep-tiny", "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    from test_biggan import _tiny_biggan, _write
    model, cfg = _tiny_biggan()
    folder = _write(tmp_path_factory.mktemp("tiny"), cfg, model.state_dict())
    return {"config.json": (folder / "config.json").read_bytes(),
            "pytorch_model.bin": (folder / "pytorch_model.bin").read_bytes()}


@pytest.fixture
def fake(tiny_files, tmp_path, monkeypatch):
    """The fake Hub, empty caches in tmp_path, the pinned source pointing at the fake, and every
    host but the fake one unreachable (so the package's S3 URLs are never tried for real)."""
    server = FakeHub(REPO, REV, tiny_files, lfs=("pytorch_model.bin",))
    for var in ("REGIONPRIMS_OFFLINE", "HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("PYTORCH_PRETRAINED_BIGGAN_CACHE", str(tmp_path / "pkg"))
    sha = hashlib.sha256(tiny_files["pytorch_model.bin"]).hexdigest()
    monkeypatch.setitem(hub.HUB_SOURCES, NAME, hub.HubSource(REPO, REV, sha))
    real_probe = weights._host_reachable
    monkeypatch.setattr(weights, "_host_reachable", lambda host, port=443, timeout=3.0: (
        real_probe(host, port, timeout) if host == "127.0.0.1" else f"{host} unreachable (test)"))
    import huggingface_hub.constants as hf_constants
    monkeypatch.setattr(hf_constants, "DOWNLOAD_CHUNK_SIZE", 1 << 16)   # several progress updates per file
    yield server
    server.close()


def _blobs(tmp_path):
    return [p for p in (tmp_path / "hf").rglob("*") if p.is_file() and "blobs" in p.parts]


def test_downloads_from_the_hub_with_progress_then_loads_from_its_cache(fake, tmp_path):
    seen = []
    gen = weights.load_biggan(NAME, "cpu", progress=lambda d, t, m: seen.append((d, t, m)))
    assert gen.name == NAME and gen.image_size == 64
    assert fake.gets("pytorch_model.bin") == [None]
    assert any(d == t == len(fake.files["pytorch_model.bin"]) for d, t, _ in seen)
    fake.fail = True                                   # the Hub is down: the cache answers, no request
    before = len(fake.log)
    again = weights.load_biggan(NAME, "cpu")
    assert again.identity == gen.identity and len(fake.log) == before
    assert weights.find_local_weights(NAME) is not None


def test_package_cache_comes_before_the_hub(fake, tmp_path, tiny_files):
    sub = tmp_path / "pkg" / NAME
    sub.mkdir(parents=True)
    for fname, data in tiny_files.items():
        (sub / fname).write_bytes(data)
    weights.load_biggan(NAME, "cpu")
    assert fake.log == []                              # never asked the Hub


def test_package_urls_come_last(fake, tmp_path, tiny_files, monkeypatch):
    """The Hub fails: the package's URLs are tried (here a local copy), their sha256 is recorded,
    and a later change of the cached file is refused (trust on first use)."""
    fake.fail = True
    tried = []

    def fake_s3(url, where, progress=None, cancel=None):
        tried.append(url)
        where.mkdir(parents=True, exist_ok=True)
        target = where / hashlib.sha256(url.encode()).hexdigest()
        target.write_bytes(tiny_files["config.json" if url.endswith("config.json") else "pytorch_model.bin"])
        weights.Path(str(target) + ".json").write_text(
            weights.json.dumps({"url": url, "etag": None, "sha256": weights.sha256_file(target)}))
        return target

    monkeypatch.setattr(weights, "_host_reachable", lambda host, *a, **k: None)
    monkeypatch.setattr(weights, "_download_package_file", fake_s3)
    gen = weights.load_biggan(NAME, "cpu")
    assert gen.name == NAME and [u.rsplit("/", 1)[-1] for u in tried] == [
        "biggan-deep-128-config.json", "biggan-deep-128-pytorch_model.bin"]
    assert any(m == "GET" or m == "HEAD" for m, _, _ in fake.log)      # the Hub was asked first
    cached = weights.find_local_weights(NAME)[1]
    data = cached.read_bytes()
    cached.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    with pytest.raises(UserError, match="sha256"):
        weights.load_biggan(NAME, "cpu")


def test_checksum_mismatch_is_one_clear_error_and_nothing_is_kept(fake, tmp_path, monkeypatch):
    monkeypatch.setitem(hub.HUB_SOURCES, NAME, hub.HubSource(REPO, REV, "0" * 64))
    with pytest.raises(UserError) as err:
        weights.load_biggan(NAME, "cpu")
    msg = str(err.value)
    assert "\n" not in msg and "sha256" in msg and "expected 0000000000000000" in msg and "deleted" in msg
    assert hub.hub_cached(NAME) is None and weights.find_local_weights(NAME) is None
    assert not [p for p in _blobs(tmp_path) if p.stat().st_size > 10_000]    # no weights left behind


def test_interrupted_download_is_resumed(fake, tmp_path):
    fake.truncate_next.add("pytorch_model.bin")        # the connection drops half-way
    gen = weights.load_biggan(NAME, "cpu")
    ranges = fake.gets("pytorch_model.bin")
    assert ranges[0] is None and len(ranges) == 2
    assert ranges[1].startswith("bytes=") and int(ranges[1][6:].rstrip("-")) > 0    # resumed, not restarted
    assert gen.identity.endswith(hub.HUB_SOURCES[NAME].sha256[:16])


def test_cancelled_download_keeps_nothing_and_the_next_one_completes(fake, tmp_path):
    """huggingface_hub 2.x writes to a per-call temporary file and deletes it when the call fails:
    it resumes a connection that drops (above), not a download cancelled by the user."""
    cancel = threading.Event()

    def progress(done, total, message):
        if "pytorch_model.bin" in message and done >= 3 * (1 << 16):
            cancel.set()

    with pytest.raises(Cancelled):
        weights.fetch_weights(NAME, progress, cancel)
    assert hub.hub_cached(NAME) is None
    assert not [p for p in _blobs(tmp_path) if p.stat().st_size > 10_000]
    config, wts = weights.fetch_weights(NAME)
    assert wts.read_bytes() == fake.files["pytorch_model.bin"]
    assert fake.gets("pytorch_model.bin") == [None, None]


def test_offline_message_names_the_hub_cache_without_not_installed(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("REGIONPRIMS_OFFLINE", "1")
    with pytest.raises(UserError) as err:
        weights.load_biggan(NAME, "cpu")
    msg = str(err.value)
    assert fake.log == [] and "\n" not in msg and "not installed" not in msg
    assert str(tmp_path / "hf") in msg and f"https://huggingface.co/{REPO}" in msg


def test_pinned_source_is_the_audited_one():
    src = hub.HUB_SOURCES[NAME]
    assert src.repo == "osanseviero/BigGAN-deep-128"
    assert len(src.revision) == 40 and len(src.sha256) == 64
    assert set(hub.HUB_SOURCES) == {NAME}              # no pins for 256/512: none was found to audit



def test_explorer_downloads_with_progress_then_uses_the_model(fake, tmp_path, monkeypatch):
    """Explorer: a model without weights shows Download weights (and never downloads on its own);
    the button runs the download as a job, after which the model loads."""
    from pathlib import Path

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from regionprims import jobs
    from regionprims.models import registry
    st.cache_data.clear()
    st.cache_resource.clear()
    jobs.reset_registry()
    monkeypatch.setattr(registry, "_LOADED", {})              # the tiny model stays out of other tests
    monkeypatch.setattr(registry, "_KEY_LOCKS", {})
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.run()
    at.selectbox(key="model").set_value(NAME).run()
    assert fake.log == []                                     # choosing the model downloads nothing
    assert at.error and "Download weights" in at.error[0].value
    at.button(key="download").click().run()
    job = jobs.registry().wait(jobs.download_key(NAME), 60)
    assert job.state == jobs.DONE, job.error
    at.run()
    assert not at.error and at.session_state["current"].gen.name == NAME
    assert fake.gets("pytorch_model.bin") == [None]
    jobs.reset_registry()


def test_cli_offline_is_one_paragraph_at_once(fake, monkeypatch, capsys):
    import time

    from regionprims import cli
    from regionprims.models import registry
    monkeypatch.setattr(registry, "_LOADED", {})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    code = cli.main(["decompose", "--model", NAME, "--class", "1", "--seed", "1"])
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - start < 10 and fake.log == []
    assert err.count("\n") == 1 and err.startswith(f"error: No weights for {NAME}: looked in ")
    assert "not installed" not in err and "Traceback" not in err
