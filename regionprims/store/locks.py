"""The cache's per-key locks: lock files in the cache's `locks/` folder, held with flock, so that
two processes asking for one key compute it once. The OS drops an flock when its holder dies, so
there are no stale locks; lock files nobody holds are removed by `clean_locks` and recreated by
the next lock. A lock file must be a regular file (never followed through a link, never a FIFO or
a device); when none can be had the work is done without it, after one warning. A wait for a lock
is said on stderr (`LockWait`): a silent wait looks like a hang.

The thread lock of each key (threads of one process) and the `lock` context manager that takes
both stay with the cache (store/cache.py, ResultCache.lock); this module holds the lock-file half,
kept apart so that the cache module stays about entries.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import stat
import sys
import time
from pathlib import Path

from regionprims.store.entries import OPEN_FLAGS, is_regular, remove_inside

STALE_LOCK_SECONDS = 3600
LOCK_NOTE_AFTER = 2.0      # seconds of waiting for a lock before saying so on stderr
LOCK_NOTE_EVERY = 30.0     # then a short note this often, while the wait lasts
_LOCK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


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


def acquire(path: Path, folder: Path, wait: LockWait) -> int | None:
    """An fd holding the exclusive flock of `path`, a regular file in `folder` (locks/); None
    (after one warning) when no such file can be had there."""
    while True:
        fd, reason = lock_fd(path, folder)
        if fd is None:
            warn_unlocked(path, wait.what, reason)
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
                warn_unlocked(path, wait.what, exc.strerror or str(exc))
                return None
        if still_there(fd, path):
            return fd
        os.close(fd)                             # removed as unheld meanwhile: lock the new one


def release(fd: int) -> None:
    """Release the flock `acquire` returned and close its fd."""
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def warn_unlocked(path: Path, what: str, reason: str) -> None:
    note(f"warning: cannot use the lock {path} ({reason}); computing {what} without it "
         "(another process may compute it too)")


def lock_fd(path: Path, folder: Path) -> tuple[int | None, str]:
    """(fd, "") of `path` opened (created if absent) as a regular file, never through a link,
    never a FIFO or a device; whatever else is there is removed first (inside `folder`). (None,
    why) when that fails."""
    reason = "not a plain file, and it cannot be removed"
    for _ in range(3):
        if os.path.lexists(path) and not is_regular(path):
            remove_inside(path, folder)
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


def still_there(fd: int, path: Path) -> bool:
    """Whether the locked file is still the one at `path` (not unlinked by a clean-up)."""
    try:
        a, b = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def clean_locks(folder: Path, min_age: float) -> None:
    """Remove lock files in `folder` nobody holds (and, at start, only old ones: a fresh one may be
    about to be locked), and anything at a lock's place that is not a regular file. A removed file
    is recreated by the next lock."""
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                remove_inside(entry.path, folder)
                continue
            if now - st.st_mtime < min_age:
                continue
            fd = os.open(entry.path, OPEN_FLAGS)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if still_there(fd, Path(entry.path)):
                os.unlink(entry.path)
        except OSError:
            pass
        finally:
            os.close(fd)
