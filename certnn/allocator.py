"""Keep freed memory in the process for the next array of the same size.

glibc's malloc serves every block above its mmap threshold (128 KiB at start,
raised only as far as the largest block freed so far) with a fresh ``mmap``, and
returns the free top of its heap to the kernel past its trim threshold. Bound
propagation allocates and frees arrays of hundreds of KiB to a few MiB per layer
on every call, so each new array then page-faults on first touch: on this
project's 2-core machine that was a quarter of a batched IBP call on the MNIST
conv net (0.85 -> 0.61 ms per example with the thresholds below, the same
arithmetic; ``benchmarks/lirpa_compare.py``).

:func:`tune` raises both thresholds once per process (``mallopt``; the memory
stays reusable by the process, it is not leaked). The ``certnn`` command and its
worker processes call it; a library user may. It does nothing where the C
library has no ``mallopt`` (musl, macOS, Windows), where the user set glibc's own
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``, or where
``CERTNN_ALLOCATOR=system``.

:func:`available_bytes` says how much memory the system can give now (the graph
search sizes its queue of open sub-problems from it).
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1      # glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 256 << 20

_done: bool | None = None


def tune() -> bool:
    """Set the thresholds (once); True when they are in effect in this process."""
    global _done
    if _done is None:
        _done = _apply()
    return _done


def _apply() -> bool:
    if os.environ.get("CERTNN_ALLOCATOR", "") == "system" or not sys.platform.startswith("linux"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False           # the user's own settings win
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


def available_bytes(meminfo: str = "/proc/meminfo") -> int | None:
    """Memory the system can give this process now without swapping: Linux's
    ``MemAvailable`` (free pages plus reclaimable caches), else the free physical
    pages; None where neither is known. Large caches size themselves from it."""
    try:
        with open(meminfo) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
