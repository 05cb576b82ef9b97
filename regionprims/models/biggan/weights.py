"""Where the weights of a released BigGAN-deep model are, and getting them (`load_biggan`).

Weights (`load_biggan`), in order
    (a) an explicit local folder with `config.json` + `model.safetensors` or `pytorch_model.bin`;
    (b) the local caches, never the network: the package cache `$PYTORCH_PRETRAINED_BIGGAN_CACHE`
        (default `~/.pytorch_pretrained_biggan`; first a plain sub-folder named after the model,
        `<cache>/biggan-deep-128/config.json` ..., then the files the package itself caches,
        `sha256(url)[.sha256(etag)]`), then the Hugging Face Hub cache of the pinned source (hub.py);
    (c) the Hugging Face Hub: the pinned repository and revision (hub.HUB_SOURCES; biggan-deep-128),
        downloaded by the Hub client (resumable; a progress bar on stderr, or the caller's callback),
        the sha256 of `pytorch_model.bin` checked after the download (a mismatch deletes the file);
    (d) the package's own download URLs (S3, from 2019), last, with short timeouts, into the package
        cache layout. No checksum of these files is published, so they are trusted on first use: the
        sha256 of the download is recorded next to it (`<file>.json`) and checked on every later load.
    `REGIONPRIMS_OFFLINE=1` or `HF_HUB_OFFLINE=1` skips (c) and (d). Reachability is probed first
    (3 s), so that no network step hangs. Files are read with `torch.load(..., weights_only=True)`
    (or safetensors) and loaded with `load_state_dict(strict=True)`; every problem is one `UserError` line.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import threading
from pathlib import Path

import torch

from regionprims.errors import UserError
from regionprims.models.biggan import hub
from regionprims.models.biggan.checkpoint import (CONFIG_NAME, load_folder, load_from_files, sha256_file,
                                                  weights_in_folder)
from regionprims.models.biggan.generator import BIGGAN_NAMES, BigGANDeep
from regionprims.progress import Cancelled

# The package's own download locations (pytorch_pretrained_biggan.model.PRETRAINED_*_ARCHIVE_MAP;
# a test checks they are equal). Kept here so that looking for weights does not import boto3.
_S3 = "https://s3.amazonaws.com/models.huggingface.co/biggan/{name}-{file}"
PACKAGE_URLS = {n: {"config": _S3.format(name=n, file="config.json"),
                    "weights": _S3.format(name=n, file="pytorch_model.bin")} for n in BIGGAN_NAMES}


# --------------------------------------------------------------------------------------------
# Finding weights for a released model


def cache_dir() -> Path:
    """The package's cache folder (read from the environment on every call)."""
    env = os.environ.get("PYTORCH_PRETRAINED_BIGGAN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".pytorch_pretrained_biggan"


def offline() -> bool:
    truthy = {"1", "true", "yes", "on"}
    return (os.environ.get("REGIONPRIMS_OFFLINE", "").strip().lower() in truthy
            or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in truthy)


def _package_cached_file(url: str, where: Path) -> Path | None:
    """The newest file the package cached for `url` (named sha256(url) or sha256(url).sha256(etag))."""
    if not where.is_dir():
        return None
    stem = hashlib.sha256(url.encode("utf-8")).hexdigest()
    found = [p for p in where.glob(stem + "*") if p.is_file() and not p.name.endswith(".json")
             and (p.name == stem or p.name.startswith(stem + "."))]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def find_local_weights(name: str) -> tuple[Path, Path] | None:
    """(config, weights) already on this machine for a released model; never uses the network."""
    if name not in BIGGAN_NAMES:
        raise UserError(f"unknown BigGAN model {name!r}; known: {', '.join(BIGGAN_NAMES)}")
    where = cache_dir()
    sub = where / name
    if sub.is_dir() and (sub / CONFIG_NAME).is_file() and weights_in_folder(sub) is not None:
        return sub / CONFIG_NAME, weights_in_folder(sub)
    cfg = _package_cached_file(PACKAGE_URLS[name]["config"], where)
    wts = _package_cached_file(PACKAGE_URLS[name]["weights"], where)
    if cfg is not None and wts is not None:
        return cfg, wts
    return hub.hub_cached(name)


def how_to_get_weights(name: str) -> str:
    """One line telling a user how to get the weights of a released model."""
    if name not in BIGGAN_NAMES:
        raise UserError(f"unknown BigGAN model {name!r}; known: {', '.join(BIGGAN_NAMES)}")
    sub = cache_dir() / name
    if name in hub.HUB_SOURCES:
        source = hub.HUB_SOURCES[name]
        src = (f"download config.json and pytorch_model.bin from https://huggingface.co/{source.repo} "
               f"(revision {source.revision[:7]})")
    else:
        src = f"download {PACKAGE_URLS[name]['config']} and {PACKAGE_URLS[name]['weights']} (saved as config.json and pytorch_model.bin)"
    return (f"To get the weights, {src} into a folder and pass --model FOLDER, or put them in {sub}/ "
            "(set PYTORCH_PRETRAINED_BIGGAN_CACHE to use another cache folder); "
            "or use --model demo, which works offline")


def _host_reachable(host: str, port: int = 443, timeout: float = 3.0) -> str | None:
    """None when a TCP connection opens within `timeout` (name look-up included: it runs in a
    daemon thread, because getaddrinfo ignores socket timeouts), else the reason. Behind an
    HTTP(S) proxy the probe is skipped and the downloads' own timeouts apply."""
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    result: list[str | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(None)
        except OSError as e:
            result.append(f"{host} unreachable ({e.__class__.__name__}: {e})"[:160])

    worker = threading.Thread(target=probe, daemon=True, name=f"probe-{host}")
    worker.start()
    worker.join(timeout + 0.5)
    return result[0] if result else f"{host} unreachable (no answer within {timeout:.0f} s)"


def _download_package_file(url: str, where: Path, progress=None, cancel: threading.Event | None = None) -> Path:
    """The package's get_from_cache (same file names), with timeouts, a progress bar (stderr, or
    the callback), cancel, and an atomic rename; records the sha256 of what arrived (trust on
    first use)."""
    import requests
    resp = requests.head(url, allow_redirects=True, timeout=(3.05, 5))
    if resp.status_code != 200:
        raise OSError(f"HEAD {url} returned {resp.status_code}")
    etag = resp.headers.get("ETag")
    fname = hashlib.sha256(url.encode()).hexdigest()
    if etag:
        fname += "." + hashlib.sha256(etag.encode()).hexdigest()
    target = where / fname
    if target.is_file():
        return target
    where.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=where, prefix=".part-")
    total = int(resp.headers.get("Content-Length") or 0) or None
    try:
        with os.fdopen(fd, "wb") as f, requests.get(url, stream=True, timeout=(3.05, 60)) as r, \
                hub.progress_bar_class(progress, cancel, url.rsplit("/", 1)[-1])(
                    total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1]) as bar:
            r.raise_for_status()
            for block in r.iter_content(chunk_size=1 << 20):
                f.write(block)
                bar.update(len(block))
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    record = {"url": url, "etag": etag, "sha256": sha256_file(target)}
    (where / (fname + ".json")).write_text(json.dumps(record), encoding="utf-8")
    return target


def recorded_sha256(weights: Path) -> str | None:
    """The sha256 recorded when a package-URL download arrived (`<file>.json`), if any."""
    try:
        record = json.loads(Path(str(weights) + ".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = record.get("sha256") if isinstance(record, dict) else None
    return value if isinstance(value, str) else None


def _reason(e: BaseException) -> str:
    return str(e).splitlines()[0][:160] if str(e) else type(e).__name__


def _try_package_download(name: str, notes: list[str], progress=None, cancel=None) -> tuple[Path, Path] | None:
    reason = _host_reachable("s3.amazonaws.com")
    if reason:
        notes.append(f"package download failed: {reason}")
        return None
    try:
        cfg = _download_package_file(PACKAGE_URLS[name]["config"], cache_dir(), progress, cancel)
        wts = _download_package_file(PACKAGE_URLS[name]["weights"], cache_dir(), progress, cancel)
        return cfg, wts
    except Cancelled:
        raise
    except Exception as e:
        notes.append(f"package download failed: {_reason(e)}")
        return None


def _try_hub_download(name: str, notes: list[str], progress=None, cancel=None) -> tuple[Path, Path] | None:
    if name not in hub.HUB_SOURCES:
        return None
    host, port = hub.endpoint_host()
    reason = _host_reachable(host, port)
    if reason:
        notes.append(f"Hugging Face Hub download failed: {reason}")
        return None
    try:
        return hub.hub_download(name, progress, cancel)
    except (Cancelled, hub.ChecksumMismatch):
        raise
    except Exception as e:
        notes.append(f"Hugging Face Hub download failed: {_reason(e)}")
        return None


def fetch_weights(name: str, progress=None, cancel: threading.Event | None = None) -> tuple[Path, Path]:
    """(config, weights) of a released model: the local caches, else the network (the Hub, then the
    package's URLs). `progress(done, total, message)` replaces the stderr progress bar; setting
    `cancel` stops a download (progress.Cancelled; a Hub download resumes next time). UserError
    (one paragraph: what was tried, how to get the weights) when there are none."""
    if name not in BIGGAN_NAMES:
        raise UserError(f"unknown BigGAN model {name!r}; known: {', '.join(BIGGAN_NAMES)}")
    found = find_local_weights(name)
    notes: list[str] = []
    if found is None:
        if offline():
            notes.append("network skipped (REGIONPRIMS_OFFLINE/HF_HUB_OFFLINE is set)")
        else:
            found = (_try_hub_download(name, notes, progress, cancel)
                     or _try_package_download(name, notes, progress, cancel))
    if found is None:
        where = cache_dir()
        looked = f"{where / name}/, the pytorch-pretrained-biggan cache {where}"
        if name in hub.HUB_SOURCES:
            looked += f" and the Hugging Face cache {hub.hub_cache_dir()}"
        raise UserError(f"No weights for {name}: looked in {looked}; {'; '.join(notes)}. "
                        + how_to_get_weights(name) + ".")
    return found


def expected_sha256(name: str, weights: Path) -> str | None:
    """The sha256 the weights file must have: the pinned one for a file of the Hub cache, the
    recorded one for a package-URL download, else None (a folder the user put there)."""
    cached = hub.hub_cached(name)
    if cached is not None and Path(cached[1]) == Path(weights):
        return hub.HUB_SOURCES[name].sha256
    return recorded_sha256(weights)


def load_biggan(name_or_folder: str | os.PathLike, device: torch.device | str | None = "cpu",
                progress=None, cancel: threading.Event | None = None) -> BigGANDeep:
    """Load, freeze and check a BigGAN-deep: a folder, or a released model name (see module doc)."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    text = os.fspath(name_or_folder)
    if text not in BIGGAN_NAMES:
        if Path(text).expanduser().is_dir():
            return load_folder(text, device)
        raise UserError(f"unknown BigGAN model {text!r}: use one of {', '.join(BIGGAN_NAMES)} "
                        "or a folder with config.json and pytorch_model.bin")
    config, weights = fetch_weights(text, progress, cancel)
    expected = expected_sha256(text, weights)
    try:
        return load_from_files(config, weights, device, name=text, expected_sha256=expected)
    except hub.ChecksumMismatch:
        if hub.hub_cached(text) is not None:
            hub.remove_cached(weights)
        raise
