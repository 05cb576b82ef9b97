"""The result cache: plain files of bytes (safetensors payloads, never pickle), keyed by
(cache version, stage, hash of the frozen spec), each with a sha256 checksum, and a per-key lock
so that two concurrent requests for one key compute once (across threads and processes).

Why plain files and not diskcache: diskcache unpickles any value whose row in its sqlite index
says so, so whoever can write the cache folder could run code as the next user, and a damaged
index file stopped every command. Here nothing is ever unpickled, there is no index to break,
and an entry that fails its checksum, its decoder's shape and finiteness checks, or names
another key is deleted and recomputed, never served. Anyone who can write the folder can still
plant a well-formed entry with wrong numbers: see docs/reliability.md.

Whatever else sits in the folder cannot break it: anything at an entry's or a lock's place that
is not a regular file is a miss that is removed and recomputed. A cache that cannot be written
(a full disk, a read-only place, a quota) costs one warning, never the result. A wait for a lock
held by another process is said on stderr.

This module is the cache itself (ResultCache: get, set, evict, clear, get_or_compute); an entry's
bytes and the safe file operations are in store/entries.py, the lock files in store/locks.py. Their
public names are imported here too, so `from regionprims.store.cache import pack` keeps working.

Folder: `cache/` (relative to the working directory) unless `--cache-dir DIR` or the environment
variable REGIONPRIMS_CACHE says otherwise. Inside: `entries/` (one file per key), `locks/`
(flock files). `data/` (diskcache, cache versions 2-3) is never opened; `clear` removes it.
"""
from __future__ import annotations

import hashlib
import os
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from regionprims.errors import UserError
from regionprims.store import locks
from regionprims.store.atomic import clean_stale_temps, temp_path, write_atomic
from regionprims.store.entries import (  # noqa: F401 - re-exported: callers import them from here
    HEAD, MAGIC, OPEN_FLAGS, entry_size, is_regular, open_regular, pack, read_entry, remove_inside, unpack)
from regionprims.store.locks import (  # noqa: F401 - re-exported: callers import them from here
    LOCK_NOTE_AFTER, LOCK_NOTE_EVERY, STALE_LOCK_SECONDS, LockWait, describe, lock_name, note)

CACHE_VERSION = 5          # bump when the math, the metrics or the payload format change
SUFFIX = ".entry"
LEGACY = "data"            # the diskcache folder of cache versions 2 and 3
T = TypeVar("T")


class CacheUnavailable(UserError):
    """The cache folder cannot be created or written (a file, a read-only place, ...)."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("REGIONPRIMS_CACHE") or "cache")


def cache_key(stage: str, spec_hash: str) -> str:
    return f"v{CACHE_VERSION}/{stage}/{spec_hash}"


class ResultCache:
    """Bytes store plus locks. Values are encoded/decoded by the caller (safetensors bytes)."""

    def __init__(self, directory: str | Path | None = None, size_limit: int = 8 * 2 ** 30):
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.entries = self.directory / "entries"
        self.locks = self.directory / "locks"
        self.size_limit = size_limit
        self._thread_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._warned: set[str] = set()
        self._prepare()

    def _prepare(self) -> None:
        """Create the folders, prove they are writable, and remove what killed writers left."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for folder in (self.entries, self.locks):
                self._own_folder(folder)
            probe = temp_path(self.entries / ".probe")
            with open(probe, "xb"):              # O_EXCL: never through a planted link
                pass
            probe.unlink()
        except OSError as exc:
            raise CacheUnavailable(
                f"cache folder '{self.directory}' is not usable ({exc.strerror or exc}); give a writable "
                "folder with --cache-dir or REGIONPRIMS_CACHE, or run with --no-cache") from None
        clean_stale_temps(self.entries, dirs=True)
        locks.clean_locks(self.locks, STALE_LOCK_SECONDS)

    def _own_folder(self, folder: Path) -> None:
        """`folder` as a real directory of ours: a symlink, a file or a FIFO planted at its name is
        removed (a link itself, not its target) and the directory made. OSError when impossible."""
        try:
            mode = os.lstat(folder).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and not stat.S_ISDIR(mode):
            os.unlink(folder)
        folder.mkdir(exist_ok=True)
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            raise OSError(f"{folder} is not a folder")

    def _path(self, key: str) -> Path:
        return self.entries / (hashlib.sha256(key.encode()).hexdigest()[:40] + SUFFIX)

    def get_bytes(self, key: str) -> bytes | None:
        """The stored payload of `key`; None when absent. Anything else at the entry's place (a
        damaged entry, another key's, a directory, a link, a FIFO) is removed."""
        path = self._path(key)
        data = read_entry(path, self.size_limit)
        payload = None if data is None else unpack(key, data)
        if payload is None:
            if os.path.lexists(path):
                remove_inside(path, self.entries)
            return None
        try:
            os.utime(path, follow_symlinks=False)   # least recently used is evicted first
        except OSError:
            pass
        return payload

    def set_bytes(self, key: str, value: bytes) -> None:
        """Store `value` for `key`. A write that fails (a full disk, a read-only place, a quota,
        ...) is one warning on stderr and the value is simply not cached: the caller's result
        must not be lost to its cache."""
        if not isinstance(value, bytes):
            raise TypeError("the cache stores bytes only")
        path = self._path(key)
        if os.path.lexists(path) and not is_regular(path):
            remove_inside(path, self.entries)       # a directory there would refuse the rename
        try:
            write_atomic(path, pack(key, value))
        except OSError as exc:
            self._warn_unwritten(key, exc)
            return
        with self._guard:
            self._warned.clear()
        self._evict()

    def _warn_unwritten(self, key: str, exc: OSError) -> None:
        """One warning per reason until a write succeeds again (a full disk fails every write)."""
        reason = exc.strerror or str(exc) or type(exc).__name__
        with self._guard:
            if reason in self._warned:
                return
            self._warned.add(reason)
        note(f"warning: could not write the cache entry for {describe(key)} in '{self.directory}': {reason}; "
             "the result is not cached")

    def delete(self, key: str) -> None:
        remove_inside(self._path(key), self.entries)

    def __contains__(self, key: str) -> bool:
        return is_regular(self._path(key))

    def keys(self) -> list[str]:
        """The keys of the entries present, read from each entry's header (for listing small records
        such as studies; damaged entries are skipped)."""
        out = []
        for e in self._files():
            fh = open_regular(e.path)
            if fh is None:
                continue
            with fh:
                try:
                    head = fh.read(HEAD)
                    if entry_size(head) is not None:
                        out.append(fh.read(int.from_bytes(head[HEAD - 2:HEAD], "little")).decode())
                except (OSError, UnicodeDecodeError):
                    continue
        return out

    def entry_paths(self) -> list[str]:
        """The paths of the entry files (regular files only), for listing what the cache holds."""
        return [e.path for e in self._files()]

    def _files(self) -> list[os.DirEntry]:
        """The entry files: regular files only (links, folders and FIFOs are not entries)."""
        try:
            return [e for e in os.scandir(self.entries) if e.name.endswith(SUFFIX) and e.is_file(follow_symlinks=False)]
        except OSError:
            return []

    def _evict(self) -> None:
        """Remove least recently used entries until the folder fits `size_limit`."""
        files = []
        for e in self._files():
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, e.path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.size_limit:
                break
            remove_inside(path, self.entries)
            total -= size

    @contextmanager
    def lock(self, key: str, what: str | None = None) -> Iterator[None]:
        """Exclusive per key: a thread lock (threads of one process) and an flock on a lock file
        (processes; the OS drops it if the holder dies, so no stale locks). A wait of more than a
        few seconds is said on stderr, naming `what` (default: the key's stage and hash) and the
        lock file. A lock place that cannot be made a regular file costs a warning and the work is
        done without the process lock."""
        with self._guard:
            tlock = self._thread_locks.setdefault(key, threading.Lock())
        path = self.locks / lock_name(key)
        wait = LockWait(what or describe(key), path)
        delay = 0.01
        while not tlock.acquire(timeout=delay):
            wait.tick("another thread of this process")
            delay = min(delay * 2, 0.25)
        try:
            fd = locks.acquire(path, self.locks, wait)
            try:
                yield
            finally:
                if fd is not None:
                    locks.release(fd)
        finally:
            tlock.release()

    def get_or_compute(self, key: str, compute: Callable[[], T], encode: Callable[[T], bytes],
                       decode: Callable[[bytes], T], what: str | None = None) -> tuple[T, bool]:
        """(value, cache_hit). A value that cannot be decoded counts as a miss and is replaced.
        `what` names the value in a note about waiting for its lock."""
        hit = self._decoded(key, decode)
        if hit is not None:
            return hit, True
        with self.lock(key, what):
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
        """Remove everything at an entry's place (files, folders, links themselves, FIFOs), every
        stale temp file, unheld locks and whatever else is at a lock's place, and the legacy
        diskcache folder. Returns the number of entry places emptied."""
        removed = 0
        try:
            places = [e.path for e in os.scandir(self.entries) if e.name.endswith(SUFFIX)]
        except OSError:
            places = []
        for place in places:
            remove_inside(place, self.entries)
            removed += not os.path.lexists(place)
        clean_stale_temps(self.entries, dirs=True)
        locks.clean_locks(self.locks, 0.0)
        legacy = self.directory / LEGACY
        if os.path.lexists(legacy):
            remove_inside(legacy, self.directory)
        return removed

    def volume(self) -> int:
        total = 0
        for e in self._files():
            try:
                total += e.stat(follow_symlinks=False).st_size
            except OSError:
                continue
        return total

    def __len__(self) -> int:
        return len(self._files())

    def close(self) -> None:
        """Nothing is held open between calls (kept for callers written for diskcache)."""
