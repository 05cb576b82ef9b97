"""The result cache: plain files of bytes (safetensors payloads, never pickle), keyed by
(cache version, stage, hash of the frozen spec), each with a sha256 checksum, and a per-key lock
so that two concurrent requests for one key compute once (across threads and processes).

Why plain files and not diskcache: diskcache unpickles any value whose row in its sqlite index
says so, so whoever can write the cache folder could run code as the next user, and a damaged
index file stopped every command. Here nothing is ever unpickled, there is no index to break,
and an entry that fails its checksum, its decoder's shape and finiteness checks, or names
another key is deleted and recomputed, never served. Anyone who can write the folder can still
plant a well-formed entry with wrong numbers: see docs/reliability.md.

Whatever else sits in the folder cannot break it: an entry or a lock must be a regular file,
checked with lstat and opened with O_NOFOLLOW | O_NONBLOCK, and an entry is read no further than
its own header says; anything else at those places (a directory, a symlink, a FIFO, a socket, a
device) is a miss that is removed (links themselves, never their targets) and recomputed. A
cache that cannot be written (a full disk, a read-only place, a quota) costs one warning, never
the result. A wait for a lock held by another process is said on stderr.

Folder: `cache/` (relative to the working directory) unless `--cache-dir DIR` or the environment
variable REGIONPRIMS_CACHE says otherwise. Inside: `entries/` (one file per key), `locks/`
(flock files). `data/` (diskcache, cache versions 2-3) is never opened; `clear` removes it.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import stat
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, TypeVar

from regionprims.errors import UserError
from regionprims.store.atomic import clean_stale_temps, temp_path, write_atomic

CACHE_VERSION = 4          # bump when the math, the metrics or the payload format change
MAGIC = b"RPCACHE1"
HEAD = len(MAGIC) + 32 + 10  # magic, sha256, payload length (8 bytes), key length (2 bytes)
SUFFIX = ".entry"
LEGACY = "data"            # the diskcache folder of cache versions 2 and 3
STALE_LOCK_SECONDS = 3600
LOCK_NOTE_AFTER = 2.0      # seconds of waiting for a lock before saying so on stderr
LOCK_NOTE_EVERY = 30.0     # then a short note this often, while the wait lasts
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_LOCK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
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


def entry_size(head: bytes) -> int | None:
    """The whole entry's size as its header states it, or None when `head` is not an entry header.
    This is the only bound a read of an entry is given."""
    if len(head) < HEAD or not head.startswith(MAGIC):
        return None
    return HEAD + int.from_bytes(head[HEAD - 2:HEAD], "little") + int.from_bytes(head[HEAD - 10:HEAD - 2], "little")


def unpack(key: str, data: bytes) -> bytes | None:
    """The payload of an entry for `key`, or None when the bytes are not exactly such an entry."""
    if len(data) < HEAD or not data.startswith(MAGIC):
        return None
    digest = data[len(MAGIC):len(MAGIC) + 32]
    n_payload = int.from_bytes(data[HEAD - 10:HEAD - 2], "little")
    n_key = int.from_bytes(data[HEAD - 2:HEAD], "little")
    k, payload = data[HEAD:HEAD + n_key], data[HEAD + n_key:]
    if k != key.encode() or len(payload) != n_payload or hashlib.sha256(k + payload).digest() != digest:
        return None
    return payload


def is_regular(path: str | Path) -> bool:
    """Whether `path` itself (not what a link points to) is a regular file."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def open_regular(path: str | Path) -> BinaryIO | None:
    """`path` opened for reading when it is a regular file: never through a symlink (O_NOFOLLOW),
    never blocking on a FIFO (O_NONBLOCK), never opening a device (lstat first, fstat after, in
    case it was swapped in between). None otherwise."""
    if not is_regular(path):
        return None
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError:
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return os.fdopen(fd, "rb")
    except OSError:
        pass
    os.close(fd)
    return None


def read_entry(path: str | Path, max_bytes: int) -> bytes | None:
    """The bytes of the entry file at `path`, read no further than its header's stated size, and
    only when that size is the file's size and at most `max_bytes`. None for anything else."""
    fh = open_regular(path)
    if fh is None:
        return None
    with fh:
        try:
            size = entry_size(fh.read(HEAD))
            if size is None or size > max_bytes or size != os.fstat(fh.fileno()).st_size:
                return None
            fh.seek(0)
            data = fh.read(size)
        except (OSError, MemoryError):
            return None
    return data if len(data) == size else None


def remove_inside(path: str | Path, folder: str | Path) -> None:
    """Remove whatever is at `path` (a file, a FIFO, a socket, a symlink itself and never its
    target); a directory only when `path` is really inside `folder` (its parent, links resolved,
    is `folder`), and then without following any link inside it. Never raises."""
    path = Path(path)
    try:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(path)
        elif os.path.realpath(path.parent) == os.path.realpath(folder):
            shutil.rmtree(path)                  # the fd-based rmtree: links inside are unlinked, not followed
    except OSError:
        pass


def describe(key: str) -> str:
    """A short name of what a key holds, for messages: `decomposition a38740c00d22`."""
    parts = key.split("/")
    return f"{parts[1]} {parts[2][:12]}" if len(parts) == 3 else key[:60]


def lock_name(key: str) -> str:
    """The lock file's name of `key`: the key itself with `/` as `_` (readable in messages), or a
    hash when that would not be a plain, short file name."""
    name = key.replace("/", "_")
    return name if _LOCK_NAME.fullmatch(name) else "key_" + hashlib.sha256(key.encode()).hexdigest()[:40]


def note(text: str) -> None:
    """One line on stderr, as the CLI's other warnings and notes."""
    print(text, file=sys.stderr, flush=True)


class LockWait:
    """Says, on stderr, that a wait for a lock has lasted LOCK_NOTE_AFTER seconds, then every
    LOCK_NOTE_EVERY seconds: a silent wait looks like a hang."""

    def __init__(self, what: str, path: Path):
        self.what, self.path = what, path
        self.start = time.monotonic()
        self.next = self.start + LOCK_NOTE_AFTER
        self.said = False

    def tick(self, holder: str = "another regionprims process") -> None:
        now = time.monotonic()
        if now < self.next:
            return
        if not self.said:
            note(f"waiting for {holder} computing {self.what} (lock {self.path}) ...")
        else:
            note(f"still waiting for {holder} computing {self.what} ({now - self.start:.0f} s so far; "
                 f"lock {self.path}) ...")
        self.said = True
        self.next = now + LOCK_NOTE_EVERY

    def pause(self, delay: float) -> float:
        """Sleep a little (never past the next note); the next, longer, delay."""
        time.sleep(max(0.0, min(delay, self.next - time.monotonic())))
        return min(delay * 2, 0.25)


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
        self._clean_locks(STALE_LOCK_SECONDS)

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
            fd = self._flock(path, wait)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
        finally:
            tlock.release()

    def _flock(self, path: Path, wait: LockWait) -> int | None:
        """An fd holding the exclusive flock of `path`, a regular file in locks/; None (after one
        warning) when no such file can be had there."""
        while True:
            fd, reason = self._lock_fd(path)
            if fd is None:
                self._warn_unlocked(path, wait.what, reason)
                return None
            delay = 0.01
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    wait.tick()
                    delay = wait.pause(delay)
                except OSError as exc:
                    os.close(fd)
                    self._warn_unlocked(path, wait.what, exc.strerror or str(exc))
                    return None
            if self._still_there(fd, path):
                return fd
            os.close(fd)                             # removed as unheld meanwhile: lock the new one

    @staticmethod
    def _warn_unlocked(path: Path, what: str, reason: str) -> None:
        note(f"warning: cannot use the lock {path} ({reason}); computing {what} without it "
             "(another process may compute it too)")

    def _lock_fd(self, path: Path) -> tuple[int | None, str]:
        """(fd, "") of `path` opened (created if absent) as a regular file, never through a link,
        never a FIFO or a device; whatever else is there is removed first. (None, why) when that
        fails."""
        reason = "not a plain file, and it cannot be removed"
        for _ in range(3):
            if os.path.lexists(path) and not is_regular(path):
                remove_inside(path, self.locks)
            try:
                fd = os.open(path, OPEN_FLAGS | os.O_CREAT, 0o644)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                continue
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    return fd, ""
            except OSError:
                pass
            os.close(fd)
        return None, reason

    @staticmethod
    def _still_there(fd: int, path: Path) -> bool:
        """Whether the locked file is still the one at `path` (not unlinked by a clean-up)."""
        try:
            a, b = os.fstat(fd), os.lstat(path)
        except OSError:
            return False
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    def _clean_locks(self, min_age: float) -> None:
        """Remove lock files nobody holds (and, at start, only old ones: a fresh one may be about
        to be locked), and anything at a lock's place that is not a regular file. A removed file
        is recreated by the next `lock`."""
        now = time.time()
        try:
            entries = list(os.scandir(self.locks))
        except OSError:
            return
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode):
                    remove_inside(entry.path, self.locks)
                    continue
                if now - st.st_mtime < min_age:
                    continue
                fd = os.open(entry.path, OPEN_FLAGS)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if self._still_there(fd, Path(entry.path)):
                    os.unlink(entry.path)
            except OSError:
                pass
            finally:
                os.close(fd)

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
        self._clean_locks(0.0)
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
