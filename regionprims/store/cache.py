"""The result cache: plain files of bytes (safetensors payloads, never pickle), keyed by
(cache version, stage, hash of the frozen spec), each with a sha256 checksum, and a per-key lock
so that two concurrent requests for one key compute once (across threads and processes).

Why plain files and not diskcache: diskcache unpickles any value whose row in its sqlite index
says so, so whoever can write the cache folder could run code as the next user (issue 10), and
a damaged index file stopped every command. Here nothing is ever unpickled, there is no index to
break, and an entry that fails its checksum, its decoder's shape and finiteness checks, or names
another key is deleted and recomputed, never served. Anyone who can write the folder can still
plant a well-formed entry with wrong numbers: see docs/reliability.md.

Folder: `cache/` (relative to the working directory) unless `--cache-dir DIR` or the environment
variable REGIONPRIMS_CACHE says otherwise. Inside: `entries/` (one file per key), `locks/`
(flock files). `data/` (diskcache, cache versions 2-3) is never opened; `clear` removes it.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from regionprims.errors import UserError
from regionprims.store.atomic import clean_stale_temps, write_atomic

CACHE_VERSION = 4          # bump when the math, the metrics or the payload format change
MAGIC = b"RPCACHE1"
SUFFIX = ".entry"
LEGACY = "data"            # the diskcache folder of cache versions 2 and 3
STALE_LOCK_SECONDS = 3600
T = TypeVar("T")


class CacheUnavailable(UserError):
    """The cache folder cannot be created or written (a file, a read-only place, ...)."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("REGIONPRIMS_CACHE") or "cache")


def cache_key(stage: str, spec_hash: str) -> str:
    return f"v{CACHE_VERSION}/{stage}/{spec_hash}"


def pack(key: str, payload: bytes) -> bytes:
    """Entry bytes: magic, sha256(key + payload), payload length, key length, key, payload."""
    k = key.encode()
    digest = hashlib.sha256(k + payload).digest()
    return MAGIC + digest + len(payload).to_bytes(8, "little") + len(k).to_bytes(2, "little") + k + payload


def unpack(key: str, data: bytes) -> bytes | None:
    """The payload of an entry for `key`, or None when the bytes are not exactly such an entry."""
    head = len(MAGIC) + 32 + 10
    if len(data) < head or not data.startswith(MAGIC):
        return None
    digest = data[len(MAGIC):len(MAGIC) + 32]
    n_payload = int.from_bytes(data[head - 10:head - 2], "little")
    n_key = int.from_bytes(data[head - 2:head], "little")
    k, payload = data[head:head + n_key], data[head + n_key:]
    if k != key.encode() or len(payload) != n_payload or hashlib.sha256(k + payload).digest() != digest:
        return None
    return payload


class ResultCache:
    """Bytes store plus locks. Values are encoded/decoded by the caller (safetensors bytes)."""

    def __init__(self, directory: str | Path | None = None, size_limit: int = 8 * 2 ** 30):
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.entries = self.directory / "entries"
        self.locks = self.directory / "locks"
        self.size_limit = size_limit
        self._prepare()
        self._thread_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _prepare(self) -> None:
        """Create the folders, prove they are writable, and remove what killed writers left."""
        try:
            for folder in (self.entries, self.locks):
                folder.mkdir(parents=True, exist_ok=True)
            probe = self.entries / f".probe-{os.getpid()}-{threading.get_ident()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise CacheUnavailable(
                f"cache folder '{self.directory}' is not usable ({exc.strerror or exc}); give a writable "
                "folder with --cache-dir or REGIONPRIMS_CACHE, or run with --no-cache") from None
        clean_stale_temps(self.entries)
        self._clean_locks(STALE_LOCK_SECONDS)

    def _path(self, key: str) -> Path:
        return self.entries / (hashlib.sha256(key.encode()).hexdigest()[:40] + SUFFIX)

    def get_bytes(self, key: str) -> bytes | None:
        """The stored payload of `key`; None when absent. A damaged entry is deleted."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        payload = unpack(key, data)
        if payload is None:
            self.delete(key)
            return None
        try:
            os.utime(path)                      # least recently used is evicted first
        except OSError:
            pass
        return payload

    def set_bytes(self, key: str, value: bytes) -> None:
        if not isinstance(value, bytes):
            raise TypeError("the cache stores bytes only")
        write_atomic(self._path(key), pack(key, value))
        self._evict()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def __contains__(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys(self) -> list[str]:
        """The keys of the entries present, read from each entry's header (for listing small records
        such as studies; damaged entries are skipped)."""
        out = []
        head = len(MAGIC) + 32 + 10
        for e in self._files():
            try:
                with open(e.path, "rb") as fh:
                    data = fh.read(head)
                    if len(data) == head and data.startswith(MAGIC):
                        out.append(fh.read(int.from_bytes(data[head - 2:head], "little")).decode())
            except (OSError, UnicodeDecodeError):
                continue
        return out

    def _files(self) -> list[os.DirEntry]:
        try:
            return [e for e in os.scandir(self.entries) if e.name.endswith(SUFFIX) and e.is_file()]
        except OSError:
            return []

    def _evict(self) -> None:
        """Remove least recently used entries until the folder fits `size_limit`."""
        files = []
        for e in self._files():
            try:
                st = e.stat()
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, e.path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.size_limit:
                break
            Path(path).unlink(missing_ok=True)
            total -= size

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive per key: a thread lock (threads of one process) and an flock on a lock file
        (processes; the OS drops it if the holder dies, so no stale locks)."""
        with self._guard:
            tlock = self._thread_locks.setdefault(key, threading.Lock())
        name = key.replace("/", "_")
        with tlock, open(self.locks / name, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _clean_locks(self, min_age: float) -> None:
        """Remove lock files nobody holds (and, at start, only old ones: a fresh one may be about
        to be locked). A removed file is recreated by the next `lock`."""
        now = time.time()
        try:
            entries = list(os.scandir(self.locks))
        except OSError:
            return
        for entry in entries:
            try:
                if now - entry.stat().st_mtime < min_age:
                    continue
                with open(entry.path, "a+") as fh:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    os.unlink(entry.path)
            except OSError:
                continue

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
        except Exception:                        # noqa: BLE001 - recomputed, never served
            self.delete(key)
            return None

    def clear(self) -> int:
        """Remove every entry, every temp file, unheld locks and the legacy diskcache folder.
        Returns the number of entries removed."""
        removed = 0
        for e in self._files():
            Path(e.path).unlink(missing_ok=True)
            removed += 1
        clean_stale_temps(self.entries)
        self._clean_locks(0.0)
        shutil.rmtree(self.directory / LEGACY, ignore_errors=True)
        return removed

    def volume(self) -> int:
        total = 0
        for e in self._files():
            try:
                total += e.stat().st_size
            except OSError:
                continue
        return total

    def __len__(self) -> int:
        return len(self._files())

    def close(self) -> None:
        """Nothing is held open between calls (kept for callers written for diskcache)."""
