"""Keep freed tensor memory in the process instead of handing it back to the kernel (glibc only).

A decomposition allocates and frees the same large activation buffers thousands of times (one
tail forward + backward per optimisation step). glibc serves blocks above its mmap threshold
(at most 32 MiB by default) with a fresh mmap and unmaps them on free, so every step page-faults
its buffers in again, and the process spends much of its time in the kernel. Raising the
mmap and trim thresholds lets those blocks be reused from the heap (the time saved is measured in
docs/benchmarks.md, "The allocator"). The price: the heap keeps up to TRIM_BYTES of freed memory
instead of returning it at once.

The front ends (CLI, explorer, study workers) call `tune()` once at start; a library user may call
it too. `REGIONPRIMS_MALLOC=default` turns it off. Anywhere but glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -2, -3, -8   # glibc's mallopt parameters
MMAP_BYTES = 1 << 30        # blocks below 1 GiB come from the heap and are reused
TRIM_BYTES = 1 << 30        # free memory at the top of the heap kept up to 1 GiB
TOP_PAD_BYTES = 1 << 28     # the heap grows in steps of 256 MiB, not page by page
ARENAS = 1                  # threads share the main heap: a thread's own arena is made of 64 MiB
                            # heaps, so its large blocks would be mmapped and faulted in at every
                            # step again (the explorer's background decomposition; docs/benchmarks.md)

_tuned: bool | None = None


def tune() -> bool:
    """Set the thresholds once per process. Returns whether they are in effect."""
    global _tuned
    if _tuned is None:
        _tuned = _apply()
    return _tuned


def _apply() -> bool:
    if os.environ.get("REGIONPRIMS_MALLOC", "").strip().lower() == "default":
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version                  # glibc only: musl and macOS have no such mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    results = [mallopt(M_ARENA_MAX, ARENAS), mallopt(M_MMAP_THRESHOLD, MMAP_BYTES),
               mallopt(M_TRIM_THRESHOLD, TRIM_BYTES), mallopt(M_TOP_PAD, TOP_PAD_BYTES)]
    return all(r == 1 for r in results)
