"""Where the weights of a released BigGAN-deep model are, and getting them (`load_biggan`).

Weights (`load_biggan`), in order
    (a) an explicit local folder with `config.json` + `model.safetensors` or `pytorch_model.bin`;
    (b) the package cache `$PYTORCH_PRETRAINED_BIGGAN_CACHE` (default `~/.pytorch_pretrained_biggan`):
        first a plain sub-folder named after the model (`<cache>/biggan-deep-128/config.json` ...),
        then the files the package itself caches (`sha256(url)[.sha256(etag)]`);
    (c) the package's download URLs (S3), fetched with short timeouts into the package cache
        layout (our own copy of `file_utils.get_from_cache`, because the package's has no timeouts);
    (d) for biggan-deep-128 only, the Hugging Face mirror `osanseviero/BigGAN-deep-128` at a
        pinned revision (optional `huggingface_hub`; its local cache is tried even offline).
    `REGIONPRIMS_OFFLINE=1` or `HF_HUB_OFFLINE=1` skips (c) and the network part of (d).
    Files are read with `torch.load(..., map_location="cpu", weights_only=True)` (or safetensors)
    and loaded with `load_state_dict(strict=True)`; every problem is one `UserError` line.
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
from regionprims.models.biggan.checkpoint import CONFIG_NAME, WEIGHTS_NAME, load_folder, load_from_files, weights_in_folder
from regionprims.models.biggan.generator import BIGGAN_NAMES, BigGANDeep

# The package's own download locations (pytorch_pretrained_biggan.model.PRETRAINED_*_ARCHIVE_MAP;
# a test checks they are equal). Kept here so that looking for weights does not import boto3.
_S3 = "https://s3.amazonaws.com/models.huggingface.co/biggan/{name}-{file}"
PACKAGE_URLS = {n: {"config": _S3.format(name=n, file="config.json"),
                    "weights": _S3.format(name=n, file="pytorch_model.bin")} for n in BIGGAN_NAMES}
HF_MIRRORS = {"biggan-deep-128": ("osanseviero/BigGAN-deep-128", "86e3d82ec07f2513c0942d138a7b38133cfc2036")}


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


def _hf_cached(name: str) -> tuple[Path, Path] | None:
    if name not in HF_MIRRORS:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    repo, rev = HF_MIRRORS[name]
    paths = []
    for fname in (CONFIG_NAME, WEIGHTS_NAME):
        try:
            p = try_to_load_from_cache(repo_id=repo, filename=fname, revision=rev)
        except Exception:
            return None
        if not isinstance(p, str) or not os.path.isfile(p):
            return None
        paths.append(Path(p))
    return paths[0], paths[1]


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
    return _hf_cached(name)


def how_to_get_weights(name: str) -> str:
    """One line telling a user how to get the weights of a released model."""
    if name not in BIGGAN_NAMES:
        raise UserError(f"unknown BigGAN model {name!r}; known: {', '.join(BIGGAN_NAMES)}")
    sub = cache_dir() / name
    if name in HF_MIRRORS:
        repo, rev = HF_MIRRORS[name]
        src = (f"download config.json and pytorch_model.bin from https://huggingface.co/{repo} "
               f"(revision {rev[:7]})")
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


def _download_package_file(url: str, where: Path) -> Path:
    """The package's get_from_cache (same file names), with timeouts and an atomic rename."""
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
    try:
        with os.fdopen(fd, "wb") as f, requests.get(url, stream=True, timeout=(3.05, 60)) as r:
            r.raise_for_status()
            for block in r.iter_content(chunk_size=1 << 20):
                f.write(block)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    (where / (fname + ".json")).write_text(json.dumps({"url": url, "etag": etag}), encoding="utf-8")
    return target


def _try_package_download(name: str, notes: list[str]) -> tuple[Path, Path] | None:
    reason = _host_reachable("s3.amazonaws.com")
    if reason:
        notes.append(f"package download failed: {reason}")
        return None
    try:
        cfg = _download_package_file(PACKAGE_URLS[name]["config"], cache_dir())
        wts = _download_package_file(PACKAGE_URLS[name]["weights"], cache_dir())
        return cfg, wts
    except Exception as e:
        notes.append(f"package download failed: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__}")
        return None


def _try_hf_download(name: str, notes: list[str]) -> tuple[Path, Path] | None:
    if name not in HF_MIRRORS:
        return None
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        notes.append("Hugging Face mirror skipped (huggingface_hub not installed)")
        return None
    reason = _host_reachable("huggingface.co")
    if reason:
        notes.append(f"Hugging Face mirror failed: {reason}")
        return None
    repo, rev = HF_MIRRORS[name]
    try:
        cfg = hf_hub_download(repo_id=repo, filename=CONFIG_NAME, revision=rev, etag_timeout=5)
        wts = hf_hub_download(repo_id=repo, filename=WEIGHTS_NAME, revision=rev, etag_timeout=5)
        return Path(cfg), Path(wts)
    except Exception as e:
        notes.append(f"Hugging Face mirror failed: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__}")
        return None


def load_biggan(name_or_folder: str | os.PathLike, device: torch.device | str | None = "cpu") -> BigGANDeep:
    """Load, freeze and check a BigGAN-deep: a folder, or a released model name (see module doc)."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    text = os.fspath(name_or_folder)
    if text not in BIGGAN_NAMES:
        if Path(text).expanduser().is_dir():
            return load_folder(text, device)
        raise UserError(f"unknown BigGAN model {text!r}: use one of {', '.join(BIGGAN_NAMES)} "
                        "or a folder with config.json and pytorch_model.bin")
    name = text
    found = find_local_weights(name)
    notes: list[str] = []
    if found is None:
        if offline():
            notes.append("network skipped (REGIONPRIMS_OFFLINE/HF_HUB_OFFLINE is set)")
        else:
            found = _try_package_download(name, notes) or _try_hf_download(name, notes)
    if found is None:
        where = cache_dir()
        raise UserError(f"No weights for {name}: looked in {where / name}/ and in the "
                        f"pytorch-pretrained-biggan cache {where}; {'; '.join(notes)}. "
                        + how_to_get_weights(name) + ".")
    return load_from_files(found[0], found[1], device, name=name)
