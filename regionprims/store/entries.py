"""One cache entry's bytes and the safe file operations the cache uses on its folder.

An entry is plain bytes: magic, sha256(key + payload), payload length, key length, key, payload.
Nothing is ever unpickled, and an entry whose checksum fails or that names another key is not
served (`unpack` returns None).

Whatever else sits in the folder cannot break the cache: an entry or a lock must be a regular
file, checked with lstat and opened with O_NOFOLLOW | O_NONBLOCK, and an entry is read no further
than its own header says; anything else at those places (a directory, a symlink, a FIFO, a socket,
a device) is removed by `remove_inside` (links themselves, never their targets).

Kept apart from the cache itself (store/cache.py) and its locks (store/locks.py) so that the
format of an entry and the rules for touching a file in the folder are each in one place.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import BinaryIO

MAGIC = b"RPCACHE1"
HEAD = len(MAGIC) + 32 + 10  # magic, sha256, payload length (8 bytes), key length (2 bytes)
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


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
