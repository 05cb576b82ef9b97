"""Released BigGAN-deep weights on the Hugging Face Hub: pinned sources, the local Hub cache, and a
checked download (the Hub client's own: resumable, with its progress bar on stderr or our callback).

Pinned sources (looked up 2026-11-28 in stored copies of the Hub's pages; no network here):
    biggan-deep-128  osanseviero/BigGAN-deep-128 @ 86e3d82ec07f2513c0942d138a7b38133cfc2036 (head of
                     `main`, Feb 2022); pytorch_model.bin is the LFS object with sha256
                     b86146a8cfcde4cda135adba4b2806f78b3abe2dac9d0fd090cc3ab318604ad9 (211 MB; the file's
                     last change is commit c98e5e8, "Rename file", Aug 2021), checked after download.
    biggan-deep-256, biggan-deep-512: no Hub repository of these weights was found, so none is pinned;
                     they come from a local cache or the package's own URLs (weights.py).

The Hub cache folder and endpoint are read from the environment on every call (HF_HUB_CACHE,
HF_HOME, HF_ENDPOINT), so that tests can point them at a temporary folder and a local fake Hub.
A weights file that fails its pinned sha256 raises `ChecksumMismatch` (from checkpoint.py, which
raises it too).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

from regionprims.models.base import sha256_file
from regionprims.models.biggan.checkpoint import CONFIG_NAME, WEIGHTS_NAME, ChecksumMismatch
from regionprims.progress import Cancelled

DEFAULT_ENDPOINT = "https://huggingface.co"

ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class HubSource:
    repo: str
    revision: str                # a commit: what is downloaded can never change under us
    sha256: str | None           # of pytorch_model.bin (its LFS object id); None: not known


HUB_SOURCES: dict[str, HubSource] = {
    "biggan-deep-128": HubSource("osanseviero/BigGAN-deep-128", "86e3d82ec07f2513c0942d138a7b38133cfc2036",
                                 "b86146a8cfcde4cda135adba4b2806f78b3abe2dac9d0fd090cc3ab318604ad9"),
}


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or DEFAULT_ENDPOINT


def endpoint_host() -> tuple[str, int]:
    url = urlparse(endpoint())
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def hub_cache_dir() -> Path:
    """The Hub client's cache folder, as it resolves it (HF_HUB_CACHE, else HF_HOME/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def hub_cached(name: str) -> tuple[Path, Path] | None:
    """(config, weights) of the pinned source already in the Hub cache; never uses the network."""
    src = HUB_SOURCES.get(name)
    if src is None:
        return None
    from huggingface_hub import try_to_load_from_cache
    paths = []
    for fname in (CONFIG_NAME, WEIGHTS_NAME):
        p = try_to_load_from_cache(repo_id=src.repo, filename=fname, revision=src.revision,
                                   cache_dir=str(hub_cache_dir()))
        if not isinstance(p, str) or not os.path.isfile(p):
            return None
        paths.append(Path(p))
    return paths[0], paths[1]


def remove_cached(path: Path) -> None:
    """Remove a file of the Hub cache: the snapshot's link and the blob it points to."""
    path = Path(path)
    blob = Path(os.path.realpath(path))
    for p in (path, blob):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def progress_bar_class(progress: ProgressFn | None, cancel: threading.Event | None, label: str):
    """A tqdm class for the Hub client (and our own downloads): with `progress`, it reports
    (bytes done, bytes total, message) there instead of drawing; without, it is tqdm's bar on
    stderr. Either way it raises progress.Cancelled once `cancel` is set (the partial file stays,
    and the next download resumes it)."""
    from tqdm.auto import tqdm

    class Bar(tqdm):
        def __init__(self, *args, **kwargs):
            if progress is not None:
                kwargs["disable"] = True
            kwargs.pop("name", None)
            self._done = int(kwargs.get("initial") or 0)
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            if cancel is not None and cancel.is_set():
                raise Cancelled("download cancelled")
            self._done += int(n or 0)
            if progress is not None:
                progress(self._done, int(self.total or 0), f"downloading {label}")
            return super().update(n)

    return Bar


def hub_download(name: str, progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                 timeout: float = 10.0) -> tuple[Path, Path]:
    """Download (or resume) the pinned config.json and pytorch_model.bin into the Hub cache and
    check the weights' sha256; on a mismatch the file is removed and ChecksumMismatch raised.
    Other failures raise the client's own exceptions (the caller words them)."""
    from huggingface_hub import hf_hub_download
    src = HUB_SOURCES[name]
    paths = []
    for fname in (CONFIG_NAME, WEIGHTS_NAME):
        paths.append(Path(hf_hub_download(
            repo_id=src.repo, filename=fname, revision=src.revision, cache_dir=str(hub_cache_dir()),
            endpoint=endpoint(), etag_timeout=timeout,
            tqdm_class=progress_bar_class(progress, cancel, f"{name} {fname}"))))
    if src.sha256 is not None:
        if progress is not None:
            progress(0, 1, f"checking the sha256 of {name} {WEIGHTS_NAME}")
        got = sha256_file(paths[1])
        if got != src.sha256:
            remove_cached(paths[1])
            raise ChecksumMismatch(
                f"the {WEIGHTS_NAME} downloaded for {name} from {src.repo} (revision {src.revision[:7]}) has "
                f"sha256 {got[:16]}…, expected {src.sha256[:16]}…; it was deleted, nothing was kept")
    return paths[0], paths[1]
