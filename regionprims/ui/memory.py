"""The explorer's memory budgets, without Streamlit: a thread-safe LRU bounded by the bytes of its
values, a sizer for tensors, arrays and bytes, the budgets read from the environment, and a way
to hand freed heap memory back to the kernel.

Streamlit's `max_entries` bounds a cache by its count, but one prepared BigGAN decomposition
weighs hundreds of MB and a demo one 30 MB, so a count says nothing about the process's size.
The explorer therefore keeps what it shares between sessions in one `ByteLRU` with a byte
budget (`REGIONPRIMS_EXPLORER_MB`), what one session keeps for itself in one per session
(`REGIONPRIMS_SESSION_MB`), and each prepared mixer's patterns and build-ups in one per mixer
and its pictures in one per decomposition (each `REGIONPRIMS_MIXER_MEMO_MB`, counted in the
shared budget too).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, Iterator

import numpy as np
import torch

from regionprims.budgets import budget_bytes

EXPLORER_MB = 512           # everything the sessions share: prepared mixers, their pictures, previews
SESSION_MB = 32             # what one session keeps for itself (rendered mixes, export preview)
MIXER_MEMO_MB = 64          # one prepared mixer's memo (patterns, build-ups), and its pictures' store


def explorer_bytes() -> int:
    return budget_bytes("REGIONPRIMS_EXPLORER_MB", EXPLORER_MB)


def session_bytes() -> int:
    return budget_bytes("REGIONPRIMS_SESSION_MB", SESSION_MB)


def mixer_memo_bytes() -> int:
    return budget_bytes("REGIONPRIMS_MIXER_MEMO_MB", MIXER_MEMO_MB)


def nbytes(obj: Any, _seen: set | None = None) -> int:
    """Bytes held by `obj`'s tensors, arrays, bytes and strings, followed through containers,
    dataclasses and plain objects; each object counted once. An object with an integer
    `nbytes` (a numpy array, a Mixer, a ByteLRU) is taken at its word. Python's own object
    overhead is not counted: the payloads are what grow."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen or obj is None or isinstance(obj, (int, float, bool, complex)):
        return 0
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, (bytes, bytearray, memoryview, str)):
        return len(obj)
    size = getattr(obj, "nbytes", None)
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        return int(size)
    if isinstance(obj, dict):
        return sum(nbytes(k, seen) + nbytes(v, seen) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return sum(nbytes(v, seen) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(nbytes(getattr(obj, f.name, None), seen) for f in dataclasses.fields(obj))
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return sum(nbytes(v, seen) for v in vars(obj).values())
    return 0


class ByteLRU:
    """A mapping bounded by the bytes of its values: putting a value evicts the least recently
    used entries until the total fits the budget. The newest entry always stays, so one value
    larger than the whole budget is kept alone (rather than rebuilt at every access). Sizes are measured again at every access, so a value that grows (a mixer filling its
    memo) is charged for it. Thread-safe (sessions run in their own threads)."""

    def __init__(self, budget: int, size: Callable[[Any], int] = nbytes,
                 on_evict: Callable[[Hashable, Any], None] | None = None):
        self.budget = int(budget)
        self._size = size
        self._on_evict = on_evict
        self._items: "OrderedDict[Hashable, Any]" = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._lock = threading.RLock()
        self.evictions = 0

    # -- reading ----------------------------------------------------------------------------
    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value under `key` (now the most recently used), else `default`."""
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            value = self._items[key]
        self.settle()
        return value

    def __getitem__(self, key: Hashable) -> Any:
        with self._lock:
            if key not in self._items:
                raise KeyError(key)
        return self.get(key)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[Hashable]:
        with self._lock:
            return iter(list(self._items))

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)

    @property
    def nbytes(self) -> int:
        """Bytes accounted to the entries (as last measured)."""
        with self._lock:
            return sum(self._sizes.values())

    # -- writing ----------------------------------------------------------------------------
    def put(self, key: Hashable, value: Any) -> Any:
        """Keep `value` under `key` as the most recently used entry; returns `value`."""
        evicted: list = []
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            self._sizes[key] = self._size(value)
            evicted = self._evict()
        self._notify(evicted)
        return value

    def __setitem__(self, key: Hashable, value: Any) -> None:
        self.put(key, value)

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value under `key`, made by `make()` (outside the lock) when absent."""
        value = self.get(key)
        if value is None:
            value = self.put(key, make())
        return value

    def pop(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            self._sizes.pop(key, None)
            return self._items.pop(key, default)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()

    def settle(self) -> None:
        """Measure every entry again and evict until the total fits."""
        with self._lock:
            for key, value in self._items.items():
                self._sizes[key] = self._size(value)
            evicted = self._evict()
        self._notify(evicted)

    def _evict(self) -> list:
        """Drop least recently used entries until the total fits (lock held)."""
        out = []
        total = sum(self._sizes.values())
        while len(self._items) > 1 and total > self.budget:
            key, value = self._items.popitem(last=False)
            total -= self._sizes.pop(key)
            out.append((key, value))
        self.evictions += len(out)
        return out

    def _notify(self, evicted: list) -> None:
        if self._on_evict is not None:
            for key, value in evicted:
                self._on_evict(key, value)


_trim: Callable[[int], int] | None | bool = False
_trim_lock = threading.Lock()
_trim_pending = threading.Event()


def release_free_memory() -> bool:
    """Hand the heap's free pages back to the kernel (glibc's malloc_trim). The allocator is
    tuned to keep freed memory for a decomposition's next step (regionprims/allocator.py), so
    without this a closed session's memory stays in the process. True when it ran."""
    global _trim
    if _trim is False:
        _trim = None
        name = ctypes.util.find_library("c")
        try:
            fn = ctypes.CDLL(name).malloc_trim if name else None
        except (OSError, AttributeError):
            fn = None
        if fn is not None:
            fn.argtypes, fn.restype = (ctypes.c_size_t,), ctypes.c_int
            _trim = fn
    if _trim is None:
        return False
    _trim(0)
    return True


def release_free_memory_soon() -> None:
    """release_free_memory on a background thread, at most one at a time: malloc_trim walks the
    whole heap (about 0.1-0.5 s with a decomposition's worth freed), which no session's script
    run or the server's event loop should wait for."""
    if _trim_pending.is_set():
        return
    _trim_pending.set()

    def run() -> None:
        with _trim_lock:
            _trim_pending.clear()
            release_free_memory()

    threading.Thread(target=run, name="regionprims-trim", daemon=True).start()
