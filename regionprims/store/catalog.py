"""What the result cache holds, without reading whole entries: every decomposition entry's key,
spec, feature shape and class name, read from the entry's own header and its payload's
safetensors header (a few kB each, however large the tensors).

Listing is not opening: the numbers read here are not verified (an entry's checksum covers its
whole payload). An entry is checked in full (checksum, every field and tensor, the spec its key
was made from) only when it is read (jobs.lookup, pipeline.checked_decomposition).
"""
from __future__ import annotations

from dataclasses import dataclass

from regionprims.errors import UserError
from regionprims.method.specs import DecompositionSpec
from regionprims.store.cache import CACHE_VERSION, ResultCache
from regionprims.store.entries import HEAD, entry_size, open_regular
from regionprims.store.fileformat import MAX_HEADER, peek

STAGE = "decomposition"


@dataclass(frozen=True)
class Listed:
    """One decomposition in the cache, as its headers describe it."""

    key: str
    spec: DecompositionSpec
    feature_shape: tuple[int, ...]
    class_name: str | None


def _leading_bytes(path: str) -> tuple[str, bytes] | None:
    """(key, the payload's safetensors header bytes) of a decomposition entry of this cache version;
    None for any other file (another stage, another version, a damaged or foreign file)."""
    fh = open_regular(path)
    if fh is None:
        return None
    with fh:
        try:
            head = fh.read(HEAD)
            if entry_size(head) is None:
                return None
            key = fh.read(int.from_bytes(head[HEAD - 2:HEAD], "little")).decode()
            if not key.startswith(f"v{CACHE_VERSION}/{STAGE}/"):
                return None
            length = fh.read(8)
            n = int.from_bytes(length, "little") if len(length) == 8 else 0
            if not 0 < n <= MAX_HEADER:
                return None
            return key, length + fh.read(n)
        except (OSError, UnicodeDecodeError):
            return None


def decompositions(cache: ResultCache) -> list[Listed]:
    """Every decomposition entry of `cache` whose headers read (unreadable ones are left out)."""
    out = []
    for path in cache.entry_paths():
        got = _leading_bytes(path)
        if got is None:
            continue
        key, data = got
        try:
            spec, meta, shapes = peek(data, "cache entry")
        except (UserError, ValueError, TypeError, KeyError):
            continue
        shape = shapes.get("feature")
        if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
            continue
        name = meta.get("class_name")
        out.append(Listed(key=key, spec=spec, feature_shape=tuple(shape),
                          class_name=name if isinstance(name, str) else None))
    return out
