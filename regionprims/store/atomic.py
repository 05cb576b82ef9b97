"""The one atomic writer (temp file in the target folder, then rename) and the clean-up of the
temp files a killed writer leaves behind.

A temp file is named `.<target name>.rp-tmp-<pid>-<random>`: hidden, recognisably ours, and
carrying the writer's process id, so that the next writer into the same folder can remove the
leftovers of a dead process (SIGKILL runs no `finally`) without touching a live writer's file or
anybody else's files.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import time
from pathlib import Path

from regionprims.errors import UserError

TEMP_MARK = ".rp-tmp-"
_TEMP_RE = re.compile(r"^\..*\.rp-tmp-(\d+)-[0-9a-f]{8}$")
STALE_SECONDS = 24 * 3600       # a temp file this old is stale even if its pid is alive (reused)


def temp_path(path: Path) -> Path:
    """A fresh temp-file name beside `path` (same folder, so the rename is atomic)."""
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # exists, belongs to someone else
        return True
    except OSError:
        return False
    return True


def clean_stale_temps(folder: str | Path, max_age: float = STALE_SECONDS, dirs: bool = False) -> int:
    """Remove our temp files in `folder` whose writer is dead (or that are older than max_age).
    Whatever bears a temp file's name is removed as such: a symlink itself (never its target), a
    FIFO, a socket; a directory only with `dirs` (a folder wholly ours, such as the cache's), and
    then without following links inside it. Never raises: clean-up must not stop the work it
    precedes. Returns how many were removed."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if not m:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode) and not dirs:
                continue
            if now - st.st_mtime > max_age or not _pid_alive(int(m.group(1))):
                if stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(entry.path)    # refuses a link; links inside are unlinked, not followed
                else:
                    os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Temp file in the same folder, then rename: the file is either complete or untouched,
    so a crash or a cancel never leaves a half-written result. Leftover temp files of dead
    writers in that folder are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path.parent)
    tmp = temp_path(path)
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def check_out(path: str | Path, suffix: str | None = None) -> Path:
    """Refuse, before any work is done, an output file that cannot be written: a wrong
    extension, a folder, a place under a file, a folder where no file can be created.
    Creates nothing (the probe file is removed at once)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"--out '{path}' is a folder; give a file name")
    if suffix is not None and path.suffix.lower() != suffix:
        raise UserError(f"--out must end in {suffix}, got '{path}'")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"cannot write --out '{path}': '{folder}' is a file, not a folder")
    probe = temp_path(folder / path.name)
    try:
        with open(probe, "xb"):
            pass
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write --out '{path}': {exc.strerror or exc} in '{folder}'") from None
    return path
