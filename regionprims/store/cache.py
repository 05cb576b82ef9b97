"""The result cache: a diskcache store of bytes (safetensors, never pickle), keyed by
(cache version, stage, hash of the frozen spec), with a per-key lock so that two concurrent
requests for one key compute once (across threads and processes), and unreadable entries
recomputed rather than served.

Folder: `cache/` (relative to the working directory) unless `--cache-dir DIR` or the environment
variable REGIONPRIMS_CACHE says otherwise.
"""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import diskcache

CACHE_VERSION = 3          # bump when the math, the metrics or the payload format change
T = TypeVar("T")


def default_cache_dir() -> Path:
    return Path(os.environ.get("REGIONPRIMS_CACHE") or "cache")


def cache_key(stage: str, spec_hash: str) -> str:
    return f"v{CACHE_VERSION}/{stage}/{spec_hash}"


class ResultCache:
    """Bytes store plus locks. Values are encoded/decoded by the caller (safetensors bytes)."""

    def __init__(self, directory: str | Path | None = None, size_limit: int = 8 * 2 ** 30):
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        (self.directory / "locks").mkdir(parents=True, exist_ok=True)
        self.store = diskcache.Cache(str(self.directory / "data"), size_limit=size_limit,
                                     eviction_policy="least-recently-used")
        self._thread_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get_bytes(self, key: str) -> bytes | None:
        try:
            value = self.store.get(key, default=None, retry=True)
        except Exception:                       # damaged entry: drop it, it will be recomputed
            self.delete(key)
            return None
        return value if isinstance(value, bytes) else None

    def set_bytes(self, key: str, value: bytes) -> None:
        self.store.set(key, value, retry=True)

    def delete(self, key: str) -> None:
        try:
            self.store.delete(key, retry=True)
        except Exception:
            pass

    def __contains__(self, key: str) -> bool:
        return key in self.store

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive per key: a thread lock (threads of one process) and an flock on a lock file
        (processes; the OS drops it if the holder dies, so no stale locks)."""
        with self._guard:
            tlock = self._thread_locks.setdefault(key, threading.Lock())
        name = key.replace("/", "_")
        with tlock, open(self.directory / "locks" / name, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def get_or_compute(self, key: str, compute: Callable[[], T], encode: Callable[[T], bytes],
                       decode: Callable[[bytes], T]) -> tuple[T, bool]:
        """(value, cache_hit). A value that cannot be decoded counts as a miss and is replaced."""
        hit = self._decoded(key, decode)
        if hit is not None:
            return hit, True
        with self.lock(key):
            hit = self._decoded(key, decode)     # someone may have computed it while we waited
            if hit is not None:
                return hit, True
            value = compute()
            self.set_bytes(key, encode(value))
            return value, False

    def _decoded(self, key: str, decode: Callable[[bytes], T]) -> T | None:
        data = self.get_bytes(key)
        if data is None:
            return None
        try:
            return decode(data)
        except Exception:
            self.delete(key)
            return None

    def keys(self) -> list[str]:
        """Every key in the store (for listing small records such as studies)."""
        return [k for k in self.store.iterkeys() if isinstance(k, str)]

    def clear(self) -> int:
        return self.store.clear(retry=True)

    def volume(self) -> int:
        return self.store.volume()

    def __len__(self) -> int:
        return len(self.store)

    def close(self) -> None:
        self.store.close()
