"""Keep the report's resident memory close to what it holds (glibc; a no-op elsewhere).

glibc raises its mmap threshold each time a large block is freed, so later arrays of a few
MB come from heap arenas that keep their pages after ``free``, and the Kafka clients' threads
leave their buffers in arenas of their own. The resident size then grows with what WAS
allocated. A fixed 1 MB threshold returns every large array to the system when it is freed,
and ``malloc_trim`` hands back what the readers left once they are closed.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_MMAP_THRESHOLD = -3


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") else None


def return_large_blocks() -> None:
    """From now on, blocks of 1 MB or more go back to the system as soon as they are freed."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)


def trim() -> None:
    """Hand the free memory at the top of every heap arena back to the system."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
